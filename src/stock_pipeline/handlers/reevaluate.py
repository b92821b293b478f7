"""Re-evaluate Lambda: the Lambda tasks of the threshold workflow (evaluate one chunk; summarize the run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session, s3_client
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.sns import AlertPublisher
from stock_pipeline.config import Settings
from stock_pipeline.domain.reevaluation import summarize
from stock_pipeline.observability import logger, metrics, tracer
from stock_pipeline.reevaluation import evaluate_chunk


@dataclass(frozen=True, slots=True)
class Dependencies:
    store: ObjectStore
    levels: StockLevels
    publisher: AlertPublisher


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("restock_topic_arn")
    config = client_config()
    return Dependencies(
        store=ObjectStore(s3_client(session)),
        levels=StockLevels(session.client("dynamodb", config=config), settings.table_name),
        publisher=AlertPublisher(
            session.client("sns", config=config), settings.restock_topic_arn, immediate=settings.immediate_alerts
        ),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    if event.get("action") == "summarize":
        summary = summarize(event.get("results", []))
        logger.info("threshold re-evaluation finished", extra={"changes": event.get("changesKey"), **summary})
        return summary
    result = evaluate_chunk(
        event["bucket"],
        event["changesKey"],
        int(event["chunk"]),
        event["alertId"],
        source_key=event.get("sourceKey"),
        store=deps.store,
        levels=deps.levels,
        publisher=deps.publisher,
    )
    metrics.add_metric(name="ThresholdAlertsSent", unit=MetricUnit.Count, value=result.alerts)
    return asdict(result)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
