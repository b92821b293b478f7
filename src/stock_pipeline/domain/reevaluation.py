"""Re-evaluation after a thresholds change: which items, in which chunks, and the summary of a run."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.thresholds import ThresholdChange

ITEMS_PER_CHUNK = 100


def execution_name(ref: ObjectRef) -> str:
    """Derived from key and ETag: a re-delivered file asks for the same execution, which Step Functions refuses."""
    return f"thresholds-{ref.stem}"


def changes_document(changes: Iterable[ThresholdChange]) -> bytes:
    """The changed items, stored next to the run instead of in its state (which must stay under 256 KB)."""
    return json.dumps([{"itemId": c.item_id, "old": c.old, "new": c.new} for c in changes]).encode()


def chunk_numbers(count: int, size: int = ITEMS_PER_CHUNK) -> list[int]:
    return list(range((count + size - 1) // size))


def chunk_of(document: bytes, chunk: int, size: int = ITEMS_PER_CHUNK) -> list[ThresholdChange]:
    entries = json.loads(document)[chunk * size : (chunk + 1) * size]
    return [ThresholdChange(e["itemId"], e["old"], e["new"]) for e in entries]


def summarize(results: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The run's output: items checked, levels checked, alerts sent, levels re-armed."""
    totals = {"itemsChecked": 0, "levelsChecked": 0, "alertsSent": 0, "levelsRearmed": 0}
    for result in results:
        totals["itemsChecked"] += int(result.get("items", 0))
        totals["levelsChecked"] += int(result.get("levels", 0))
        totals["alertsSent"] += int(result.get("alerts", 0))
        totals["levelsRearmed"] += int(result.get("rearmed", 0))
    return totals
