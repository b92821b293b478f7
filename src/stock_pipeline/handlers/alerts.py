"""Alert Lambda: the table's stream -> one restock alert per crossing below the threshold (SNS PublishBatch)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.sns import AlertPublisher
from stock_pipeline.config import Settings
from stock_pipeline.domain.alerts import Decision, LevelState, RestockAlert, decide, is_news
from stock_pipeline.observability import logger, metrics


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    levels: StockLevels
    publisher: AlertPublisher


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("restock_topic_arn")
    return Dependencies(
        settings=settings,
        levels=StockLevels(session.client("dynamodb", config=client_config()), settings.table_name),
        publisher=AlertPublisher(
            session.client("sns", config=client_config()),
            settings.restock_topic_arn,
            immediate=settings.immediate_alerts,
        ),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


@dataclass(frozen=True, slots=True)
class _Change:
    sequence: str
    event_id: str
    level: LevelState


def level_changes(event: dict[str, Any]) -> list[_Change]:
    """Stock-level records whose quantity changed (flag-only updates and other entities are not decisions)."""
    changes = []
    for record in DynamoDBStreamEvent(event).records:
        image = record.dynamodb.new_image if record.dynamodb else None
        if not image or image.get("entity") != "StockLevel":
            continue
        old = record.dynamodb.old_image or {}
        if old and old.get("quantity") == image.get("quantity"):
            continue
        changes.append(
            _Change(
                sequence=record.dynamodb.sequence_number,
                event_id=record.event_id,
                level=LevelState(
                    warehouse=image["warehouse"],
                    item_id=image["itemId"],
                    item_name=image.get("itemName", ""),
                    quantity=int(image.get("quantity", 0)),
                    below_threshold=bool(image.get("belowThreshold", False)),
                    source_key=image.get("lastSourceKey"),
                    daily_sales=_number(image.get("dailySales")),
                    window_days=_integer(image.get("salesWindowDays")),
                    changed_at=image.get("changedAt"),
                ),
            )
        )
    return changes


def _number(value: Any) -> float | None:
    return float(value) if value is not None else None


def _integer(value: Any) -> int | None:
    return int(value) if value is not None else None


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    """Decide in stream order; on an error, publish what was claimed and report the failing record.

    Lambda then retries from that record. A claim carries the stream record's event id, so a retried record
    claims again and its alert is published again rather than lost (at least once, never one per update).
    """
    changes = level_changes(event)
    thresholds = deps.levels.thresholds(c.level.item_id for c in changes) if changes else {}
    default = deps.settings.default_restock_threshold
    alerts: list[RestockAlert] = []
    history: list[tuple[str, str, str]] = []
    now = datetime.now(UTC)
    freshness = timedelta(hours=deps.settings.alert_freshness_hours)
    sequence_of: dict[str, str] = {}
    failed_at: str | None = None
    for change in changes:
        level = change.level
        threshold = thresholds.get(level.item_id, default)
        try:
            if level.quantity < 0:
                logger.warning(
                    "negative stock level (anomaly)",
                    extra={
                        "warehouse": level.warehouse,
                        "item": level.item_id,
                        "quantity": level.quantity,
                        "file": level.source_key,
                    },
                )
                metrics.add_metric(name="NegativeStockLevels", unit=MetricUnit.Count, value=1)
            decision = decide(level, threshold)
            if decision is Decision.ALERT and deps.levels.claim_alert(
                level.warehouse,
                level.item_id,
                threshold=threshold,
                alert_id=change.event_id,
                crossed_at=level.changed_at,
            ):
                if not is_news(level, now, freshness):  # history (an import): recorded, not e-mailed
                    history.append((level.warehouse, level.item_id, change.event_id))
                    continue
                alerts.append(
                    RestockAlert(
                        change.event_id,
                        level.warehouse,
                        level.item_id,
                        level.item_name,
                        level.quantity,
                        threshold,
                        level.source_key,
                        level.daily_sales,
                        level.window_days,
                    )
                )
                sequence_of[change.event_id] = change.sequence
            elif decision is Decision.REARM and deps.levels.rearm(level.warehouse, level.item_id, threshold=threshold):
                metrics.add_metric(name="AlertsRearmed", unit=MetricUnit.Count, value=1)
        except Exception:
            logger.exception(
                "alert decision failed; Lambda retries from this record", extra={"sequence": change.sequence}
            )
            failed_at = change.sequence
            break
    if history:  # marked as sent at once: a re-delivered batch does not e-mail them either
        deps.levels.mark_sent(history)
        metrics.add_metric(name="HistoricalCrossingsNotEmailed", unit=MetricUnit.Count, value=len(history))
    not_published = deps.publisher.publish(alerts) if alerts else []
    unrecorded = deps.levels.mark_sent(
        (a.warehouse, a.item_id, a.alert_id) for a in alerts if a.alert_id not in not_published
    )
    if unrecorded:  # sent, but a re-delivery of this batch would send them again
        logger.warning("alerts sent but not recorded as sent", extra={"alerts": unrecorded})
        metrics.add_metric(name="AlertsNotRecordedSent", unit=MetricUnit.Count, value=len(unrecorded))
    if deps.publisher.immediate:
        metrics.add_metric(name="RestockAlertsSent", unit=MetricUnit.Count, value=len(alerts) - len(not_published))
    else:  # AlertDelivery=digest: claimed once per crossing, e-mailed by the daily digest
        metrics.add_metric(name="RestockAlertsLeftToDigest", unit=MetricUnit.Count, value=len(alerts))
    retry_from = [sequence_of[a] for a in not_published] + ([failed_at] if failed_at else [])
    if not retry_from:
        return {"batchItemFailures": []}
    earliest = min(retry_from, key=int)
    return {"batchItemFailures": [{"itemIdentifier": earliest}]}


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
