"""Sending rendered records to Firehose at a steady rate, the way KDG does, without a browser.

PutRecordBatch takes at most 500 records and 4 MiB per call, and may accept a call while refusing some of its
records (`FailedPutCount`): only those are sent again, with exponential backoff and jitter, so nothing is sent
twice and nothing is dropped silently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

MAX_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
RETRYABLE_CALL_ERRORS = {"ServiceUnavailableException", "ThrottlingException", "InternalFailure"}


def batches(records: Iterable[bytes], max_records: int = MAX_RECORDS) -> Iterator[list[bytes]]:
    """Cut records into PutRecordBatch calls: at most `max_records` and 4 MiB each."""
    batch: list[bytes] = []
    size = 0
    for record in records:
        if len(record) > MAX_RECORD_BYTES:
            raise ValueError(f"a record of {len(record)} bytes exceeds Firehose's {MAX_RECORD_BYTES} byte limit")
        if batch and (len(batch) >= max_records or size + len(record) > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record)
    if batch:
        yield batch


BILLING_INCREMENT = 5 * 1024  # Firehose bills each record as a multiple of 5 KB


def pack(updates: Iterable[bytes], max_bytes: int = BILLING_INCREMENT) -> Iterator[tuple[bytes, int]]:
    """Join consecutive updates with newlines into records of at most `max_bytes`: (record, updates in it).

    Firehose bills every record as at least 5 KB, so a 250-byte update alone pays for twenty; packed, twenty
    updates share one increment. The stream's delimiter processor ends each record with a newline, so the object
    stays newline-delimited JSON and the ingest function reads it like any other. An update longer than
    `max_bytes` travels alone (up to Firehose's record limit).
    """
    if not 1 <= max_bytes <= MAX_RECORD_BYTES:
        raise ValueError(f"a packed record must be 1..{MAX_RECORD_BYTES} bytes, not {max_bytes}")
    parts: list[bytes] = []
    size = 0
    for update in updates:
        update = update.rstrip(b"\n")
        extra = len(update) + (1 if parts else 0)
        if parts and size + extra > max_bytes:
            yield b"\n".join(parts), len(parts)
            parts, size, extra = [], 0, len(update)
        parts.append(update)
        size += extra
    if parts:
        yield b"\n".join(parts), len(parts)


@dataclass(slots=True)
class Outcome:
    sent: int = 0  # updates
    failed: int = 0  # updates
    calls: int = 0
    retried: int = 0  # records sent again
    records: int = 0  # Firehose records accepted (fewer than updates when packed)


class FirehoseSender:
    def __init__(
        self,
        client: Any,
        stream: str,
        *,
        max_attempts: int = 8,
        base_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: random.Random | None = None,
    ) -> None:
        self._firehose = client
        self.stream = stream
        self._max_attempts = max_attempts
        self._base, self._cap = base_delay_s, max_delay_s
        self._sleep = sleep
        self._jitter = jitter or random.Random()

    def put(self, batch: list[bytes], weights: list[int] | None = None) -> Outcome:
        """Send one batch; re-send only the records Firehose refused until all are in or attempts run out.

        `weights` (updates per record, for packed records) make `sent` and `failed` count updates.
        """
        outcome = Outcome()
        weight = dict(zip(map(id, batch), weights or [1] * len(batch), strict=True))
        pending = batch
        for attempt in range(self._max_attempts):
            if attempt:
                outcome.retried += len(pending)
                self._sleep(self._backoff(attempt))
            try:
                outcome.calls += 1
                response = self._firehose.put_record_batch(
                    DeliveryStreamName=self.stream, Records=[{"Data": data} for data in pending]
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in RETRYABLE_CALL_ERRORS:
                    continue  # the whole call was refused: all of it is still pending
                raise
            refused = [
                data
                for data, result in zip(pending, response["RequestResponses"], strict=True)
                if result.get("ErrorCode")
            ]
            refused_ids = set(map(id, refused))
            outcome.sent += sum(weight[id(data)] for data in pending if id(data) not in refused_ids)
            outcome.records += len(pending) - len(refused)
            pending = refused
            if not pending:
                break
        outcome.failed = sum(weight[id(data)] for data in pending)
        return outcome

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
        return self._jitter.uniform(0, min(self._cap, self._base * 2**attempt))


class RateLimiter:
    """Paces sends to a target rate over the whole run (a late batch is caught up, not lost)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("the rate must be positive")
        self.per_second = per_second
        self._clock, self._sleep = clock, sleep
        self.started = clock()
        self._granted = 0

    def acquire(self, n: int) -> None:
        """Wait until `n` more records fit the rate since the start."""
        self._granted += n
        due = self.started + (self._granted - n) / self.per_second
        wait = due - self._clock()
        if wait > 0:
            self._sleep(wait)

    def elapsed(self) -> float:
        return self._clock() - self.started


@dataclass(frozen=True, slots=True)
class RunSummary:
    sent: int
    failed: int
    calls: int
    retried: int
    seconds: float
    records: int = 0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else float(self.sent)

    def line(self) -> str:
        packed = f" in {self.records} packed Firehose records" if self.records and self.records != self.sent else ""
        return (
            f"sent {self.sent}{packed}, failed {self.failed}, retried {self.retried} in {self.calls} calls, "
            f"{self.seconds:.1f} s, achieved {self.rate:.1f} records/s"
        )


def run(
    render: Callable[[], str],
    sender: FirehoseSender,
    limiter: RateLimiter,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    newline: bool = False,
    pack_bytes: int | None = None,
    on_batch: Callable[[Outcome, float], None] | None = None,
) -> RunSummary:
    """Render and send until `count` records or `duration_s` seconds, at the limiter's rate.

    Batches are sized to a tenth of a second of the rate (at most 500), so the pace stays even at low rates too;
    with `pack_bytes`, to a whole second, so that packed records fill up (at 1 update/s there is nothing to pack).
    """
    if count is None and duration_s is None:
        raise ValueError("give a count or a duration")
    per_batch = max(1, min(MAX_RECORDS, int(limiter.per_second / 10)))
    if pack_bytes:
        per_batch = max(1, int(limiter.per_second))
    suffix = "\n" if newline else ""
    total = Outcome()
    produced = 0
    while (count is None or produced < count) and (duration_s is None or limiter.elapsed() < duration_s):
        n = per_batch if count is None else min(per_batch, count - produced)
        limiter.acquire(n)
        if duration_s is not None and limiter.elapsed() >= duration_s:
            break  # the wait ran into the end of the run
        updates = [render().encode() for _ in range(n)]
        produced += n
        if pack_bytes:
            packed = list(pack(updates, pack_bytes - len(suffix)))
            chunk = [record + suffix.encode() for record, _ in packed]
            weights = [count_ for _, count_ in packed]
        else:
            chunk, weights = [update + suffix.encode() for update in updates], [1] * n
        start = 0
        for batch in batches(chunk):
            outcome = sender.put(batch, weights[start : start + len(batch)])
            start += len(batch)
            total.sent += outcome.sent
            total.failed += outcome.failed
            total.calls += outcome.calls
            total.retried += outcome.retried
            total.records += outcome.records
            if on_batch:
                on_batch(outcome, limiter.elapsed())
    return RunSummary(total.sent, total.failed, total.calls, total.retried, limiter.elapsed(), total.records)
