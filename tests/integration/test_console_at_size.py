"""The console and the reports for a large tenant: a first import that leaves a hundred thousand levels below
their threshold, put straight into the table as that tenant's would be. Every answer stays far under Lambda's 6 MB
(the local stack refuses a larger one, as Lambda does: tests/unit/test_lambda_limits.py) and the counts are of
every level."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.reports import level_item
from local_aws.scale import put_straight
from stock_pipeline.adapters.levels import below_shard
from tests.integration.test_console import call

BELOW = 100_000  # listed whole, and again as the day's crossings, 12,000 of them came to 7 MB: Lambda refuses that
NOW = datetime.now(UTC)
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def below_threshold_level(n):
    """A level as the inventory writer stores it (the reports benchmark's), flagged below its threshold."""
    return {
        **level_item(f"Store {n % 50:02d}", n, n % 10),
        "GSI2PK": {"S": f"WH#Store {n % 50:02d}"},
        "alertThreshold": {"N": "10"},
        "belowThreshold": {"BOOL": True},
        # one in fifty claimed before GSI4 had shards (its one partition, "BELOW"), the others since: the overview
        # reads them all
        "GSI4PK": {"S": "BELOW" if n % 50 == 7 else below_shard(f"Store {n % 50:02d}", f"item-{n:06d}")},
        # an import: every crossing within the last day
        "alertedAt": {"S": (NOW - timedelta(minutes=n % 1380, microseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        "lastChangedBy": {"S": "initial-import"},
        **({"dailySales": {"N": str(1 + n % 5)}, "GSI3PK": {"S": f"SELLING#Store {n % 50:02d}"}} if n % 3 else {}),
    }


@pytest.fixture(scope="module")
def large_tenant(stack):
    """The levels and the fifty warehouses' registry straight into the stack's table, not through its stream."""
    registry = (
        {"PK": {"S": "WAREHOUSES"}, "SK": {"S": f"WH#Store {w:02d}"}, "warehouse": {"S": f"Store {w:02d}"}}
        for w in range(50)
    )
    put_straight(stack, registry)
    return put_straight(stack, (below_threshold_level(n) for n in range(BELOW)))


def test_the_overview_of_a_large_first_import_lists_the_worst_and_counts_them_all(large_tenant, console, token):
    # Given a hundred thousand levels below their threshold

    # When a person opens the console
    started = time.monotonic()
    status, _, body = call(f"{console}/api/overview", token=token, timeout=300)  # moto is slower than DynamoDB

    # Then the answer is whole and small: the worst hundred, the newest hundred crossings, and counts of all
    assert status == 200, body[:300]
    view = json.loads(body)
    assert len(body) < 200_000, len(body)
    assert view["counts"]["below_threshold"] == view["counts"]["alerts_24h"] == BELOW
    assert len(view["below"]) == len(view["alerts"]) == view["limit"] == 100
    covers = [row["days_of_cover"] for row in view["below"]]
    assert covers == sorted(covers) and covers[0] == 0.0  # none left, selling: the worst there is
    print(f"overview of {BELOW} levels below threshold: {len(body)} bytes in {time.monotonic() - started:.1f} s")


REPORTS = [
    "/api/reports/warehouses?limit=1000",
    "/api/reports/warehouses/Store%2007/items?limit=1000",
    "/api/reports/warehouses/Store%2007/items?min_quantity=0&limit=1000",
    "/api/reports/items/item-000007/total?limit=1000",
    "/api/reports/forecast/stockouts?within_days=366&limit=1000",
    "/api/reports/forecast/stockouts?within_days=366&warehouse=Store%2007&limit=1000",
]


@pytest.mark.parametrize("path", REPORTS)
def test_every_report_of_the_large_tenant_answers_a_bounded_page(large_tenant, console, token, path):
    status, _, body = call(f"{console}{path}", token=token)
    assert status == 200, body[:300]
    page = json.loads(body)
    assert len(body) < LAMBDA_RESPONSE_LIMIT / 10, len(body)
    assert page["count"] == len(page["items"]) <= 1000
    if "stockouts" in path:  # every selling level runs out within the year (under 10 left, 1 to 5 a day)
        in_scope = (lambda n: n % 50 == 7) if "warehouse=" in path else (lambda n: True)
        assert page["matching"] == sum(1 for n in range(BELOW) if n % 3 and in_scope(n))


STORES = 2_000


def test_the_item_page_of_an_article_in_two_thousand_stores_lists_the_lowest_and_totals_them_all(stack, console, token):
    # Given an article stocked in two thousand stores
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    levels = [
        {
            "PK": {"S": f"WH#Shop {n:04d}"},
            "SK": {"S": "ITEM#chain-1"},
            "GSI1PK": {"S": "ITEM#chain-1"},
            "GSI1SK": {"S": f"WH#Shop {n:04d}"},
            "entity": {"S": "StockLevel"},
            "warehouse": {"S": f"Shop {n:04d}"},
            "itemId": {"S": "chain-1"},
            "itemName": {"S": "Chain article"},
            "quantity": {"N": str((n * 37) % 500)},
        }
        for n in range(STORES)
    ]
    for start in range(0, STORES, 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in levels[start : start + 25]]})

    # When its page is opened
    status, _, body = call(f"{console}/api/items/chain-1", token=token)

    # Then it lists the hundred lowest, charts the ten lowest (one history read each, not two thousand) and
    # totals every store
    assert status == 200, body[:300]
    view = json.loads(body)
    assert (view["warehouses"], view["total_quantity"]) == (STORES, sum((n * 37) % 500 for n in range(STORES)))
    assert len(view["levels"]) == 100 and [row["quantity"] for row in view["levels"]][:3] == [0, 0, 0]
    assert len(view["history"]) == 10
