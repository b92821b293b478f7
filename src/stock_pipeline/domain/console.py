"""The web console's rules (pure): where an upload goes, what it may be, and what became of today's files.

File names typed by people are never used as paths: the key is built here from the kind, the supplier (one of the
profiles) and the time; at most a cleaned stem of the name survives, for people to recognise their file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from stock_pipeline.domain.errors import PipelineError
from stock_pipeline.domain.forecast import level_forecast
from stock_pipeline.domain.objects import uploader_name

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".json": "application/json",
    ".xlsx": XLSX,
    ".parquet": "application/vnd.apache.parquet",
}


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    label: str
    extensions: tuple[str, ...]
    needs_supplier: bool = False


KINDS = {
    k.name: k
    for k in (
        Kind("supplier_feed", "Supplier stock workbook", (".xlsx",), needs_supplier=True),
        Kind("inventory", "Inventory transactions (tab-separated)", (".csv", ".tsv", ".txt")),
        Kind("thresholds", "Restock thresholds (JSON)", (".json",)),
        Kind("product", "Product table", (".csv", ".xlsx", ".parquet")),
        Kind("store", "eBay store listings", (".csv", ".xlsx", ".parquet")),
        Kind("stocktake", "Counted file (stocktake)", (".csv", ".tsv", ".txt", ".xlsx", ".parquet")),
    )
}


class UploadError(PipelineError):
    """The upload cannot be accepted; the message says why, for the person who chose the file."""


@dataclass(frozen=True, slots=True)
class UploadTarget:
    key: str
    content_type: str


def extension(filename: str) -> str:
    match = re.search(r"(\.[A-Za-z0-9]+)$", filename.strip())
    return match.group(1).lower() if match else ""


def safe_stem(filename: str, limit: int = 60) -> str:
    """The name without its folder or extension, in letters, digits, '-' and '_' only (accents folded)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    ext = extension(base)
    stem = base[: -len(ext)] if ext else base
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_stem).strip("-_")
    return (cleaned[:limit].rstrip("-_") or "upload").lower()


def upload_target(
    kind_name: str,
    filename: str,
    size: int,
    *,
    supplier: str | None,
    suppliers: Iterable[str],
    limit_bytes: int,
    now: datetime,
    taken: Callable[[str], bool],
) -> UploadTarget:
    """The key (and the content type the POST must declare) for one file, or UploadError saying why not."""
    kind = KINDS.get(kind_name)
    if kind is None:
        raise UploadError(f"unknown kind {kind_name!r} (one of: {', '.join(KINDS)})")
    ext = extension(filename)
    if ext not in kind.extensions:
        raise UploadError(
            f"{filename!r}: a {kind.label.lower()} is {' or '.join(kind.extensions)}, not {ext or 'without extension'}"
        )
    if size <= 0:
        raise UploadError(f"{filename!r} is empty")
    if size > limit_bytes:
        raise UploadError(
            f"{filename!r} is {size / 1024 / 1024:.1f} MB; the console takes at most {limit_bytes // 1024 // 1024} MB"
        )
    day = f"{now:%Y/%m/%d}"
    if kind.needs_supplier:
        known = sorted(suppliers)
        if supplier not in known:
            raise UploadError(f"supplier {supplier!r} has no profile (one of: {', '.join(known) or 'none'})")
        key = f"supplier_feeds/{supplier}/{day}/{safe_stem(filename)}-{now:%H%M%S}.xlsx"
    elif kind.name == "inventory":
        key = _free_second(now, taken)
    elif kind.name == "thresholds":
        key = f"restock_thresholds/{day}/restock_thresholds.json"  # one per day: a later upload replaces it
    elif kind.name == "stocktake":
        key = f"stocktakes/{day}/{safe_stem(filename)}-{now:%H%M%S}{ext}"
    else:
        folder = "reference/product" if kind.name == "product" else "reference/store"
        key = f"{folder}/{safe_stem(filename)}-{now:%Y%m%d-%H%M%S}{ext}"
    return UploadTarget(key, CONTENT_TYPES[".csv" if kind.name == "inventory" else ext])


def _free_second(now: datetime, taken: Callable[[str], bool]) -> str:
    """Inventory files are named after their second: the next second nobody uploaded to (two at once keep both)."""
    for offset in range(60):
        moment = now.timestamp() + offset
        when = datetime.fromtimestamp(moment, now.tzinfo)
        key = f"inventory_files/{when:%Y/%m/%d}/{when:%Y%m%d%H%M%S}_inventory.csv"
        if not taken(key):
            return key
    raise UploadError("too many inventory files in the same minute; try again in a minute")


def todays_prefixes(day: date, suppliers: Iterable[str]) -> list[str]:
    """Where the day's uploads are (the reference tables have no date folder: filtered by their time)."""
    dated = f"{day:%Y/%m/%d}/"
    prefixes = [f"inventory_files/{dated}", f"restock_thresholds/{dated}", f"stocktakes/{dated}"]
    prefixes += [f"supplier_feeds/{s}/{dated}" for s in sorted(suppliers)]
    return [*prefixes, "reference/product/", "reference/store/"]


def kind_of(key: str) -> str:
    for prefix, kind in (
        ("inventory_files/", "inventory"),
        ("restock_thresholds/", "thresholds"),
        ("supplier_feeds/", "supplier_feed"),
        ("reference/product/", "product"),
        ("reference/store/", "store"),
        ("stocktakes/", "stocktake"),
    ):
        if key.startswith(prefix):
            return kind
    return "other"


def file_rows(
    objects: Iterable[Mapping[str, Any]], outcomes: Mapping[tuple[str, str], Mapping[str, Any]], day: date
) -> list[dict[str, Any]]:
    """Each of the day's files, newest first: waiting (no outcome yet), processed with its summary, or FAILED."""
    rows = []
    for obj in objects:
        uploaded = obj["last_modified"]
        if uploaded.date() != day:
            continue
        outcome = outcomes.get((obj["key"], obj["etag"]))
        status = "waiting" if outcome is None else ("processed" if outcome["status"] == "SUCCEEDED" else "FAILED")
        rows.append(
            {
                "key": obj["key"],
                "name": obj["key"].rsplit("/", 1)[-1],
                "kind": kind_of(obj["key"]),
                "size": obj["size"],
                "uploaded_at": uploaded.isoformat(),
                "status": status,
                "summary": None if outcome is None else outcome.get("summary"),
                "rejected": 0 if outcome is None else int(outcome.get("rejected") or 0),
                "rejected_key": None if outcome is None else outcome.get("rejectedKey"),
                "uploaded_by": None if outcome is None else _who(outcome.get("uploadedBy")),
            }
        )
    return sorted(rows, key=lambda r: r["uploaded_at"], reverse=True)


ISSUER = "Stock console"


def otpauth_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The key as authenticator apps take it from a link or QR code (Google Authenticator's Key Uri Format:
    otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...; Cognito's codes are 6 digits every 30 s, SHA-1)."""
    label = quote(f"{issuer}:{username}", safe=":@")
    return f"otpauth://totp/{label}?secret={quote(secret, safe='')}&issuer={quote(issuer, safe='')}"


def invitation(console_url: str | None, *, username: str, code: str, mfa: str, days: int) -> tuple[str, str]:
    """Subject and text of the e-mail Cognito sends a new console user: where to sign in, as whom, with which
    temporary password and until when (Cognito puts the user name and the password where `username` and `code`
    stand: "{username}" and "{####}" must both be in the text)."""
    where = (
        f"Sign in at {console_url}"
        if console_url
        else "Sign in to the stock console (ask your administrator for its address)"
    )
    lines = [
        "You have an account on the Stock Update Pipeline console, where you upload stock files and read reports.",
        "",
        f"{where}",
        f"  user name:          {username}",
        f"  temporary password: {code}",
        "",
        f"The temporary password works for {days} days; at the first sign-in you choose your own.",
    ]
    if mfa == "ON":
        lines.append("The console then asks you to add it to an authenticator app (two-factor sign-in).")
    lines += ["", "If the password has expired, ask your administrator to send a new one."]
    return "Your Stock Update Pipeline console account", "\n".join(lines)


RUNNING_OUT_DAYS = 7


def _who(changed_by: Any) -> str | None:
    """Who changed a number, for people: the table and the lake keep S3's principal id of a direct upload (the
    audit trail's one identity of it); the console says what it is. Names (the console's users, "unknown") stay."""
    if changed_by is None or not str(changed_by).startswith("AWS:"):
        return changed_by
    return uploader_name(str(changed_by))


OVERVIEW_ROWS = 100  # levels, crossings and files the overview lists; the counts cover all of them


def _below_row(level: Mapping[str, Any]) -> dict[str, Any]:
    daily, cover = level_forecast(level)
    return {
        "warehouse": level.get("warehouse"),
        "item_id": level.get("itemId"),
        "item_name": level.get("itemName"),
        "quantity": int(level.get("quantity") or 0),
        "threshold": level.get("alertThreshold"),
        "daily_sales": daily,
        "days_of_cover": cover,
        "alerted_at": level.get("alertedAt"),
        "changed_by": _who(level.get("lastChangedBy")),
    }


def _worst_first(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        row["days_of_cover"] if row["days_of_cover"] is not None else float("inf"),
        row["quantity"] - int(row["threshold"] or 0),
        str(row["warehouse"]),
        str(row["item_id"]),
    )


def overview(
    below: Iterable[Mapping[str, Any]], files: list[dict[str, Any]], *, now: datetime, limit: int = OVERVIEW_ROWS
) -> dict[str, Any]:
    """The console's landing page: the levels below their threshold worst first (fewest days of cover, then
    furthest below), today's files with the failed ones first, the crossings of the last 24 hours, counts on top.

    Bounded whatever the table holds: one pass over the levels keeps the worst `limit` and the newest `limit`
    crossings (a first import can leave tens of thousands below threshold; their answer would pass Lambda's 6 MB),
    and the counts say how many there are in all."""
    import heapq
    import itertools

    since = (now - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S")
    counted = {"below": 0, "running_out": 0, "alerts": 0}
    newest: list[tuple[str, int, dict[str, Any]]] = []  # the `limit` newest crossings; its top the oldest of them
    order = itertools.count()

    def rows() -> Iterator[dict[str, Any]]:
        for level in below:
            row = _below_row(level)
            counted["below"] += 1
            if row["days_of_cover"] is not None and row["days_of_cover"] <= RUNNING_OUT_DAYS:
                counted["running_out"] += 1
            if (row["alerted_at"] or "") >= since:
                counted["alerts"] += 1
                crossing = (str(row["alerted_at"]), next(order), row)
                (heapq.heappushpop if len(newest) >= limit else heapq.heappush)(newest, crossing)
            yield row

    worst = heapq.nsmallest(limit, rows(), key=_worst_first)  # as sorted(...)[:limit], holding `limit` rows
    alerts = [row for _, _, row in sorted(newest, key=lambda c: c[:2], reverse=True)]
    failed_first = sorted(files, key=lambda f: (f["status"] != "FAILED", f["status"] != "waiting"))
    return {
        "counts": {
            "below_threshold": counted["below"],
            "running_out": counted["running_out"],
            "alerts_24h": counted["alerts"],
            "files_today": len(files),
            "files_failed": sum(1 for f in files if f["status"] == "FAILED"),
        },
        "below": worst,
        "alerts": alerts,
        "files": failed_first[:limit],
        "limit": limit,
    }


ITEM_ROWS = 100  # warehouses the item page lists, lowest level first; its totals cover all
ITEM_CHARTED = 10  # of those, the warehouses whose month of changes the page charts (one Query each)


def lowest_levels(levels: Iterable[Mapping[str, Any]], limit: int = ITEM_ROWS) -> list[Mapping[str, Any]]:
    """The `limit` warehouses holding the least of an item (a chain may hold it in thousands of stores)."""
    import heapq

    return heapq.nsmallest(limit, levels, key=lambda lv: (int(lv.get("quantity") or 0), str(lv.get("warehouse"))))


def item_page(
    item_id: str,
    levels: Iterable[Mapping[str, Any]],
    threshold: int | None,
    default_threshold: int,
    changes: Mapping[str, list[Mapping[str, Any]]],
    *,
    limit: int = ITEM_ROWS,
) -> dict[str, Any]:
    """One item: its level in each warehouse (with the forecast), lowest first and at most `limit` of them, its
    threshold, totals over every warehouse, and the last 30 days of changes (time, old, new, delta, cause, who)
    of the warehouses in `changes` for the chart and the table."""
    every = list(levels)
    rows = []
    for level in lowest_levels(every, limit):
        daily, cover = level_forecast(level)
        rows.append(
            {
                "warehouse": level.get("warehouse"),
                "item_name": level.get("itemName"),
                "quantity": int(level.get("quantity") or 0),
                "daily_sales": daily,
                "days_of_cover": cover,
                "updated_at": level.get("updatedAt"),
                "changed_by": _who(level.get("lastChangedBy")),
            }
        )
    history = {
        warehouse: [
            {
                "at": change.get("at"),
                "old": change.get("old_value"),
                "new": change.get("new_value"),
                "delta": change.get("delta"),
                "cause": change.get("cause"),
                "by": _who(change.get("by")),
            }
            for change in found
        ]
        for warehouse, found in changes.items()
    }
    return {
        "item_id": item_id,
        "restock_if_below": threshold if threshold is not None else default_threshold,
        "threshold_is_default": threshold is None,
        "warehouses": len(every),
        "total_quantity": sum(int(level.get("quantity") or 0) for level in every),
        "levels": rows,
        "history": history,
    }
