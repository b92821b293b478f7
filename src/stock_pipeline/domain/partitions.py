"""Hive-style partitioning of an Arrow table, without touching storage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def split_partitions(table: pa.Table, columns: Sequence[str]) -> Iterator[tuple[str, pa.Table]]:
    """Yield (`col=value/...` path, rows without the partition columns), one per distinct value combination.

    Sorting once and cutting at value changes keeps this O(n log n) however many partitions there are.
    """
    if table.num_rows == 0:
        return
    ordered = table.sort_by([(c, "ascending") for c in columns])
    change = np.zeros(ordered.num_rows, dtype=bool)
    change[0] = True
    for name in columns:
        column = ordered.column(name)
        differs = pc.not_equal(column.slice(1), column.slice(0, ordered.num_rows - 1))
        change[1:] |= np.asarray(pc.fill_null(differs, True).to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], ordered.num_rows)
    payload = ordered.drop_columns(list(columns))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        values = [ordered.column(c)[start].as_py() for c in columns]
        path = "/".join(f"{c}={escape_value(v)}" for c, v in zip(columns, values, strict=True))
        yield path, payload.slice(start, end - start)


def escape_value(value: object) -> str:
    """Hive escapes path-hostile characters; a null value gets Hive's default partition name."""
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return quote(str(value), safe=" -_.~")
