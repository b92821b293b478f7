"""EventBridge Scheduler on the local stack: moto stores the schedules but never fires them; `fire` does what the
scheduler does at the scheduled time (the templated target's Input with its context attributes, the target's
API), on request. Only Step Functions targets are wired here: the template has no other kind."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


def context_input(text: str, *, schedule_arn: str, scheduled_time: datetime, execution_id: str) -> str:
    """Scheduler's context attributes, substituted into the target's Input as the service does."""
    values = {
        "<aws.scheduler.schedule-arn>": schedule_arn,
        "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "<aws.scheduler.execution-id>": execution_id,
        "<aws.scheduler.attempt-number>": "1",
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def fire(
    scheduler: Any,
    client_for: Callable[[str, str, str], Any],
    name: str,
    *,
    group: str = "default",
    at: datetime | None = None,
) -> str:
    """Start the schedule's target now, as if its time had come, with the schedule's role (`client_for(role ARN,
    service, schedule group ARN)` gives a client of that role's session); returns the execution ARN.

    A refused or failed start goes to the schedule's dead-letter queue, sent with the same role, with the error
    attributes Scheduler sets (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html),
    and is raised as SchedulerTargetError."""
    schedule = scheduler.get_schedule(Name=name, GroupName=group)
    if schedule.get("State") == "DISABLED":
        raise RuntimeError(f"schedule {name} is disabled")
    target = schedule["Target"]
    if ":states:" not in target["Arn"] or ":stateMachine:" not in target["Arn"]:
        raise NotImplementedError(f"local scheduler fires Step Functions targets only, not {target['Arn']}")
    execution_id = str(uuid.uuid4())
    payload = context_input(
        target.get("Input") or "{}",
        schedule_arn=schedule["Arn"],
        scheduled_time=at or datetime.now(UTC),
        execution_id=execution_id,
    )
    json.loads(payload)  # the scheduler refuses a target Input that is not JSON for this target
    region, account = schedule["Arn"].split(":")[3:5]
    group_arn = f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}"
    try:
        sfn = client_for(target["RoleArn"], "stepfunctions", group_arn)
        return sfn.start_execution(stateMachineArn=target["Arn"], name=execution_id, input=payload)["executionArn"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dead_letters:
            queue_account, queue_name = dead_letters.split(":")[4:6]
            sqs = client_for(target["RoleArn"], "sqs", group_arn)
            sqs.send_message(
                QueueUrl=sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=queue_account)["QueueUrl"],
                MessageBody=payload,
                MessageAttributes={
                    "ERROR_CODE": {"DataType": "String", "StringValue": str(error.get("Code", "Unknown"))},
                    "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error.get("Message", ""))[:1000]},
                    "EXECUTION_ID": {"DataType": "String", "StringValue": execution_id},
                    "SCHEDULE_ARN": {"DataType": "String", "StringValue": schedule["Arn"]},
                    "TARGET_ARN": {"DataType": "String", "StringValue": target["Arn"]},
                },
            )
        raise SchedulerTargetError(f"schedule {name} could not start {target['Arn']}: {error.get('Message')}") from exc


class SchedulerTargetError(RuntimeError):
    """The schedule's target could not be started (the event went to its dead-letter queue, if it has one)."""
