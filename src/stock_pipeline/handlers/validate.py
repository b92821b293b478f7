"""Validation Lambda: the tasks of the nightly validation workflow (start, check until the budget is spent,
finish, fail). The workflow loops over `check`; each invocation is bounded, the run is not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session, s3_client
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.sns import NoticePublisher
from stock_pipeline.adapters.validation_table import ValidationTable
from stock_pipeline.config import Settings
from stock_pipeline.domain.validation import Cursor, parse_utc
from stock_pipeline.observability import logger, metrics, tracer
from stock_pipeline.validation import Run, check_batch, fail_run, finish_run, start_run

# Time kept back from each invocation for storing its tally and answering; the lease outlives a stuck run's
# retries (the workflow retries a failed invocation for a few minutes) but not a night.
RESERVE_S = 30.0
LEASE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    table: ValidationTable
    notices: NoticePublisher


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("validation_topic_arn")
    config = client_config()
    return Dependencies(
        settings=settings,
        store=ObjectStore(s3_client(session)),
        table=ValidationTable(session.client("dynamodb", config=config), settings.table_name),
        notices=NoticePublisher(session.client("sns", config=config), settings.validation_topic_arn),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


def budget_seconds(settings: Settings, context: LambdaContext | None) -> float:
    """The configured budget, never more than the invocation has left minus the reserve."""
    if context is None:
        return settings.validation_budget_seconds
    left = context.get_remaining_time_in_millis() / 1000 - RESERVE_S
    return max(0.0, min(settings.validation_budget_seconds, left))


def trigger_of(execution_input: Any) -> str:
    """Who started the run: the schedule's input says "schedule"; anything else (a console start with `{}`, a
    list, a number) is a manual run rather than a failed one."""
    if isinstance(execution_input, dict) and isinstance(execution_input.get("trigger"), str):
        return execution_input["trigger"][:40] or "manual"
    return "manual"


def error_text(error: dict[str, Any]) -> str:
    """Step Functions' Catch output: Error, and a Cause that holds Lambda's JSON error for a function error."""
    cause = error.get("Cause") or ""
    try:
        details = json.loads(cause)
    except ValueError:
        details = None
    if isinstance(details, dict) and "errorMessage" in details:
        return f"{details.get('errorType', error.get('Error', 'Error'))}: {details['errorMessage']}"
    return f"{error.get('Error', 'Error')}: {cause}".strip(": ")


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    run = Run(event["runId"], deps.settings.bucket_name)
    action = event.get("action")
    if action == "start":
        result = start_run(
            run,
            trigger=trigger_of(event.get("input")),
            started_at=parse_utc(event["startedAt"]),
            now=datetime.now(UTC),
            lease=LEASE,
            table=deps.table,
            store=deps.store,
        )
        metrics.add_metric(name=f"ValidationRuns{result['status'].title()}", unit=MetricUnit.Count, value=1)
        logger.info("validation run " + result["status"].lower(), extra=result)
        return result
    if action == "check":
        result = check_batch(
            run,
            Cursor.from_dict(event.get("cursor")),
            budget_s=budget_seconds(deps.settings, context),
            cost_s=deps.settings.validation_check_seconds,
            lease=LEASE,
            table=deps.table,
            store=deps.store,
        )
        metrics.add_metric(name="TransactionsValidated", unit=MetricUnit.Count, value=result["checked"])
        logger.info("validation stretch checked", extra=result)
        return result
    if action == "finish":
        result = finish_run(run, table=deps.table, store=deps.store, notices=deps.notices)
        metrics.add_metric(name="ValidationProblems", unit=MetricUnit.Count, value=result["problems"])
        metrics.add_metric(name="ValidationDifferences", unit=MetricUnit.Count, value=result["differences"])
        logger.info("validation run finished", extra=result)
        return result
    if action == "fail":
        text = error_text(event.get("error") or {})
        result = fail_run(run, error=text, table=deps.table, store=deps.store, notices=deps.notices)
        metrics.add_metric(name="ValidationRunsFailed", unit=MetricUnit.Count, value=1)
        logger.error("validation run failed", extra=result)
        return result
    raise ValueError(f"unknown action {action!r} (start, check, finish or fail)")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
