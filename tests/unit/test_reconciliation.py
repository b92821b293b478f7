"""The full reconciliation's pure parts: run ids, the SQL's literals, the summary of Athena's answer, the repair's
cause, and the local Athena's rules that AWS's Athena enforces (injected partitions, catalog types)."""

from datetime import UTC, datetime

import pytest
import sqlglot

from local_aws.athena import QueryFailed, _duckdb_type, _static_values
from stock_pipeline.domain.reconciliation import (
    ReconciliationError,
    checked_run,
    differences_sql,
    new_run_id,
    repair_cause,
    sql_text,
    summary_from_rows,
    summary_text,
)


def test_a_run_id_is_its_start_and_the_executions_digest_so_a_retried_task_is_the_same_run():
    start = datetime(2026, 12, 6, 5, 0, 3, tzinfo=UTC)
    assert new_run_id(start, "sched-1") == new_run_id(start, "sched-1")
    assert new_run_id(start, "sched-1") != new_run_id(start, "sched-2")
    assert checked_run(new_run_id(start, "sched-1")).startswith("20261206T050003000Z-")
    assert new_run_id(start, "b") < new_run_id(start.replace(microsecond=1000), "a")  # the later run sorts last
    for bad in ("../x", "20261206", "20261206T050003Z-1234567'", None):
        with pytest.raises(ReconciliationError):
            checked_run(bad)


def test_every_value_enters_the_sql_as_a_quoted_literal():
    assert sql_text("O'Brien's store") == "'O''Brien''s store'"
    sql = differences_sql("20261206T050003Z-1a2b3c4d", ["Store 1", "O'Brien"], "s3://b/curated/x/run=r/")
    parsed = sqlglot.parse_one(sql.split("UNLOAD (", 1)[1].rsplit(") TO ", 1)[0], read="athena")
    warehouses = [
        lit.this
        for node in parsed.find_all(sqlglot.exp.In)
        for lit in node.expressions
        if node.this.name == "warehouse"
    ]
    assert warehouses == ["O'Brien", "Store 1"]


def test_the_summary_reads_athenas_text_answer_totals_first_then_the_worst():
    rows = [
        {"warehouse": None, "item_id": None, "expected": "2", "stored": "50", "difference": "1"},
        {"warehouse": "W", "item_id": "a", "expected": "10", "stored": "55", "difference": "45"},
        {"warehouse": "W", "item_id": "b", "expected": "5", "stored": None, "difference": "-5"},
    ]
    summary = summary_from_rows("20261206T050003Z-1a2b3c4d", rows)
    assert (summary.differences, summary.total_units, summary.missing_levels) == (2, 50, 1)
    assert summary.worst[1].stored is None
    subject, message = summary_text(summary, stack="shop")
    assert subject == "Reconciliation 20261206T050003Z-1a2b3c4d: 2 level(s) differ from their sources"
    assert "W / a: 55, expected 10" in message and "W / b: none, expected 5" in message
    assert "stockctl repair --run 20261206T050003Z-1a2b3c4d --stack shop" in message
    assert "every level matches" in summary_text(summary_from_rows("20261206T050003Z-1a2b3c4d", []))[0]


def test_a_repair_says_which_run_and_why():
    assert repair_cause("20261206T050003Z-1a2b3c4d", "  restored\\nfrom backup ") == (
        "repair:20261206T050003Z-1a2b3c4d: restored\\nfrom backup"
    )
    with pytest.raises(ReconciliationError, match="needs a reason"):
        repair_cause("20261206T050003Z-1a2b3c4d", "  ")


INJECTED = {
    "Parameters": {"projection.enabled": "true", "projection.warehouse.type": "injected"},
    "PartitionKeys": [{"Name": "warehouse", "Type": "string"}, {"Name": "dt", "Type": "string"}],
}


def test_the_local_athena_refuses_a_query_without_static_values_for_an_injected_partition():
    statement = sqlglot.parse_one("SELECT item_id FROM t WHERE dt > '2026-01-01'", read="athena")
    with pytest.raises(
        QueryFailed, match="CONSTRAINT_VIOLATION: For the injected projected partition column warehouse"
    ):
        _static_values(statement, INJECTED)
    listed = sqlglot.parse_one("SELECT * FROM t WHERE warehouse IN ('A', 'B') AND dt = '1'", read="athena")
    assert _static_values(listed, INJECTED) == {"warehouse": ["A", "B"]}


def test_the_catalogs_hive_types_read_as_duckdbs():
    assert _duckdb_type("struct<pk:struct<s:string>,levels:struct<l:array<struct<m:struct<n:string>>>>>") == (
        'STRUCT("pk" STRUCT("s" VARCHAR), "levels" STRUCT("l" STRUCT("m" STRUCT("n" VARCHAR))[]))'
    )
    assert _duckdb_type("bigint") == "BIGINT" and _duckdb_type("decimal(10,2)") == "DECIMAL(10,2)"
