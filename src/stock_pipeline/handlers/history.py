"""History Lambda: the table's stream -> curated/stock_history/ (every change of a stored level, once).

The second consumer of the stream (the alert function is the first). The whole batch succeeds or fails: no
partial-failure report and no bisecting, so Lambda retries a failed batch from its first record and the retry
overwrites the file the failed attempt may have written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session, s3_client
from stock_pipeline.adapters.lake import LakeWriter
from stock_pipeline.adapters.recent_changes import RecentChanges
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.config import Settings
from stock_pipeline.domain.history import StreamChange
from stock_pipeline.history import record_history
from stock_pipeline.observability import logger, metrics, tracer


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    lake: LakeWriter
    recent: RecentChanges


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    store = ObjectStore(s3_client(session))
    return Dependencies(
        settings=settings,
        lake=LakeWriter(session, settings.bucket_name, settings.lake_prefix, store=store),
        recent=RecentChanges(session.client("dynamodb", config=client_config()), settings.table_name),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


def stream_changes(event: dict[str, Any]) -> list[StreamChange]:
    """The batch's records in stream order, images deserialized (Powertools' stream event classes)."""
    changes = []
    for record in DynamoDBStreamEvent(event).records:
        stream = record.dynamodb
        if stream is None:
            continue
        changes.append(
            StreamChange(
                event_id=record.event_id or "",
                event_name=record.event_name.name if record.event_name else "",
                sequence=stream.sequence_number or "0",
                created=datetime.fromtimestamp(stream.approximate_creation_date_time or 0, UTC),
                keys=stream.keys or {},
                old=stream.old_image or None,
                new=stream.new_image or None,
            )
        )
    return changes


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    changes = stream_changes(event)
    if not changes:
        return {"records": 0, "changes": 0, "files": []}
    result = record_history(changes, deps.lake, deps.recent)
    metrics.add_metric(name="HistoryChangesRecorded", unit=MetricUnit.Count, value=result.changes)
    logger.info(
        "history recorded",
        extra={"records": result.records, "changes": result.changes, "files": result.files},
    )
    return {"records": result.records, "changes": result.changes, "files": result.files}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
