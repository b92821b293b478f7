"""Every saved Athena query of template.yaml runs against the local lake (DuckDB on the same Parquet and raw
files, the SQL transpiled from Athena's dialect by sqlglot) and agrees with the reports API on the same data.
No SQL ships that has never run."""

import datetime
import json

import duckdb
import pytest
import sqlglot

from loadgen.workbooks import product_table_csv, supplier_feed
from local_aws.athena import QueryFailed
from local_aws.athena import _static_values as static_values
from local_aws.template import load_template
from stock_pipeline import reports
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.queries import StockQueries
from stock_pipeline.adapters.supplier_stock import SupplierStock
from stock_pipeline.domain.stock_updates import INT_FIELDS, REQUIRED_FIELDS
from stock_pipeline.handlers.ingest import handle as ingest
from tests.conftest import sqs_event_for

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
FILES = {
    "inventory_files/2026/11/24/20261124080000_inventory.csv": [
        ("2026-11-24T08:00:00+00:00", "Berlin 1", "a1", "Shirt", 30),
        ("2026-11-24T08:00:00+00:00", "Berlin 1", "b2", "Mug", 12),
        ("2026-11-24T08:00:00+00:00", "Borkum 1", "a1", "Shirt", 9),
    ],
    "inventory_files/2026/11/25/20261125080000_inventory.csv": [
        ("2026-11-25T08:00:00+00:00", "Berlin 1", "a1", "Shirt", -7),
        ("2026-11-25T09:00:00+00:00", "Berlin 1", "c3", "Cap", 4),
        ("2026-11-25T09:00:00+00:00", "Berlin 1", "b2", "Mug", -5),
        ('"2026-11-25T10:00:00+00:00"', '"Borkum 1"', '"a1"', '"Shirt"', '"-2"'),  # quoted, as spreadsheets save
    ],
}


FORECAST_AT = "2026-11-26T00:00:00Z"


def saved_queries():
    resources = load_template()["Resources"]
    return {
        r["Properties"]["Name"]: r["Properties"]["QueryString"]
        for r in resources.values()
        if r["Type"] == "AWS::Athena::NamedQuery"
    }


def glue_columns(name):
    for resource in load_template()["Resources"].values():
        table = resource.get("Properties", {}).get("TableInput", {})
        if resource["Type"] == "AWS::Glue::Table" and table.get("Name") == name:
            return [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    raise KeyError(name)


def put(s3, bucket, key, body):
    return key, s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')


@pytest.fixture(scope="module")
def lake(stack, deps, s3, bucket, tmp_path_factory):
    objects = [
        put(s3, bucket, key, (HEADER + "".join("\t".join(map(str, row)) + "\n" for row in rows)).encode())
        for key, rows in FILES.items()
    ]
    records = [
        {
            "accountId": 7,
            "retailerId": "r-sql",
            "channelId": 1,
            "productId": "p",
            "articleId": a,
            "articleNumber": a,
            "lastUpdated": f"2026-11-25T10:00:0{n}Z",
            "quantity": q,
        }
        for n, (a, q) in enumerate([(1, 5), (2, 8), (1, 6)])
    ]
    objects.append(
        put(s3, bucket, "raw/stock-updates/2026/11/25/10/sql-1.json", "\n".join(map(json.dumps, records)).encode())
    )
    objects.append(
        put(
            s3,
            bucket,
            "raw/stock-updates/2026/11/25/11/sql-2.json",
            json.dumps({**records[1], "lastUpdated": "2026-11-25T11:00:00Z", "quantity": 3}).encode() + b"\n{broken\n",
        )
    )
    objects.append(put(s3, bucket, "reference/product/products.csv", product_table_csv(40)))
    for key, etag in objects:
        assert ingest(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    feed = put(s3, bucket, "supplier_feeds/acme/2026/11/25/stock.xlsx", supplier_feed("acme", 30, seed=2))
    assert ingest(sqs_event_for([(bucket, *feed)], event_time="2026-11-25T12:00:00.000Z"), None, deps) == {
        "batchItemFailures": []
    }
    listings = "item_id,custom_label,title,current_price,prefix,uk_rtg,fps_wds_dir,payment_profile_name," + (
        "shipping_profile_name,return_profile_name,supplier,ebay_store\n"
    )
    listings += "".join(f"{500 + n},SKU-{n:06d},Title,9.99,,,,p,s,r,acme,Store S\n" for n in range(5))
    store = put(s3, bucket, "reference/store/listings.csv", listings.encode())
    assert ingest(sqs_event_for([(bucket, *store)]), None, deps) == {"batchItemFailures": []}
    stack.drain()  # the stream's consumers: the history under curated/stock_history/
    # the nightly forecast as of the next midnight: its rates onto the levels and into curated/daily_rates/
    rates = stack.functions["ForecastFunction"].invoke({"job": "rates", "input": {"scheduledTime": FORECAST_AT}})
    assert rates["lake"].endswith("/curated/daily_rates/dt=2026-11-26/rates.snappy.parquet")
    stack.drain()
    root = tmp_path_factory.mktemp("lake")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            target = root / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    return root


@pytest.fixture(scope="module")
def db(lake):
    """The Glue tables as DuckDB views over the same files: names, columns and partitions as Athena sees them."""
    con = duckdb.connect()
    parquet = "hive_partitioning=true, hive_types_autocast=false, union_by_name=true"
    tables = (
        "inventory_transactions",
        "stock_latest",
        "supplier_stock",
        "stock_history",
        "store",
        "ebay",
        "daily_rates",
    )
    for table in tables:
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/curated/{table}/**/*.parquet', {parquet})"
        )
    raw = glue_columns("raw_inventory_transactions")
    con.execute(
        f"CREATE VIEW raw_inventory_transactions AS SELECT * FROM read_csv('{lake}/inventory_files/*/*/*/*.csv', "
        f"delim='\\t', quote='\"', header=true, all_varchar=true, names={raw})"
    )
    columns = ", ".join(f"{name} AS {name.lower()}" for name in REQUIRED_FIELDS)
    types = ", ".join(f"{name}: '{'BIGINT' if name in INT_FIELDS else 'VARCHAR'}'" for name in REQUIRED_FIELDS)
    con.execute(
        f"CREATE VIEW raw_stock_updates AS SELECT {columns} FROM read_json('{lake}/raw/stock-updates/*/*/*/*/*', "
        "format='newline_delimited', ignore_errors=true, columns={" + types + "})"
    )
    con.execute(
        f"CREATE VIEW rejected AS SELECT * FROM read_json('{lake}/rejected/**/*.jsonl', format='newline_delimited')"
    )
    return con


def glue_tables():
    return {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in load_template()["Resources"].values()
        if r["Type"] == "AWS::Glue::Table"
    }


def run(db, name, *params):
    # what Athena refuses before reading anything: a table projecting an injected partition needs its values
    statement = sqlglot.parse_one(saved_queries()[name], read="athena")
    for table in {t.name for t in statement.find_all(sqlglot.exp.Table)} & set(glue_tables()):
        static_values(statement, glue_tables()[table])
    sql = sqlglot.transpile(saved_queries()[name], read="athena", write="duckdb")[0]
    cursor = db.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def api(stack, table_name):
    ddb = stack.client("dynamodb")
    return StockQueries(ddb, table_name), StockLevels(ddb, table_name), SupplierStock(ddb, table_name)


PARAMETERS = {
    "report-1-warehouse-items": ("Berlin 1",),
    "report-2-warehouse-items-above": ("Berlin 1", 10),
    "report-3-item-total": ("a1",),
    "current-stock-per-article": ("r-sql", "2026-11-01"),
    "stock-movements-per-warehouse-per-day": ("Berlin 1", "2026-11-24", "2026-11-25"),
    "supplier-stock-over-time": ("acme",),
    "stock-history-of-item": ("a1", "Berlin 1", "2020-01-01", "2099-12-31"),
    "stock-over-time-per-item": ("a1", "2020-01-01", "2099-12-31"),
    "sales-per-item-per-day": ("Berlin 1", "2026-11-24", "2026-11-25"),
    "ebay-listings-changed-today": ("Store S", datetime.datetime.now(datetime.UTC).date().isoformat()),
    "stockouts-forecast": ("2026-11-26", 7),
}


def test_every_saved_query_has_parameters_here_and_returns_rows(db):
    assert set(saved_queries()) == set(PARAMETERS)
    for name, params in PARAMETERS.items():
        assert run(db, name, *params), f"{name} returned nothing"


def test_reports_1_and_2_in_sql_agree_with_the_api(db, api):
    queries, _, _ = api
    for above in (None, 10):
        page = reports.warehouse_items(queries, "Berlin 1", above=above, limit=1000, token=None, now=0)
        from_api = {row["item_id"]: row["quantity"] for row in page.rows}
        name = "report-1-warehouse-items" if above is None else "report-2-warehouse-items-above"
        from_sql = {
            row["item_id"]: row["quantity"] for row in run(db, name, "Berlin 1", *(() if above is None else (above,)))
        }
        assert from_sql == from_api
    assert from_api == {"a1": 23}


def test_report_3_in_sql_reads_quoted_spreadsheet_fields_and_agrees_with_the_api(db, api):
    _, levels, _ = api
    page = reports.item_total(levels, "a1", default_threshold=10)
    rows = run(db, "report-3-item-total", "a1")
    assert {row["warehouse"]: row["quantity"] for row in rows} == {
        row["warehouse"]: row["quantity"] for row in page.rows
    }
    assert {row["total"] for row in rows} == {page.summary["total"]} == {30 - 7 + 9 - 2}


def test_current_stock_per_article_in_sql_is_the_newest_across_objects_like_the_table(db, api):
    queries, _, _ = api
    page = reports.article_stock(queries, "r-sql", 7, limit=1000, token=None, now=0)
    from_api = {(row["article_id"], row["channel_id"]): row["quantity"] for row in page.rows}
    from_sql = {
        (row["article_id"], row["channel_id"]): row["quantity"]
        for row in run(db, "current-stock-per-article", "r-sql", "2026-11-01")
    }
    assert from_sql == from_api == {(1, 1): 6, (2, 1): 3}


def test_movements_per_day_and_supplier_stock_over_time(db, api):
    days = run(db, "stock-movements-per-warehouse-per-day", "Berlin 1", "2026-11-24", "2026-11-25")
    assert [(str(d["dt"]), d["received"], d["sold"], d["net"]) for d in days] == [
        ("2026-11-24", 42, 0, 42),
        ("2026-11-25", 4, 12, -8),
    ]
    _, _, supplier = api
    [day] = run(db, "supplier-stock-over-time", "acme")
    assert day["skus"] == len(supplier.stock_of_supplier("acme"))
    assert str(day["feed_day"]) == "2026-11-25"


def test_raw_and_rejected_tables_read_the_files_with_the_glue_columns(db):
    raw = db.execute("SELECT count(*), count(quantity) FROM raw_stock_updates WHERE retailerid = 'r-sql'").fetchone()
    assert raw == (4, 4)
    rejected = db.execute("SELECT line, reason FROM rejected WHERE source_key LIKE '%sql-2.json'").fetchall()
    assert [(line, reason.split(":")[0]) for line, reason in rejected] == [(2, "malformed JSON")]
    assert set(glue_columns("rejected")) <= {d[0] for d in db.execute("SELECT * FROM rejected LIMIT 0").description}


def test_the_history_in_sql_replays_to_the_stored_levels_and_sales_are_per_item_and_day(db, api):
    moves = run(db, "stock-history-of-item", "a1", "Berlin 1", "2020-01-01", "2099-12-31")
    assert [m["delta"] for m in moves] == [30, -7]  # one change per file (a file's rows are summed per item)
    assert [m["new_value"] for m in moves] == [30, 23]
    closing = {
        r["warehouse"]: r["closing_level"]
        for r in run(db, "stock-over-time-per-item", "a1", "2020-01-01", "2099-12-31")
    }
    _, levels, _ = api
    assert (
        closing
        == {row["warehouse"]: row["quantity"] for row in levels.levels_of_item("a1")}
        == {"Berlin 1": 23, "Borkum 1": 7}
    )
    sales = [
        row
        for warehouse in ("Berlin 1", "Borkum 1")
        for row in run(db, "sales-per-item-per-day", warehouse, "2026-11-24", "2026-11-25")
    ]
    assert [(str(r["dt"]), r["warehouse"], r["item_id"], r["units_sold"]) for r in sales] == [
        ("2026-11-25", "Berlin 1", "a1", 7),
        ("2026-11-25", "Berlin 1", "b2", 5),
        ("2026-11-25", "Borkum 1", "a1", 2),
    ]


def test_a_saved_query_over_an_injected_partition_without_its_values_is_refused_as_athena_refuses_it():
    unnamed = "SELECT item_id FROM inventory_transactions WHERE dt BETWEEN '2026-01-01' AND '2026-12-31'"
    with pytest.raises(QueryFailed, match="CONSTRAINT_VIOLATION"):
        static_values(sqlglot.parse_one(unnamed, read="athena"), glue_tables()["inventory_transactions"])


def test_the_ebay_listings_of_a_store_upload_are_in_sql_with_the_supplier_quantities(db, api):
    _, _, supplier = api
    stock = {item["customLabel"]: item["quantity"] for item in supplier.stock_of_supplier("acme")}
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    rows = run(db, "ebay-listings-changed-today", "Store S", today)
    assert {(r["item_id"], r["quantity"]) for r in rows} == {
        (500 + n, stock[f"SKU-{n:06d}"]) for n in range(5) if stock[f"SKU-{n:06d}"] != 0
    }


def test_the_stockouts_forecast_in_sql_agrees_with_the_report_and_the_rates_with_the_sales(db, api):
    """The run's partition holds the rates the level items got; with no change since, the saved query and the
    stock-outs report list the same levels in the same order."""
    queries, _, _ = api
    page = reports.stockouts(queries, within_days=7, warehouse=None, limit=1000, token=None, now=0)
    from_api = [(r["warehouse"], r["item_id"], r["quantity"], r["days_of_cover"]) for r in page.rows]
    from_sql = [
        (r["warehouse"], r["item_id"], r["quantity"], r["days_of_cover"])
        for r in run(db, "stockouts-forecast", "2026-11-26", 7)
    ]
    assert from_sql == from_api == [("Berlin 1", "b2", 7, 2.8), ("Berlin 1", "a1", 23, 6.6), ("Borkum 1", "a1", 7, 7.0)]
    rates = {
        (r["warehouse"], r["item_id"]): (r["units_sold"], r["observed_days"], r["daily_sales"]) for r in run_rows(db)
    }
    assert rates[("Berlin 1", "a1")] == (7, 2, 3.5) and rates[("Berlin 1", "c3")] == (0, 1, 0.0)


def run_rows(db):
    cursor = db.execute("SELECT * FROM daily_rates WHERE dt = '2026-11-26'")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
