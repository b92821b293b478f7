"""Stock history: a stream batch's changes -> one Parquet file per day under curated/stock_history/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from stock_pipeline.adapters.lake import LakeWriter
from stock_pipeline.domain.history import StreamChange, file_stem, history_rows

DATASET = "stock_history"


@dataclass(frozen=True, slots=True)
class HistoryResult:
    records: int
    changes: int
    files: list[str]


class Recent(Protocol):
    def put(self, rows: pa.Table) -> int: ...


def record_history(changes: list[StreamChange], lake: LakeWriter, recent: Recent | None = None) -> HistoryResult:
    """Write the batch's changes, named after its first record: a retried batch overwrites its own files, so every
    change is in the history once. A batch without a tracked change writes nothing. The warehouse levels' changes
    also go to the table's recent changes (the console's item page), keyed so that a retry rewrites them."""
    rows = history_rows(changes)
    if rows.num_rows == 0:
        return HistoryResult(len(changes), 0, [])
    files = lake.write(rows, DATASET, ["dt"], file_stem(changes))
    if recent is not None:
        recent.put(rows)
    return HistoryResult(len(changes), rows.num_rows, files)
