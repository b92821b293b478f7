"""The nightly validation through the local stack's public entry points: files uploaded to S3 (notifications,
queue, ingest function), the schedule fired as `python -m local_aws fire` does, a manual run started as
`make validate` does (`python -m stockctl validate --wait`), the report read from the bucket."""

import json

import pytest

from local_aws import stepfunctions as local_stepfunctions
from local_aws.__main__ import main as local_aws_main
from stockctl.__main__ import main as stockctl_main
from tests.e2e.conftest import upload

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


def test_uploaded_files_are_validated_by_the_fired_schedule_and_a_manual_run_finds_nothing_new(
    local_stack, tmp_path, capsys
):
    state = tmp_path / ".local-stack.json"
    state.write_text(json.dumps(local_stack.describe()))
    keys = [f"inventory_files/2026/11/25/2026112506000{n}_inventory.csv" for n in (1, 2)]
    for n, key in enumerate(keys):
        upload(local_stack, key, HEADER + f"2026-11-25T05:00:00Z\tKiel 1\tv{n}\tValve\t{n + 3}\n")
    local_stack.drain()
    # When 03:00 comes (the schedule fired on request)
    assert local_aws_main(["fire", "--state-file", str(state)]) == 0
    arn = capsys.readouterr().out.split("started ", 1)[1].strip()
    local_stepfunctions.wait_for_executions()
    sfn, s3 = local_stack.client("stepfunctions"), local_stack.client("s3")
    execution = sfn.describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    bucket = local_stack.outputs["DataBucketName"]
    report = json.loads(s3.get_object(Bucket=bucket, Key=output["reportKey"])["Body"].read())
    ours = [f for f in report["files"] if f["key"] in keys]
    assert [f["key"] for f in ours] == keys and all(f["problems"] == 0 and f["transactions"] == 1 for f in ours)
    assert report["trigger"] == "schedule" and output["reportKey"].startswith("reports/validation/")
    # Then a run started by hand right after has no new file to check, and says so in its summary
    code = stockctl_main(["validate", "--local", str(state), "--wait", "--poll", "0.05", "--name", "manual-e2e"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "SUCCEEDED" in printed and "Subject: Stock validation" in printed and "Files: 0" in printed


@pytest.mark.single_region
def test_a_validation_whose_function_dies_after_each_step_still_counts_every_transaction_once(local_stack, monkeypatch):
    """Each of start, check and finish does its work and then loses its answer (a Lambda timeout at the very end):
    Step Functions retries the step, and the run's tallies, report and e-mail must come out as without the kills
    (the interleaving `make chaos` could not meet: no seeded run killed the validation function)."""
    from local_aws.faults import FunctionKilled

    keys = [f"inventory_files/2026/11/26/2026112606000{n}_inventory.csv" for n in (1, 2, 3)]
    for n, key in enumerate(keys):
        upload(local_stack, key, HEADER + f"2026-11-26T05:00:00Z\tKiel 2\tw{n}\tWheel\t{n + 1}\n" * (n + 1))
    local_stack.drain()
    inbox = local_stack.inbox(local_stack.outputs["ValidationTopicArn"], name="validation-kills")
    function = local_stack.functions["ValidationFunction"]
    invoke, killed = function.invoke, []

    def dies_once_per_step(event):
        result = invoke(event)
        if event.get("action") not in killed:
            killed.append(event.get("action"))
            raise FunctionKilled(function.name, "Sandbox.Timedout", 1)
        return result

    monkeypatch.setattr(function, "invoke", dies_once_per_step)
    arn = local_stack.fire_schedule("ValidationSchedule")
    local_stepfunctions.wait_for_executions()

    assert killed == ["start", "check", "finish"]
    execution = local_stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    assert output["differences"] == 0, output
    report = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=local_stack.outputs["DataBucketName"], Key=output["reportKey"])["Body"]
        .read()
    )
    ours = {f["key"]: f["transactions"] for f in report["files"] if f["key"] in keys}
    assert ours == {keys[0]: 1, keys[1]: 2, keys[2]: 3}
    assert len(inbox.read()) == 1  # one e-mail for the run
