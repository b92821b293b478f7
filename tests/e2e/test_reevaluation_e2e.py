"""The threshold workflow on the local stack: thresholds upload -> Step Functions run -> alerts."""

import json

import pytest

from loadgen.files import HEADER
from stock_pipeline.domain.reevaluation import CHUNKS_PER_EXECUTION
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e


def thresholds(stack, day, entries):
    upload(
        stack,
        f"restock_thresholds/2026/10/{day:02d}/restock_thresholds.json",
        json.dumps({"ThresholdList": [{"ItemId": i, "RestockIfBelow": t} for i, t in entries.items()]}),
    )


def runs(stack):
    sfn = stack.client("stepfunctions")
    arn = stack.outputs["ReevaluateStateMachineArn"]
    found = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
        for execution in page["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            output = json.loads(described.get("output") or "null")
            if described["status"] == "FAILED":  # the history says why, for whoever reads a failing test
                events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
                output = [e for e in events if "Failed" in e["type"]][:2]
            found.append((execution["name"], described["status"], output))
    return found


def flag(stack, warehouse, item):
    got = stack.client("dynamodb").get_item(
        TableName=stack.outputs["StockTableName"], Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
    )["Item"]
    return got.get("belowThreshold", {}).get("BOOL", False)


def test_a_raised_threshold_alerts_at_once_once_and_a_lowered_one_rearms(local_stack, inbox):
    # Given stock of x at 5 with a threshold of 2 (no alert)
    thresholds(local_stack, 1, {"re-x": 2})
    upload(
        local_stack,
        "inventory_files/2026/10/01/202610010800_inventory.csv",
        HEADER + "2026-10-01T08:00:00Z\tRE Hall\tre-x\tRe Widget\t5\n",
    )
    local_stack.drain()
    assert inbox.read() == []

    # When a new thresholds file sets x to 10
    thresholds(local_stack, 2, {"re-x": 10})
    local_stack.drain()

    # Then the run succeeded with its summary, and x is alerted now although its stock did not change
    succeeded = [out for _, status, out in runs(local_stack) if status == "SUCCEEDED"]
    assert {"itemsChecked": 1, "levelsChecked": 1, "alertsSent": 1, "levelsRearmed": 0} in succeeded
    [email] = inbox.read()
    assert email["subject"] == "Restock Re Widget at RE Hall: 5 left (below 10)"
    assert "restock_thresholds/2026/10/02/restock_thresholds.json (threshold 2 -> 10)" in email["message"]

    # And the same file again starts no second run and sends no second alert
    count = len(runs(local_stack))
    thresholds(local_stack, 2, {"re-x": 10})
    local_stack.drain()
    assert len(runs(local_stack)) == count
    assert inbox.read() == []

    # And a threshold lowered below the level re-arms the item, so the next crossing alerts again
    thresholds(local_stack, 3, {"re-x": 4})
    local_stack.drain()
    assert flag(local_stack, "RE Hall", "re-x") is False
    upload(
        local_stack,
        "inventory_files/2026/10/03/202610031000_inventory.csv",
        HEADER + "2026-10-03T10:00:00Z\tRE Hall\tre-x\tRe Widget\t-2\n",
    )
    local_stack.drain()
    [again] = inbox.read()
    assert "3 left (below 4)" in again["subject"]


@pytest.mark.single_region
def test_ten_thousand_changed_items_complete_in_one_run(local_stack):
    thresholds(local_stack, 20, {f"bulk-{i:05d}": 7 for i in range(10_000)})
    local_stack.drain()

    every = runs(local_stack)
    summaries = [
        out for _, status, out in runs(local_stack) if status == "SUCCEEDED" and out and out["itemsChecked"] == 10_000
    ]
    assert summaries == [{"itemsChecked": 10_000, "levelsChecked": 0, "alertsSent": 0, "levelsRearmed": 0}], every
    # And the history it wrote says how large a run may grow: its events per chunk (fixed events counted in, an
    # upper bound) times the chunks one run takes stays under Step Functions' 25,000-event limit
    sfn = local_stack.client("stepfunctions")
    [execution] = [
        e
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=local_stack.outputs["ReevaluateStateMachineArn"]
        )
        for e in page["executions"]
        if json.loads(sfn.describe_execution(executionArn=e["executionArn"]).get("output") or "{}").get("itemsChecked")
        == 10_000
    ]
    events = sum(
        len(page["events"])
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution["executionArn"])
    )
    per_chunk = events / 100  # 10,000 items in chunks of 100
    assert 5 <= per_chunk <= 10
    assert per_chunk * CHUNKS_PER_EXECUTION < 25_000 * 0.8  # a fifth kept in reserve


def test_a_run_that_cannot_evaluate_ends_in_a_clear_error_state(local_stack):
    sfn = local_stack.client("stepfunctions")
    payload = {
        "bucket": local_stack.outputs["DataBucketName"],
        "changesKey": "workflow/threshold-changes/missing.json",
        "sourceKey": "restock_thresholds/x.json",
        "alertId": "t#missing",
        "items": 1,
        "chunks": [0],
    }
    arn = sfn.start_execution(
        stateMachineArn=local_stack.outputs["ReevaluateStateMachineArn"], name="broken-run", input=json.dumps(payload)
    )["executionArn"]
    local_stack.drain()

    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert described["error"] == "ReevaluationFailed"


@pytest.mark.single_region
def test_a_chunk_whose_function_is_killed_is_retried_and_its_alerts_go_out_once(local_stack, inbox, monkeypatch):
    """A Lambda timeout or out-of-memory kill of a chunk (Step Functions sees Sandbox.Timedout / Runtime.ExitError):
    the task's Retry runs the chunk again instead of failing the workflow and losing its alerts (found with the
    kills of `make chaos`; the chunk's claims make the rerun safe)."""
    from local_aws.faults import FunctionKilled

    thresholds(local_stack, 19, {"kill-x": 2})  # 6 in stock is not below 2: no alert yet
    upload(
        local_stack,
        "inventory_files/2026/10/20/202610200800_inventory.csv",
        HEADER + "2026-10-20T08:00:00Z\tKill Hall\tkill-x\tKill Widget\t6\n",
    )
    local_stack.drain()
    inbox.read()
    function = local_stack.functions["ReevaluateFunction"]
    invoke, killed = function.invoke, []

    def dies_once(event):
        if event.get("action") == "evaluate" and not killed:
            invoke(event)  # the chunk did its work (claims, publish) ...
            killed.append(event)
            raise FunctionKilled(function.name, "Sandbox.Timedout", 3)  # ... and its answer was lost
        return invoke(event)

    monkeypatch.setattr(function, "invoke", dies_once)
    before = {name for name, _, _ in runs(local_stack)}
    thresholds(local_stack, 20, {"kill-x": 10})
    local_stack.drain()

    assert killed
    [(_, status, output)] = [run for run in runs(local_stack) if run[0] not in before]
    assert status == "SUCCEEDED", output
    assert [m["attributes"]["itemId"] for m in inbox.read()] == ["kill-x"]
