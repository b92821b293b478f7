"""Reconcile Lambda: the tasks of the full reconciliation workflow (weekly by default, and `stockctl reconcile`).
`export` starts the table's export to S3; `check` says whether it is done; `compare` makes it the run's partition
of the export table, has Athena compute every level's expected value from all its sources and write the
differences to the lake, then records the run, counts it on the dashboard and e-mails its summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session
from stock_pipeline.adapters.reconciliation import Catalog, Queries, Runs, TableExports
from stock_pipeline.adapters.sns import NoticePublisher
from stock_pipeline.config import Settings
from stock_pipeline.domain.reconciliation import (
    checked_run,
    differences_location,
    differences_sql,
    new_run_id,
    summary_from_rows,
    summary_sql,
    summary_text,
    warehouses_sql,
)
from stock_pipeline.observability import logger, metrics, tracer


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    exports: TableExports
    catalog: Catalog
    queries: Queries
    runs: Runs
    notices: NoticePublisher


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("restock_topic_arn", "table_arn", "lake_database", "athena_workgroup")
    ddb = session.client("dynamodb", config=client_config())
    return Dependencies(
        settings=settings,
        exports=TableExports(ddb, settings.table_arn, settings.bucket_name),
        catalog=Catalog(session.client("glue", config=client_config()), settings.lake_database),
        queries=Queries(
            session.client("athena", config=client_config()), settings.athena_workgroup, settings.lake_database
        ),
        runs=Runs(ddb, settings.table_name),
        notices=NoticePublisher(session.client("sns", config=client_config()), settings.restock_topic_arn),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    job = event.get("job")
    if job == "export":
        started = event.get("startedAt")
        when = datetime.fromisoformat(started.replace("Z", "+00:00")) if isinstance(started, str) and started else None
        when = when or datetime.now(UTC)
        run = new_run_id(when, str(event.get("execution") or "") or None)
        export_arn = deps.exports.start(run)
        logger.info("reconciliation export started", extra={"run": run, "export": export_arn})
        return {"run": run, "exportArn": export_arn}
    run, export_arn = checked_run(str(event.get("run"))), str(event.get("exportArn") or "")
    if job == "check":
        status, items, failure = deps.exports.status(export_arn)
        if status == "FAILED":
            raise RuntimeError(f"the table's export {export_arn} failed: {failure}")
        return {"run": run, "exportArn": export_arn, "status": status, "items": items}
    if job == "compare":
        return compare(run, export_arn, int(event.get("items") or 0), deps)
    raise ValueError(f"unknown job {job!r} (export, check or compare)")


def compare(run: str, export_arn: str, items: int, deps: Dependencies) -> dict[str, Any]:
    settings = deps.settings
    deps.catalog.add_export(run, deps.exports.data_location(run, export_arn))
    warehouses = [str(r["warehouse"]) for r in deps.queries.run(warehouses_sql(run)) if r.get("warehouse")]
    location = differences_location(settings.bucket_name, settings.lake_prefix, run)
    # one UNLOAD per run: a retried task (the function timed out while Athena wrote) waits for the same query
    # instead of starting one that finds the folder half written
    deps.queries.run(differences_sql(run, warehouses, location), token=f"{run}-differences")
    summary = summary_from_rows(run, deps.queries.run(summary_sql(run)))
    deps.runs.record(summary, at=datetime.now(UTC).isoformat(), export_arn=export_arn, items=items)
    metrics.add_metric(name="ReconciliationDifferences", unit=MetricUnit.Count, value=summary.differences)
    metrics.add_metric(name="ReconciliationScannedBytes", unit=MetricUnit.Bytes, value=deps.queries.scanned_bytes)
    subject, message = summary_text(summary, stack=settings.stack_name)
    deps.notices.publish(subject, message, {"kind": "reconciliation"})
    result = {k: v for k, v in asdict(summary).items() if k != "worst"}
    logger.info("reconciliation compared", extra={**result, "warehouses": len(warehouses)})
    return {**result, "warehouses": len(warehouses), "location": location, "exportArn": export_arn, "items": items}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
