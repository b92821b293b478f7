"""A team's history, planned before anything is uploaded (`stockctl import`): which file goes under which key, in
what order, and what is wrong with the ones that cannot go. Pure: the command reads the folder or zip and uploads.

Order: opening balances (counted files) first, then thresholds and transaction files by their time, so that the
levels grow as they did. A file already uploaded with the same content (the manifest of an earlier run) is left
out: an interrupted import resumes without counting a file twice (and the ingest's ledger would refuse a second
copy of the same content anyway).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from stock_pipeline.domain.objects import MAX_OBJECT_MB

INVENTORY_NAME = re.compile(r"^(?P<stamp>\d{12}|\d{14})_inventory\.csv$", re.IGNORECASE)
THRESHOLDS_NAME = re.compile(r"^restock_thresholds[_-]?(?P<day>\d{8})\.json$", re.IGNORECASE)
COUNTED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet")
# us-east-1 list prices, on-demand (benchmarks/prices.json, where they are dated): the import's own requests
REQUEST_DOLLARS = {
    "s3.PutObject": 0.005 / 1000,
    "dynamodb.BatchGetItem": 0.125 / 1e6,  # a read unit a file's outcome, at most
    "dynamodb.GetItem": 0.125 / 1e6,
    "dynamodb.Query": 0.125 / 1e6,  # a read unit a page, at least
    "sns.Publish": 0.5 / 1e6,
    "cloudformation.DescribeStacks": 0.0,
    "sts.AssumeRole": 0.0,
}
# What the pipeline's processing of a row costs in AWS, all services (the on-demand table's writes are most of it):
# measured by `make bench ARGS="--only import"` (docs/benchmarks.md); a unit test holds this to the measured figure.
PIPELINE_DOLLARS_PER_MILLION_ROWS = 4.4

INVENTORY_HEADER = ("timestamp", "warehousename", "itemid", "itemname", "stocklevelchange")


@dataclass(frozen=True, slots=True)
class PlannedFile:
    name: str  # as in the folder or zip
    key: str  # where it goes in the bucket
    kind: str  # counted | thresholds | inventory
    at: str  # the time it speaks for (sort order); "" for opening balances
    digest: str  # SHA-256 of the content: what the manifest remembers
    size: int
    rows: int = 0  # an inventory file's transactions (what the pipeline's cost grows with)
    # the warehouses an inventory file changes; empty for a file that may touch any (thresholds, counts)
    warehouses: frozenset[str] = frozenset()


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
        rows, warehouses = _inventory_facts(data)
        return PlannedFile(name, key, "inventory", at, digest, len(data), rows, warehouses), None
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


def _inventory_facts(data: bytes) -> tuple[int, frozenset[str]]:
    rows, warehouses = 0, set()
    for line in data.splitlines()[1:]:
        parts = line.split(b"\t", 2)
        if len(parts) > 2:
            rows += 1
            warehouses.add(parts[1].strip().strip(b'"').decode("utf-8", errors="replace"))
    return rows, frozenset(warehouses)


def cost(requests: Mapping[str, int], rows: int) -> dict[str, float]:
    """An import's AWS cost in dollars: its own requests as counted, the pipeline's estimated from its rows."""
    own = sum(n * REQUEST_DOLLARS.get(name, 0.0) for name, n in requests.items())
    return {"the import's requests": own, "the pipeline (estimated)": rows * PIPELINE_DOLLARS_PER_MILLION_ROWS / 1e6}


def may_go(planned: PlannedFile, in_flight: Iterable[PlannedFile]) -> bool:
    """Whether a file may go up while these are uploaded and not yet processed. The ingest paces each warehouse's
    writes at 80% of a partition's (`domain.pacing`) within one invocation, so two files of one warehouse processed
    at once would pass the partition's limit: a file goes only when no file in flight shares a warehouse with it,
    and a file that may touch any warehouse (thresholds re-evaluated everywhere, counts) goes alone. Files split by
    warehouse are imported side by side; daily files of every warehouse one after another."""
    others = list(in_flight)
    if not others:
        return True
    if not planned.warehouses:
        return False
    return all(other.warehouses and not (other.warehouses & planned.warehouses) for other in others)


def _first_line(data: bytes) -> str:
    text = data[:4096].decode("utf-8-sig", errors="replace")
    return text.splitlines()[0] if text.strip() else ""


IMPORTED_PREFIXES = ("inventory_files/", "restock_thresholds/", "stocktakes/")
MAX_SUMMARY_FILES = 100  # the console's import of a handful of files; stockctl import has no limit


def summary_keys(body: Mapping[str, Any]) -> list[str]:
    """The keys a console page asks an import summary for: 1-100 distinct keys under the imported prefixes."""
    keys = body.get("keys")
    if not isinstance(keys, list) or not 1 <= len(keys) <= MAX_SUMMARY_FILES:
        raise ValueError(f"keys: a list of 1 to {MAX_SUMMARY_FILES} uploaded files' keys, please")
    for key in keys:
        too_long = isinstance(key, str) and len(key.encode()) > 1024  # S3's longest key: no object could have it
        if (
            not isinstance(key, str)
            or too_long
            or not key.startswith(IMPORTED_PREFIXES)
            or ".." in key
            or key.endswith("/")
        ):
            raise ValueError(f"keys: {str(key)[:200]!r} is not an uploaded inventory, thresholds or counted file")
    return sorted(set(keys))


SHOWN = 50  # levels below threshold a summary names, worst first (the console's overview lists them all)


def summarize(
    files: Sequence[tuple[str, Mapping[str, Any]]],
    below: Iterable[Mapping[str, Any]],
    *,
    already: int = 0,
    rows: int = 0,
    requests: Mapping[str, int] | None = None,
    cost: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """An import's summary: what became of its files (key, outcome), and the levels below threshold now, worst
    first (`below` is read once and counted; only the worst `SHOWN` are kept: tens of thousands after a large
    import)."""
    counted = [0]

    def every_below() -> Iterator[Mapping[str, Any]]:
        for level in below:
            counted[0] += 1
            yield level

    worst = heapq.nsmallest(
        SHOWN, every_below(), key=lambda lv: int(lv.get("quantity") or 0) - int(lv.get("alertThreshold") or 0)
    )
    return {
        "files": len(files),
        "already": already,
        "statuses": dict(Counter(str(outcome.get("status", "?")) for _, outcome in files)),
        "rejected_rows": sum(int(outcome.get("rejected") or 0) for _, outcome in files),
        "failed": [(key, outcome.get("summary", "")) for key, outcome in files if outcome.get("status") == "FAILED"],
        "below_count": counted[0],
        "below_threshold": [
            (level.get("warehouse"), level.get("itemId"), level.get("quantity"), level.get("alertThreshold"))
            for level in worst
        ],
        "rows": rows,
        "requests": dict(requests or {}),
        "cost": dict(cost or {}),
    }


def summary_text(summary: Mapping[str, Any]) -> tuple[str, str]:
    """The summary e-mail's subject (at most 99 characters, SNS's limit for e-mail) and text."""
    below, count = summary["below_threshold"], summary["below_count"]
    subject = f"Import done: {summary['files']} files, {count} levels below threshold now"
    earlier = f" ({summary['already']} uploaded by an earlier run)" if summary.get("already") else ""
    lines = [
        f"{summary['files']} files imported{earlier}: "
        + ", ".join(f"{n} {status}" for status, n in sorted(summary["statuses"].items())),
        f"{summary['rejected_rows']} rows rejected (each file's rejected rows are in rejected/).",
        *(f"FAILED {key}: {str(why)[:300]}" for key, why in summary["failed"][:SHOWN]),
        *(  # a year's import could fail hundreds: the e-mail stays far under SNS's 256 KB
            [f"... and {len(summary['failed']) - SHOWN} more FAILED (every one in the import's output)"]
            if len(summary["failed"]) > SHOWN
            else []
        ),
        "",
        f"Levels below their threshold now, worst first ({count}):",
        *(f"  {w} / {item}: {q} (restock below {t})" for w, item, q, t in below),
        *([f"  ... and {count - len(below)} more (the console's overview lists them)"] if count > len(below) else []),
        "",
        "Crossings within the imported history are recorded (history, console) but were not e-mailed.",
    ]
    if summary.get("cost"):
        lines += [
            "",
            "AWS cost (us-east-1 list prices, on-demand): "
            + ", ".join(f"{what} ${dollars:,.2f}" for what, dollars in summary["cost"].items())
            + f" for {summary['rows']:,} rows. The import's own requests are counted; the pipeline's share is"
            " estimated from the rows at the cost per row `make bench` measured (docs/benchmarks.md).",
        ]
    return subject[:99], "\n".join(lines)
