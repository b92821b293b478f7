"""Ingest Lambda: SQS batch of S3 notifications -> per-object ingestion, reporting partial batch failures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import clients, new_session
from stock_pipeline.adapters.lake import LakeWriter
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.stock_table import StockTable
from stock_pipeline.config import Settings
from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.ingestion import STOCK_UPDATES_PREFIX, ingest_stock_updates
from stock_pipeline.observability import logger, metrics, tracer


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    table: StockTable
    lake: LakeWriter


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    aws = clients(session, settings.write_concurrency)
    return Dependencies(
        settings=settings,
        store=ObjectStore(aws["s3"]),
        table=StockTable(aws["dynamodb"], settings.table_name, concurrency=settings.write_concurrency),
        lake=LakeWriter(session, settings.bucket_name, settings.lake_prefix),
    )


@cache
def _dependencies() -> Dependencies:
    """Built once per container: clients and their connection pools outlive invocations."""
    return build_dependencies(Settings.from_env(), new_session())


def object_refs(body: str) -> list[ObjectRef]:
    """The objects an S3 notification announces; S3's own test event announces none."""
    payload = json.loads(body)
    if payload.get("Event") == "s3:TestEvent" or "Records" not in payload:
        return []
    refs = []
    for record in S3Event(payload).records:
        obj = record.s3.get_object
        refs.append(
            ObjectRef(
                bucket=record.s3.bucket.name,
                key=unquote_plus(obj.key),  # S3 event keys are URL-encoded
                etag=obj.etag or "",
                version_id=obj.version_id,
                size=obj.size,
            )
        )
    return refs


def process_object(ref: ObjectRef, deps: Dependencies) -> None:
    if not ref.key.startswith(STOCK_UPDATES_PREFIX):
        logger.warning("no route for object, ignored", extra={"key": ref.key})
        metrics.add_metric(name="ObjectsIgnored", unit=MetricUnit.Count, value=1)
        return
    try:
        report = ingest_stock_updates(
            ref,
            store=deps.store,
            writer=deps.store,
            table=deps.table,
            lake=deps.lake,
            rejected_prefix=deps.settings.rejected_prefix,
        )
    except ObjectGoneError as exc:
        logger.warning("object vanished before ingestion, nothing to do", extra={"key": ref.key, "error": str(exc)})
        metrics.add_metric(name="ObjectsGone", unit=MetricUnit.Count, value=1)
        return
    logger.info("stock updates ingested", extra={"report": asdict(report)})
    metrics.add_metric(name="RecordsRead", unit=MetricUnit.Count, value=report.records)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=report.rejected)
    metrics.add_metric(name="ArticlesWritten", unit=MetricUnit.Count, value=report.written)
    metrics.add_metric(name="StaleSnapshotsSkipped", unit=MetricUnit.Count, value=report.stale)


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    """Each SQS message succeeds or fails on its own; failed ones come back (and end in the DLQ)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        for ref in object_refs(record.body):
            process_object(ref, deps)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
