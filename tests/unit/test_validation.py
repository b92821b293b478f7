"""Nightly validation, pure parts: order, window, per-transaction checks, tallies, reconciliation, the budget loop.

The budget loop runs against in-memory stand-ins for S3 and the table (the real ones are exercised against
moto in tests/integration/test_validation.py) with a fake clock, so a budget is exact and nothing sleeps.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from stock_pipeline.adapters.validation_table import Claim
from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.inventory import parse_inventory_file
from stock_pipeline.domain.validation import (
    FUTURE,
    LEDGER_INCOMPLETE,
    LEDGER_UNEXPECTED,
    NOT_APPLIED,
    UNPARSEABLE,
    UNREADABLE,
    ArrivedFile,
    Cursor,
    Tally,
    chain,
    check_transaction,
    expected_levels,
    file_facts,
    file_problems,
    late_deltas,
    reconcile,
    report_document,
    run_files,
    run_window,
    summary,
    transactions_of,
)
from stock_pipeline.validation import Run, check_batch, start_run, tallies

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
ARRIVED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def inventory(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\n" for row in rows)).encode()


def arrived(key: str, event_time: str, registered_at: str = "2026-11-24T12:00:00.000000Z", etag: str = "e"):
    return ArrivedFile(key, etag, None, event_time, registered_at)


# ------------------------------------------------------------------------------------------- which files, in order


def test_files_are_ordered_by_arrival_then_key_and_a_file_counts_once():
    # Given three registrations, one of them twice (a re-delivered registration), out of arrival order
    b = arrived("inventory_files/b.csv", "2026-11-24T10:00:00.000000Z")
    a = arrived("inventory_files/a.csv", "2026-11-24T10:00:00.000000Z")
    c = arrived("inventory_files/c.csv", "2026-11-24T09:00:00.000000Z")
    # When the run orders them
    ordered = run_files([b, a, c, b])
    # Then the earliest arrival comes first and equal times fall back to the key
    assert [f.key for f in ordered] == ["inventory_files/c.csv", "inventory_files/a.csv", "inventory_files/b.csv"]


def test_the_first_run_takes_everything_and_later_runs_look_back_one_day():
    cutoff = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert run_window(None, cutoff) == ("0", "2026-11-25T03:00:00.000000Z")
    assert run_window("2026-11-24T03:00:00.000000Z", cutoff) == (
        "2026-11-23T03:00:00.000000Z",
        "2026-11-25T03:00:00.000000Z",
    )


# ------------------------------------------------------------------------------------------- checks


def parsed_file():
    return parse_inventory_file(
        inventory(
            "2026-11-24T09:00:00Z\tBerlin 1\ta1\tShirt\t-3",
            "not a row",
            "2026-11-24T13:00:00Z\tBerlin 1\ta2\tCap\t5",  # an hour after the file arrived
            "2026-11-24T09:30:00Z\tBerlin 1\ta1\tShirt\t+1",
        )
    )


def test_every_data_line_is_a_transaction_in_file_order_rejected_ones_included():
    transactions = transactions_of(parsed_file())
    assert [t.line for t in transactions] == [2, 3, 4, 5]
    assert transactions[1].rejected and transactions[0].rejected is None
    assert (transactions[0].warehouse, transactions[0].item_id, transactions[0].change) == ("Berlin 1", "a1", -3)


def test_a_transaction_must_parse_be_dated_before_its_file_and_be_applied():
    parsed = parsed_file()
    facts = file_facts(parsed, {0}, arrived_at=ARRIVED, expired=False)
    problems = {t.line: check_transaction("k", t, facts) for t in transactions_of(parsed)}
    assert problems[2] == []
    assert [p.kind for p in problems[3]] == [UNPARSEABLE]
    assert [p.kind for p in problems[4]] == [FUTURE]
    # When the ledger lacks the chunk, every transaction of it is reported as not applied
    missing = file_facts(parsed, set(), arrived_at=ARRIVED, expired=False)
    assert [p.kind for p in check_transaction("k", transactions_of(parsed)[0], missing)] == [NOT_APPLIED]


def test_the_ledger_must_hold_exactly_the_files_chunks():
    parsed = parsed_file()
    assert file_problems("k", file_facts(parsed, {0}, arrived_at=ARRIVED, expired=False)) == []
    kinds = [p.kind for p in file_problems("k", file_facts(parsed, {1}, arrived_at=ARRIVED, expired=False))]
    assert kinds == [LEDGER_INCOMPLETE, LEDGER_UNEXPECTED]
    expired = file_facts(parsed, set(), arrived_at=ARRIVED, expired=True)
    assert [p.kind for p in file_problems("k", expired)] == ["ledger_expired"]
    assert check_transaction("k", transactions_of(parsed)[0], expired) == []


# ------------------------------------------------------------------------------------------- tallies


def test_a_tally_survives_its_json_round_trip():
    tally = Tally(start=Cursor(1, 7), end=Cursor(2, 0), check_seconds=0.5, stretches=1)
    parsed = parsed_file()
    facts = file_facts(parsed, set(), arrived_at=ARRIVED, expired=False)
    for t in transactions_of(parsed):
        tally.add_transaction(1, t, check_transaction("k", t, facts))
    again = Tally.from_json(tally.to_json())
    assert again == tally
    assert again.deltas == {("Berlin 1", "a1"): -2, ("Berlin 1", "a2"): 5}


def test_the_chain_follows_the_cursors_and_ignores_a_stretch_a_retry_replaced():
    # Given stretches 0..(0,5) and (0,5)..(1,0), and an orphan from an attempt that stopped at (0,3)
    first = Tally(start=Cursor(0, 0), end=Cursor(0, 5), transactions=4, stretches=1)
    second = Tally(start=Cursor(0, 5), end=Cursor(1, 0), transactions=3, stretches=1)
    orphan = Tally(start=Cursor(0, 3), end=Cursor(1, 0), transactions=2, stretches=1)
    total = chain({t.start: t for t in (first, second, orphan)}, files=1)
    assert (total.transactions, total.stretches, total.end) == (7, 2, Cursor(1, 0))
    with pytest.raises(ValueError, match="no tally starting at file 0, line 5"):
        chain({first.start: first}, files=1)


# ------------------------------------------------------------------------------------------- reconciliation


def test_reconciliation_compares_baseline_plus_deltas_with_the_stored_level_minus_later_files():
    deltas = {("B", "a"): -3, ("B", "b"): 5, ("B", "c"): 0, ("B", "d"): 2}
    expected = expected_levels(deltas, {("B", "a"): 10})
    assert expected == {("B", "a"): 7, ("B", "b"): 5, ("B", "c"): 0, ("B", "d"): 2}
    stored = {("B", "a"): 9, ("B", "b"): 6, ("B", "c"): None, ("B", "d"): 2}
    late = {("B", "a"): 2}  # a file after the cutoff already added 2 to a
    differences = reconcile(expected, stored, late, {("B", "b"): ["f1", "f2"]})
    assert [d.to_dict() for d in differences] == [
        {"warehouse": "B", "itemId": "b", "expected": 5, "stored": 6, "files": ["f1", "f2"]}
    ]


def test_late_deltas_count_only_applied_chunks_of_the_items_reconciled():
    parsed = parsed_file()
    assert late_deltas(parsed, {0}, [("Berlin 1", "a1")]) == {("Berlin 1", "a1"): -2}
    assert late_deltas(parsed, set(), [("Berlin 1", "a1")]) == {}


def test_the_e_mail_says_what_was_found_and_where_the_report_is():
    tally = Tally(start=Cursor())
    bad_row = transactions_of(parsed_file())[1]
    facts = file_facts(parsed_file(), {0}, arrived_at=ARRIVED, expired=False)
    tally.add_transaction(0, bad_row, check_transaction("k", bad_row, facts))
    files = [arrived("inventory_files/k.csv", "2026-11-24T10:00:00.000000Z")]
    difference = reconcile({("Berlin 1", "a1"): 4}, {("Berlin 1", "a1"): 9}, {}, {("Berlin 1", "a1"): ["k"]})
    report = report_document(
        run_id="run-1",
        trigger="schedule",
        status="SUCCEEDED",
        started_at="2026-11-25T03:00:00.000000Z",
        finished_at="2026-11-25T03:42:10.000000Z",
        cutoff="2026-11-25T03:00:00.000000Z",
        files=files,
        tally=tally,
        differences=difference,
        items_reconciled=1,
    )
    subject, message = summary(report, "s3://bucket/reports/validation/2026/11/25/run-1.json")
    assert subject == "Stock validation 2026-11-25: 2 problems found"
    assert "duration: 42 min 10 s" in message
    assert "Berlin 1 / a1: expected 4, stored 9 (files: k)" in message
    assert "k line 3: expected 5 tab-separated columns, found 1" in message
    assert message.endswith("Full report: s3://bucket/reports/validation/2026/11/25/run-1.json")
    assert report["problems"]["level_difference"]["count"] == 1


# ------------------------------------------------------------------------------------------- the budget loop


class MemoryStore:
    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def read(self, ref):
        if ref.key not in self.objects:
            raise ObjectGoneError(ref.key)
        return self.objects[ref.key]

    def write(self, bucket, key, body, content_type):
        self.objects[key] = body

    def list_keys(self, bucket, prefix):
        return sorted(k for k in self.objects if k.startswith(prefix))


class MemoryTable:
    """The table's validation entities as dictionaries, with the lock's conditions."""

    def __init__(self, arrivals, chunks):
        self._arrivals, self._chunks, self.lock, self.lease = arrivals, chunks, None, ""

    def claim(self, run_id, *, now, lease_until, cutoff, trigger):
        if self.lock not in (None, run_id) and self.lease >= now:
            return Claim(False, None, self.lock, "earlier")
        self.lock, self.lease = run_id, lease_until
        return Claim(True, None)

    def renew(self, run_id, *, lease_until):
        if self.lock != run_id:
            return False
        self.lease = lease_until
        return True

    def arrivals(self, start, end=None):
        return [
            (f, None) for f in self._arrivals if start <= f.registered_at and (end is None or f.registered_at < end)
        ]

    def ledger_chunks(self, key, etag):
        return set(self._chunks.get(key, ()))

    def movements(self, start, end=None):
        return {}  # no console movements in these runs (tests/integration/test_movements.py has them)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture
def run_with_two_files():
    store = MemoryStore()
    files = [
        arrived("inventory_files/2.csv", "2026-11-24T10:00:00.000000Z"),
        arrived("inventory_files/1.csv", "2026-11-24T11:00:00.000000Z"),
    ]
    store.objects["inventory_files/2.csv"] = inventory(
        *(f"2026-11-24T09:00:00Z\tBerlin 1\ta{n}\tItem\t{n}" for n in range(1, 6))
    )
    store.objects["inventory_files/1.csv"] = inventory("2026-11-24T09:00:00Z\tBerlin 1\ta1\tItem\t-1", "oops")
    table = MemoryTable(files, {"inventory_files/2.csv": [0], "inventory_files/1.csv": [0]})
    run = Run("run-1", "bucket")
    started = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    result = start_run(
        run, trigger="test", started_at=started, now=started, lease=timedelta(hours=1), table=table, store=store
    )
    assert result["status"] == "STARTED" and result["files"] == 2
    return run, store, table


def test_each_invocation_checks_until_the_budget_is_spent_and_the_chain_covers_every_line_once(run_with_two_files):
    run, store, table = run_with_two_files
    clock = FakeClock()
    cursor, stops = Cursor(), []
    # When every invocation may spend 25 s on checks of 10 s each (two fit, a third would not)
    while True:
        result = check_batch(
            run, cursor, budget_s=25, cost_s=10, lease=timedelta(hours=1), table=table, store=store,
            clock=clock, pause=clock.sleep, now=lambda: NOW,
        )  # fmt: skip
        stops.append(result["checked"])
        cursor = Cursor.from_dict(result["cursor"])
        if result["done"]:
            break
    # Then the seven lines are checked two at a time, in arrival order (2.csv arrived first), each once
    assert stops == [2, 2, 2, 1]
    total = chain(tallies(run, store), files=2)
    assert total.transactions == 7 and total.stretches == 4
    assert total.per_file == {0: 5, 1: 2}
    assert total.problems == {UNPARSEABLE: 1}
    assert total.deltas[("Berlin 1", "a1")] == 0  # +1 from the first file, -1 from the second
    assert total.check_seconds == 70


def test_an_invocation_always_checks_one_transaction_even_with_no_budget(run_with_two_files):
    run, store, table = run_with_two_files
    clock = FakeClock()
    result = check_batch(
        run, Cursor(0, 3), budget_s=0, cost_s=10, lease=timedelta(hours=1), table=table, store=store,
        clock=clock, pause=clock.sleep, now=lambda: NOW,
    )  # fmt: skip
    assert result == {"runId": "run-1", "cursor": {"file": 0, "line": 4}, "done": False, "checked": 1}


def test_file_problems_are_counted_once_when_a_stop_falls_on_the_first_line_of_a_file(run_with_two_files):
    run, store, table = run_with_two_files
    table._chunks["inventory_files/1.csv"] = []  # the second file never applied
    clock = FakeClock()
    cursor = Cursor()
    while True:
        result = check_batch(
            run, cursor, budget_s=15, cost_s=10, lease=timedelta(hours=1), table=table, store=store,
            clock=clock, pause=clock.sleep, now=lambda: NOW,
        )  # fmt: skip
        cursor = Cursor.from_dict(result["cursor"])
        if result["done"]:
            break
    total = chain(tallies(run, store), files=2)
    assert total.problems[LEDGER_INCOMPLETE] == 1
    assert total.problems[NOT_APPLIED] == 1


def test_a_file_that_cannot_be_read_is_a_problem_not_a_crash(run_with_two_files):
    run, store, table = run_with_two_files
    del store.objects["inventory_files/1.csv"]
    clock = FakeClock()
    result = check_batch(
        run, Cursor(1, 0), budget_s=100, cost_s=1, lease=timedelta(hours=1), table=table, store=store,
        clock=clock, pause=clock.sleep, now=lambda: NOW,
    )  # fmt: skip
    assert result["done"] and result["checked"] == 0
    tally = json.loads(store.objects[run.tally_key(Cursor(1, 0))])
    assert tally["problems"] == {UNREADABLE: 1}


def test_a_second_run_finds_the_lock_held_and_checks_nothing(run_with_two_files):
    run, store, table = run_with_two_files
    started = datetime(2026, 11, 25, 3, 5, tzinfo=UTC)
    second = start_run(
        Run("run-2", "bucket"), trigger="manual", started_at=started, now=started, lease=timedelta(hours=1),
        table=table, store=store,
    )  # fmt: skip
    assert second["status"] == "SKIPPED" and "run-1" in second["reason"]
    assert "workflow/validation/run-2/files.json" not in store.objects
    # And once the first run's lease has run out (it died without freeing the lock), a start takes over
    later = started + timedelta(hours=2)
    third = start_run(
        Run("run-3", "bucket"), trigger="manual", started_at=later, now=later, lease=timedelta(hours=1),
        table=table, store=store,
    )  # fmt: skip
    assert third["status"] == "STARTED"
    with pytest.raises(RuntimeError, match="lost its lock"):
        check_batch(
            run, Cursor(), budget_s=1, cost_s=0, lease=timedelta(hours=1), table=table, store=store, now=lambda: later
        )


def test_a_failed_runs_report_counts_the_chain_as_far_as_it_goes():
    first = Tally(start=Cursor(0, 0), end=Cursor(0, 5), transactions=4, stretches=1)
    # the invocation that should have started at (0, 5) failed: the report counts what was checked
    partial = chain({first.start: first}, files=2, complete=False)
    assert (partial.transactions, partial.end) == (4, Cursor(0, 5))


def test_any_start_input_is_a_run_the_schedule_says_schedule():
    from stock_pipeline.handlers.validate import trigger_of

    assert trigger_of({"trigger": "schedule", "scheduledTime": "2026-11-25T03:00:00Z"}) == "schedule"
    assert [trigger_of(x) for x in ({}, [], 3, None, {"trigger": 7})] == ["manual"] * 5
