"""Application layer of the nightly validation: start a run, check transactions until the invocation's budget is
spent, finish (reconcile, report, e-mail), or record a failure. Knows the domain and the adapters' interfaces.

The Step Functions workflow loops over `check_batch`; everything a run has found lives in S3 under
`workflow/validation/<run>/` (the file list and one tally per stretch of transactions, named after the cursor
it starts at), so the workflow's state stays a cursor and a retried invocation overwrites its own tally.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from stock_pipeline.adapters.validation_table import Claim
from stock_pipeline.domain.errors import ObjectGoneError, UnreadableObjectError
from stock_pipeline.domain.inventory import parse_inventory_file
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.validation import (
    UNREADABLE,
    ArrivedFile,
    Cursor,
    FileFacts,
    Problem,
    Tally,
    chain,
    check_transaction,
    expected_levels,
    file_facts,
    file_problems,
    late_deltas,
    parse_utc,
    reconcile,
    report_document,
    report_key,
    run_files,
    run_window,
    summary,
    transactions_of,
    utc_text,
)

Item = tuple[str, str]
LEDGER_DAYS = 30  # the ingest function's ledger TTL: older files cannot be checked for applied-once
NOTICE_DAYS = 35
SNAPSHOT_ATTEMPTS = 5


class Store(Protocol):
    def read(self, ref: ObjectRef) -> bytes: ...

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None: ...

    def list_keys(self, bucket: str, prefix: str) -> list[str]: ...


class Table(Protocol):
    def claim(self, run_id: str, *, now: str, lease_until: str, cutoff: str, trigger: str) -> Claim: ...

    def renew(self, run_id: str, *, lease_until: str) -> bool: ...

    def complete(self, run_id: str, *, cutoff: str, finished_at: str) -> bool: ...

    def release(self, run_id: str) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def arrivals(self, start: str, end: str | None = None) -> list[tuple[ArrivedFile, str | None]]: ...

    def movements(self, start: str, end: str | None = None) -> dict[Item, int]: ...

    def mark_validated(self, files: list[ArrivedFile], run_id: str) -> None: ...

    def ledger_chunks(self, key: str, etag: str) -> set[int]: ...

    def levels(self, items: list[Item]) -> dict[Item, int | None]: ...

    def baselines(self, items: list[Item], *, run_id: str | None = None) -> dict[Item, int | None]: ...

    def put_baselines(
        self, levels: Mapping[Item, int], *, run_id: str, validated_at: str, previous: Mapping[Item, int] | None = None
    ) -> None: ...

    def notified(self, run_id: str) -> bool: ...

    def record_notified(self, run_id: str, *, status: str, report_key: str, at: str, expires_at: int) -> None: ...


class Notices(Protocol):
    def publish(self, subject: str, message: str, attributes: Mapping[str, str]) -> str: ...


class RunLostError(RuntimeError):
    """The run's lease ran out and another run took the lock: this one must not go on."""


@dataclass(frozen=True, slots=True)
class Run:
    """Where a run keeps its state: the bucket, and the prefixes for its work files and its report."""

    run_id: str
    bucket: str
    work_prefix: str = "workflow/validation/"
    reports_prefix: str = "reports/"

    @property
    def files_key(self) -> str:
        return f"{self.work_prefix}{self.run_id}/files.json"

    def tally_key(self, cursor: Cursor) -> str:
        return f"{self.work_prefix}{self.run_id}/tallies/{cursor.name}.json"

    @property
    def tallies_prefix(self) -> str:
        return f"{self.work_prefix}{self.run_id}/tallies/"


def lease_until(now: datetime, lease: timedelta) -> str:
    return utc_text(now + lease)


# ---------------------------------------------------------------------------- start


def start_run(
    run: Run, *, trigger: str, started_at: datetime, now: datetime, lease: timedelta, table: Table, store: Store
) -> dict[str, Any]:
    """Take the lock, list the files registered since the last completed run (up to this run's start), in
    arrival order, and store the list. A run that finds the lock held ends as SKIPPED and checks nothing: the
    run in progress takes the files that arrived before it started; the next run takes the rest."""
    cutoff = utc_text(started_at)
    claim = table.claim(
        run.run_id, now=utc_text(now), lease_until=lease_until(now, lease), cutoff=cutoff, trigger=trigger
    )
    if not claim.claimed:
        return {
            "status": "SKIPPED",
            "runId": run.run_id,
            "reason": f"run {claim.holder} (started {claim.holder_since}) is still running; it checks the files "
            "that arrived before it started, the next run the others",
        }
    start, end = run_window(claim.previous_cursor, started_at)
    files = run_files(f for f, validated_by in table.arrivals(start, end) if validated_by is None)
    document = {
        "runId": run.run_id,
        "trigger": trigger,
        "startedAt": cutoff,
        "cutoff": cutoff,
        "previousCursor": claim.previous_cursor,
        "files": [f.to_dict() for f in files],
    }
    store.write(run.bucket, run.files_key, json.dumps(document).encode(), "application/json")
    return {
        "status": "STARTED",
        "runId": run.run_id,
        "files": len(files),
        "cursor": Cursor().to_dict(),
        "done": not files,
    }


def _run_document(run: Run, store: Store) -> tuple[dict[str, Any], list[ArrivedFile]]:
    document = json.loads(store.read(ObjectRef(run.bucket, run.files_key, "")))
    return document, [ArrivedFile.from_dict(f) for f in document["files"]]


# ---------------------------------------------------------------------------- check


@dataclass(frozen=True, slots=True)
class LoadedFile:
    transactions: list[Any]
    facts: FileFacts | None
    problems: list[Problem]


def load_file(f: ArrivedFile, *, bucket: str, store: Store, table: Table, now: datetime) -> LoadedFile:
    """Read the exact version that was registered, parse it as the ingest function did, read its ledger."""
    try:
        body = store.read(ObjectRef(bucket, f.key, f.etag, version_id=f.version_id))
        parsed = parse_inventory_file(body)
    except (ObjectGoneError, UnreadableObjectError) as exc:
        return LoadedFile([], None, [Problem(UNREADABLE, f.key, None, str(exc))])
    arrived = parse_utc(f.event_time)
    expired = now - arrived > timedelta(days=LEDGER_DAYS)
    facts = file_facts(parsed, table.ledger_chunks(f.key, f.etag), arrived_at=arrived, expired=expired)
    return LoadedFile(transactions_of(parsed), facts, file_problems(f.key, facts))


def check_batch(
    run: Run,
    cursor: Cursor,
    *,
    budget_s: float,
    cost_s: float,
    lease: timedelta,
    table: Table,
    store: Store,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Check transactions one after the other from `cursor` until the next one would not fit the budget (at
    least one per invocation, so a run always advances); store the tally; return the next cursor."""
    if not table.renew(run.run_id, lease_until=lease_until(now(), lease)):
        raise RunLostError(f"run {run.run_id} lost its lock (lease ran out); another run took over")
    started = clock()
    _, files = _run_document(run, store)
    tally = Tally(start=cursor)
    position = cursor
    while position.file < len(files):
        if tally.transactions and clock() - started + cost_s > budget_s:
            break
        f = files[position.file]
        loaded = load_file(f, bucket=run.bucket, store=store, table=table, now=now())
        if position.line == 0:  # entering the file: its own checks, once (a stop below is after its first line)
            tally.add_problems(position.file, loaded.problems)
        checked_here = 0
        for transaction in loaded.transactions:
            if transaction.line < position.line:
                continue
            if checked_here and clock() - started + cost_s > budget_s:
                return _stop(run, tally, position, len(files), store)
            problems = check_transaction(f.key, transaction, loaded.facts) if loaded.facts else []
            before = clock()
            pause(cost_s)  # the specified long check of one transaction
            tally.check_seconds += clock() - before
            tally.add_transaction(position.file, transaction, problems)
            checked_here += 1
            position = Cursor(position.file, transaction.line + 1)
        position = Cursor(position.file + 1, 0)
    return _stop(run, tally, position, len(files), store)


def _stop(run: Run, tally: Tally, position: Cursor, files: int, store: Store) -> dict[str, Any]:
    tally.end, tally.stretches = position, 1
    store.write(run.bucket, run.tally_key(tally.start), tally.to_json(), "application/json")
    return {
        "runId": run.run_id,
        "cursor": position.to_dict(),
        "done": position.file >= files,
        "checked": tally.transactions,
    }


# ---------------------------------------------------------------------------- finish


def tallies(run: Run, store: Store) -> dict[Cursor, Tally]:
    """Every tally the run's invocations stored, by the cursor it starts at."""
    found = {}
    for key in store.list_keys(run.bucket, run.tallies_prefix):
        tally = Tally.from_json(store.read(ObjectRef(run.bucket, key, "")))
        found[tally.start] = tally
    return found


def finish_run(
    run: Run,
    *,
    table: Table,
    store: Store,
    notices: Notices,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Reconcile, write the report, make the expected levels the new validated ones, mark the files, advance
    the cursor and free the lock, then e-mail the summary. Every step may be repeated by a retry."""
    document, files = _run_document(run, store)
    total = chain(tallies(run, store), len(files))
    # the console's adjustments and transfers since the last run's cutoff change levels too (no file carries them)
    moved = table.movements(document.get("previousCursor") or "0", document["cutoff"])
    deltas = dict(total.deltas)
    for item, delta in moved.items():
        deltas[item] = deltas.get(item, 0) + delta
    items = sorted(deltas)
    # what the last completed run validated (this run's own rewrite read back as what it replaced: a finish retried
    # after the function died must not add the run's deltas twice)
    started_from = {k: v for k, v in table.baselines(items, run_id=run.run_id).items() if v is not None}
    expected = expected_levels(deltas, started_from)
    stored, late = _stored_and_late(run, document, files, items, table=table, store=store, now=now())
    touched_by = {item: [files[n].key for n in sorted(numbers)] for item, numbers in total.touched_by.items()}
    differences = reconcile(expected, stored, late, touched_by)
    finished_at = utc_text(now())
    report = report_document(
        run_id=run.run_id,
        trigger=document["trigger"],
        status="SUCCEEDED",
        started_at=document["startedAt"],
        finished_at=finished_at,
        cutoff=document["cutoff"],
        files=files,
        tally=total,
        differences=differences,
        items_reconciled=len(items),
    )
    key = _write_report(run, report, store)
    table.put_baselines(expected, run_id=run.run_id, validated_at=finished_at, previous=started_from)
    table.mark_validated(files, run.run_id)
    if not table.complete(run.run_id, cutoff=document["cutoff"], finished_at=finished_at):
        raise RunLostError(f"run {run.run_id} lost its lock before it could complete")
    _notify_once(run, report, key, table=table, notices=notices, now=now())
    return {
        "status": "SUCCEEDED",
        "runId": run.run_id,
        "reportKey": key,
        "files": len(files),
        "transactions": total.transactions,
        "problems": report["problemCount"],
        "differences": len(differences),
    }


def _stored_and_late(
    run: Run,
    document: Mapping[str, Any],
    files: list[ArrivedFile],
    items: list[Item],
    *,
    table: Table,
    store: Store,
    now: datetime,
) -> tuple[dict[Item, int | None], dict[Item, int]]:
    """Stored levels, and what files outside the run already added to them, from one consistent moment.

    Files registered at or after the cutoff keep arriving while the run finishes; a chunk of theirs applied
    between the two reads would count on one side only. The applied chunks are read before and after the
    levels; when both reads agree, no chunk landed in between (chunks and levels change in one transaction).
    """
    in_run = {(f.key, f.etag) for f in files}
    start, _ = run_window(document.get("previousCursor"), parse_utc(document["cutoff"]))

    def applied() -> tuple[dict[ArrivedFile, frozenset[int]], dict[Item, int]]:
        outside = [f for f, validated in table.arrivals(start) if (f.key, f.etag) not in in_run and validated is None]
        chunks = {f: frozenset(table.ledger_chunks(f.key, f.etag)) for f in outside}
        return chunks, table.movements(document["cutoff"])  # movements after the cutoff, like late files

    for _ in range(SNAPSHOT_ATTEMPTS):  # after the last attempt the figures stand as read (a busy table)
        before, moved_after = applied()
        stored = table.levels(items)
        if applied() == (before, moved_after):
            break
    late: dict[Item, int] = {item: delta for item, delta in moved_after.items() if item in set(items)}
    for f, chunks in before.items():
        if not chunks:
            continue
        try:
            parsed = parse_inventory_file(store.read(ObjectRef(run.bucket, f.key, f.etag, f.version_id)))
        except (ObjectGoneError, UnreadableObjectError):
            continue
        for item, delta in late_deltas(parsed, chunks, items).items():
            late[item] = late.get(item, 0) + delta
    return stored, late


def _write_report(run: Run, report: Mapping[str, Any], store: Store) -> str:
    """reports/validation/<day>/<run>.json: a retried finish or fail overwrites the same object."""
    key = report_key(run.reports_prefix, run.run_id, report["startedAt"])
    store.write(run.bucket, key, json.dumps(report, indent=2, ensure_ascii=False).encode(), "application/json")
    return key


def _notify_once(
    run: Run, report: Mapping[str, Any], key: str, *, table: Table, notices: Notices, now: datetime
) -> bool:
    """Publish, then record: a retried finish sends nothing more (a crash in between may send twice)."""
    if table.notified(run.run_id):
        return False
    subject, message = summary(report, f"s3://{run.bucket}/{key}")
    notices.publish(
        subject,
        message,
        {"kind": "validation", "status": report["status"], "problems": str(report.get("problemCount", 0))},
    )
    table.record_notified(
        run.run_id,
        status=report["status"],
        report_key=key,
        at=utc_text(now),
        expires_at=int((now + timedelta(days=NOTICE_DAYS)).timestamp()),
    )
    return True


# ---------------------------------------------------------------------------- fail


def fail_run(
    run: Run,
    *,
    error: str,
    table: Table,
    store: Store,
    notices: Notices,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """A run that cannot finish: free the lock (the cursor stays, so the next run checks these files again),
    write a FAILED report with what was checked so far, and e-mail it."""
    finished_at = utc_text(now())
    try:
        document, files = _run_document(run, store)
    except ObjectGoneError:  # the run failed before it listed its files
        document, files = {"trigger": "unknown", "startedAt": finished_at, "cutoff": finished_at}, []
    partial = chain(tallies(run, store), len(files), complete=False)
    report = report_document(
        run_id=run.run_id,
        trigger=document.get("trigger", "unknown"),
        status="FAILED",
        started_at=document["startedAt"],
        finished_at=finished_at,
        cutoff=document["cutoff"],
        files=files,
        tally=partial,
        differences=[],
        items_reconciled=0,
        error=error[:2000],
    )
    key = _write_report(run, report, store)
    table.release(run.run_id)
    _notify_once(run, report, key, table=table, notices=notices, now=now())
    return {"status": "FAILED", "runId": run.run_id, "reportKey": key, "error": error[:500]}
