"""Reports on stored stock (pure): page tokens, row shapes, totals and CSV. No AWS here.

A page token is opaque to callers but not a secret: callers are IAM-authorised for every report anyway. What it
must not do is let a caller page into something other than the query it came from, or fail with a 500 when it
is garbled. So it carries the query it belongs to and its age, and every DynamoDB key in it must lie inside the
partition that query reads.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stock_pipeline.domain.forecast import level_forecast

TOKEN_VERSION = 1
TOKEN_MAX_AGE_S = 24 * 3600
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# A page's rows, as JSON, stay within this many bytes whatever the names in them: the HTTP API's envelope escapes
# the body once more (a quote or a non-ASCII character takes at most 3 times its bytes there), and Lambda refuses
# a response over 6 MB (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
PAGE_BYTES = 1_000_000


class ReportError(ValueError):
    """A request the report cannot answer as asked; `parameter` names what to fix (HTTP 400)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class NotFoundError(LookupError):
    """The warehouse or item is unknown (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class Query:
    """What one report reads: its name and arguments (fingerprinted into its tokens) and the partition key
    attribute and value every page key must carry."""

    report: str
    arguments: Mapping[str, object]
    partition_attribute: str
    partition_value: str

    def fingerprint(self) -> str:
        text = json.dumps([self.report, sorted(self.arguments.items())], default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Page:
    columns: Sequence[str]
    rows: list[dict[str, Any]]
    next_token: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    read_capacity: float = 0.0


def encode_token(key: Mapping[str, Any], query: Query, *, now: int) -> str:
    """`key` is DynamoDB's LastEvaluatedKey (typed attribute values)."""
    payload = {"v": TOKEN_VERSION, "q": query.fingerprint(), "t": now, "k": key}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, query: Query, *, now: int) -> dict[str, Any]:
    """The ExclusiveStartKey for `query`, or ReportError naming `next`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ReportError("next", "the next token is not one this API issued") from exc
    if not isinstance(payload, dict) or payload.get("v") != TOKEN_VERSION or not isinstance(payload.get("k"), dict):
        raise ReportError("next", "the next token is not one this API issued")
    if payload.get("q") != query.fingerprint():
        raise ReportError("next", "the next token belongs to another report or other parameters")
    issued = payload.get("t")
    if not isinstance(issued, int) or issued > now + 300 or now - issued > TOKEN_MAX_AGE_S:
        raise ReportError("next", "the next token has expired: start again without it")
    key = payload["k"]
    if not _is_key(key) or key.get(query.partition_attribute) != {"S": query.partition_value}:
        raise ReportError("next", "the next token does not belong to this report")
    return key


def rows_within(rows: Sequence[Mapping[str, Any]], budget: int = PAGE_BYTES) -> int:
    """How many of the first rows fit in `budget` bytes of JSON (at least one: a stored item is at most 400 KB,
    so a row alone always fits)."""
    used = 0
    for n, row in enumerate(rows):
        used += len(json.dumps(row, default=str, ensure_ascii=False).encode()) + 1
        if used > budget and n:
            return n
    return len(rows)


def _is_key(key: Mapping[str, Any]) -> bool:
    """Only scalar typed values (what a LastEvaluatedKey holds), at most four attributes."""
    return 0 < len(key) <= 4 and all(
        isinstance(name, str)
        and isinstance(value, dict)
        and len(value) == 1
        and next(iter(value)) in ("S", "N")
        and isinstance(next(iter(value.values())), str)
        for name, value in key.items()
    )


def limit_from(raw: int | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not 1 <= raw <= MAX_LIMIT:
        raise ReportError("limit", f"limit must be between 1 and {MAX_LIMIT}, not {raw}")
    return raw


# ---------------------------------------------------------------------------- row shapes

LEVEL_COLUMNS = (
    "warehouse",
    "item_id",
    "item_name",
    "quantity",
    "below_threshold",
    "updated_at",
    "daily_sales",
    "days_of_cover",
)
WAREHOUSE_COLUMNS = ("warehouse", "seen_at")
ARTICLE_COLUMNS = (
    "retailer_id",
    "account_id",
    "article_id",
    "channel_id",
    "article_number",
    "product_id",
    "quantity",
    "last_updated",
)
SUPPLIER_COLUMNS = ("supplier", "custom_label", "quantity", "quantity_delta", "part_numbers", "updated_at")
TOTAL_COLUMNS = ("warehouse", "quantity", "below_threshold", "updated_at", "daily_sales", "days_of_cover")


def level_row(item: Mapping[str, Any]) -> dict[str, Any]:
    daily, cover = level_forecast(item)
    return {
        "warehouse": item.get("warehouse"),
        "item_id": item.get("itemId"),
        "item_name": item.get("itemName"),
        "quantity": item.get("quantity"),
        "below_threshold": bool(item.get("belowThreshold", False)),
        "updated_at": item.get("updatedAt"),
        "daily_sales": daily,
        "days_of_cover": cover,
    }


def warehouse_row(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"warehouse": item.get("warehouse"), "seen_at": item.get("seenAt")}


def article_row(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "retailer_id": item.get("retailerId"),
        "account_id": item.get("accountId"),
        "article_id": item.get("articleId"),
        "channel_id": item.get("channelId"),
        "article_number": item.get("articleNumber"),
        "product_id": item.get("productId"),
        "quantity": item.get("quantity"),
        "last_updated": item.get("lastUpdated"),
    }


def supplier_row(item: Mapping[str, Any]) -> dict[str, Any]:
    parts = item.get("partNumbers")
    return {
        "supplier": item.get("supplier"),
        "custom_label": item.get("customLabel"),
        "quantity": item.get("quantity"),
        "quantity_delta": item.get("quantityDelta"),
        "part_numbers": sorted(parts) if isinstance(parts, (list, set, tuple)) else parts,
        "updated_at": item.get("updatedAt"),
    }


def item_total(
    item_id: str,
    levels: Iterable[Mapping[str, Any]],
    threshold: int | None,
    default: int,
    *,
    limit: int | None = None,
    after: str | None = None,
) -> tuple[Page, str | None]:
    """Report 3: the total of an item over every warehouse and the threshold (of all its levels), and the
    warehouses' levels a page at a time in name order (`after`: the last warehouse of the previous page). Returns
    the page and the last warehouse shown when more follow."""
    rows = sorted(
        (
            {
                "warehouse": level.get("warehouse"),
                "quantity": level.get("quantity"),
                "below_threshold": bool(level.get("belowThreshold", False)),
                "updated_at": level.get("updatedAt"),
                **dict(zip(("daily_sales", "days_of_cover"), level_forecast(level), strict=True)),
            }
            for level in levels
        ),
        key=lambda row: str(row["warehouse"]),
    )
    if not rows:
        raise NotFoundError(f"no warehouse holds a stock level of item {item_id!r}")
    remaining = [row for row in rows if after is None or str(row["warehouse"]) > after]
    shown = remaining[: limit_from(limit)]
    shown = shown[: rows_within(shown)]
    page = Page(
        columns=TOTAL_COLUMNS,
        rows=shown,
        summary={
            "item_id": item_id,
            "total": sum(int(row["quantity"] or 0) for row in rows),
            "warehouses": len(rows),
            "restock_if_below": threshold if threshold is not None else default,
            "threshold_is_default": threshold is None,
        },
    )
    return page, (str(shown[-1]["warehouse"]) if len(shown) < len(remaining) else None)


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV with a header, as spreadsheets read it; lists joined with `;`, booleans as true/false; text
    that a spreadsheet would run as a formula is neutralised (`neutralised`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)  # numbers stay numbers, negative ones included
    if isinstance(value, (list, tuple, set)):
        return neutralised(";".join(str(v) for v in value))
    return neutralised(str(value))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def neutralised(text: str) -> str:
    """A text cell starting with = + - @ tab or carriage return, which spreadsheets run as a formula (item names
    and warehouses come from uploaded files), gets a leading ' so it shows as the text it is; a number written as
    text ("-3") is left alone (https://owasp.org/www-community/attacks/CSV_Injection)."""
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text
