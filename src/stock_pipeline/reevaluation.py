"""Application layer of the threshold workflow: start a run after a thresholds file, evaluate one chunk of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from stock_pipeline.domain.alerts import Decision, LevelState, RestockAlert, decide
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.reevaluation import changes_document, chunk_of, execution_name, execution_parts
from stock_pipeline.domain.thresholds import ThresholdChange


class Store(Protocol):
    def read(self, ref: ObjectRef) -> bytes: ...

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class Starter(Protocol):
    def start(self, name: str, payload: dict[str, Any]) -> bool: ...


class Levels(Protocol):
    def levels_of_item(self, item_id: str) -> list[dict[str, Any]]: ...

    def claim_alert(
        self, warehouse: str, item_id: str, *, threshold: int, alert_id: str, crossed_at: str | None = None
    ) -> bool: ...

    def rearm(self, warehouse: str, item_id: str, *, threshold: int) -> bool: ...

    def mark_sent(self, alerts: Iterable[tuple[str, str, str]]) -> list[str]: ...


class Publisher(Protocol):
    def publish(self, alerts: list[RestockAlert]) -> list[str]: ...


def start_reevaluation(
    ref: ObjectRef, changes: list[ThresholdChange], *, store: Store, workflow: Starter, prefix: str = "workflow/"
) -> bool:
    """Store the changed items and start the run named after the file (several runs, `-1`, `-2`, … when the file
    changes more items than one run's history holds); False if they ran already or nothing changed."""
    if not changes:
        return False
    key = f"{prefix}threshold-changes/{ref.stem}.json"
    store.write(ref.bucket, key, changes_document(changes), "application/json")
    parts = execution_parts(len(changes))
    started = False
    for number, part in enumerate(parts, start=1):
        payload = {
            "bucket": ref.bucket,
            "changesKey": key,
            "sourceKey": ref.key,
            "alertId": f"thresholds#{ref.stem}",
            "items": len(changes),
            "chunks": part,
            "part": number,
            "parts": len(parts),
        }
        name = execution_name(ref) if len(parts) == 1 else f"{execution_name(ref)}-{number}"
        started = workflow.start(name, payload) or started
    return started


@dataclass(frozen=True, slots=True)
class ChunkResult:
    items: int
    levels: int
    alerts: int
    rearmed: int


def evaluate_chunk(
    bucket: str,
    changes_key: str,
    chunk: int,
    alert_id: str,
    *,
    source_key: str | None,
    store: Store,
    levels: Levels,
    publisher: Publisher,
) -> ChunkResult:
    """Every warehouse level of each changed item against its new threshold, through the same flag as the
    stream alerts: an alert is sent only by whoever claims the crossing, and a lower threshold re-arms."""
    changes = chunk_of(store.read(ObjectRef(bucket, changes_key, "")), chunk)
    alerts: list[RestockAlert] = []
    checked = rearmed = 0
    for change in changes:
        for item in levels.levels_of_item(change.item_id):
            checked += 1
            level = LevelState(
                warehouse=item["warehouse"],
                item_id=change.item_id,
                item_name=item.get("itemName", ""),
                quantity=int(item.get("quantity", 0)),
                below_threshold=bool(item.get("belowThreshold", False)),
                source_key=item.get("lastSourceKey"),
            )
            before = change.old if change.old is not None else "default"
            cause = f"{source_key} (threshold {before} -> {change.new})"
            decision = decide(level, change.new)
            claim_id = f"{alert_id}#{level.warehouse}#{level.item_id}"
            if decision is Decision.ALERT and levels.claim_alert(
                level.warehouse, level.item_id, threshold=change.new, alert_id=claim_id
            ):
                alerts.append(
                    RestockAlert(
                        claim_id,
                        level.warehouse,
                        level.item_id,
                        level.item_name,
                        level.quantity,
                        change.new,
                        cause,
                        float(item["dailySales"]) if item.get("dailySales") is not None else None,
                        item.get("salesWindowDays"),
                    )
                )
            elif decision is Decision.REARM and levels.rearm(level.warehouse, level.item_id, threshold=change.new):
                rearmed += 1
    failed = publisher.publish(alerts) if alerts else []
    # best effort: an alert not recorded as sent matters only if this chunk runs again, which a success prevents
    levels.mark_sent((a.warehouse, a.item_id, a.alert_id) for a in alerts if a.alert_id not in failed)
    if failed:
        raise RuntimeError(f"SNS did not accept {len(failed)} alerts; the chunk is retried (claims are idempotent)")
    return ChunkResult(items=len(changes), levels=checked, alerts=len(alerts), rearmed=rearmed)
