"""A team's history, planned before anything is uploaded (`stockctl import`): which file goes under which key, in
what order, and what is wrong with the ones that cannot go. Pure: the command reads the folder or zip and uploads.

Order: opening balances (counted files) first, then thresholds and transaction files by their time, so that the
levels grow as they did. A file already uploaded with the same content (the manifest of an earlier run) is left
out: an interrupted import resumes without counting a file twice (and the ingest's ledger would refuse a second
copy of the same content anyway).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from stock_pipeline.domain.objects import MAX_OBJECT_MB

INVENTORY_NAME = re.compile(r"^(?P<stamp>\d{12}|\d{14})_inventory\.csv$", re.IGNORECASE)
THRESHOLDS_NAME = re.compile(r"^restock_thresholds[_-]?(?P<day>\d{8})\.json$", re.IGNORECASE)
COUNTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")
INVENTORY_HEADER = ("timestamp", "warehousename", "itemid", "itemname", "stocklevelchange")


@dataclass(frozen=True, slots=True)
class PlannedFile:
    name: str  # as in the folder or zip
    key: str  # where it goes in the bucket
    kind: str  # counted | thresholds | inventory
    at: str  # the time it speaks for (sort order); "" for opening balances
    digest: str  # SHA-256 of the content: what the manifest remembers
    size: int


@dataclass(slots=True)
class Plan:
    files: list[PlannedFile] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, why it cannot go)
    already: list[PlannedFile] = field(default_factory=list)  # uploaded by an earlier run (the manifest)


def plan(entries: Iterable[tuple[str, bytes]], manifest: Mapping[str, str] | None = None) -> Plan:
    """Every entry (name, content) checked by name and header; nothing is planned twice for one key."""
    result = Plan()
    by_key: dict[str, str] = {}
    for name, data in entries:
        base = PurePosixPath(name).name
        if base.startswith(".") or not data:
            result.problems.append((name, "empty or hidden: not a file the pipeline takes"))
            continue
        planned, problem = _classify(name, base, data)
        if problem:
            result.problems.append((name, problem))
            continue
        assert planned is not None
        limit = MAX_OBJECT_MB[planned.kind]
        if planned.size > limit * 1_000_000:  # the ingest would refuse it: said now, before anything goes up
            problem = f"{planned.size / 1_000_000:,.1f} MB, over the {limit:,} MB such a file may have: split it"
            result.problems.append((name, problem))
            continue
        if planned.key in by_key:
            result.problems.append((name, f"goes under the same key as {by_key[planned.key]} ({planned.key})"))
            continue
        by_key[planned.key] = name
        if (manifest or {}).get(planned.key) == planned.digest:
            result.already.append(planned)
        else:
            result.files.append(planned)
    order = {"counted": 0, "thresholds": 1, "inventory": 1}
    result.files.sort(key=lambda f: (order[f.kind], f.at, f.kind != "thresholds", f.key))
    return result


def _classify(name: str, base: str, data: bytes) -> tuple[PlannedFile | None, str | None]:
    digest = hashlib.sha256(data).hexdigest()
    if match := INVENTORY_NAME.match(base):
        stamp = match.group("stamp")
        header = _first_line(data)
        if tuple(part.strip().strip('"').lower() for part in header.split("\t")) != INVENTORY_HEADER:
            return None, (
                "an inventory file's first line must be the tab-separated header Timestamp, WarehouseName, ItemId, "
                f"ItemName, StockLevelChange; it is {header[:80]!r}"
            )
        at = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14] or '00'}"
        key = f"inventory_files/{stamp[:4]}/{stamp[4:6]}/{stamp[6:8]}/{base}"
        return PlannedFile(name, key, "inventory", at, digest, len(data)), None
    if match := THRESHOLDS_NAME.match(base):
        day = match.group("day")
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return None, f"a thresholds file must be JSON: {exc}"
        if not isinstance(document, dict) or not isinstance(document.get("ThresholdList"), list):
            return None, 'a thresholds file must hold a "ThresholdList" array'
        at = f"{day[:4]}-{day[4:6]}-{day[6:8]}T00:00:00"
        key = f"restock_thresholds/{day[:4]}/{day[4:6]}/{day[6:8]}/restock_thresholds.json"
        return PlannedFile(name, key, "thresholds", at, digest, len(data)), None
    if base.lower().endswith(COUNTED_SUFFIXES):
        from datetime import UTC, datetime

        from stock_pipeline.domain.counted_files import CountedFileError, parse_counted_file

        now = datetime.now(UTC)
        try:  # read as the pipeline will: a file whose header names no counted columns is not one
            parse_counted_file(data, f"stocktakes/import/{base}", "plan", user="import", uploaded=now, now=now)
        except CountedFileError as exc:
            return None, f"not an inventory, thresholds or counted file: {exc}"
        return PlannedFile(name, f"stocktakes/import/{base}", "counted", "", digest, len(data)), None
    return None, (
        "not a file the pipeline takes: inventory files are named <yyyymmddHHMM[SS]>_inventory.csv, thresholds "
        "files restock_thresholds_<yyyymmdd>.json, counted files .csv, .tsv, .xlsx or .parquet"
    )


def _first_line(data: bytes) -> str:
    text = data[:4096].decode("utf-8-sig", errors="replace")
    return text.splitlines()[0] if text.strip() else ""
