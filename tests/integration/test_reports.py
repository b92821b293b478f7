"""The reports handler against the template's table on moto, with the sample HTTP API event of events/."""

import copy
import csv
import io
import json
from urllib.parse import quote

import pytest

from stock_pipeline import reports_openapi
from stock_pipeline.config import Settings
from stock_pipeline.domain.reports import PAGE_BYTES
from stock_pipeline.handlers import reports
from stock_pipeline.handlers.ingest import handle as ingest
from tests.conftest import load_event, sqs_event_for

REGIONS = ["eu-central-1", "us-east-1"]
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@pytest.fixture(scope="module")
def report_deps(stack):
    settings = Settings.from_env(stack.functions["ReportsFunction"].environment)
    return reports.build_dependencies(settings, stack.session_of("ReportsFunction"))


@pytest.fixture(scope="module")
def seeded(stack, deps, s3, bucket):
    """Three warehouses (one with a space, one with unicode), a threshold, 30 items in Berlin 1."""
    rows = [f"2026-11-25T08:00:00+01:00\tBerlin 1\titem-{n:02d}\tThing {n}\t{n}\n" for n in range(30)]
    rows += ["2026-11-25T08:00:00+01:00\tMünchen 3\titem-05\tThing 5\t7\n"]
    rows += ["2026-11-25T08:00:00+01:00\tHamburg/2\titem-05\tThing 5\t-2\n"]
    key = "inventory_files/2026/11/25/20261125080000_inventory.csv"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=(HEADER + "".join(rows)).encode())["ETag"].strip('"')
    assert ingest(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    thresholds = json.dumps({"ThresholdList": [{"ItemId": "item-05", "RestockIfBelow": 25}]})
    tkey = "restock_thresholds/2026/11/25/restock_thresholds.json"
    etag = s3.put_object(Bucket=bucket, Key=tkey, Body=thresholds.encode())["ETag"].strip('"')
    assert ingest(sqs_event_for([(bucket, tkey, etag)]), None, deps) == {"batchItemFailures": []}
    stack.drain()


def get(report_deps, path, query=None, accept="application/json"):
    event = copy.deepcopy(load_event("http_api_warehouse_items.json"))
    event["rawPath"] = "/".join(quote(part, safe="%") for part in path.split("/"))
    event["requestContext"]["http"]["path"] = path
    event["queryStringParameters"] = {k: str(v) for k, v in (query or {}).items()} or None
    event["rawQueryString"] = "&".join(f"{k}={quote(str(v))}" for k, v in (query or {}).items())
    event["headers"]["accept"] = accept
    response = reports.handle(event, None, report_deps)
    body = response["body"]
    is_json = response["headers"].get("Content-Type", "").startswith("application/")
    return response["statusCode"], (json.loads(body) if is_json else body), response["headers"]


def test_report_1_lists_every_item_of_a_warehouse_whose_name_has_a_space(seeded, report_deps):
    status, body, _ = get(report_deps, "/warehouses/Berlin 1/items", {"limit": 1000})
    assert status == 200
    assert body["warehouse"] == "Berlin 1" and body["count"] == 30 and body["next"] is None
    assert {row["item_id"] for row in body["items"]} == {f"item-{n:02d}" for n in range(30)}


def test_report_2_reads_only_the_levels_above_and_pages_through_them(seeded, report_deps):
    status, first, headers = get(report_deps, "/warehouses/Berlin 1/items", {"min_quantity": 19, "limit": 4})
    assert status == 200 and first["count"] == 4 and first["next"] == headers["X-Next-Token"]
    seen = [row["quantity"] for row in first["items"]]
    token = first["next"]
    while token:
        _, page, _ = get(report_deps, "/warehouses/Berlin 1/items", {"min_quantity": 19, "limit": 4, "next": token})
        seen += [row["quantity"] for row in page["items"]]
        token = page["next"]
    assert sorted(seen) == list(range(20, 30))  # strictly greater than 19, each once


def test_report_2_consumes_read_capacity_for_what_it_returns(seeded, report_deps):
    few = reports.reports.warehouse_items(report_deps.queries, "Berlin 1", above=27, limit=1000, token=None, now=0)
    many = reports.reports.warehouse_items(report_deps.queries, "Berlin 1", above=0, limit=1000, token=None, now=0)
    assert (len(few.rows), len(many.rows)) == (2, 29)


def test_report_3_totals_an_item_over_warehouses_with_unicode_and_slash_names_and_its_threshold(seeded, report_deps):
    status, body, _ = get(report_deps, "/items/item-05/total")
    assert status == 200
    assert body["total"] == 5 + 7 - 2
    assert {row["warehouse"]: row["quantity"] for row in body["items"]} == {
        "Berlin 1": 5,
        "München 3": 7,
        "Hamburg/2": -2,
    }
    assert (body["restock_if_below"], body["threshold_is_default"]) == (25, False)
    _, other, _ = get(report_deps, "/items/item-06/total")
    assert (other["restock_if_below"], other["threshold_is_default"]) == (10, True)


def test_report_3_pages_the_warehouses_and_totals_all_of_them_on_every_page(seeded, report_deps):
    pages, token = [], None
    while True:
        _, body, _ = get(report_deps, "/items/item-05/total", {"limit": 1, **({"next": token} if token else {})})
        pages.append(body)
        token = body["next"]
        if not token:
            break
    assert [row["warehouse"] for page in pages for row in page["items"]] == ["Berlin 1", "Hamburg/2", "München 3"]
    assert {(page["total"], page["warehouses"]) for page in pages} == {(10, 3)}
    status, other, _ = get(report_deps, "/items/item-06/total", {"next": pages[0]["next"]})
    assert (status, other["parameter"]) == (400, "next")  # a token of another item's report


def test_a_page_of_long_names_stays_within_its_bytes_and_the_next_page_goes_on_after_it(stack, report_deps):
    # Given a warehouse whose eight levels have item names of 300 KB each (DynamoDB keeps items up to 400 KB)
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    ddb.put_item(TableName=table, Item={"PK": {"S": "WAREHOUSES"}, "SK": {"S": "WH#Long"}, "warehouse": {"S": "Long"}})
    for n in range(8):
        ddb.put_item(
            TableName=table,
            Item={
                "PK": {"S": "WH#Long"},
                "SK": {"S": f"ITEM#long-{n}"},
                "GSI2PK": {"S": "WH#Long"},
                "warehouse": {"S": "Long"},
                "itemId": {"S": f"long-{n}"},
                "itemName": {"S": "é" * 150_000},
                "quantity": {"N": str(n)},
            },
        )

    # When report 1 and report 2 are read in pages of up to 1,000 rows
    for query in ({}, {"min_quantity": 0}):
        seen, token, sizes = [], None, []
        while True:
            status, body, _ = get(
                report_deps, "/warehouses/Long/items", {"limit": 1000, **query, **({"next": token} if token else {})}
            )
            assert status == 200
            sizes.append(len(json.dumps(body["items"], ensure_ascii=False).encode()))
            seen += [row["item_id"] for row in body["items"]]
            token = body["next"]
            if not token:
                break

        # Then each page holds the rows that fit in a page's bytes, and the pages together hold each level once
        assert max(sizes) <= PAGE_BYTES and len(sizes) > 1, sizes
        assert sorted(seen) == [f"long-{n}" for n in range(8) if not query or n > 0]  # report 2: more than 0


def test_warehouses_are_listed_from_their_registry(seeded, report_deps):
    _, body, _ = get(report_deps, "/warehouses")
    listed = [row["warehouse"] for row in body["items"]]
    # the seeded ones, in name order (other tests of the module add warehouses of their own)
    assert [w for w in listed if w in ("Berlin 1", "Hamburg/2", "München 3")] == ["Berlin 1", "Hamburg/2", "München 3"]
    assert listed == sorted(listed)
    status, by_slash, _ = get(report_deps, "/warehouses/Hamburg/2/items".replace("Hamburg/2", "Hamburg%2F2"))
    assert (status, by_slash["warehouse"], by_slash["count"]) == (200, "Hamburg/2", 1)


def test_csv_for_spreadsheets_by_accept_header_or_format(seeded, report_deps):
    status, text, headers = get(report_deps, "/warehouses/München 3/items", accept="text/csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [
        {
            "warehouse": "München 3",
            "item_id": "item-05",
            "item_name": "Thing 5",
            "quantity": "7",
            "below_threshold": rows[0]["below_threshold"],
            "updated_at": rows[0]["updated_at"],
            "daily_sales": "",  # no forecast has run: no rate, no cover (empty cells, not 0)
            "days_of_cover": "",
        }
    ]
    assert get(report_deps, "/items/item-05/total", {"format": "csv"})[1].startswith("warehouse,quantity,")


@pytest.mark.parametrize(
    ("path", "query", "status", "parameter"),
    [
        ("/warehouses/Berlin 1/items", {"min_quantity": "-1"}, 400, "min_quantity"),
        ("/warehouses/Berlin 1/items", {"min_quantity": "ten"}, 400, "min_quantity"),
        ("/warehouses/Berlin 1/items", {"limit": "1001"}, 400, "limit"),
        ("/warehouses/Berlin 1/items", {"limit": "0"}, 400, "limit"),
        ("/warehouses/Berlin 1/items", {"next": "bm90IGEgdG9rZW4"}, 400, "next"),
        ("/warehouses/Berlin 1/items", {"format": "xml"}, 400, "format"),
        ("/stock/retailer-1/not-a-number", {}, 400, "account_id"),
        ("/warehouses/Nowhere/items", {}, 404, None),
        ("/items/no-such-item/total", {}, 404, None),
        ("/no/such/report", {}, 404, None),
    ],
)
def test_bad_input_is_a_problem_document_naming_the_parameter(seeded, report_deps, path, query, status, parameter):
    got, body, headers = get(report_deps, path, query)
    assert got == status
    assert headers["Content-Type"] == "application/problem+json"
    assert body["status"] == status and body["detail"]
    assert body.get("parameter") == parameter


def test_a_token_of_another_warehouse_or_other_parameters_is_refused(seeded, report_deps):
    _, page, _ = get(report_deps, "/warehouses/Berlin 1/items", {"limit": 3})
    status, body, _ = get(
        report_deps, "/warehouses/Berlin 1/items", {"limit": 3, "min_quantity": 2, "next": page["next"]}
    )
    assert (status, body["parameter"]) == (400, "next")
    status, body, _ = get(report_deps, "/warehouses/München 3/items", {"limit": 3, "next": page["next"]})
    assert (status, body["parameter"]) == (400, "next")


def test_the_checked_in_openapi_document_is_the_one_the_code_generates():
    from pathlib import Path

    checked_in = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert checked_in == reports_openapi.openapi(), "run: make openapi"


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_neutralised(stack, deps, s3, bucket, report_deps):
    rows = '2026-11-25T09:00:00+01:00\t=HYPERLINK("http://evil")\t@item\t+Thing\t-4\n'
    key = "inventory_files/2026/11/25/20261125090000_inventory.csv"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=(HEADER + rows).encode())["ETag"].strip('"')
    assert ingest(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    status, text, _ = get(report_deps, '/warehouses/=HYPERLINK("http:%2F%2Fevil")/items', accept="text/csv")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert status == 200
    assert (row["warehouse"], row["item_id"], row["item_name"], row["quantity"]) == (
        '\'=HYPERLINK("http://evil")',
        "'@item",
        "'+Thing",
        "-4",
    )


@pytest.mark.parametrize("path", ["/warehouses/\u00a0/items", "/items/\u3000/total", "/warehouses/ /items"])
def test_a_name_of_blanks_only_is_unknown_not_an_error(seeded, report_deps, path):
    """The document allows any non-empty name; the pipeline records names trimmed, so blanks name nothing."""
    status, body, _ = get(report_deps, path)
    assert status == 404 and body["status"] == 404
