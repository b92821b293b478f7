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
else:
    session = boto3.Session()
    stack = session.client("cloudformation").describe_stacks(StackName=os.environ.get("STACK_NAME", "stock-pipeline"))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
bucket = outputs["DataBucketName"]
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

notebook = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
path = Path(__file__).parents[1] / "notebook" / "demo-stock-update-awswrangler.ipynb"
nbf.write(notebook, path)
print(f"wrote {path}")
