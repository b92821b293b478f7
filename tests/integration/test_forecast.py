"""AlertDelivery=digest on the stack of template.yaml: crossings are claimed but not e-mailed one by one, the
digest schedule exists and, fired, sends one e-mail that lists them; a digest too large for one SNS message lists
the worst that fit and points to the full CSV in the bucket."""

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from local_aws import stepfunctions as local_stepfunctions

STACK_PARAMETERS = {"AlertDelivery": "digest", "DigestHourUtc": "5"}
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def inbox(stack):
    return stack.inbox(stack.outputs["RestockTopicArn"], name="forecast-digest")


def upload(stack, bucket, key, rows):
    body = HEADER + "".join(f"{NOW:%Y-%m-%dT%H:%M:%SZ}\t{w}\t{i}\t{n}\t{c}\n" for w, i, n, c in rows)
    stack.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())
    stack.drain()


def fire_digest(stack):
    arn = stack.fire_schedule("DigestSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    return json.loads(execution["output"])


def test_the_digest_schedule_runs_at_the_chosen_hour_and_the_alert_function_holds_e_mails(stack):
    schedule = stack.client("scheduler").get_schedule(Name=stack.schedules["DigestSchedule"])
    assert schedule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert json.loads(schedule["Target"]["Input"])["job"] == "digest"
    assert stack.functions["AlertFunction"].environment["ALERT_DELIVERY"] == "digest"


def test_crossings_wait_for_the_digest_and_a_digest_too_large_for_sns_points_to_the_csv(stack, bucket, inbox):
    name = "Very long product name " * 22  # 506 characters: 500 such lines are over 256 KB
    rows = [("Lager Ost", f"sku-{n:04d}", name, n % 9) for n in range(500)]  # all below the default 10
    upload(stack, bucket, f"inventory_files/{NOW:%Y/%m/%d}/{NOW:%Y%m%d%H%M}01_inventory.csv", rows)
    assert inbox.read() == []  # claimed, not e-mailed: AlertDelivery=digest
    levels = stack.client("dynamodb").get_item(
        TableName=stack.outputs["StockTableName"], Key={"PK": {"S": "WH#Lager Ost"}, "SK": {"S": "ITEM#sku-0001"}}
    )["Item"]
    assert levels["belowThreshold"] == {"BOOL": True}  # once per crossing still holds for the next change

    result = fire_digest(stack)
    assert result["status"] == "SENT" and result["entries"] == 500 and 0 < result["listed"] < 500
    [digest] = inbox.read()
    assert digest["attributes"]["kind"] == "digest"
    assert len(digest["message"].encode()) < 256 * 1024
    assert f"The {result['listed']} worst of 500 are listed" in digest["message"]
    body = stack.client("s3").get_object(Bucket=bucket, Key=result["csv"])["Body"].read().decode()
    table = list(csv.DictReader(io.StringIO(body)))
    assert len(table) == 500 and {r["reason"] for r in table} == {"below threshold"}
    assert [int(r["quantity"]) - int(r["restock_if_below"]) for r in table] == sorted(
        int(r["quantity"]) - 10 for r in table
    )  # worst (furthest below) first, as listed
    assert fire_digest(stack)["status"] == "SKIPPED"  # the same day again: nothing sent twice
    assert inbox.read() == []
