"""Writes notebook/demo-stock-update-awswrangler.ipynb (kept as code so its cells are reviewed like code)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Stock updates in the lake, with awswrangler\n\n"
        "Reads `curated/stock_latest/` written by the ingest function: one Parquet file per Firehose object under its "
        "arrival day (`dt=yyyy-MM-dd`), rows sorted by `retailer_id` and `account_id`. Against the local stack "
        "(`make up` writes `.local-stack.json`) or against your deployed stack "
        "(set `STACK_NAME`, default `stock-pipeline`, and use your usual AWS credentials)."
    ),
    nbf.v4.new_code_cell(
        """import json
import os
from pathlib import Path

import awswrangler as wr
import boto3

state_file = Path(os.environ.get("LOCAL_STACK_FILE", "../.local-stack.json"))
LOCAL = state_file.exists()
if LOCAL:
    state = json.loads(state_file.read_text())
    session = boto3.Session(region_name=state["region"], **state["credentials"])
    wr.config.s3_endpoint_url = state["endpoint"]
    wr.config.glue_endpoint_url = state["endpoint"]
    outputs = state["outputs"]
    ENDPOINT = state["endpoint"]
else:
    session = boto3.Session()
    stack = session.client("cloudformation").describe_stacks(StackName=os.environ.get("STACK_NAME", "stock-pipeline"))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    ENDPOINT = None
bucket = outputs["DataBucketName"]
s3 = session.client("s3", endpoint_url=ENDPOINT)
print("local stack" if LOCAL else "AWS", "- bucket", bucket)"""
    ),
    nbf.v4.new_code_cell(
        """batches = wr.s3.read_parquet(f"s3://{bucket}/curated/stock_latest/", dataset=True, boto3_session=session)
files = wr.s3.list_objects(f"s3://{bucket}/curated/stock_latest/", boto3_session=session)
print(f"{len(batches)} rows in {len(files)} files (one per Firehose object), days: {sorted(batches['dt'].unique())}")
batches.head()"""
    ),
    nbf.v4.new_markdown_cell(
        "Each Firehose object contributes its newest record per article; across objects the newest wins again, "
        "exactly as the conditional write in DynamoDB decides."
    ),
    nbf.v4.new_code_cell(
        """keys = ["retailer_id", "account_id", "article_id", "channel_id"]
latest = batches.sort_values("last_updated").drop_duplicates(keys, keep="last")
per_retailer = (
    latest.groupby("retailer_id")
    .agg(articles=("article_id", "count"), total_quantity=("quantity", "sum"))
    .sort_values("total_quantity", ascending=False)
)
per_retailer.head(10)"""
    ),
    nbf.v4.new_code_cell(
        """top = per_retailer.head(15)["total_quantity"]
ax = top.plot.bar(figsize=(10, 4), title="Latest stock per retailer (top 15)")
ax.set_ylabel("units in stock")
ax.figure.tight_layout()"""
    ),
    nbf.v4.new_markdown_cell(
        "On AWS the same table is in the Glue catalog (`stock_latest`, partition projection on `dt`). Name the days "
        "you want; a filter on `retailer_id` and `account_id` reads only the row groups whose statistics match:"
    ),
    nbf.v4.new_code_cell(
        """if not LOCAL:
    sample = latest.iloc[0]
    query = (
        "SELECT article_id, channel_id, quantity, last_updated FROM stock_latest "
        f"WHERE dt = '{sample.dt}' AND retailer_id = '{sample.retailer_id}' AND account_id = {sample.account_id} "
        "ORDER BY last_updated DESC"
    )
    display(wr.athena.read_sql_query(query, database=outputs["GlueDatabaseName"],
                                     workgroup=outputs["AthenaWorkGroupName"], boto3_session=session))
else:
    print("Athena does not run locally; the Glue table exists:",
          wr.catalog.does_table_exist(outputs["GlueDatabaseName"], "stock_latest", boto3_session=session))"""
    ),
]

cells += [
    nbf.v4.new_markdown_cell(
        "## Warehouse levels and movements\n\n`curated/inventory_transactions/` holds every parsed transaction with "
        "its file and line; a level is the sum of its transactions (the table holds the same sums). In Athena the "
        "saved queries `report-1-warehouse-items`, `report-2-warehouse-items-above` and "
        "`stock-movements-per-warehouse-per-day` ask the same questions."
    ),
    nbf.v4.new_code_cell(
        """from urllib.parse import unquote

moves_path = f"s3://{bucket}/curated/inventory_transactions/"
if wr.s3.list_objects(moves_path, boto3_session=session):
    moves = wr.s3.read_parquet(moves_path, dataset=True, boto3_session=session)
    moves["warehouse"] = moves["warehouse"].astype(str).map(unquote)
    levels = moves.groupby(["item_id", "warehouse"])["stock_level_change"].sum().unstack("warehouse").fillna(0)
    top = levels.loc[levels.sum(axis=1).nlargest(20).index]  # a readable chart: the 20 items with most stock
    title = f"Stock level per item and warehouse (top {len(top)} of {len(levels)} items)"
    ax = top.plot.bar(figsize=(10, 4), title=title)
    ax.set_ylabel("units")
    ax.figure.tight_layout()
else:
    moves = None
    print("no inventory transactions yet")"""
    ),
    nbf.v4.new_code_cell(
        """if moves is not None:
    change = moves["stock_level_change"]
    flows = moves.assign(received=change.clip(lower=0), sold=-change.clip(upper=0))
    daily = flows.groupby("dt")[["received", "sold"]].sum()
    ax = daily.plot.bar(figsize=(10, 3), title="Units received and sold per day (all warehouses)")
    ax.figure.tight_layout()"""
    ),
    nbf.v4.new_markdown_cell(
        "## Restock thresholds\n\nThe uploaded threshold files (Glue table `raw_restock_thresholds`)."
    ),
    nbf.v4.new_code_cell(
        """import pandas as pd

rows = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="restock_thresholds/"):
    for obj in page.get("Contents", []):
        document = json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
        for entry in document.get("ThresholdList", []):
            rows.append(
                {"file": obj["Key"], "item": entry.get("ItemId"), "restock_if_below": entry.get("RestockIfBelow")}
            )
thresholds = pd.DataFrame(rows)
if len(thresholds):
    latest = thresholds.sort_values("file").drop_duplicates("item", keep="last").set_index("item")
    top = latest["restock_if_below"].nlargest(20)
    ax = top.plot.barh(figsize=(8, 4), title=f"Highest restock thresholds (top {len(top)} of {len(latest)} items)")
    ax.figure.tight_layout()
else:
    print("no threshold files yet")"""
    ),
    nbf.v4.new_markdown_cell(
        "## Supplier stock\n\n`curated/supplier_stock/` keeps a month of mapped feed rows, one partition per "
        "supplier and day (saved query `supplier-stock-over-time`)."
    ),
    nbf.v4.new_code_cell(
        """supplier_path = f"s3://{bucket}/curated/supplier_stock/"
if wr.s3.list_objects(supplier_path, boto3_session=session):
    feeds = wr.s3.read_parquet(supplier_path, dataset=True, boto3_session=session)
    feeds["day"] = feeds["year"].astype(str) + "-" + feeds["month"].astype(str) + "-" + feeds["day"].astype(str)
    units = feeds.groupby(["day", "supplier"])["quantity"].sum().unstack("supplier")
    ax = units.plot.bar(figsize=(8, 3), title="Units in stock per supplier and feed day")
    ax.figure.tight_layout()
else:
    print("no supplier feeds yet")"""
    ),
    nbf.v4.new_markdown_cell(
        "## Rejected rows\n\nEvery row or record the pipeline refused, with its file, line and reason (`rejected/`, "
        "Glue table `rejected`)."
    ),
    nbf.v4.new_code_cell(
        """rejected_path = f"s3://{bucket}/rejected/"
if wr.s3.list_objects(rejected_path, boto3_session=session):
    rejected = wr.s3.read_json(rejected_path, lines=True, boto3_session=session)
    reasons = rejected["reason"].str.split(":").str[0].value_counts().head(15)
    ax = reasons.plot.barh(figsize=(8, 3), title="Rejected rows by reason")
    ax.figure.tight_layout()
    display(rejected[["source_key", "line", "reason"]].head())
else:
    print("nothing rejected yet")"""
    ),
]

cells += [
    nbf.v4.new_markdown_cell(
        "## Stock history, sales and levels below threshold\n\n`curated/stock_history/` holds every change of a "
        "stored level from the table's stream (old, new, delta, cause; Glue table `stock_history`, saved queries "
        "`stock-history-of-item`, `stock-over-time-per-item`, `sales-per-item-per-day`). These are the figures of "
        "`make report`, drawn by the same functions (`stockctl.lake_report`); the days of cover come from the newest "
        "forecast run (`curated/daily_rates/`, Glue table `daily_rates`; `python -m stockctl forecast` computes one)."
    ),
    nbf.v4.new_code_cell(
        """import sys

sys.path.insert(0, str(Path("../src").resolve()))
from stockctl import lake_report

lake = lake_report.read_lake(session, bucket, ENDPOINT)
chosen = lake_report.busiest_items(lake.history)
history_figures = lake_report.figures(lake, chosen, default_threshold=10)
print(f"{len(lake_report.levels(lake.history))} level changes; items shown: {chosen}")
lake_report.levels(lake.history).tail()"""
    ),
    *[
        nbf.v4.new_code_cell(f"""display(history_figures["{title}"])  # {title}""")
        for title in (
            "Stock over time",
            "Units sold per day",
            "Rejected rows per day",
            "Levels below their restock threshold",
            "Days of cover (newest forecast, lowest 20)",
        )
    ],
]

notebook = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
path = Path(__file__).parents[1] / "notebook" / "demo-stock-update-awswrangler.ipynb"
nbf.write(notebook, path)
print(f"wrote {path}")
