"""The cost model of `make cost`: pure arithmetic over measured figures and a price table."""

import json

import pytest

from benchmarks.cost import CHEAPEST, ON_DEMAND, PRICES, PROFILES, break_even_updates_per_second, lines_for, render


@pytest.fixture
def bench():
    def run(records, seconds):
        return {
            "seconds": seconds,
            "distinct_keys": records,
            "requests": {
                "dynamodb.BatchGetItem": records // 100,
                "dynamodb.BatchExecuteStatement": records // 25,
                "s3.GetObject": 1,
                "s3.PutObject": 1,
            },
        }

    return {
        "measured": "_Measured 2026-11-24 by `make bench`._",
        "handler_runs": {"60": run(60, 0.2), "90000": run(90_000, 8.0)},
        "memory_sizes": {"512": {"seconds": 28.0, "peak_rss_mb": 240, "vcpus": 0.29}},
    }


@pytest.fixture
def prices():
    return json.loads(PRICES.read_text())


def test_on_demand_bills_5_kb_per_update_and_a_write_and_half_a_read_per_key(bench, prices):
    real = {name: dollars for name, _, dollars in lines_for(PROFILES[1], bench, prices, 1024, ON_DEMAND)}
    assert real["Firehose ingestion"] == pytest.approx(1_000_000 * 5 / 1024 / 1024 * prices["firehose_per_gb_ingested"])
    assert real["DynamoDB writes"] == pytest.approx(prices["dynamodb_per_million_write_units"])
    assert real["DynamoDB reads"] == pytest.approx(prices["dynamodb_per_million_read_units"] / 2)
    objects = 1_000_000 / 90_000
    assert real["S3 PUT"] == pytest.approx(2 * objects * prices["s3_put_per_thousand"] / 1000)
    assert real["Lambda duration"] == pytest.approx(8.0 * 1.0 * objects * prices["lambda_arm64_per_gb_second"])


def test_the_cheapest_configuration_packs_twenty_updates_a_record_and_pays_capacity_at_target(bench, prices):
    real = {name: dollars for name, _, dollars in lines_for(PROFILES[1], bench, prices, 1024, CHEAPEST)}
    test = {name: dollars for name, _, dollars in lines_for(PROFILES[0], bench, prices, 1024, CHEAPEST)}
    unpacked = 1_000_000 * 5 / 1024 / 1024 * prices["firehose_per_gb_ingested"]
    assert real["Firehose ingestion"] == pytest.approx(unpacked / 20)
    assert test["Firehose ingestion"] == pytest.approx(unpacked)  # one update a second: nothing to pack
    assert real["DynamoDB writes"] == pytest.approx(1_000_000 * prices["dynamodb_per_wcu_hour"] / 3600 / 0.7)
    # one update a second: the minimum capacity, paid by the hour for the 11.6 days a million updates take
    hours = 1_000_000 / 3600
    minimum = 5 * (prices["dynamodb_per_wcu_hour"] + prices["dynamodb_per_rcu_hour"])
    assert test["DynamoDB writes"] + test["DynamoDB reads"] + test["DynamoDB GSI1"] == pytest.approx(
        2 * minimum * hours
    )
    on_demand = {name: dollars for name, _, dollars in lines_for(PROFILES[0], bench, prices, 1024, ON_DEMAND)}
    assert sum(test.values()) > sum(on_demand.values())  # below the break-even, on-demand is cheaper


def test_provisioned_pays_off_above_about_three_updates_a_second(bench, prices):
    # the minimum capacity (5 WCU + 5 RCU on table and index) against on-demand's write + half read per update
    expected = 2 * 5 * (0.00065 + 0.00013) / 3600 / ((0.625 + 0.125 / 2) / 1_000_000)
    assert break_even_updates_per_second(bench, prices) == pytest.approx(expected)
    assert 2 < expected < 4


def test_the_report_names_region_and_date_totals_four_columns_and_shows_the_memory_curve(bench, prices):
    text = render(bench, prices)
    assert "us-east-1, prices taken 2026-11-24" in text
    assert text.count("**$") == 4
    assert "| 512 MB | 0.29 | 28.0 s | 240 MB |" in text


def test_read_units_follow_dynamodbs_rule_for_an_eventually_consistent_query():
    from benchmarks.reports import attribute_size, item_size, read_units

    assert attribute_size({"S": "München"}) == 8  # UTF-8 bytes
    assert attribute_size({"N": "1234"}) == 3  # two digits a byte, plus one
    assert item_size({"PK": {"S": "WH#a"}, "quantity": {"N": "7"}}) == 2 + 4 + 8 + 2
    assert read_units([100] * 40) == 0.5  # 4,000 bytes: one 4 KB unit, halved
    assert read_units([4096, 1]) == 1.0  # 4,097 bytes round up to two units
    assert read_units([600_000, 600_000]) == 2 * 73.5  # two 1 MB pages (147 units of 4 KB each, halved)
