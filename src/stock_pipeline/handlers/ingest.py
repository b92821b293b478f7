"""Ingest Lambda: SQS batch of S3 notifications -> per-object ingestion, reporting partial batch failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, clients, new_session
from stock_pipeline.adapters.file_outcomes import FileOutcomes
from stock_pipeline.adapters.lake import LakeWriter
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.movements import Movements
from stock_pipeline.adapters.parking import ParkingQueue
from stock_pipeline.adapters.profiles import ProfileStore
from stock_pipeline.adapters.reference import ProductCatalog
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.sns import NoticePublisher
from stock_pipeline.adapters.stock_table import StockTable
from stock_pipeline.adapters.supplier_stock import SupplierStock
from stock_pipeline.adapters.workflow import Workflow
from stock_pipeline.config import Settings
from stock_pipeline.domain.counted_files import STOCKTAKES_PREFIX, CountedFileError, is_counted_file_key
from stock_pipeline.domain.errors import ObjectGoneError, ObjectTooLargeError, UnreadableObjectError
from stock_pipeline.domain.inventory import is_inventory_key
from stock_pipeline.domain.listings import STORE_PREFIX, is_store_key
from stock_pipeline.domain.objects import ObjectRef, check_object_size, set_inflation_limit
from stock_pipeline.domain.pacing import Pacer
from stock_pipeline.domain.products import is_product_table_key
from stock_pipeline.domain.supplier_feeds import is_feed_key
from stock_pipeline.domain.thresholds import is_thresholds_key
from stock_pipeline.ingestion import (
    INVENTORY_PREFIX,
    PRODUCT_TABLE_PREFIX,
    STOCK_UPDATES_PREFIX,
    SUPPLIER_FEEDS_PREFIX,
    THRESHOLDS_PREFIX,
    FeedOutcome,
    ingest_inventory_file,
    ingest_product_table,
    ingest_stock_updates,
    ingest_supplier_feed,
    ingest_thresholds,
    rejected_key,
    report_unprocessed,
    unrecognised_name,
)
from stock_pipeline.listings import EbayRun, ListingsContext, ingest_store_listings, regenerate_ebay
from stock_pipeline.observability import logger, metrics, tracer
from stock_pipeline.reevaluation import start_reevaluation
from stock_pipeline.stocktakes import ingest_counted_file


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    table: StockTable
    levels: StockLevels
    lake: LakeWriter
    workflow: Workflow | None
    supplier_stock: SupplierStock
    catalog: ProductCatalog
    profiles: ProfileStore
    notices: NoticePublisher | None
    outcomes: FileOutcomes | None = None
    movements: Movements | None = None
    parking: ParkingQueue | None = None


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    set_inflation_limit(settings.max_inflated_mb)  # what one object may expand to (gzip, xlsx, Parquet)
    aws = clients(session, settings.write_concurrency)
    store = ObjectStore(aws["s3"])
    return Dependencies(
        settings=settings,
        store=store,
        table=StockTable(aws["dynamodb-bulk"], settings.table_name, concurrency=settings.write_concurrency),
        levels=StockLevels(aws["dynamodb"], settings.table_name),
        lake=LakeWriter(session, settings.bucket_name, settings.lake_prefix, store=store),
        supplier_stock=SupplierStock(aws["dynamodb"], settings.table_name, concurrency=settings.write_concurrency),
        catalog=ProductCatalog(store, settings.bucket_name, settings.lake_prefix),
        profiles=ProfileStore(store, settings.bucket_name, settings.supplier_profiles_key),
        outcomes=FileOutcomes(aws["dynamodb"], settings.table_name),
        movements=Movements(aws["dynamodb"], settings.table_name),
        notices=(
            NoticePublisher(session.client("sns", config=client_config()), settings.feed_status_topic_arn)
            if settings.feed_status_topic_arn
            else None
        ),
        workflow=(
            Workflow(session.client("stepfunctions", config=client_config()), settings.state_machine_arn)
            if settings.state_machine_arn
            else None
        ),
        parking=(
            ParkingQueue(session.client("sqs", config=client_config()), settings.parking_queue_url)
            if settings.parking_queue_url
            else None
        ),
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
                event_time=record.raw_event.get("eventTime"),
                # S3 names the uploading principal by id (e.g. AWS:AIDA...); a console upload names its user in
                # the object's metadata instead (`uploader`)
                uploaded_by=(record.raw_event.get("userIdentity") or {}).get("principalId"),
            )
        )
    return refs


def process_object(ref: ObjectRef, deps: Dependencies) -> None:
    """Route by prefix and name (the bucket notifies the queue for every object under the input prefixes).

    Every object ends in one visible outcome: processed, rejected rows with reasons, or a FAILED notice (a name
    no ingestion recognises, an object gone before it was read, content that cannot be read). Only folder
    markers (keys ending in "/", which the S3 console creates) are skipped, with a metric.
    """
    if ref.key.endswith("/"):
        metrics.add_metric(name="FolderMarkersSkipped", unit=MetricUnit.Count, value=1)
        return
    try:
        ref = uploader(ref, deps)
        route = next(
            (
                (kind, handler)
                for prefix, takes, kind, handler in ROUTES
                if ref.key.startswith(prefix) and takes(ref.key)
            ),
            None,
        )
        if route is None:
            _unprocessed(ref, deps, unrecognised_name(ref.key), metric="ObjectsUnrouted")
            return
        kind, ingest = route
        check_object_size(ref.size, kind)  # before GetObject: a read past the memory would end without a notice
        ingest(ref, deps)
        metrics.add_metric(name="ObjectsIngested", unit=MetricUnit.Count, value=1)
    except ObjectGoneError as exc:
        _unprocessed(ref, deps, f"the object was deleted before it could be read ({exc})", metric="ObjectsGone")
    except ObjectTooLargeError as exc:
        _unprocessed(ref, deps, str(exc), metric="ObjectsTooLarge")
    except UnreadableObjectError as exc:  # retrying cannot fix the content: say why, once, instead of the DLQ
        _unprocessed(ref, deps, f"unreadable: {exc}", metric="ObjectsUnreadable")


def uploader(ref: ObjectRef, deps: Dependencies) -> ObjectRef:
    """Who uploaded a file people upload: the console's user from the object's metadata, else the principal of
    the event. Firehose objects (thousands a day, written by the delivery role) are not asked."""
    if ref.key.startswith(STOCK_UPDATES_PREFIX):
        return ref
    return replace(ref, uploaded_by=deps.store.uploaded_by(ref) or ref.uploaded_by)


def _unprocessed(ref: ObjectRef, deps: Dependencies, reason: str, *, metric: str) -> None:
    outcome = report_unprocessed(ref, reason, ledger=deps.supplier_stock, notices=_notices(deps), now=datetime.now(UTC))
    logger.error("file not processed: " + reason, extra={"key": ref.key, "notified": outcome.notified})
    _record(ref, deps, "FAILED", reason, 0)
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


def _stock_updates(ref: ObjectRef, deps: Dependencies) -> None:
    report = ingest_stock_updates(
        ref,
        store=deps.store,
        writer=deps.store,
        table=deps.table,
        lake=deps.lake,
        rejected_prefix=deps.settings.rejected_prefix,
    )
    logger.info("stock updates ingested", extra={"report": asdict(report)})
    metrics.add_metric(name="RecordsRead", unit=MetricUnit.Count, value=report.records)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=report.rejected)
    metrics.add_metric(name="ArticlesWritten", unit=MetricUnit.Count, value=report.written)
    metrics.add_metric(name="StaleSnapshotsSkipped", unit=MetricUnit.Count, value=report.stale)


def _inventory(ref: ObjectRef, deps: Dependencies) -> None:
    report = ingest_inventory_file(
        ref,
        store=deps.store,
        writer=deps.store,
        levels=deps.levels,
        lake=deps.lake,
        rejected_prefix=deps.settings.rejected_prefix,
        now=datetime.now(UTC),
        pacer=Pacer(deps.settings.partition_write_units),
    )
    if report.duplicate_of is not None:
        reason = f"the same content as {report.duplicate_of}, which arrived first: not applied again"
        _unprocessed(ref, deps, reason, metric="InventoryDuplicates")
        return
    logger.info("inventory transactions applied", extra={"report": asdict(report)})
    _record(
        ref,
        deps,
        "SUCCEEDED",
        f"{report.records} transactions read, {report.rejected} rejected",
        report.rejected,
    )
    if report.chunks_already_applied:
        logger.warning(
            "file delivered again: applied chunks skipped",
            extra={"key": ref.key, "chunks": report.chunks_already_applied},
        )
    metrics.add_metric(name="TransactionsRead", unit=MetricUnit.Count, value=report.records)
    metrics.add_metric(name="TransactionsRejected", unit=MetricUnit.Count, value=report.rejected)
    metrics.add_metric(name="LevelChunksApplied", unit=MetricUnit.Count, value=report.chunks_applied)
    metrics.add_metric(name="LevelChunksSkipped", unit=MetricUnit.Count, value=report.chunks_already_applied)


def _thresholds(ref: ObjectRef, deps: Dependencies) -> None:
    report = ingest_thresholds(
        ref, store=deps.store, writer=deps.store, levels=deps.levels, rejected_prefix=deps.settings.rejected_prefix
    )
    logger.info(
        "restock thresholds stored",
        extra={"key": ref.key, "entries": report.entries, "rejected": report.rejected, "changed": len(report.changed)},
    )
    metrics.add_metric(name="ThresholdsChanged", unit=MetricUnit.Count, value=len(report.changed))
    _record(
        ref,
        deps,
        "SUCCEEDED",
        f"{report.entries} thresholds read, {report.rejected} rejected, {len(report.changed)} changed",
        report.rejected,
    )
    if deps.workflow is not None and report.changed:
        started = start_reevaluation(ref, report.changed, store=deps.store, workflow=deps.workflow)
        logger.info(
            "threshold re-evaluation " + ("started" if started else "already ran for this file"),
            extra={"key": ref.key, "items": len(report.changed)},
        )
    metrics.add_metric(name="ThresholdEntriesRejected", unit=MetricUnit.Count, value=report.rejected)


def _supplier_feed(ref: ObjectRef, deps: Dependencies) -> None:
    outcome = ingest_supplier_feed(
        ref,
        store=deps.store,
        writer=deps.store,
        profiles=deps.profiles,
        catalog=deps.catalog,
        supplier_stock=deps.supplier_stock,
        lake=deps.lake,
        notices=_notices(deps),
        rejected_prefix=deps.settings.rejected_prefix,
        now=datetime.now(UTC),
    )
    _report_notice("supplier feed", outcome)
    _record_notice(ref, deps, outcome)
    metrics.add_metric(name="SupplierRowsMapped", unit=MetricUnit.Count, value=outcome.notice.mapped)
    metrics.add_metric(name="SupplierRowsUnmapped", unit=MetricUnit.Count, value=outcome.notice.unmapped)
    metrics.add_metric(name="SupplierRowsRejected", unit=MetricUnit.Count, value=outcome.notice.rejected)
    if outcome.notice.status == "SUCCEEDED":  # the eBay table of every store that lists this supplier
        _report_ebay(regenerate_ebay(_listings(deps), outcome.notice.supplier, run=ref, now=datetime.now(UTC)))


def _store_listings(ref: ObjectRef, deps: Dependencies) -> None:
    outcome, runs = ingest_store_listings(
        ref, _listings(deps), writer=deps.store, rejected_prefix=deps.settings.rejected_prefix, now=datetime.now(UTC)
    )
    _report_notice("store listings", outcome)
    _record_notice(ref, deps, outcome)
    metrics.add_metric(name="StoreListingsRejected", unit=MetricUnit.Count, value=outcome.notice.rejected)
    _report_ebay(runs)


def _counted_file(ref: ObjectRef, deps: Dependencies) -> None:
    """A count that cannot be placed yet (its level's latest change is still being logged) raises: SQS brings the
    file back and the groups already applied are skipped by their ids."""
    assert deps.movements is not None
    try:
        report = ingest_counted_file(
            ref,
            store=deps.store,
            writer=deps.store,
            counts=deps.movements,
            rejected_prefix=deps.settings.rejected_prefix,
            now=datetime.now(UTC),
        )
    except CountedFileError as exc:
        _unprocessed(ref, deps, str(exc), metric="CountedFilesRefused")
        return
    logger.info("counted file applied", extra={"report": asdict(report)})
    _record(ref, deps, "SUCCEEDED", report.summary, report.rejected)
    metrics.add_metric(name="CountsApplied", unit=MetricUnit.Count, value=report.counts)
    metrics.add_metric(name="CountsRejected", unit=MetricUnit.Count, value=report.rejected)


OUTCOME_DAYS = 35


def _record(ref: ObjectRef, deps: Dependencies, status: str, summary: str, rejected: int) -> None:
    """What became of an uploaded file, for the web console (rejected rows: where ingestion wrote them)."""
    if deps.outcomes is None:
        return
    now = datetime.now(UTC)
    outcome = {
        "status": status,
        "summary": summary,
        "rejected": rejected,
        "rejected_key": rejected_key(deps.settings.rejected_prefix, ref) if rejected else None,
        "uploaded_by": ref.uploaded_by,
    }
    deps.outcomes.record(
        ref.key, ref.etag, outcome, at=now.isoformat(), expires_at=int((now + timedelta(days=OUTCOME_DAYS)).timestamp())
    )


def _record_notice(ref: ObjectRef, deps: Dependencies, outcome: FeedOutcome) -> None:
    notice = outcome.notice
    # a feed's unmapped part numbers are in its rejected-rows file too
    _record(ref, deps, notice.status, notice.summary, notice.rejected + notice.unmapped)


def _listings(deps: Dependencies) -> ListingsContext:
    return ListingsContext(
        bucket=deps.settings.bucket_name,
        lake_prefix=deps.settings.lake_prefix,
        objects=deps.store,
        lake=deps.lake,
        supplier_stock=deps.supplier_stock,
        profiles=deps.profiles,
        notices=_notices(deps),
    )


def _report_ebay(runs: list[EbayRun]) -> None:
    for run in runs:
        logger.info(
            "eBay listings generated" if run.replaced else "eBay listings: a later run already wrote them",
            extra={"run": asdict(run)},
        )
    metrics.add_metric(name="EbayTablesWritten", unit=MetricUnit.Count, value=sum(r.replaced for r in runs))
    metrics.add_metric(name="EbayListingsChanged", unit=MetricUnit.Count, value=sum(r.changed for r in runs))


def _product_table(ref: ObjectRef, deps: Dependencies) -> None:
    outcome = ingest_product_table(
        ref,
        store=deps.store,
        writer=deps.store,
        catalog=deps.catalog,
        ledger=deps.supplier_stock,
        notices=_notices(deps),
        rejected_prefix=deps.settings.rejected_prefix,
        now=datetime.now(UTC),
    )
    _report_notice("product table", outcome)
    _record_notice(ref, deps, outcome)


def _parked_if_last(ref: ObjectRef, deps: Dependencies, record: SQSRecord, error: Exception) -> None:
    """On the last receive SQS moves the message to the dead-letter queue after this failure: the file's outcome
    says so and why, for the console's Files page and `stockctl redrive` (a redriven success overwrites it)."""
    receives = int(record.attributes.approximate_receive_count or 0)
    if receives < deps.settings.max_receives:
        return
    reason = (
        f"parked in the dead-letter queue after {receives} attempts ({type(error).__name__}: {error}); "
        "redrive it once the cause is fixed"
    )
    try:
        _record(ref, deps, "FAILED", reason[:1000], 0)
    except Exception:  # the original error is what Lambda reports; this one only goes to the log
        logger.exception("the parked object's outcome could not be recorded", extra={"key": ref.key})


def _park_foreign(record: SQSRecord, buckets: list[str], deps: Dependencies) -> None:
    """An event for a bucket that is not the stack's (a notification configured on another bucket, a forged
    message): this function may not read it, and no retry changes that. Parked in the dead-letter queue at once
    with the reason (its alarm tells someone), one log line, and the message is done with."""
    if deps.parking is None:
        deps.settings.require("parking_queue_url")
    assert deps.parking is not None
    reason = (
        f"the event names bucket {', '.join(buckets)}, not this stack's ({deps.settings.bucket_name}): "
        "a notification of another bucket aimed at this queue, or a message not sent by S3; not processed"
    )
    deps.parking.park(record.body, reason=reason, message_id=record.message_id)
    logger.error("message parked: " + reason, extra={"messageId": record.message_id})
    metrics.add_metric(name="ForeignBucketEvents", unit=MetricUnit.Count, value=1)


def _notices(deps: Dependencies) -> NoticePublisher:
    if deps.notices is None:
        deps.settings.require("feed_status_topic_arn")
    assert deps.notices is not None
    return deps.notices


def _report_notice(what: str, outcome: FeedOutcome) -> None:
    notice = outcome.notice
    extra = {"notice": asdict(notice), "notified": outcome.notified, "written": outcome.written}
    if notice.status == "SUCCEEDED":
        logger.info(f"{what} processed", extra=extra)
    else:
        logger.error(f"{what} failed: {notice.reason}", extra=extra)
    metrics.add_metric(name=f"{what.title().replace(' ', '')}{notice.status.title()}", unit=MetricUnit.Count, value=1)


# Each input prefix, the names its ingestion takes (any letter case) and the ingestion: the one table of routes.
ROUTES: list[tuple[str, Callable[[str], bool], str, Callable[[ObjectRef, Dependencies], None]]] = [
    (STOCK_UPDATES_PREFIX, lambda key: True, "stock_updates", _stock_updates),
    (INVENTORY_PREFIX, is_inventory_key, "inventory", _inventory),
    (THRESHOLDS_PREFIX, is_thresholds_key, "thresholds", _thresholds),
    (SUPPLIER_FEEDS_PREFIX, is_feed_key, "supplier_feed", _supplier_feed),
    (PRODUCT_TABLE_PREFIX, is_product_table_key, "product_table", _product_table),
    (STORE_PREFIX, is_store_key, "store_listings", _store_listings),
    (STOCKTAKES_PREFIX, is_counted_file_key, "counted", _counted_file),
]


def handle(event: dict[str, Any], context: LambdaContext | None, deps: Dependencies) -> dict[str, Any]:
    """Each SQS message succeeds or fails on its own; failed ones come back (and end in the DLQ)."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> None:
        refs = object_refs(record.body)
        foreign = sorted({ref.bucket for ref in refs if ref.bucket != deps.settings.bucket_name})
        if foreign:
            _park_foreign(record, foreign, deps)
        for ref in (ref for ref in refs if ref.bucket == deps.settings.bucket_name):
            try:
                process_object(ref, deps)
            except Exception as exc:
                # The batch utility keeps only the message id: say which object failed and why, every time,
                # so an object that ends in the DLQ has its reason in the log.
                logger.exception(
                    "object not ingested; its message returns to the queue (the DLQ after 5 receives)",
                    extra={
                        "key": ref.key,
                        "etag": ref.etag,
                        "messageId": record.message_id,
                        "receiveCount": record.attributes.approximate_receive_count,
                    },
                )
                metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=1)
                _parked_if_last(ref, deps, record, exc)
                raise

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, _dependencies())
