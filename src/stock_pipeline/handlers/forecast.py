"""Forecast Lambda: the tasks of the forecast workflow. `rates` (nightly, after the validation) computes each
level's sales rate from the lake's inventory transactions and stores it on the level item; `digest` (once a day
when AlertDelivery is digest or both) e-mails every level below its threshold or running out within 7 days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session, s3_client
from stock_pipeline.adapters.forecast import DigestLog, LevelRates, TransactionWindow
from stock_pipeline.adapters.lake import LakeWriter
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.queries import StockQueries
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.sns import NoticePublisher
from stock_pipeline.config import Settings
from stock_pipeline.domain.validation import parse_utc
from stock_pipeline.forecast import DigestSettings, compute_rates, send_digest
from stock_pipeline.observability import logger, metrics, tracer


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    levels: StockLevels
    queries: StockQueries
    rates: LevelRates
    log: DigestLog
    window: TransactionWindow
    lake: LakeWriter
    notices: NoticePublisher


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("restock_topic_arn")
    ddb = session.client("dynamodb", config=client_config(32))
    store = ObjectStore(s3_client(session, 32))
    return Dependencies(
        settings=settings,
        store=store,
        levels=StockLevels(ddb, settings.table_name),
        queries=StockQueries(ddb, settings.table_name),
        rates=LevelRates(ddb, settings.table_name, concurrency=16),
        log=DigestLog(ddb, settings.table_name),
        window=TransactionWindow(store, settings.bucket_name, settings.lake_prefix),
        lake=LakeWriter(session, settings.bucket_name, settings.lake_prefix, store=store),
        notices=NoticePublisher(session.client("sns", config=client_config()), settings.restock_topic_arn),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


def moment(event: dict[str, Any]) -> datetime:
    """The scheduled time when the schedule gives one (a retry computes for the same moment), else now."""
    given = event.get("input")
    text = given.get("scheduledTime") if isinstance(given, dict) else event.get("scheduledTime")
    return parse_utc(text) if isinstance(text, str) and text else datetime.now(UTC)


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    job = event.get("job")
    settings = deps.settings
    if job == "rates":
        result = compute_rates(
            deps.queries.warehouse_names(),
            as_of=moment(event),
            window_days=settings.forecast_window_days,
            levels=deps.levels,
            window=deps.window,
            rates=deps.rates,
            lake=deps.lake,
        )
        metrics.add_metric(name="SalesRatesWritten", unit=MetricUnit.Count, value=result["written"])
        metrics.add_metric(name="LevelsSelling", unit=MetricUnit.Count, value=result["selling"])
        logger.info("sales rates computed", extra=result)
        return result
    if job == "digest":
        when = moment(event)
        result = send_digest(
            deps.queries.warehouse_names(),
            day=when.date().isoformat(),
            run_id=str(event.get("runId") or "manual"),
            now=datetime.now(UTC),
            settings=DigestSettings(
                bucket=settings.bucket_name,
                console_url=settings.console_url,
                default_threshold=settings.default_restock_threshold,
                when_empty=settings.digest_when_empty,
            ),
            levels=deps.levels,
            store=deps.store,
            log=deps.log,
            notices=deps.notices,
        )
        metrics.add_metric(name="DigestEntries", unit=MetricUnit.Count, value=result.get("entries", 0))
        logger.info("daily digest", extra=result)
        return result
    raise ValueError(f"unknown job {job!r} (rates or digest)")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
