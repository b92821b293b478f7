"""Application layer of the forecast: the nightly sales rates (lake window -> level items and the daily_rates
table) and the daily digest e-mail. Knows the domain and the adapters' interfaces, not AWS.

The rates are computed one warehouse at a time (a rate belongs to one level), so the job holds one warehouse's
window in memory, never the whole lake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from stock_pipeline.domain.forecast import (
    DIGEST_COLUMNS,
    DigestEntry,
    RateWrite,
    compose_digest,
    days_of_cover,
    digest_entries,
    rate_writes,
)
from stock_pipeline.domain.rates import daily_rates
from stock_pipeline.domain.reports import to_csv
from stock_pipeline.domain.validation import parse_utc, utc_text

DIGEST_DAYS_KEPT = 35  # the digest's record (one a day) outlives a month of re-runs, then expires


class Levels(Protocol):
    def levels_of_warehouse(self, warehouse: str) -> list[dict[str, Any]]: ...

    def thresholds(self, item_ids: Iterable[str]) -> dict[str, int]: ...


class Window(Protocol):
    def read(self, warehouse: str, first: date, last: date) -> pa.Table: ...


class Rates(Protocol):
    def write(self, writes: Sequence[RateWrite], *, window_days: int, computed_at: str) -> int: ...


class Lake(Protocol):
    def write_file(self, table: pa.Table, dataset: str, partition: Mapping[str, str], file_name: str) -> str: ...


class Store(Protocol):
    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...


class Log(Protocol):
    def claim(self, day: str, *, run_id: str, at: str, expires_at: int) -> bool: ...

    def record(self, day: str, *, run_id: str, sent_at: str, message_id: str, entries: int, csv_key: str) -> None: ...


class Notices(Protocol):
    def publish(self, subject: str, message: str, attributes: Mapping[str, str]) -> str: ...


LAKE_SCHEMA = pa.schema(
    [
        ("warehouse", pa.string()),
        ("item_id", pa.string()),
        ("units_sold", pa.int64()),
        ("observed_days", pa.int64()),
        ("daily_sales", pa.float64()),
        ("quantity", pa.int64()),
        ("days_of_cover", pa.float64()),
        ("window_days", pa.int64()),
        ("computed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def compute_rates(
    warehouses: Iterable[str],
    *,
    as_of: datetime,
    window_days: int,
    levels: Levels,
    window: Window,
    rates: Rates,
    lake: Lake,
) -> dict[str, Any]:
    """Every warehouse's rates onto its level items (only those that change) and into daily_rates/dt=<day>/: a
    re-run the same day overwrites that partition and writes nothing the first run wrote."""
    first_day = (as_of - timedelta(days=window_days)).date()
    computed_at = utc_text(as_of)
    tables = []
    counts = {"warehouses": 0, "levels": 0, "selling": 0, "written": 0, "removed": 0}
    for warehouse in warehouses:
        stored = levels.levels_of_warehouse(warehouse)
        since = {
            (warehouse, level["itemId"]): parse_utc(level["firstSeenAt"])
            if level.get("firstSeenAt")
            else as_of - timedelta(days=window_days)  # a level older than this attribute: seen all the window
            for level in stored
        }
        table = daily_rates(
            window.read(warehouse, first_day, as_of.date()), as_of=as_of, window_days=window_days, first_seen=since
        )
        writes = rate_writes(stored, table, window_days=window_days)
        counts["warehouses"] += 1
        counts["levels"] += len(stored)
        counts["selling"] += int(pc.sum(pc.greater(table["units_sold"], 0)).as_py() or 0)
        counts["written"] += rates.write(writes, window_days=window_days, computed_at=computed_at)
        counts["removed"] += sum(1 for w in writes if w.daily_sales is None)
        tables.append(_lake_rows(table, stored, window_days=window_days, computed_at=as_of))
    rows = pa.concat_tables(tables) if tables else LAKE_SCHEMA.empty_table()
    path = lake.write_file(rows, "daily_rates", {"dt": as_of.date().isoformat()}, "rates.snappy.parquet")
    return {**counts, "asOf": computed_at, "windowDays": window_days, "lake": path, "rows": rows.num_rows}


def _lake_rows(rates: pa.Table, stored: list[dict[str, Any]], *, window_days: int, computed_at: datetime) -> pa.Table:
    quantity = {level["itemId"]: int(level.get("quantity") or 0) for level in stored}
    items = rates["item_id"].to_pylist()
    daily = rates["daily_sales"].to_pylist()
    levels = [quantity.get(item) for item in items]
    covers = [
        days_of_cover(level, rate) if level is not None and rate else None
        for level, rate in zip(levels, daily, strict=True)
    ]
    n = rates.num_rows
    return pa.table(
        {
            **{name: rates[name] for name in ("warehouse", "item_id", "units_sold", "observed_days", "daily_sales")},
            "quantity": pa.array(levels, pa.int64()),
            "days_of_cover": pa.array(covers, pa.float64()),
            "window_days": pa.array([window_days] * n, pa.int64()),
            "computed_at": pa.array([computed_at] * n, LAKE_SCHEMA.field("computed_at").type),
        },
        schema=LAKE_SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class DigestSettings:
    bucket: str
    console_url: str
    default_threshold: int
    when_empty: str = "skip"
    reports_prefix: str = "reports/digest/"


def send_digest(
    warehouses: Iterable[str],
    *,
    day: str,
    run_id: str,
    now: datetime,
    settings: DigestSettings,
    levels: Levels,
    store: Store,
    log: Log,
    notices: Notices,
) -> dict[str, Any]:
    """The day's digest: claimed once per day, every entry in a CSV in the bucket, the e-mail (or none)."""
    if not log.claim(day, run_id=run_id, at=utc_text(now), expires_at=_expiry(now)):
        return {"status": "SKIPPED", "day": day, "reason": "another run has sent or is sending this day's digest"}
    names = list(warehouses)
    entries = []
    thresholds: dict[str, int] = {}
    looked_up: set[str] = set()
    for warehouse in names:  # one warehouse's levels at a time; each item's threshold read once
        stored = levels.levels_of_warehouse(warehouse)
        new = {str(level["itemId"]) for level in stored} - looked_up
        thresholds.update(levels.thresholds(new) if new else {})
        looked_up |= new
        entries.extend(digest_entries(stored, thresholds, default_threshold=settings.default_threshold))
    entries.sort(key=DigestEntry.severity)
    csv_key = f"{settings.reports_prefix}{day}.csv"
    store.write(
        settings.bucket,
        csv_key,
        to_csv(DIGEST_COLUMNS, (entry.to_row() for entry in entries)).encode(),
        "text/csv; charset=utf-8",
    )
    digest = compose_digest(
        entries,
        day=day,
        warehouses=len(names),
        console_url=settings.console_url,
        csv_location=f"s3://{settings.bucket}/{csv_key}",
        when_empty=settings.when_empty,
    )
    message_id = ""
    if digest is not None:
        message_id = notices.publish(digest.subject, digest.message, {"kind": "digest", "day": day})
    log.record(day, run_id=run_id, sent_at=utc_text(now), message_id=message_id, entries=len(entries), csv_key=csv_key)
    return {
        "status": "SENT" if digest is not None else "NOTHING_TO_SEND",
        "day": day,
        "entries": len(entries),
        "listed": digest.listed if digest else 0,
        "csv": csv_key,
        "messageId": message_id,
    }


def _expiry(now: datetime) -> int:
    return int((now + timedelta(days=DIGEST_DAYS_KEPT)).timestamp())
