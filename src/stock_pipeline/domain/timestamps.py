"""ISO-8601 timestamps with an explicit offset, parsed column-wise by Arrow and stored as UTC microseconds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
UTC_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow's %S carries the fraction: 2026-11-23T10:00:00.000000Z

# Date-time with Z or ±hh[:mm] and at most microseconds; Arrow's cast does the actual parsing. The shape is
# exactly what that cast accepts (hour-only times like T12Z included), so a row's fate never depends on whether
# its neighbours took the fast path (one cast of the whole column) or this one.
ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}(:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}(:?\d{2})?)$"


def as_mask(result: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow result as numpy, nulls counting as False."""
    return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)


def parse_iso_timestamps(
    text: pa.ChunkedArray | pa.Array, candidates: np.ndarray, field: str
) -> tuple[pa.Array, dict[int, str]]:
    """Parse the candidate rows; rows that cannot be parsed become nulls, each with a reason by row index."""
    problems: dict[int, str] = {}
    if candidates.all():
        # Arrow's cast already insists on an offset, at most microseconds and a real date: when every row
        # passes, the shape check below is not needed (the usual case, and the cheap one).
        try:
            result = pc.cast(text, TIMESTAMP_TYPE)
        except pa.ArrowInvalid:
            pass
        else:
            result = result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result
            if result.null_count == 0:
                return result, problems
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
    """Fixed-width UTC text (2026-11-23T10:00:00.000000Z), so that string comparison (e.g. in a DynamoDB
    condition) orders by time. Arrow's cast of a zone-less timestamp always writes six fractional digits, and
    is some thirty times faster than strftime with a zone."""
    text = pc.cast(pc.cast(column, pa.timestamp("us")), pa.string())
    text = pc.binary_join_element_wise(pc.replace_substring(text, " ", "T", max_replacements=1), "Z", "")
    return as_list(text)


def as_list(column: pa.ChunkedArray | pa.Array) -> list:
    """A column as a Python list; through numpy, an order of magnitude faster than Arrow's to_pylist."""
    return column.to_numpy(zero_copy_only=False).tolist()


_SCAN_CHUNK = 1 << 20


def nonblank_line_numbers(data: bytes) -> np.ndarray:
    """1-based numbers of the non-empty lines of a text file, without splitting it into Python objects."""
    buf = np.frombuffer(data, dtype=np.uint8)
    # No blank line (no "\n\n", no CR, no leading newline): the lines are simply 1..n. Vectorised, a MiB at a
    # time so the masks stay in cache (`b"\n\n" in data` alone costs three times as much on a Firehose object).
    newline_count, blank = 0, data.startswith(b"\n") or data.find(b"\r") >= 0
    for start in range(0, len(buf), _SCAN_CHUNK):
        is_newline = buf[start : start + _SCAN_CHUNK + 1] == 0x0A  # one byte of overlap for pairs across chunks
        if blank or (is_newline[1:] & is_newline[:-1]).any():
            blank = True
            break
        newline_count += int(np.count_nonzero(is_newline[:_SCAN_CHUNK]))
    if not blank:
        lines = newline_count + (0 if data.endswith(b"\n") or not data else 1)
        return np.arange(1, lines + 1, dtype=np.int64)
    newlines = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(buf)]))
    lengths = ends - starts
    has_cr = lengths == 1  # a line of just "\r" (CRLF files) is blank too
    if has_cr.any():
        lengths[np.flatnonzero(has_cr)[buf[starts[has_cr]] == 0x0D]] = 0
    return np.flatnonzero(lengths > 0) + 1
