"""Nightly validation (pure): which files a run takes and in what order, the per-transaction checks, the tally
a resumable run carries between invocations, the reconciliation of levels, and the report and e-mail.

A run re-reads every inventory file that arrived since the last completed run, in arrival order, and checks each
transaction (data line) one after the other. A tally covers the transactions between two cursors; the run's
result is the tallies chained from the first cursor, so a retried invocation replaces its tally, never adds one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stock_pipeline.domain.inventory import ParsedTransactions, aggregate_changes, chunks
from stock_pipeline.domain.subjects import subject_line

# A file registered up to a day before the last run's cutoff, but not checked by it (its registration was still
# in flight while that run listed the files), is taken by the next run.
ARRIVAL_LOOKBACK = timedelta(days=1)
# A transaction dated after its file arrived (beyond clock skew between the warehouse system and S3).
FUTURE_TOLERANCE = timedelta(minutes=5)
SAMPLES_PER_KIND = 20
DIFFERENCE_SAMPLES = 50

# Problem kinds, in the order the report lists them.
UNREADABLE = "unreadable_file"
UNPARSEABLE = "unparseable_row"
FUTURE = "future_timestamp"
NOT_APPLIED = "not_applied"
LEDGER_INCOMPLETE = "ledger_incomplete"
LEDGER_UNEXPECTED = "ledger_unexpected_chunks"
LEDGER_EXPIRED = "ledger_expired"
LEVEL_DIFFERENCE = "level_difference"
KINDS = (UNREADABLE, UNPARSEABLE, FUTURE, NOT_APPLIED, LEDGER_INCOMPLETE, LEDGER_UNEXPECTED, LEDGER_EXPIRED)


def utc_text(moment: datetime) -> str:
    """Fixed width, so that the text sorts like the time (DynamoDB sort keys, cursors)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ArrivedFile:
    """An inventory file as the ingest function registered it (DESIGN §3, `ARRIVALS`)."""

    key: str
    etag: str
    version_id: str | None
    event_time: str  # when S3 received it (the notification's eventTime), UTC text
    registered_at: str  # when the ingest function registered it: decides which run takes it

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "etag": self.etag,
            "versionId": self.version_id,
            "eventTime": self.event_time,
            "registeredAt": self.registered_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArrivedFile:
        return cls(data["key"], data["etag"], data.get("versionId"), data["eventTime"], data["registeredAt"])


def run_files(candidates: Iterable[ArrivedFile]) -> list[ArrivedFile]:
    """The run's files in arrival order: S3 event time, then key (then ETag for two versions of one key)."""
    unique = {(f.key, f.etag): f for f in candidates}
    return sorted(unique.values(), key=lambda f: (f.event_time, f.key, f.etag))


def run_window(previous_cursor: str | None, cutoff: datetime) -> tuple[str, str]:
    """Registration times a run takes: [previous cutoff - lookback, this cutoff). Files registered at or after the
    cutoff (during the run) belong to the next run; files of the lookback already checked are skipped by mark."""
    start = "0" if not previous_cursor else utc_text(parse_utc(previous_cursor) - ARRIVAL_LOOKBACK)
    return start, utc_text(cutoff)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Everything before (file, line) is checked: files before `file`, and lines before `line` of that file."""

    file: int = 0
    line: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"file": self.file, "line": self.line}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Cursor:
        data = data or {}
        return cls(int(data.get("file", 0)), int(data.get("line", 0)))

    @property
    def name(self) -> str:
        return f"{self.file:06d}-{self.line:09d}"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One data line of a file: parsed, or the reason it does not parse."""

    line: int
    warehouse: str | None = None
    item_id: str | None = None
    change: int | None = None
    timestamp: datetime | None = None
    rejected: str | None = None


def transactions_of(parsed: ParsedTransactions) -> list[Transaction]:
    """Every data line in file order, the rejected ones included (they are transactions that failed to parse)."""
    table = parsed.table
    rows = [
        Transaction(line, warehouse, item, change, timestamp)
        for line, warehouse, item, change, timestamp in zip(
            table.column("source_line").to_pylist(),
            table.column("warehouse").to_pylist(),
            table.column("item_id").to_pylist(),
            table.column("change").to_pylist(),
            table.column("timestamp").to_pylist(),
            strict=True,
        )
    ]
    rows.extend(Transaction(r.line, rejected=r.reason) for r in parsed.rejections)
    return sorted(rows, key=lambda t: t.line)


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What the checks of one file need besides its lines: where each level change went, what the ledger holds."""

    arrived_at: datetime
    chunk_of: Mapping[tuple[str, str], int]
    expected_chunks: int
    present_chunks: frozenset[int]
    ledger_expired: bool = False


def file_facts(parsed: ParsedTransactions, present: Iterable[int], *, arrived_at: datetime, expired: bool) -> FileFacts:
    """The ingest function's own chunking of the same file, so chunk n here is ledger entry CHUNK#n there."""
    parts = chunks(aggregate_changes(parsed.table))
    chunk_of = {(c.warehouse, c.item_id): n for n, part in enumerate(parts) for c in part}
    return FileFacts(arrived_at, chunk_of, len(parts), frozenset(present), expired)


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    file: str
    line: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "detail": self.detail}


def file_problems(key: str, facts: FileFacts) -> list[Problem]:
    """Applied exactly once: every chunk's ledger entry present (none missing, none that the file cannot have)."""
    if facts.ledger_expired:
        return [Problem(LEDGER_EXPIRED, key, None, "the file's ledger entries expired (TTL); applied-once not checked")]
    problems = []
    missing = sorted(set(range(facts.expected_chunks)) - facts.present_chunks)
    extra = sorted(facts.present_chunks - set(range(facts.expected_chunks)))
    if missing:
        problems.append(
            Problem(
                LEDGER_INCOMPLETE,
                key,
                None,
                f"{len(missing)} of {facts.expected_chunks} chunks not applied: {_numbers(missing)}",
            )
        )
    if extra:
        problems.append(
            Problem(LEDGER_UNEXPECTED, key, None, f"ledger has chunks the file does not: {_numbers(extra)}")
        )
    return problems


def check_transaction(key: str, transaction: Transaction, facts: FileFacts) -> list[Problem]:
    """The real checks of one transaction: it parses, it is not dated after its file arrived, it was applied."""
    if transaction.rejected is not None:
        return [Problem(UNPARSEABLE, key, transaction.line, transaction.rejected)]
    problems = []
    if transaction.timestamp is not None and transaction.timestamp > facts.arrived_at + FUTURE_TOLERANCE:
        problems.append(
            Problem(
                FUTURE,
                key,
                transaction.line,
                f"dated {utc_text(transaction.timestamp)}, after the file arrived ({utc_text(facts.arrived_at)})",
            )
        )
    chunk = facts.chunk_of.get((transaction.warehouse or "", transaction.item_id or ""))
    if not facts.ledger_expired and (chunk is None or chunk not in facts.present_chunks):
        problems.append(
            Problem(
                NOT_APPLIED,
                key,
                transaction.line,
                f"{transaction.warehouse} / {transaction.item_id} {transaction.change:+d}: chunk {chunk} not applied",
            )
        )
    return problems


@dataclass
class Tally:
    """What a stretch of the run found, between cursors `start` and `end`. JSON round trip, merge by addition."""

    start: Cursor
    end: Cursor = field(default_factory=Cursor)
    transactions: int = 0
    per_file: dict[int, int] = field(default_factory=dict)
    file_problems: dict[int, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deltas: dict[tuple[str, str], int] = field(default_factory=dict)
    touched_by: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    check_seconds: float = 0.0
    stretches: int = 0  # invocations whose tallies make up this one

    def add_problems(self, file: int, problems: Sequence[Problem]) -> None:
        for problem in problems:
            self.problems[problem.kind] = self.problems.get(problem.kind, 0) + 1
            self.file_problems[file] = self.file_problems.get(file, 0) + 1
            samples = self.samples.setdefault(problem.kind, [])
            if len(samples) < SAMPLES_PER_KIND:
                samples.append(problem.to_dict())

    def add_transaction(self, file: int, transaction: Transaction, problems: Sequence[Problem]) -> None:
        self.transactions += 1
        self.per_file[file] = self.per_file.get(file, 0) + 1
        self.add_problems(file, problems)
        if transaction.rejected is None and transaction.warehouse is not None and transaction.item_id is not None:
            item = (transaction.warehouse, transaction.item_id)
            self.deltas[item] = self.deltas.get(item, 0) + int(transaction.change or 0)
            self.touched_by.setdefault(item, set()).add(file)

    def merge(self, other: Tally) -> None:
        self.transactions += other.transactions
        self.check_seconds += other.check_seconds
        self.stretches += other.stretches
        for target, source in ((self.per_file, other.per_file), (self.file_problems, other.file_problems)):
            for k, v in source.items():
                target[k] = target.get(k, 0) + v
        for kind, count in other.problems.items():
            self.problems[kind] = self.problems.get(kind, 0) + count
            room = SAMPLES_PER_KIND - len(self.samples.get(kind, []))
            self.samples.setdefault(kind, []).extend(other.samples.get(kind, [])[: max(0, room)])
        for item, delta in other.deltas.items():
            self.deltas[item] = self.deltas.get(item, 0) + delta
            self.touched_by.setdefault(item, set()).update(other.touched_by.get(item, set()))
        self.end = other.end

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "start": self.start.to_dict(),
                "end": self.end.to_dict(),
                "transactions": self.transactions,
                "perFile": self.per_file,
                "fileProblems": self.file_problems,
                "problems": self.problems,
                "samples": self.samples,
                "deltas": [[w, i, d, sorted(self.touched_by.get((w, i), ()))] for (w, i), d in self.deltas.items()],
                "checkSeconds": self.check_seconds,
                "stretches": self.stretches,
            },
            ensure_ascii=False,
        ).encode()

    @classmethod
    def from_json(cls, body: bytes) -> Tally:
        data = json.loads(body)
        return cls(
            start=Cursor.from_dict(data["start"]),
            end=Cursor.from_dict(data["end"]),
            transactions=int(data["transactions"]),
            per_file={int(k): int(v) for k, v in data["perFile"].items()},
            file_problems={int(k): int(v) for k, v in data["fileProblems"].items()},
            problems={k: int(v) for k, v in data["problems"].items()},
            samples=data["samples"],
            deltas={(w, i): int(d) for w, i, d, _ in data["deltas"]},
            touched_by={(w, i): set(files) for w, i, _, files in data["deltas"]},
            check_seconds=float(data.get("checkSeconds", 0.0)),
            stretches=int(data.get("stretches", 1)),
        )


def chain(tallies: Mapping[Cursor, Tally], files: int, *, complete: bool = True) -> Tally:
    """The run's result: the tallies from the first cursor, each starting where the previous one ended.

    A tally that does not continue the chain (left by an attempt whose retry stopped elsewhere) is not counted.
    `complete=False` (a failed run's report) stops quietly where the chain ends instead of raising.
    """
    total = Tally(start=Cursor())
    cursor = Cursor()
    while cursor.file < files:
        tally = tallies.get(cursor)
        if tally is None or tally.end == cursor:
            if not complete:
                return total
            what = "no tally starting" if tally is None else "the tally made no progress"
            raise ValueError(f"the run has {what} at file {cursor.file}, line {cursor.line}")
        total.merge(tally)
        cursor = tally.end
    return total


@dataclass(frozen=True, slots=True)
class Difference:
    warehouse: str
    item_id: str
    expected: int
    stored: int | None
    files: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "warehouse": self.warehouse,
            "itemId": self.item_id,
            "expected": self.expected,
            "stored": self.stored,
            "files": self.files,
        }


def expected_levels(deltas: Mapping[tuple[str, str], int], baselines: Mapping[tuple[str, str], int]) -> dict:
    """The levels the checked files imply on top of the last validated ones (none yet: the file set starts at 0)."""
    return {item: baselines.get(item, 0) + delta for item, delta in deltas.items()}


def reconcile(
    expected: Mapping[tuple[str, str], int],
    stored: Mapping[tuple[str, str], int | None],
    late: Mapping[tuple[str, str], int],
    touched_by: Mapping[tuple[str, str], Iterable[str]],
) -> list[Difference]:
    """Expected against stored, the stored level taken back by what files after the cutoff already applied."""
    differences = []
    for item in sorted(expected):
        value = stored.get(item)
        comparable = None if value is None else value - late.get(item, 0)
        if comparable != expected[item] and not (comparable is None and expected[item] == 0):
            differences.append(
                Difference(item[0], item[1], expected[item], comparable, sorted(touched_by.get(item, ())))
            )
    return differences


def late_deltas(parsed: ParsedTransactions, present: Iterable[int], items: Iterable[tuple[str, str]]) -> dict:
    """What the applied chunks of a file outside the run changed, for the items the run reconciles."""
    wanted = set(items)
    applied = set(present)
    out: dict[tuple[str, str], int] = {}
    for number, part in enumerate(chunks(aggregate_changes(parsed.table))):
        if number in applied:
            for change in part:
                if (change.warehouse, change.item_id) in wanted:
                    out[(change.warehouse, change.item_id)] = (
                        out.get((change.warehouse, change.item_id), 0) + change.change
                    )
    return out


def report_document(
    *,
    run_id: str,
    trigger: str,
    status: str,
    started_at: str,
    finished_at: str,
    cutoff: str,
    files: Sequence[ArrivedFile],
    tally: Tally,
    differences: Sequence[Difference],
    items_reconciled: int,
    error: str | None = None,
) -> dict[str, Any]:
    """The run's report (reports/validation/…): files, transactions, problems with samples, differences."""
    duration = (parse_utc(finished_at) - parse_utc(started_at)).total_seconds()
    problems = {
        kind: {"count": tally.problems[kind], "samples": tally.samples.get(kind, [])}
        for kind in KINDS
        if tally.problems.get(kind)
    }
    if differences:
        problems[LEVEL_DIFFERENCE] = {
            "count": len(differences),
            "samples": [d.to_dict() for d in differences[:DIFFERENCE_SAMPLES]],
        }
    return {
        "runId": run_id,
        "trigger": trigger,
        "status": status,
        "startedAt": started_at,
        "finishedAt": finished_at,
        "durationSeconds": round(duration, 3),
        "cutoff": cutoff,
        "files": [
            {
                **f.to_dict(),
                "transactions": tally.per_file.get(n, 0),
                "problems": tally.file_problems.get(n, 0),
            }
            for n, f in enumerate(files)
        ],
        "transactions": tally.transactions,
        "problemCount": sum(p["count"] for p in problems.values()),
        "problems": problems,
        "reconciliation": {"items": items_reconciled, "differences": len(differences)},
        "checkSeconds": round(tally.check_seconds, 3),
        "checkInvocations": tally.stretches,
        **({"error": error} if error else {}),
    }


def summary(report: Mapping[str, Any], report_uri: str) -> tuple[str, str]:
    """Subject and text of the completion e-mail (SNS subjects: under 100 characters, one line)."""
    status = report["status"]
    count = report.get("problemCount", 0)
    day = str(report.get("startedAt", ""))[:10]
    if status == "FAILED":
        subject = f"Stock validation {day} FAILED"
    elif count:
        subject = f"Stock validation {day}: {count} problem{'s' if count != 1 else ''} found"
    else:
        subject = f"Stock validation {day}: all {report['transactions']} transactions OK"
    lines = [
        f"Run {report['runId']} ({report['trigger']}) {status}.",
        f"Files: {len(report['files'])}   transactions checked: {report['transactions']}   "
        f"duration: {_duration(report['durationSeconds'])}",
        f"Levels reconciled: {report['reconciliation']['items']}   "
        f"differences: {report['reconciliation']['differences']}",
    ]
    if report.get("error"):
        lines.append(f"Error: {report['error']}")
    for kind, entry in report.get("problems", {}).items():
        lines.append(f"\n{kind}: {entry['count']}")
        for sample in entry["samples"][:5]:
            lines.append("  " + _sample_text(sample))
    lines.append(f"\nFull report: {report_uri}")
    return subject_line(subject), "\n".join(lines)


def _sample_text(sample: Mapping[str, Any]) -> str:
    if "warehouse" in sample:
        return (
            f"{sample['warehouse']} / {sample['itemId']}: expected {sample['expected']}, stored {sample['stored']} "
            f"(files: {', '.join(sample['files'][:3])}{' …' if len(sample['files']) > 3 else ''})"
        )
    where = sample["file"] + (f" line {sample['line']}" if sample.get("line") is not None else "")
    return f"{where}: {sample['detail']}"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


def _numbers(values: Sequence[int], shown: int = 10) -> str:
    text = ", ".join(str(v) for v in values[:shown])
    return text + (f" … (+{len(values) - shown})" if len(values) > shown else "")


def report_key(prefix: str, run_id: str, started_at: str) -> str:
    """reports/validation/<yyyy>/<mm>/<dd>/<run>.json: by day, so a person (or Athena) finds a night's report."""
    day = parse_utc(started_at)
    return f"{prefix}validation/{day:%Y/%m/%d}/{run_id}.json"
