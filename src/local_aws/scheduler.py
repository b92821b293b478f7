"""EventBridge Scheduler on the local stack: moto stores the schedules but never fires them; `fire` does what the
scheduler does at the scheduled time (the templated target's Input with its context attributes, the target's
API), on request. Only Step Functions targets are wired here: the template has no other kind."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any


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


def fire(scheduler: Any, stepfunctions: Any, name: str, *, group: str = "default", at: datetime | None = None) -> str:
    """Start the schedule's target now, as if its time had come; returns the execution ARN."""
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
    return stepfunctions.start_execution(stateMachineArn=target["Arn"], name=execution_id, input=payload)[
        "executionArn"
    ]
