"""Hive-style partitioning of an Arrow table, without touching storage."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
    """The value as it is: Athena's injected partition projection puts the raw value into the table's
    storage.location.template, so a percent-encoded path ("M%C3%BCnchen") would be written where Athena never
    reads. S3 keys take any UTF-8, "/", "=", "#", "+" and ":" included. A null value gets Hive's default name.
    (Readers that parse Hive paths instead, such as Spark or awswrangler's dataset mode, mis-read a "/" or "="
    inside a value; Athena and the Glue tables of this stack do not parse, they build the path.)"""
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"
    return str(value)
