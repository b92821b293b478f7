"""The cost model of `make cost`: pure arithmetic over measured figures and a price table."""

import json

import pytest

from benchmarks.cost import PRICES, PROFILES, lines_for, render


@pytest.fixture
def bench():
    def run(records, seconds, lake_files):
        return {
            "seconds": seconds,
            "distinct_keys": records,
            "requests": {"dynamodb.PutItem": records, "s3.GetObject": 1, "s3.PutObject": lake_files},
        }

    return {
        "measured": "_Measured 2026-11-24 by `make bench`._",
        "handler_runs": {"60": run(60, 0.2, 60), "90000": run(90_000, 40.0, 9_000)},
    }


def test_firehose_bills_each_record_as_5_kb_and_dynamodb_one_unit_per_key(bench):
    prices = json.loads(PRICES.read_text())
    real = {name: dollars for name, _, dollars in lines_for(PROFILES[1], bench, prices, 1024)}
    gb = 1_000_000 * 5 / 1024 / 1024
    assert real["Firehose ingestion"] == pytest.approx(gb * prices["firehose_per_gb_ingested"])
    assert real["DynamoDB writes"] == pytest.approx(prices["dynamodb_per_million_write_units"])
    objects = 1_000_000 / 90_000
    assert real["S3 PUT"] == pytest.approx(9_001 * objects * prices["s3_put_per_thousand"] / 1000)
    assert real["Lambda duration"] == pytest.approx(40.0 * 1.0 * objects * prices["lambda_arm64_per_gb_second"])


def test_the_report_names_region_and_date_and_totals_both_profiles(bench):
    text = render(bench, json.loads(PRICES.read_text()))
    assert "us-east-1, prices taken 2026-11-24" in text
    assert text.count("**$") == 2
