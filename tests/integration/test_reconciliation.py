"""The full reconciliation on the local stack: the table's export in DynamoDB's layout, Athena's comparison run by
DuckDB through the Glue catalog, the differences in the lake, the run's e-mail, and `stockctl repair`."""

import io
import json
from argparse import Namespace
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from local_aws import stepfunctions as local_stepfunctions
from stock_pipeline.adapters.movements import Movements
from stock_pipeline.domain.movements import adjustment_from, stocktake_from, transfer_from
from stockctl import reconcile

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


def upload(stack, when, rows):
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    body = HEADER + "".join(f"{when:%Y-%m-%dT%H:%M:%SZ}\t{w}\t{i}\tThing\t{c}\n" for w, i, c in rows)
    s3.put_object(Bucket=bucket, Key=f"inventory_files/{when:%Y/%m/%d}/{when:%Y%m%d%H%M%S}_inventory.csv", Body=body)
    stack.drain()


def reconciled(stack):
    """A run as the weekly schedule starts it: its output (the run's counts)."""
    arn = stack.fire_schedule("ReconcileSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause") or execution.get("error")
    return json.loads(execution["output"])


def ours(stack, run):
    return {
        (d.warehouse, d.item_id): d
        for d in reconcile.differences(stack.session, stack.outputs, None, run)
        if d.warehouse.startswith("Recon ")
    }


def level(stack, warehouse, item):
    key = {"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
    found = stack.client("dynamodb").get_item(TableName=stack.outputs["StockTableName"], Key=key)["Item"]
    return int(found["quantity"]["N"]), found.get("lastSourceKey", {}).get("S")


@pytest.fixture(scope="module")
def history(stack):
    """Files, an adjustment, a transfer and a stocktake, in mixed order: every level as its sources add up."""
    now = datetime.now(UTC).replace(microsecond=0)
    upload(stack, now - timedelta(days=3), [("Recon 1", "r-1", 40), ("Recon 1", "r-2", 12), ("Recon 2", "r-1", 5)])
    movements = Movements(stack.client("dynamodb"), stack.outputs["StockTableName"])
    at = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    movements.adjust(
        adjustment_from(
            {
                "movement_id": "recon-adjust-1",
                "warehouse": "Recon 1",
                "item_id": "r-1",
                "change": -3,
                "reason": "damaged",
            },
            user="tester",
        ),
        at=at,
    )
    movements.transfer(
        transfer_from(
            {"movement_id": "recon-move-1", "from": "Recon 1", "to": "Recon 3", "item_id": "r-1", "quantity": 7},
            user="tester",
        ),
        at=at,
    )
    upload(stack, now - timedelta(days=1), [("Recon 1", "r-2", -2), ("Recon 2", "r-1", 6)])
    movements.stocktake(
        stocktake_from(
            {"movement_id": "recon-count-1", "counts": [{"warehouse": "Recon 2", "item_id": "r-1", "counted": 9}]},
            user="tester",
        ),
        at=(now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    )
    stack.drain()
    return {("Recon 1", "r-1"): 30, ("Recon 1", "r-2"): 10, ("Recon 2", "r-1"): 9, ("Recon 3", "r-1"): 7}


def test_levels_changed_by_files_and_movements_in_any_order_reconcile_with_no_difference(stack, history):
    for (warehouse, item), quantity in history.items():
        assert level(stack, warehouse, item)[0] == quantity
    result = reconciled(stack)
    assert {k: d for k, d in ours(stack, result["run"]).items() if k in history} == {}
    assert result["warehouses"] >= 3


def test_a_level_changed_behind_the_pipelines_back_is_reported_repaired_and_a_moved_one_refused(stack, tmp_path):
    # Given two levels from a file, then edited directly in the table, which no later file touches
    upload(stack, datetime.now(UTC) - timedelta(days=2), [("Recon 8", "r-2", 10), ("Recon 9", "r-1", 7)])
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    for warehouse, item, quantity in (("Recon 8", "r-2", 55), ("Recon 9", "r-1", 1)):
        ddb.update_item(
            TableName=table,
            Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}},
            UpdateExpression="SET quantity = :q",
            ExpressionAttributeValues={":q": {"N": str(quantity)}},
        )
    inbox = stack.inbox(stack.outputs["RestockTopicArn"], name="reconcile-inbox")

    # When the next full reconciliation runs
    result = reconciled(stack)

    # Then it reports both with their expected and stored values, in the lake and in its e-mail
    found = {k: d for k, d in ours(stack, result["run"]).items() if k[0] in ("Recon 8", "Recon 9")}
    assert {k: (d.expected, d.stored) for k, d in found.items()} == {
        ("Recon 8", "r-2"): (10, 55),
        ("Recon 9", "r-1"): (7, 1),
    }
    [email] = [m for m in inbox.read() if m["attributes"].get("kind") == "reconciliation"]
    assert f"Reconciliation {result['run']}" in email["subject"]
    assert "Recon 8 / r-2: 55, expected 10" in email["message"]

    # and when one of them moves again before the repair (a file), the repair refuses it and fixes the other
    upload(stack, datetime.now(UTC), [("Recon 9", "r-1", 2)])
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(stack.describe()))
    out = io.StringIO()
    args = Namespace(
        run=result["run"],
        reason="edited by hand in the DynamoDB console",
        dry_run=False,
        local=str(state),
        stack=None,
        region=None,
    )
    assert reconcile.repair(args, out=out) == 1
    assert "REFUSED Recon 9 / r-1: it moved since the run: the run saw 1, it holds 3 now" in out.getvalue()
    quantity, cause = level(stack, "Recon 8", "r-2")
    assert quantity == 10
    assert cause == f"repair:{result['run']}: edited by hand in the DynamoDB console"
    assert level(stack, "Recon 9", "r-1")[0] == 3

    # and the level's history (from the table's stream) holds the repair with who made it and why
    stack.drain()
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    rows = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/"):
        for obj in page.get("Contents", []):
            table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
            rows += [r for r in table.to_pylist() if r["warehouse"] == "Recon 8" and r["item_id"] == "r-2"]
    [repaired] = [r for r in rows if (r["source_key"] or "").startswith("repair:")]
    assert (repaired["old_value"], repaired["new_value"], repaired["delta"]) == (55, 10, -45)
    assert repaired["changed_by"].startswith("arn:aws:sts::") and "edited by hand" in repaired["source_key"]


def test_the_console_shows_the_last_run_and_repairs_one_level_of_it_with_the_signed_in_user(stack, console, token):
    from tests.integration.test_console import call

    # Given a level edited behind the pipeline's back and a run that found it
    upload(stack, datetime.now(UTC) - timedelta(days=2), [("Recon 7", "c-1", 12), ("Recon 7", "c-2", 4)])
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    for item, quantity in (("c-1", 99), ("c-2", 40)):
        ddb.update_item(
            TableName=table,
            Key={"PK": {"S": "WH#Recon 7"}, "SK": {"S": f"ITEM#{item}"}},
            UpdateExpression="SET quantity = :q",
            ExpressionAttributeValues={":q": {"N": str(quantity)}},
        )
    run = reconciled(stack)["run"]

    # Then the overview names the run and its largest differences
    status, _, body = call(f"{console}/api/overview", token=token)
    shown = json.loads(body)["reconciliation"]
    assert status == 200 and shown["run"] == run and shown["differences"] >= 2
    worst = {(w["warehouse"], w["item_id"]): (w["stored"], w["expected"]) for w in shown["worst"]}
    assert worst[("Recon 7", "c-1")] == (99, 12)

    # and its Repair sets one level right, with who and why; a level that moved since is refused with the reason
    asked = {"run": run, "warehouse": "Recon 7", "item_id": "c-1", "reason": "typed into the wrong row"}
    status, _, body = call(f"{console}/api/repairs", "POST", asked, token=token)
    assert (status, json.loads(body)) == (200, {"repaired": True, "quantity": 12})
    quantity, cause = level(stack, "Recon 7", "c-1")
    assert quantity == 12 and cause == f"repair:{run}: typed into the wrong row"
    upload(stack, datetime.now(UTC), [("Recon 7", "c-2", -1)])
    status, _, body = call(f"{console}/api/repairs", "POST", {**asked, "item_id": "c-2"}, token=token)
    assert status == 409 and "the run saw 40, it holds 39 now" in json.loads(body)["detail"]
    assert call(f"{console}/api/repairs", "POST", {**asked, "reason": " "}, token=token)[0] == 400
    assert call(f"{console}/api/repairs", "POST", {**asked, "item_id": "nope"}, token=token)[0] == 404


def test_the_export_is_laid_out_as_dynamodb_writes_it(stack, history):
    run = reconciled(stack)["run"]
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"exports/stock-table/run={run}/")["Contents"]]
    [summary_key] = [k for k in keys if k.endswith("/manifest-summary.json")]
    base = summary_key.rsplit("/", 1)[0]
    assert {f"{base}/_started", f"{base}/manifest-files.json", f"{base}/manifest-summary.checksum"} <= set(keys)
    summary = json.loads(s3.get_object(Bucket=bucket, Key=summary_key)["Body"].read())
    assert f":table/{stack.outputs['StockTableName']}/export/" in summary["exportArn"]
    assert summary["exportArn"].endswith(base.rsplit("/", 1)[1]) and summary["outputFormat"] == "DYNAMODB_JSON"
    files = [
        json.loads(line)
        for line in s3.get_object(Bucket=bucket, Key=summary["manifestFilesS3Key"])["Body"].read().splitlines()
    ]
    assert sum(f["itemCount"] for f in files) == summary["itemCount"] > 0
    assert all(
        f["dataFileS3Key"].startswith(f"{base}/data/") and f["dataFileS3Key"].endswith(".json.gz") for f in files
    )


def test_only_the_functions_the_template_gives_the_pandas_layer_may_import_its_libraries(stack, history):
    """The reconciliation above ran without the layer: in AWS it would have no pyarrow either."""
    carrying = {lid for lid, function in stack.functions.items() if function.pandas_layer}
    assert carrying == {"IngestFunction", "HistoryFunction", "ValidationFunction", "ForecastFunction"}


def test_a_retried_comparison_waits_for_its_query_and_counts_each_difference_once(stack, history):
    """Step Functions retries a task whose function timed out while Athena wrote the differences: the same UNLOAD
    (its client request token) is waited for, not started again into a half-written folder."""
    first = reconciled(stack)
    again = stack.functions["ReconcileFunction"].invoke(
        {"job": "compare", "run": first["run"], "exportArn": first["exportArn"], "items": first["items"]}
    )
    assert (again["differences"], again["total_units"]) == (first["differences"], first["total_units"])
    s3, bucket = stack.client("s3"), stack.outputs["DataBucketName"]
    written = s3.list_objects_v2(Bucket=bucket, Prefix=f"curated/reconciliation_differences/run={first['run']}/")
    assert written["KeyCount"] == 1  # one UNLOAD's file
