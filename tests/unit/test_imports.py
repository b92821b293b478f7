"""`stockctl import`'s plan: every name and header checked before anything is uploaded, opening balances first,
then the history in time order, and a second run leaves out what the first one uploaded."""

import json
from pathlib import Path

import pytest

from stock_pipeline.domain.imports import PIPELINE_DOLLARS_PER_MILLION_ROWS, cost, may_go, plan, summarize, summary_text

INVENTORY = (
    "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n2026-10-02T08:00:00Z\tBerlin 1\ta1\tShirt\t-2\n"
)


def folder():
    return [
        ("history/202610020800_inventory.csv", INVENTORY.encode()),
        ("history/20261001080000_inventory.csv", INVENTORY.replace("10-02", "10-01").encode()),
        (
            "restock_thresholds_20261001.json",
            json.dumps({"ThresholdList": [{"ItemId": "a1", "RestockIfBelow": 5}]}).encode(),
        ),
        ("opening/balances.csv", b"warehouse,item_id,counted\nBerlin 1,a1,40\n"),
    ]


def test_the_plan_puts_opening_balances_first_then_the_history_in_time_order():
    result = plan(folder())
    assert result.problems == []
    assert [(f.kind, f.key) for f in result.files] == [
        ("counted", "stocktakes/import/balances.csv"),
        ("thresholds", "restock_thresholds/2026/10/01/restock_thresholds.json"),
        ("inventory", "inventory_files/2026/10/01/20261001080000_inventory.csv"),
        ("inventory", "inventory_files/2026/10/02/202610020800_inventory.csv"),
    ]


def test_every_file_that_cannot_go_is_named_with_its_reason_before_anything_is_uploaded():
    result = plan(
        [
            *folder(),
            ("notes.docx", b"PK..."),
            ("202610030800_inventory.csv", b"Date;Store;Item;Qty\n2026-10-03;B;a;1\n"),  # another tool's export
            ("restock_thresholds_20261002.json", b"{not json"),
            ("history/copy/202610020800_inventory.csv", INVENTORY.encode()),  # the same key twice
            ("stock.csv", b"col1,col2\n1,2\n"),
        ]
    )
    problems = dict(result.problems)
    assert "not a file the pipeline takes" in problems["notes.docx"]
    assert "first line must be the tab-separated header" in problems["202610030800_inventory.csv"]
    assert "must be JSON" in problems["restock_thresholds_20261002.json"]
    assert "same key as history/202610020800_inventory.csv" in problems["history/copy/202610020800_inventory.csv"]
    assert "not an inventory, thresholds or counted file" in problems["stock.csv"]
    assert len(result.files) == 4


def test_a_second_run_leaves_out_what_the_first_uploaded_and_takes_a_changed_file_again():
    first = plan(folder())
    manifest = {f.key: f.digest for f in first.files[:2]}
    changed = [(n, d + b"\n" if n.endswith("balances.csv") else d) for n, d in folder()]
    second = plan(changed, manifest)
    assert [f.key for f in second.already] == ["restock_thresholds/2026/10/01/restock_thresholds.json"]
    assert [f.kind for f in second.files] == ["counted", "inventory", "inventory"]


def test_a_file_larger_than_the_pipeline_takes_is_named_before_the_upload():
    big = b'{"ThresholdList": []' + b" " * 21_000_000 + b"}"  # 21 MB: a thresholds file may have 20
    result = plan([("restock_thresholds_20261001.json", big)])
    assert result.files == [] and "21.0 MB, over the 20 MB such a file may have: split it" in result.problems[0][1]


def inventory(name, *warehouses):
    rows = "".join(f"2026-10-02T08:00:00Z\t{w}\ta{n}\tShirt\t-2\n" for n, w in enumerate(warehouses))
    return (name, (INVENTORY.splitlines(keepends=True)[0] + rows).encode())


def test_an_inventory_file_is_planned_with_its_rows_and_the_warehouses_it_changes():
    [planned] = plan([inventory("202610020800_inventory.csv", "Berlin 1", "Berlin 2", "Berlin 1")]).files
    assert (planned.rows, planned.warehouses) == (3, frozenset({"Berlin 1", "Berlin 2"}))


def test_files_of_other_warehouses_go_side_by_side_and_a_file_that_may_touch_any_goes_alone():
    files = plan(
        [
            inventory("202610020800_inventory.csv", "Berlin 1"),
            inventory("202610020900_inventory.csv", "Berlin 2"),
            inventory("202610021000_inventory.csv", "Berlin 1", "Hamburg"),
            folder()[2],  # a thresholds file: re-evaluated in every warehouse
        ]
    ).files
    thresholds, berlin1, berlin2, both = files
    assert thresholds.kind == "thresholds" and not thresholds.warehouses
    assert may_go(berlin2, [berlin1])  # two partitions, each at the ingest's pace
    assert not may_go(both, [berlin1, berlin2])  # Berlin 1's partition would get two files at once
    assert not may_go(thresholds, [berlin2]) and not may_go(berlin1, [thresholds])
    assert may_go(thresholds, [])


def test_the_cost_of_an_import_is_its_own_requests_counted_and_the_pipelines_estimated_from_its_rows():
    dollars = cost({"s3.PutObject": 1000, "sns.Publish": 1, "dynamodb.Query": 10}, rows=2_000_000)
    assert dollars["the import's requests"] == pytest.approx(0.005 + 0.5e-6 + 10 * 0.125e-6)
    assert dollars["the pipeline (estimated)"] == pytest.approx(2 * PIPELINE_DOLLARS_PER_MILLION_ROWS)


def test_the_pipelines_cost_per_row_is_the_one_the_import_benchmark_measured():
    measured = json.loads((Path(__file__).parents[2] / "docs" / "benchmarks.json").read_text())["import"]
    assert pytest.approx(measured["dollars_per_million_rows"], rel=0.25) == PIPELINE_DOLLARS_PER_MILLION_ROWS


def test_a_summary_of_hundreds_of_failed_files_names_the_first_and_counts_the_rest():
    failed = [
        (f"inventory_files/2025/01/{n:03d}_inventory.csv", {"status": "FAILED", "summary": "x" * 5000})
        for n in range(400)
    ]
    summary = summarize(failed, [], rows=0)
    subject, message = summary_text(summary)
    assert message.count("FAILED inventory_files/") == 50 and "... and 350 more FAILED" in message
    assert len(message.encode()) < 64_000 and len(subject) < 100  # SNS: 256 KB a message, 100 characters a subject
