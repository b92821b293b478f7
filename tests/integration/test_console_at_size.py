"""The console's overview for a large tenant: a first import that leaves tens of thousands of levels below their
threshold, put straight into the table as that tenant's would be. Its answer stays far under Lambda's 6 MB (the
local stack refuses a larger one, as Lambda does) and its counts are of every level."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from benchmarks.reports import level_item
from stock_pipeline.adapters.levels import below_shard
from tests.integration.test_console import call

BELOW = 12_000  # listed whole, and again as the day's crossings, these came to 7 MB: Lambda refuses that
NOW = datetime.now(UTC)


def below_threshold_level(n):
    """A level as the inventory writer stores it (the reports benchmark's), flagged below its threshold."""
    return {
        **level_item(f"Store {n % 50:02d}", n, n % 10),
        "alertThreshold": {"N": "10"},
        "belowThreshold": {"BOOL": True},
        # half of them claimed before GSI4 had shards (one partition, "BELOW"), half since: the overview reads all
        "GSI4PK": {"S": "BELOW" if n % 2 else below_shard(f"Store {n % 50:02d}", f"item-{n:06d}")},
        # an import: every crossing within the last day
        "alertedAt": {"S": (NOW - timedelta(minutes=n % 1380, microseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        "lastChangedBy": {"S": "initial-import"},
        **({"dailySales": {"N": str(1 + n % 5)}} if n % 3 else {}),
    }


def fill(stack):
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]

    def write(start):
        requests = [{"PutRequest": {"Item": below_threshold_level(n)}} for n in range(start, min(start + 25, BELOW))]
        while requests:
            left = ddb.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {})
            requests = left.get(table, [])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(0, BELOW, 25)))


def test_the_overview_of_a_large_first_import_lists_the_worst_and_counts_them_all(stack, console, token):
    # Given twelve thousand levels below their threshold
    fill(stack)

    # When a person opens the console
    started = time.monotonic()
    status, _, body = call(f"{console}/api/overview", token=token)

    # Then the answer is whole and small: the worst hundred, the newest hundred crossings, and counts of all
    assert status == 200, body[:300]
    view = json.loads(body)
    assert len(body) < 200_000, len(body)
    assert view["counts"]["below_threshold"] == view["counts"]["alerts_24h"] == BELOW
    assert len(view["below"]) == len(view["alerts"]) == view["limit"] == 100
    covers = [row["days_of_cover"] for row in view["below"]]
    assert covers == sorted(covers) and covers[0] == 0.0  # none left, selling: the worst there is
    print(f"overview of {BELOW} levels below threshold: {len(body)} bytes in {time.monotonic() - started:.1f} s")


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
