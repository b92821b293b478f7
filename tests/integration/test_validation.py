"""Nightly validation on the local stack: the schedule fired, the Standard workflow run by moto's interpreter with
the validation function in-process, the table and bucket of template.yaml.

Each invocation's budget is forced to zero here, so every invocation checks exactly one transaction and a run
of a few lines spans as many invocations: the loop, the cursor and the chaining are exercised at every line.
"""

import json
from datetime import UTC, datetime

import pytest

import stock_pipeline.validation as validation_app
from local_aws import stepfunctions as local_stepfunctions
from stock_pipeline.handlers.ingest import handle
from stock_pipeline.validation import RunLostError
from tests.conftest import sqs_event_for

FUNCTION_ENVIRONMENT = {"VALIDATION_BUDGET_SECONDS": "0"}
HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@pytest.fixture(scope="module")
def inbox(stack):
    return stack.inbox(stack.outputs["ValidationTopicArn"], name="validation-inbox")


@pytest.fixture(scope="module")
def sfn(stack):
    return stack.client("stepfunctions")


def upload(s3, deps, bucket, key, rows, *, arrived):
    body = HEADER + "".join(row + "\n" for row in rows)
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body.encode())["ETag"].strip('"')
    assert handle(sqs_event_for([(bucket, key, etag)], event_time=arrived), None, deps) == {"batchItemFailures": []}
    return key


def nightly_run(stack, sfn, s3, bucket):
    """What 03:00 UTC does: the scheduler starts the workflow; wait for it; its output and report."""
    arn = stack.fire_schedule("ValidationSchedule")
    local_stepfunctions.wait_for_executions()
    return finished(sfn, s3, bucket, arn)


def finished(sfn, s3, bucket, arn):
    execution = sfn.describe_execution(executionArn=arn)
    output = json.loads(execution.get("output") or "{}")
    report = None
    if "reportKey" in output:
        report = json.loads(s3.get_object(Bucket=bucket, Key=output["reportKey"])["Body"].read())
    return execution, output, report


def tally_starts(s3, bucket, run_id):
    prefix = f"workflow/validation/{run_id}/tallies/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    return sorted(json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())["start"]["line"] for k in keys)


def test_a_scheduled_run_checks_every_transaction_in_arrival_order_over_many_invocations(
    stack, deps, s3, bucket, sfn, inbox
):
    # Given two files whose keys sort the other way round from their arrival
    later = upload(
        s3, deps, bucket, "inventory_files/2026/11/24/20261124090000_inventory.csv",
        ["2026-11-24T08:00:00Z\tBerlin 1\ta1\tShirt\t5", "2026-11-24T08:01:00Z\tBerlin 1\ta2\tCap\t-2"],
        arrived="2026-11-24T11:00:00.000Z",
    )  # fmt: skip
    earlier = upload(
        s3, deps, bucket, "inventory_files/2026/11/24/20261124100000_inventory.csv",
        [
            "2026-11-24T09:00:00Z\tBerlin 1\ta1\tShirt\t-1",
            "no tabs here",
            "2026-11-24T09:02:00Z\tHamburg 1\ta3\tMug\t7",
        ],
        arrived="2026-11-24T10:00:00.000Z",
    )  # fmt: skip
    # When the schedule fires
    execution, output, report = nightly_run(stack, sfn, s3, bucket)
    # Then the run succeeds, file by file in arrival order, one transaction per invocation, each counted once
    assert execution["status"] == "SUCCEEDED"
    assert [f["key"] for f in report["files"]] == [earlier, later]
    assert [f["transactions"] for f in report["files"]] == [3, 2]
    assert report["transactions"] == 5 and report["checkInvocations"] == 5
    assert report["trigger"] == "schedule"
    assert report["problems"]["unparseable_row"] == {
        "count": 1,
        "samples": [{"file": earlier, "line": 3, "detail": "expected 5 tab-separated columns, found 1"}],
    }
    assert report["reconciliation"] == {"items": 3, "differences": 0}
    # the tallies, one per invocation, start at every line of the first file, then of the second
    assert len(tally_starts(s3, bucket, output["runId"])) == 5
    # And the summary is e-mailed
    [email] = inbox.read()
    assert email["subject"].endswith(": 1 problem found")
    assert f"{earlier} line 3: expected 5 tab-separated columns, found 1" in email["message"]
    assert email["attributes"] == {"kind": "validation", "status": "SUCCEEDED", "problems": "1"}


def test_the_next_run_takes_only_what_arrived_since_and_a_failed_invocation_resumes_at_its_cursor(
    stack, deps, s3, bucket, sfn, inbox, monkeypatch
):
    # Given one new file of four transactions
    key = upload(
        s3, deps, bucket, "inventory_files/2026/11/25/20261125010000_inventory.csv",
        [f"2026-11-25T00:0{n}:00Z\tBerlin 1\tb{n}\tItem\t{n}" for n in range(1, 5)],
        arrived="2026-11-25T01:00:00.000Z",
    )  # fmt: skip
    # and a check that fails once, at the file's third transaction (line 4)
    checked, real_check = [], validation_app.check_transaction

    def flaky_check(file_key, transaction, facts):
        checked.append(transaction.line)
        if transaction.line == 4 and checked.count(4) == 1:
            raise ConnectionError("injected: the check's backend went away")
        return real_check(file_key, transaction, facts)

    monkeypatch.setattr(validation_app, "check_transaction", flaky_check)
    # When the schedule fires
    execution, _, report = nightly_run(stack, sfn, s3, bucket)
    # Then the workflow retried the failed invocation at the same cursor: line 4 again, nothing skipped
    assert execution["status"] == "SUCCEEDED"
    assert checked == [2, 3, 4, 4, 5]
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    assert sum(e["type"] == "TaskFailed" for e in history) == 1
    # and the report counts each transaction once; the earlier run's files are not checked again
    assert [f["key"] for f in report["files"]] == [key]
    assert report["transactions"] == 4 and report["problemCount"] == 0
    assert inbox.read()[0]["subject"].endswith("all 4 transactions OK")


def test_a_level_changed_behind_the_pipelines_back_is_reported_and_later_files_are_not(
    stack, deps, s3, bucket, ddb, table_name, inbox
):
    function = stack.functions["ValidationFunction"]
    # Given a file that puts 10 mugs in Hamburg 2, and a level tampered with afterwards (+3 by hand)
    key = upload(
        s3, deps, bucket, "inventory_files/2026/11/25/20261125020000_inventory.csv",
        ["2026-11-25T01:00:00Z\tHamburg 2\tmug\tMug\t10", "2026-11-25T01:01:00Z\tHamburg 2\tcup\tCup\t4"],
        arrived="2026-11-25T02:00:00.000Z",
    )  # fmt: skip
    ddb.update_item(
        TableName=table_name,
        Key={"PK": {"S": "WH#Hamburg 2"}, "SK": {"S": "ITEM#mug"}},
        UpdateExpression="ADD quantity :n",
        ExpressionAttributeValues={":n": {"N": "3"}},
    )
    # When a run starts (the task events the workflow sends, invoked here one by one to place a file in between)
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    start = function.invoke({"action": "start", "runId": "manual-tamper", "startedAt": started, "input": {}})
    assert start["status"] == "STARTED" and start["files"] == 1
    # and a file arrives during the run that adds 5 cups (it is applied to the table at once)
    late = upload(
        s3, deps, bucket, "inventory_files/2026/11/25/20261125030000_inventory.csv",
        ["2026-11-25T02:30:00Z\tHamburg 2\tcup\tCup\t5"],
        arrived="2026-11-25T03:00:00.000Z",
    )  # fmt: skip
    state = start
    while not state["done"]:
        state = function.invoke({"action": "check", "runId": "manual-tamper", "cursor": state["cursor"]})
    result = function.invoke({"action": "finish", "runId": "manual-tamper"})
    report = json.loads(s3.get_object(Bucket=bucket, Key=result["reportKey"])["Body"].read())
    # Then the tampered mug level is a difference, and the cups (10 stored minus 5 from the later file) are not
    assert report["problems"]["level_difference"] == {
        "count": 1,
        "samples": [{"warehouse": "Hamburg 2", "itemId": "mug", "expected": 10, "stored": 13, "files": [key]}],
    }
    assert [f["key"] for f in report["files"]] == [key]
    [email] = inbox.read()
    assert "Hamburg 2 / mug: expected 10, stored 13" in email["message"]
    # And the file that arrived during the run belongs to the next run, which expects the validated 10 mugs
    next_run = function.invoke({"action": "start", "runId": "manual-next", "startedAt": _now(), "input": {}})
    assert next_run["files"] == 1
    files = json.loads(s3.get_object(Bucket=bucket, Key="workflow/validation/manual-next/files.json")["Body"].read())
    assert [f["key"] for f in files["files"]] == [late]
    state = next_run
    while not state["done"]:
        state = function.invoke({"action": "check", "runId": "manual-next", "cursor": state["cursor"]})
    report = json.loads(
        s3.get_object(Bucket=bucket, Key=function.invoke({"action": "finish", "runId": "manual-next"})["reportKey"])[
            "Body"
        ].read()
    )
    assert report["reconciliation"] == {"items": 1, "differences": 0}  # cups: 4 validated + 5 = 9 stored
    inbox.read()


def test_a_second_start_while_a_run_holds_the_lock_checks_nothing_and_two_starts_check_each_file_once(
    stack, deps, s3, bucket, sfn, inbox
):
    function = stack.functions["ValidationFunction"]
    # Given a run in progress (started by hand, not finished)
    holder = function.invoke({"action": "start", "runId": "manual-holder", "startedAt": _now(), "input": {}})
    assert holder["status"] == "STARTED"
    # When the schedule fires meanwhile
    execution, output, _ = nightly_run(stack, sfn, s3, bucket)
    # Then that execution ends at once, says why, and lists no files
    assert execution["status"] == "SUCCEEDED"
    assert output["status"] == "SKIPPED" and "manual-holder" in output["reason"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=f"workflow/validation/{output['runId']}/")
    state = holder
    while not state["done"]:
        state = function.invoke({"action": "check", "runId": "manual-holder", "cursor": state["cursor"]})
    function.invoke({"action": "finish", "runId": "manual-holder"})
    inbox.read()
    # Given two new files, and two executions started at the same moment
    for n in (1, 2):
        upload(
            s3, deps, bucket, f"inventory_files/2026/11/25/2026112504000{n}_inventory.csv",
            [f"2026-11-25T03:00:00Z\tBerlin 2\tc{n}\tItem\t1", f"2026-11-25T03:01:00Z\tBerlin 2\tc{n}\tItem\t1"],
            arrived=f"2026-11-25T04:00:0{n}.000Z",
        )  # fmt: skip
    machine = stack.outputs["ValidationStateMachineArn"]
    arns = [
        sfn.start_execution(stateMachineArn=machine, name=f"manual-{n}", input='{"trigger": "manual"}')["executionArn"]
        for n in "ab"
    ]
    local_stepfunctions.wait_for_executions()
    outcomes = [finished(sfn, s3, bucket, arn) for arn in arns]
    # Then both succeed and the four transactions are checked once between them
    assert [execution["status"] for execution, _, _ in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    reports = [report for _, _, report in outcomes if report]
    assert sum(report["transactions"] for report in reports) == 4
    checked = [f["key"] for report in reports for f in report["files"]]
    assert len(checked) == len(set(checked)) == 2
    inbox.read()


def test_a_run_that_cannot_finish_fails_frees_the_lock_and_e_mails_a_failed_report(
    stack, deps, s3, bucket, sfn, inbox, monkeypatch
):
    key = upload(
        s3, deps, bucket, "inventory_files/2026/11/25/20261125050000_inventory.csv",
        ["2026-11-25T04:00:00Z\tBerlin 3\td1\tItem\t1"],
        arrived="2026-11-25T05:00:00.000Z",
    )  # fmt: skip

    def lost(*args, **kwargs):
        raise RunLostError("injected: lost the lock")

    monkeypatch.setattr(validation_app, "reconcile", lost)
    execution, _, _ = nightly_run(stack, sfn, s3, bucket)
    assert execution["status"] == "FAILED" and execution["error"] == "ValidationFailed"
    [email] = inbox.read()
    assert email["subject"].endswith("FAILED") and "RunLostError: injected: lost the lock" in email["message"]
    run_id = execution["executionArn"].rsplit(":", 1)[-1]
    day = datetime.now(UTC)
    report_key = f"reports/validation/{day:%Y/%m/%d}/{run_id}.json"
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert report["status"] == "FAILED" and report["transactions"] == 1
    # And the next run checks that file again (the cursor did not move)
    monkeypatch.undo()
    execution, _, report = nightly_run(stack, sfn, s3, bucket)
    assert execution["status"] == "SUCCEEDED" and [f["key"] for f in report["files"]] == [key]
    inbox.read()


def _now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
