"""Proof that the local stack's IAM enforcement bites: a copy of template.yaml with one permission a flow needs taken
away, deployed locally, fails that flow the way AWS would (AccessDenied naming the action and the resource), for
each kind of principal: a function's role, the browser's presigned POST (the console's role), an AWS service's
delivery (S3 -> SQS at deploy time, CloudWatch -> SNS through a key policy) and Firehose's delivery role."""

import json
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from local_aws.stack import LocalStack
from local_aws.template import ROOT, load_template
from stock_pipeline.config import Settings
from stock_pipeline.handlers import reports
from stockctl.stack import ReportsClient


def template_with(tmp_path: Path, change) -> Path:
    """template.yaml as JSON after `change(template)`, its code and state machine paths made absolute."""
    template = load_template(ROOT / "template.yaml")
    template["Globals"]["Function"]["CodeUri"] = str(ROOT / "src")
    for resource in template["Resources"].values():
        if "DefinitionUri" in resource.get("Properties", {}):
            resource["Properties"]["DefinitionUri"] = str(ROOT / resource["Properties"]["DefinitionUri"])
    change(template)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return path


def statements(template, logical_id):
    return template["Resources"][logical_id]["Properties"]["Policies"][0]["Statement"]


def without_actions(template, logical_id, prefix):
    """Drop every action starting with `prefix` from a function's inline policy."""
    kept = []
    for statement in statements(template, logical_id):
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        actions = [a for a in actions if not a.startswith(prefix)]
        if actions:
            kept.append({**statement, "Action": actions})
    template["Resources"][logical_id]["Properties"]["Policies"][0]["Statement"] = kept


def stack_of(path, name):
    return LocalStack(stack_name=name, template_path=path, parameters={"GlueDatabaseName": name.replace("-", "_")})


def test_reports_without_their_dynamodb_actions_answer_500_and_the_call_is_access_denied(tmp_path):
    path = template_with(tmp_path, lambda t: without_actions(t, "ReportsFunction", "dynamodb:"))
    with stack_of(path, "bites-reports") as stack:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=stack.region
        )
        client = ReportsClient(stack.outputs["ReportsApiUrl"], session, stack.region)
        assert client.get("/warehouses/Berlin%201/items", {})[0] == 500

        settings = Settings.from_env(stack.functions["ReportsFunction"].environment)
        deps = reports.build_dependencies(settings, stack.session_of("ReportsFunction"))
        with pytest.raises(ClientError) as refused:
            deps.queries.warehouse_known("Berlin 1")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert (
        "ReportsFunctionRole" in error["Message"]
        and "is not authorized to perform: dynamodb:GetItem" in error["Message"]
    )
    assert ":table/bites-reports-StockTable-" in error["Message"]


def test_a_console_without_s3_put_object_signs_uploads_s3_then_refuses(tmp_path):
    path = template_with(tmp_path, lambda t: without_actions(t, "ConsoleFunction", "s3:PutObject"))
    with stack_of(path, "bites-console") as stack:
        console = stack.outputs["ConsoleUrl"]
        token = requests.post(f"{console}/api/session", json=stack.console_credentials, timeout=30).json()[
            "accessToken"
        ]
        target = requests.post(
            f"{console}/api/uploads",
            json={"kind": "product", "filename": "p.csv", "size": 10},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        answer = requests.post(
            target["url"], data=target["fields"], files={"file": ("p.csv", b"a,b\n1,2\n")}, timeout=30
        )
    assert answer.status_code == 403 and b"<Code>AccessDenied</Code>" in answer.content
    assert b"is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::" in answer.content


def test_a_queue_policy_without_the_bucket_fails_the_deploy_like_s3_does(tmp_path):
    def drop_s3_statement(template):
        policy = template["Resources"]["IngestQueuePolicy"]["Properties"]["PolicyDocument"]
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "DataBucketNotifications"]

    path = template_with(tmp_path, drop_s3_statement)
    with pytest.raises(ClientError) as refused:
        stack_of(path, "bites-notify").start()
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in refused.value.response["Error"]["Message"]


def test_an_alarm_reaches_the_operations_inbox_only_while_the_key_policy_lets_cloudwatch_encrypt(tmp_path):
    def without_cloudwatch(template):
        key = template["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"][1]["Principal"]
        key["Service"] = [s for s in key["Service"] if s != "cloudwatch.amazonaws.com"]

    for change, delivered in ((lambda t: None, True), (without_cloudwatch, False)):
        path = template_with(tmp_path, change)
        with stack_of(path, f"bites-alarm-{int(delivered)}") as stack:
            inbox = stack.inbox(stack.outputs["OperationsTopicArn"], name="ops")
            alarm = next(
                a
                for a in stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
                if a["AlarmName"].startswith(f"bites-alarm-{int(delivered)}-IngestDeadLetterAlarm")
            )
            stack.client("cloudwatch").set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason="test"
            )
            messages = inbox.read()
            undelivered = list(stack.iam.undelivered)
        if delivered:
            [message] = messages
            assert message["subject"].startswith('ALARM: "bites-alarm-1-IngestDeadLetterAlarm')
            assert json.loads(message["message"])["NewStateValue"] == "ALARM"
        else:
            assert messages == []
            assert any(
                "cloudwatch.amazonaws.com is not authorized to perform: kms:GenerateDataKey" in u for u in undelivered
            )


def test_firehose_without_put_object_keeps_its_records_and_reports_the_refusal(tmp_path):
    def without_put(template):
        policy = template["Resources"]["FirehoseDeliveryRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"][0]["Action"] = [a for a in policy["Statement"][0]["Action"] if a != "s3:PutObject"]

    path = template_with(tmp_path, without_put)
    with stack_of(path, "bites-firehose") as stack:
        stack.client("firehose").put_record(
            DeliveryStreamName=stack.outputs["StockUpdatesStreamName"], Record={"Data": b'{"quantity": 1}'}
        )
        stack.drain()
        assert stack.firehose.pending_records() == 1  # kept, retried at every flush (AWS: for up to 24 hours)
        error = stack.firehose.delivery_errors[-1]
    assert "AccessDenied" in error and "FirehoseDeliveryRole" in error and "s3:PutObject" in error
