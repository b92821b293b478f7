"""Stock updates (absolute snapshots from Firehose): parse, validate, keep the newest per article.

The fast path hands the whole object to pyarrow's JSON reader and validates column-wise. Only when pyarrow
refuses the object (a malformed line, a wrong type) does a line-by-line pass find the culprits, so that bad
records are rejected with their line number and the good ones still land.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from stock_pipeline.domain.errors import UnreadableObjectError
from stock_pipeline.domain.objects import check_parquet, decompress, is_parquet
from stock_pipeline.domain.rejections import Rejection
from stock_pipeline.domain.snapshots import SnapshotColumns
from stock_pipeline.domain.timestamps import (
    TIMESTAMP_TYPE,
    UTC_TEXT_FORMAT,
    as_list,
    as_mask,
    nonblank_line_numbers,
    parse_iso_timestamps,
    utc_text,
)

INT_FIELDS = ("accountId", "channelId", "articleId", "articleNumber", "quantity")
STR_FIELDS = ("retailerId", "productId", "lastUpdated")
KEY_FIELDS = ("retailerId", "accountId", "articleId", "channelId")
REQUIRED_FIELDS = (
    "accountId",
    "retailerId",
    "channelId",
    "productId",
    "articleId",
    "articleNumber",
    "lastUpdated",
    "quantity",
)

# As the records arrive: lastUpdated is still text.
RAW_SCHEMA = pa.schema([(name, pa.int64() if name in INT_FIELDS else pa.string()) for name in REQUIRED_FIELDS])

# After validation: one canonical shape whatever the source format.
CANONICAL_SCHEMA = pa.schema(
    [
        ("retailerId", pa.string()),
        ("accountId", pa.int64()),
        ("channelId", pa.int64()),
        ("articleId", pa.int64()),
        ("articleNumber", pa.int64()),
        ("productId", pa.string()),
        ("lastUpdated", TIMESTAMP_TYPE),
        ("quantity", pa.int64()),
        ("sourceLine", pa.int64()),
    ]
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(slots=True)
class ParsedUpdates:
    """Valid records in CANONICAL_SCHEMA plus every rejected record with its line and reason."""

    table: pa.Table
    rejections: list[Rejection] = field(default_factory=list)
    records_read: int = 0


def parse_stock_updates(body: bytes) -> ParsedUpdates:
    """Parse one Firehose object: gzip or plain NDJSON, or Parquet from Firehose format conversion."""
    data = decompress(body, "stock_updates")
    if is_parquet(data):
        raw, lines, rejections = _read_parquet(data)
    elif not data.strip():
        return ParsedUpdates(CANONICAL_SCHEMA.empty_table(), [], 0)
    else:
        raw, lines, rejections = _read_ndjson(data)
    table, more = _validate(raw, lines)
    rejections.extend(more)
    rejections.sort(key=lambda r: r.line)
    return ParsedUpdates(table, rejections, raw.num_rows + len(rejections) - len(more))


# ------------------------------------------------------------------ reading


def _read_ndjson(data: bytes) -> tuple[pa.Table, np.ndarray, list[Rejection]]:
    options = pj.ParseOptions(explicit_schema=RAW_SCHEMA, unexpected_field_behavior="ignore")
    try:
        table = pj.read_json(io.BytesIO(data), parse_options=options)
    except pa.ArrowInvalid:
        return _read_ndjson_line_by_line(data)
    lines = nonblank_line_numbers(data)
    if len(lines) != table.num_rows:
        # Several objects on one line (a Firehose stream without a delimiter): let the slow path number them.
        return _read_ndjson_line_by_line(data)
    return table, lines, []


def _read_ndjson_line_by_line(data: bytes) -> tuple[pa.Table, np.ndarray, list[Rejection]]:
    decoder = json.JSONDecoder()
    rows: list[dict] = []
    lines: list[int] = []
    rejections: list[Rejection] = []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        try:
            text = raw_line.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            rejections.append(Rejection(number, f"not UTF-8: {exc.reason} at byte {exc.start}", None))
            continue
        pos = 0
        while pos < len(text):
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                rejections.append(Rejection(number, f"malformed JSON: {exc.msg} at column {exc.colno}", text))
                break
            snippet = text[pos:end]
            pos = end
            while pos < len(text) and text[pos] in " \t\r,":
                pos += 1
            problem = _type_problem(obj)
            if problem:
                rejections.append(Rejection(number, problem, snippet))
                continue
            rows.append(obj)
            lines.append(number)
    table = pa.Table.from_pylist([{name: row.get(name) for name in REQUIRED_FIELDS} for row in rows], schema=RAW_SCHEMA)
    return table, np.asarray(lines, dtype=np.int64), rejections


def _type_problem(obj: object) -> str | None:
    """The same type rules pyarrow applies, spelled out per record so the reason can be reported."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {type(obj).__name__}"
    for name in INT_FIELDS:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{name}: expected an integer, got {json.dumps(value)[:40]}"
        if not _INT64_MIN <= value <= _INT64_MAX:
            return f"{name}: integer out of range"
    for name in STR_FIELDS:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name}: expected a string, got {json.dumps(value)[:40]}"
    return None


def _read_parquet(data: bytes) -> tuple[pa.Table, np.ndarray, list[Rejection]]:
    """Firehose format conversion writes lower-case column names (Glue schema); match them case-insensitively."""
    check_parquet(data, "stock updates")
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"unreadable Parquet: {exc}") from exc
    by_lower = {name.lower(): name for name in table.column_names}
    columns = []
    for name in REQUIRED_FIELDS:
        source = by_lower.get(name.lower())
        if source is None:
            columns.append(pa.nulls(table.num_rows, RAW_SCHEMA.field(name).type))
            continue
        column = table.column(source)
        target = RAW_SCHEMA.field(name).type
        if name == "lastUpdated" and pa.types.is_timestamp(column.type):
            column = _timestamp_to_iso(column)
        try:
            columns.append(pc.cast(column, target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise UnreadableObjectError(f"Parquet column {source!r} cannot be read as {target}: {exc}") from exc
    lines = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return pa.Table.from_arrays(columns, schema=RAW_SCHEMA), lines, []


def _timestamp_to_iso(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if column.type.tz is None:  # Glue `timestamp` carries no zone; Firehose writes UTC
        column = pc.assume_timezone(column, "UTC")
    return pc.strftime(pc.cast(column, TIMESTAMP_TYPE), format=UTC_TEXT_FORMAT)


# ------------------------------------------------------------------ validation


def _validate(raw: pa.Table, lines: np.ndarray) -> tuple[pa.Table, list[Rejection]]:
    """Column-wise checks; every failing row gets the first reason that applies."""
    n = raw.num_rows
    reasons: list[str | None] = [None] * n
    bad = np.zeros(n, dtype=bool)

    def reject(mask: np.ndarray, reason: str) -> None:
        if not mask.any():  # the usual case: nothing to reject
            return
        for i in np.flatnonzero(mask & ~bad):
            reasons[i] = reason
        bad[:] |= mask

    # Each check first asks a cheap aggregate whether any row fails, and builds a mask only then.
    for name in REQUIRED_FIELDS:
        if raw.column(name).null_count:
            reject(as_mask(pc.is_null(raw.column(name))), f"{name}: missing")
    for name in ("retailerId", "productId"):
        column = raw.column(name)
        blank = pc.or_(pc.equal(pc.utf8_length(column), 0), pc.utf8_is_space(column))
        if pc.any(blank).as_py():
            reject(as_mask(blank), f"{name}: empty")
    quantity = raw.column("quantity")
    if (pc.min(quantity).as_py() or 0) < 0:
        reject(as_mask(pc.less(quantity, 0)), "quantity: negative")

    timestamps, ts_problems = parse_iso_timestamps(raw.column("lastUpdated"), ~bad, "lastUpdated")
    for i, problem in ts_problems.items():
        if not bad[i]:
            reasons[i] = problem
            bad[i] = True

    rejections = [Rejection(int(lines[i]), reasons[i] or "invalid", _record_text(raw, i)) for i in np.flatnonzero(bad)]
    good = pa.array(~bad)
    table = pa.table(
        {
            "retailerId": raw.column("retailerId"),
            "accountId": raw.column("accountId"),
            "channelId": raw.column("channelId"),
            "articleId": raw.column("articleId"),
            "articleNumber": raw.column("articleNumber"),
            "productId": raw.column("productId"),
            "lastUpdated": timestamps,
            "quantity": raw.column("quantity"),
            "sourceLine": pa.array(lines, pa.int64()),
        },
        schema=CANONICAL_SCHEMA,
    )
    return (table if not bad.any() else table.filter(good)), rejections


def _record_text(raw: pa.Table, i: int) -> str:
    return json.dumps(raw.slice(i, 1).to_pylist()[0], ensure_ascii=False, default=str)


# ------------------------------------------------------------------ newest per article


def latest_per_article(table: pa.Table) -> pa.Table:
    """Newest record per (retailer, account, article, channel); on equal timestamps the later line wins.

    The result is sorted by retailer, account, article and channel: the order the lake file wants (row-group
    statistics on retailer_id and account_id let Athena skip what a query does not ask for), and a stable order
    for the table writes. Vectorised throughout: each key column becomes integer codes that sort like its values,
    the four codes one integer, and two stable sorts (by time, then by key) put the newest row of each key last
    in its run.
    """
    if table.num_rows == 0:
        return table
    codes = [_sorted_codes(table.column(name)) for name in KEY_FIELDS]
    timestamps = pc.cast(table.column("lastUpdated"), pa.int64()).to_numpy()
    lines = table.column("sourceLine").to_numpy()
    # Rows come in line order from every reader, so a stable sort by time keeps later lines last.
    in_order = bool((np.diff(lines) >= 0).all())
    by_time = np.argsort(timestamps, kind="stable") if in_order else np.lexsort((lines, timestamps))
    key = _combined(codes)
    if key is None:  # more distinct key values than one int64 can number: group by the four codes
        rank = np.empty(len(by_time), dtype=np.int64)
        rank[by_time] = np.arange(len(by_time))
        names = list(KEY_FIELDS)
        newest = pa.table({**dict(zip(names, codes, strict=True)), "rank": rank}).group_by(names, use_threads=False)
        newest = newest.aggregate([("rank", "max")])
        winners = by_time[newest.column("rank_max").to_numpy()]
        winners = winners[np.lexsort([newest.column(name).to_numpy() for name in reversed(names)])]
    else:
        ordered = by_time[np.argsort(key[by_time], kind="stable")]  # by key, then oldest to newest
        ordered_key = key[ordered]
        last = np.empty(len(ordered), dtype=bool)
        last[:-1] = ordered_key[1:] != ordered_key[:-1]
        last[-1] = True
        winners = ordered[last]
    return table.take(winners).combine_chunks()


def _combined(codes: list[np.ndarray]) -> np.ndarray | None:
    """One int64 per row that sorts like the tuple of codes, or None when the product of their ranges overflows."""
    sizes = [int(c.max()) + 1 for c in codes]
    if math.prod(sizes) >= 2**62:
        return None
    key = codes[0].astype(np.int64)
    for code, size in zip(codes[1:], sizes[1:], strict=True):
        key = key * size + code
    return key


def _sorted_codes(column: pa.ChunkedArray) -> np.ndarray:
    """Integer codes that sort like the values: a hash dictionary, then the (small) dictionary ranked."""
    encoded = column.combine_chunks().dictionary_encode()
    ranks = np.argsort(np.argsort(encoded.dictionary.to_numpy(zero_copy_only=False), kind="stable"))
    return ranks[encoded.indices.to_numpy(zero_copy_only=False)]


def article_stock_columns(latest: pa.Table, *, source_key: str) -> SnapshotColumns:
    """The latest-article-stock entity (DESIGN.md §3) column by column, keys built by Arrow string kernels.

    `lastUpdated` is fixed-width UTC text, so string comparison in the table's condition orders by time.
    """

    def text(name: str) -> pa.ChunkedArray:
        return pc.cast(latest.column(name), pa.string())

    retailer, account, article, channel = (
        latest.column("retailerId"),
        text("accountId"),
        text("articleId"),
        text("channelId"),
    )
    return SnapshotColumns(
        pk=as_list(pc.binary_join_element_wise("RET#", retailer, "#ACC#", account, "")),
        sk=as_list(pc.binary_join_element_wise("ART#", article, "#CH#", channel, "")),
        version="lastUpdated",
        columns={
            "retailerId": ("S", as_list(retailer)),
            "accountId": ("N", as_list(account)),
            "articleId": ("N", as_list(article)),
            "channelId": ("N", as_list(channel)),
            "articleNumber": ("N", as_list(text("articleNumber"))),
            "productId": ("S", as_list(latest.column("productId"))),
            "quantity": ("N", as_list(text("quantity"))),
            "lastUpdated": ("S", utc_text(latest.column("lastUpdated"))),
            "sourceLine": ("N", as_list(text("sourceLine"))),
        },
        constants={"entity": ("S", "ArticleStock"), "sourceKey": ("S", source_key)},
        lines=as_list(latest.column("sourceLine")),
    )


def lake_rows(latest: pa.Table, *, source_key: str) -> pa.Table:
    """Rows for curated/stock_latest/ (one file per Firehose object): snake_case names as Athena sees them, in
    the order latest_per_article gives (retailer, account, article, channel)."""
    n = latest.num_rows
    return pa.table(
        {
            "retailer_id": latest.column("retailerId"),
            "account_id": latest.column("accountId"),
            "channel_id": latest.column("channelId"),
            "article_id": latest.column("articleId"),
            "article_number": latest.column("articleNumber"),
            "product_id": latest.column("productId"),
            "last_updated": latest.column("lastUpdated"),
            "quantity": latest.column("quantity"),
            # One value for the whole file: a dictionary column costs nothing to build or to encode.
            "source_key": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), [source_key]),
            "source_line": latest.column("sourceLine"),
        }
    )


_FIREHOSE_HOUR = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/\d{2}/[^/]+$")


def arrival_date(key: str, event_time: str | None) -> str:
    """The `dt=` partition of an object: the day of Firehose's hourly prefix (…/yyyy/MM/dd/HH/name), so every
    delivery of one object lands in the same partition; for other keys the day S3 received it (event time)."""
    match = _FIREHOSE_HOUR.search(key)
    if match:
        year, month, day = match.groups()
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            pass
    if event_time:
        try:
            return datetime.fromisoformat(event_time.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()
        except ValueError:
            pass
    raise ValueError(f"{key}: no date in the key and no event time to take the arrival date from")
