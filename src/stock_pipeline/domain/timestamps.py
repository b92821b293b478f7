"""ISO-8601 timestamps with an explicit offset, parsed column-wise by Arrow and stored as UTC microseconds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
UTC_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow's %S carries the fraction: 2026-11-23T10:00:00.000000Z

# Date-time with Z or ±hh[:mm] and at most microseconds; Arrow's cast does the actual parsing.
ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"


def as_mask(result: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow result as numpy, nulls counting as False."""
    return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)


def parse_iso_timestamps(
    text: pa.ChunkedArray | pa.Array, candidates: np.ndarray, field: str
) -> tuple[pa.Array, dict[int, str]]:
    """Parse the candidate rows; rows that cannot be parsed become nulls, each with a reason by row index."""
    problems: dict[int, str] = {}
    shape_ok = as_mask(pc.match_substring_regex(text, ISO_WITH_OFFSET))
    for i in np.flatnonzero(candidates & ~shape_ok):
        value = text[int(i)].as_py()
        problems[int(i)] = f"{field}: not an ISO-8601 timestamp with offset and at most microseconds: {value!r}"
    masked = pc.if_else(pa.array(candidates & shape_ok), text, pa.scalar(None, pa.string()))
    try:
        result = pc.cast(masked, TIMESTAMP_TYPE)
        return (result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result), problems
    except pa.ArrowInvalid:
        pass
    # Well-formed but impossible values (month 13, hour 25): found one by one, rare by construction.
    values: list[object] = []
    for i, value in enumerate(masked.to_pylist()):
        try:
            values.append(None if value is None else pc.cast(pa.array([value]), TIMESTAMP_TYPE)[0].as_py())
        except pa.ArrowInvalid:
            problems[i] = f"{field}: not a valid date-time: {value!r}"
            values.append(None)
    return pa.array(values, TIMESTAMP_TYPE), problems


def utc_text(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """Fixed-width UTC text, so that string comparison (e.g. in a DynamoDB condition) orders by time."""
    return pc.strftime(column, format=UTC_TEXT_FORMAT).to_pylist()


def nonblank_line_numbers(data: bytes) -> np.ndarray:
    """1-based numbers of the non-empty lines of a text file, without splitting it into Python objects."""
    if b"\n\n" not in data and b"\r" not in data and not data.startswith(b"\n"):  # no blank line: 1..n
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        return np.arange(1, lines + 1, dtype=np.int64)
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    lengths = ends - starts
    has_cr = lengths == 1  # a line of just "\r" (CRLF files) is blank too
    if has_cr.any():
        lengths[np.flatnonzero(has_cr)[buf[starts[has_cr]] == 0x0D]] = 0
    return np.flatnonzero(lengths > 0) + 1
