"""Re-evaluation after a thresholds change: which items, in which chunks, and the summary of a run."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.thresholds import ThresholdChange

ITEMS_PER_CHUNK = 100
# Step Functions keeps at most 25,000 events in an execution's history, and each chunk of the inline Map writes
# about 7 (tests/e2e/test_reevaluation_e2e.py measures it): a run takes at most this many chunks (100,000
# items, about 7,000 events); a larger thresholds file starts several runs.
CHUNKS_PER_EXECUTION = 1_000


def execution_name(ref: ObjectRef) -> str:
    """Derived from key and ETag: a re-delivered file asks for the same execution, which Step Functions refuses."""
    return f"thresholds-{ref.stem}"


def changes_document(changes: Iterable[ThresholdChange]) -> bytes:
    """The changed items, stored next to the run instead of in its state (which must stay under 256 KB)."""
    return json.dumps([{"itemId": c.item_id, "old": c.old, "new": c.new} for c in changes]).encode()


def chunk_numbers(count: int, size: int = ITEMS_PER_CHUNK) -> list[int]:
    return list(range((count + size - 1) // size))


def execution_parts(count: int, per_execution: int = CHUNKS_PER_EXECUTION) -> list[list[int]]:
    """The chunk numbers of each run: every chunk in exactly one, none over the history limit."""
    numbers = chunk_numbers(count)
    return [numbers[start : start + per_execution] for start in range(0, len(numbers), per_execution)]


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
