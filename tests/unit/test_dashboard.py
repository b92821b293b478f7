"""The operations dashboard and the alarms: every metric a widget names exists, every dead letter alarms."""

import json
import re
from pathlib import Path

import pytest

from local_aws.template import load_template

SRC = Path(__file__).parents[2] / "src" / "stock_pipeline"

# The AWS metrics the dashboard may name, per namespace, as the services document them (CloudWatch "metrics and
# dimensions" pages of Lambda, SQS, DynamoDB, Step Functions and Firehose). A name outside these is a typo.
SERVICE_METRICS = {
    "AWS/Lambda": {"Errors", "Duration", "ConcurrentExecutions", "Invocations", "Throttles", "IteratorAge"},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent"},
    "AWS/DynamoDB": {
        "ConsumedWriteCapacityUnits",
        "ConsumedReadCapacityUnits",
        "WriteThrottleEvents",
        "ReadThrottleEvents",
    },
    "AWS/States": {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"},
    "AWS/Firehose": {"DeliveryToS3.DataFreshness", "DeliveryToS3.Success", "IncomingRecords"},
}
DIMENSION_OF = {
    "AWS/Lambda": "FunctionName",
    "AWS/SQS": "QueueName",
    "AWS/DynamoDB": "TableName",
    "AWS/States": "StateMachineArn",
    "AWS/Firehose": "DeliveryStreamName",
}


@pytest.fixture(scope="module")
def template():
    return load_template()


@pytest.fixture(scope="module")
def body(template):
    text = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", text)), re.findall(r"\$\{([^}]+)\}", text)


def published_metrics():
    """Metric names the code publishes: literal names, and the names the handlers compose from literal parts."""
    names = set()
    for path in SRC.rglob("*.py"):
        source = path.read_text()
        names |= set(re.findall(r'add_metric\(name="(\w+)"', source))
        names |= set(re.findall(r'metric="(\w+)"', source))
    return names


def metrics_of(body):
    return [m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]


def test_every_custom_metric_on_the_dashboard_is_one_the_code_publishes(body, template):
    dashboard, _ = body
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    custom = [m for m in metrics_of(dashboard) if m[0] == variables["POWERTOOLS_METRICS_NAMESPACE"]]
    assert len(custom) >= 20
    published = published_metrics()
    assert {"ObjectsIngested", "RecordsRejected", "RestockAlertsSent", "HistoryChangesRecorded"} <= published
    for _namespace, name, dimension, value, _options in custom:
        assert name in published, f"{name} is on the dashboard but nothing publishes it"
        assert [dimension, value] == ["service", variables["POWERTOOLS_SERVICE_NAME"]]


def test_every_service_metric_is_a_documented_one_of_a_resource_of_this_stack(body, template):
    dashboard, references = body
    resources = template["Resources"]
    service = [m for m in metrics_of(dashboard) if m[0].startswith("AWS/")]
    for namespace, name, dimension, value, _options in service:
        assert name in SERVICE_METRICS[namespace], f"{namespace} {name}"
        assert dimension == DIMENSION_OF[namespace]
        assert value.startswith("<") and value.strip("<>").split(".")[0] in resources, value
    assert {r.split(".")[0] for r in references} - {"AWS::Region"} <= set(resources)


def test_the_dashboard_covers_what_operators_ask_for(body, template):
    dashboard, _ = body
    named = {(m[0], m[1], m[3]) for m in metrics_of(dashboard)}
    functions = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for metric in ("Errors", "Duration", "ConcurrentExecutions"):
        assert {f"<{f}>" for f in functions} <= {v for ns, n, v in named if (ns, n) == ("AWS/Lambda", metric)}
    for machine in ("ReevaluateStateMachine", "ValidationStateMachine"):
        assert ("AWS/States", "ExecutionsFailed", f"<{machine}>") in named
    assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "<IngestQueue.QueueName>") in named
    assert ("AWS/Firehose", "DeliveryToS3.DataFreshness", "<StockUpdatesStream>") in named
    assert ("AWS/DynamoDB", "WriteThrottleEvents", "<StockTable>") in named
    dead_letters = {f"<{q}.QueueName>" for q in dead_letter_queues(template["Resources"])}
    assert dead_letters <= {v for ns, n, v in named if n == "ApproximateNumberOfMessagesVisible"}
    alarms = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(f"<{a}.Arn>" for a in alarms)


def dead_letter_queues(resources):
    """Queues something dead-letters into: redrive targets, stream on-failure destinations, schedule DLQs."""
    text = json.dumps(resources)
    return {
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue"
        and any(
            f'"{key}": {{"Fn::GetAtt": ["{lid}", "Arn"]}}' in text
            for key in ("deadLetterTargetArn", "Destination", "Arn")
        )
    }


def test_every_dead_letter_queue_firehose_freshness_and_the_ingest_backlog_alarm_to_operations(template):
    resources = template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    watched = {json.dumps(d["Value"]) for a in alarms for d in a.get("Dimensions", [])}
    queues = dead_letter_queues(resources)
    assert queues == {
        "IngestDeadLetterQueue",
        "AlertFailureQueue",
        "HistoryFailureQueue",
        "NotificationDeadLetterQueue",
        "ValidationScheduleDeadLetterQueue",
        "ForecastScheduleDeadLetterQueue",
    }
    for queue in queues:
        assert json.dumps({"Fn::GetAtt": [queue, "QueueName"]}) in watched, f"no alarm on {queue}"
    assert json.dumps({"Ref": "StockUpdatesStream"}) in watched
    assert all(a["AlarmActions"] == [{"Ref": "OperationsTopic"}] for a in alarms)
    assert {"IngestErrorsAlarm", "HistoryErrorsAlarm", "ReevaluateFailedAlarm", "ValidationFailedAlarm"} <= set(
        resources
    )
