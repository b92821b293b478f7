"""`make smoke` against the local stack (as `make up` runs it): every step passes, the run leaves nothing of its
own behind, and a stack with an alarm in ALARM fails the run."""

import json

import pytest

from local_aws.stack import LocalStack
from stockctl.__main__ import main

pytestmark = [pytest.mark.e2e, pytest.mark.single_region]


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with LocalStack(stack_name="smoke-e2e", function_environment={"POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        stack.run_in_background(interval_s=0.1)
        state = tmp_path_factory.mktemp("smoke") / "local-stack.json"
        state.write_text(json.dumps(stack.describe()))
        yield stack, state


def test_the_smoke_run_passes_every_step_and_removes_its_data(running, capsys):
    stack, state = running
    assert main(["smoke", "--local", str(state), "--wait", "60", "--poll", "0.1"]) == 0
    out = capsys.readouterr().out
    run = out.splitlines()[0].split()[2]
    for step in (
        "firehose: newest stock in the lake",
        "restock alerts e-mailed",
        "console: presigned upload processed",
        "reports: five routes, SigV4",
        "validation run started",
        "dead-letter queues empty",
        "an alarm reaches the operations topic",
        "cleanup: the run's data removed",
    ):
        line = next(line for line in out.splitlines() if line.startswith(step))
        assert line.split()[-1] != "FAILED" and " OK " in line, line
    # CloudWatch's own notification came through the encrypted operations topic (the key policy the local stack
    # checks for cloudwatch.amazonaws.com), and the alarm is back where it was
    alarm_line = next(line for line in out.splitlines() if line.startswith("an alarm reaches the operations topic"))
    assert "'ALARM: \"" + stack.stack_name in alarm_line and "in EU (Frankfurt)'" in alarm_line, alarm_line
    alarms = stack.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{stack.stack_name}-")["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM"] == []

    # nothing of the run in the table but the validation run's record; in the bucket the validation's report and
    # run files (workflow/, expired after 30 days), the raw Firehose object and the change history (they hold the
    # run's names inside, not in their keys)
    items = stack.client("dynamodb").scan(TableName=stack.outputs["StockTableName"])["Items"]
    assert not [i for i in items if run in json.dumps(i) and i["PK"]["S"] != "VALIDATION"]
    s3 = stack.client("s3")
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.outputs["DataBucketName"])
        for o in page.get("Contents", [])
    ]
    left = [k for k in keys if run in k and not k.startswith(("reports/validation/", "workflow/validation/"))]
    assert left == []
    assert [k for k in keys if k.startswith("reports/validation/") and f"{run}-validation" in k]
    queues = stack.client("sqs").list_queues().get("QueueUrls", [])
    assert not [q for q in queues if run in q]


def test_an_alarm_in_alarm_fails_the_run(running, capsys):
    stack, state = running
    cloudwatch = stack.client("cloudwatch")
    prefix = f"{stack.stack_name}-IngestErrorsAlarm"
    name = next(a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"])
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="smoke test")
    try:
        assert main(["smoke", "--local", str(state), "--wait", "60", "--poll", "0.1"]) == 1
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="smoke test done")
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("no alarm in ALARM"))
    assert "FAILED" in line and name in line
