"""A counted file becomes stocktakes: its rows checked, its bad rows reported, each group of counts applied once
(the groups' ids come from the file, so a redelivered file finds them applied and changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from stock_pipeline.domain.counted_files import parse_counted_file
from stock_pipeline.domain.movements import Stocktake
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.ingestion import Reader, Writer, arrival_time, write_rejections


class Outcome(Protocol):
    status: str  # APPLIED | ALREADY_APPLIED


class Counts(Protocol):
    def stocktake(self, take: Stocktake, *, at: str) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class CountedReport:
    key: str
    rows: int
    counts: int
    rejected: int
    applied: int  # groups applied now
    already_applied: int  # groups an earlier delivery applied

    @property
    def summary(self) -> str:
        again = f", {self.already_applied} group(s) applied before" if self.already_applied else ""
        return f"{self.counts} counts applied from {self.rows} rows, {self.rejected} rejected{again}"


def ingest_counted_file(
    ref: ObjectRef, *, store: Reader, writer: Writer, counts: Counts, rejected_prefix: str, now: datetime
) -> CountedReport:
    """Rows without a moment were counted when S3 received the file, not when this (maybe retried) run reads it."""
    parsed = parse_counted_file(
        store.read(ref), ref.key, ref.etag, user=ref.uploaded_by or "unknown", uploaded=arrival_time(ref, now), now=now
    )
    write_rejections(ref, parsed.rejections, writer, rejected_prefix)
    at = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    statuses = [counts.stocktake(take, at=at).status for take in parsed.stocktakes]
    return CountedReport(
        key=ref.key,
        rows=parsed.rows,
        counts=parsed.counts,
        rejected=len(parsed.rejections),
        applied=statuses.count("APPLIED"),
        already_applied=statuses.count("ALREADY_APPLIED"),
    )
