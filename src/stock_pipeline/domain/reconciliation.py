"""The full reconciliation (pure): every stored level against what all its sources add up to, in SQL that Athena
runs in AWS and DuckDB runs locally, and the rules of a repair.

Sources (the expected side): every inventory transaction in the lake (`inventory_transactions`, written by the
ingest from each file it applied, named after the file: a re-delivery overwrites) and every movement (adjustment,
transfer, stocktake), from the `levels` its permanent ledger item `MOVE#<id>` holds (written in the transaction that
changed the levels). The stored side is the table itself, exported to S3 (`stock_table_export`, DynamoDB JSON): a
level edited behind the pipeline's back, restored from a backup or written by a faulty version differs from its
sources, whichever way it got there. The stock history is not the stored side: it is built from the table's
stream, which a restore does not replay and which keeps a record 24 hours only.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

RUN_ID = re.compile(r"^\d{8}T\d{6}(\d{3})?Z-[0-9a-f]{8}$")
EXPORT_PREFIX = "exports/stock-table"
DIFFERENCES_TABLE = "reconciliation_differences"
EXPORT_TABLE = "stock_table_export"
WORST = 50  # the examples a run's summary (e-mail, console) names, largest differences first
REPAIR_CAUSE = "repair"


class ReconciliationError(ValueError):
    """A request the reconciliation cannot take (a run id that is not one, a repair of nothing)."""


def new_run_id(now: datetime, execution: str | None = None) -> str:
    """The run's id: its start (UTC) and 8 hex digits, of the workflow's execution when there is one (a retried
    task gets the same run, and its export the same client token)."""
    tail = hashlib.sha256(execution.encode()).hexdigest()[:8] if execution else uuid.uuid4().hex[:8]
    at = now.astimezone(UTC)
    return f"{at:%Y%m%dT%H%M%S}{at.microsecond // 1000:03d}Z-{tail}"  # to the millisecond: runs sort by their start


def checked_run(run: str) -> str:
    if not isinstance(run, str) or not RUN_ID.match(run):
        raise ReconciliationError(
            f"run: {str(run)[:60]!r} is not a reconciliation run id (like 20261207T040000Z-1a2b3c4d)"
        )
    return run


def export_prefix(run: str) -> str:
    """Where a run's export goes: DynamoDB adds AWSDynamoDB/<export id>/ (manifests) and .../data/ under it."""
    return f"{EXPORT_PREFIX}/run={checked_run(run)}"


def sql_text(value: str) -> str:
    """A string literal (the only way a value enters this SQL: Athena's injected partitions take no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def differences_location(bucket: str, lake_prefix: str, run: str) -> str:
    return f"s3://{bucket}/{lake_prefix.rstrip('/')}/{DIFFERENCES_TABLE}/run={checked_run(run)}/"


def differences_sql(run: str, warehouses: Iterable[str], location: str) -> str:
    """UNLOAD into the run's partition of the differences (a folder the table projects by its run): each
    (warehouse, item) whose stored quantity is not the sum of its sources, either side missing counted as 0 (a
    level nobody stored whose sources add up to 0 is no difference). `warehouses` are named in the WHERE clause:
    the lake's table projects its warehouse partition from the query's own values (Athena's injected projection),
    so a query must list them."""
    listed = sorted(set(warehouses))
    if not listed:
        listed = [""]  # no warehouse known: the query still runs (and finds what the export holds)
    run_text = sql_text(checked_run(run))
    return f"""UNLOAD (
WITH stored AS (
  SELECT item.warehouse.s AS warehouse, item.itemid.s AS item_id, CAST(item.quantity.n AS BIGINT) AS quantity
  FROM {EXPORT_TABLE}
  WHERE run = {run_text} AND item.entity.s = 'StockLevel'
),
moved AS (
  SELECT moves.m.warehouse.s AS warehouse, moves.m.itemid.s AS item_id, CAST(moves.m.delta.n AS BIGINT) AS change
  FROM {EXPORT_TABLE} CROSS JOIN UNNEST(item.levels.l) AS t(moves)
  WHERE run = {run_text} AND item.entity.s = 'Movement'
),
sources AS (
  SELECT warehouse, item_id, count(*) AS transactions, CAST(sum(stock_level_change) AS BIGINT) AS change,
    0 AS movements
  FROM inventory_transactions
  WHERE warehouse IN ({", ".join(sql_text(w) for w in listed)})
  GROUP BY warehouse, item_id
  UNION ALL
  SELECT warehouse, item_id, 0 AS transactions, CAST(sum(change) AS BIGINT) AS change, count(*) AS movements
  FROM moved
  GROUP BY warehouse, item_id
),
expected AS (
  SELECT warehouse, item_id, CAST(sum(change) AS BIGINT) AS quantity, CAST(sum(transactions) AS BIGINT) AS transactions,
    CAST(sum(movements) AS BIGINT) AS movements
  FROM sources
  GROUP BY warehouse, item_id
)
SELECT
  coalesce(e.warehouse, s.warehouse) AS warehouse,
  coalesce(e.item_id, s.item_id) AS item_id,
  coalesce(e.quantity, 0) AS expected,
  s.quantity AS stored,
  coalesce(s.quantity, 0) - coalesce(e.quantity, 0) AS difference,
  coalesce(e.transactions, 0) AS transactions,
  coalesce(e.movements, 0) AS movements
FROM expected e
FULL OUTER JOIN stored s ON e.warehouse = s.warehouse AND e.item_id = s.item_id
WHERE coalesce(s.quantity, 0) <> coalesce(e.quantity, 0)
) TO {sql_text(location)} WITH (format = 'PARQUET', compression = 'SNAPPY')"""  # noqa: S608 (literals by sql_text)


def summary_sql(run: str) -> str:
    """A run's counts and its worst differences (largest first), in one answer of at most WORST + 1 rows: the first
    row holds the totals (warehouse NULL)."""
    run_text = sql_text(checked_run(run))
    return f"""WITH d AS (SELECT * FROM {DIFFERENCES_TABLE} WHERE run = {run_text}),
worst AS (
  SELECT warehouse, item_id, expected, stored, difference
  FROM d ORDER BY abs(difference) DESC, warehouse, item_id LIMIT {WORST}
)
SELECT CAST(NULL AS VARCHAR) AS warehouse, CAST(NULL AS VARCHAR) AS item_id, count(*) AS expected,
  CAST(sum(abs(difference)) AS BIGINT) AS stored, CAST(count_if(stored IS NULL) AS BIGINT) AS difference
FROM d
UNION ALL
SELECT warehouse, item_id, expected, stored, difference FROM worst"""  # noqa: S608 (literals by sql_text)


def warehouses_sql(run: str) -> str:
    """The warehouses the table knows (its registry and its levels), from the run's export."""
    run_text = sql_text(checked_run(run))
    return f"""SELECT DISTINCT coalesce(item.warehouse.s, '') AS warehouse
FROM {EXPORT_TABLE}
WHERE run = {run_text} AND (item.entity.s = 'StockLevel' OR item.pk.s = 'WAREHOUSES')"""  # noqa: S608 (literals by sql_text)


@dataclass(frozen=True, slots=True)
class Difference:
    warehouse: str
    item_id: str
    expected: int
    stored: int | None  # None: no level stored
    difference: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: str
    differences: int
    total_units: int  # the sum of |stored - expected|
    missing_levels: int  # sources with no stored level
    worst: list[Difference]


def summary_from_rows(run: str, rows: list[Mapping[str, Any]]) -> RunSummary:
    """The summary query's answer (strings, as Athena returns them) as a run summary."""
    if not rows:
        return RunSummary(run, 0, 0, 0, [])
    totals, worst = rows[0], rows[1:]
    return RunSummary(
        run=run,
        differences=int(totals.get("expected") or 0),
        total_units=int(totals.get("stored") or 0),
        missing_levels=int(totals.get("difference") or 0),
        worst=[
            Difference(
                warehouse=str(r["warehouse"]),
                item_id=str(r["item_id"]),
                expected=int(r["expected"]),
                stored=None if r.get("stored") in (None, "") else int(r["stored"]),
                difference=int(r["difference"]),
            )
            for r in worst
        ],
    )


def summary_text(summary: RunSummary, *, stack: str = "") -> tuple[str, str]:
    """The run's e-mail: subject (under SNS's 100 characters) and text."""
    if not summary.differences:
        subject = f"Reconciliation {summary.run}: every level matches its sources"
        return subject[:99], f"Run {summary.run}: 0 differences between the stored levels and their sources."
    subject = f"Reconciliation {summary.run}: {summary.differences} level(s) differ from their sources"
    lines = [
        f"Run {summary.run}: {summary.differences} level(s) differ from what their sources add up to "
        f"({summary.total_units} units in all; {summary.missing_levels} with sources but no stored level).",
        "",
        "Largest first (warehouse / item: stored, expected):",
        *(
            f"  {d.warehouse} / {d.item_id}: {'none' if d.stored is None else d.stored}, expected {d.expected}"
            for d in summary.worst
        ),
        "",
        f"Every difference: the lake's table {DIFFERENCES_TABLE}, partition run={summary.run}.",
        f"To set them to their expected values: python -m stockctl repair --run {summary.run}"
        + (f" --stack {stack}" if stack else "")
        + ' --reason "..." (a level that moved since the run is refused).',
    ]
    return subject[:99], "\n".join(lines)


def repair_cause(run: str, reason: str) -> str:
    """What the level's history says caused a repair (the stream's history keeps `lastSourceKey`)."""
    reason = " ".join(str(reason).split())[:200]
    if not reason:
        raise ReconciliationError("a repair needs a reason (--reason, or the console's field): the history keeps it")
    return f"{REPAIR_CAUSE}:{checked_run(run)}: {reason}"
