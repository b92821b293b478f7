"""Sales rates and days of cover from a synthetic 60-day history with known sales."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stock_pipeline.domain.alerts import RestockAlert
from stock_pipeline.domain.alerts import message as alert_message
from stock_pipeline.domain.forecast import (
    DIGEST_MAX_BYTES,
    compose_digest,
    days_of_cover,
    digest_entries,
    rate_writes,
    stockout_rows,
)
from stock_pipeline.domain.inventory import TRANSACTIONS_SCHEMA
from stock_pipeline.domain.rates import daily_rates
from stock_pipeline.domain.reports import level_row

AS_OF = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def history() -> pa.Table:
    rows = []

    def add(days_ago: float, warehouse: str, item: str, change: int) -> None:
        when = AS_OF - timedelta(days=days_ago)
        rows.append({"timestamp": when, "warehouse": warehouse, "item_id": item, "item_name": item, "change": change})

    for day in range(60):
        add(day + 0.5, "Berlin 1", "steady", -3)  # 3 a day, every day
        if day % 10 == 0:
            add(day + 0.25, "Berlin 1", "steady", 50)  # deliveries: not sales
        add(day + 0.5, "Berlin 1", "restocked", -2)
    add(59.9, "Berlin 1", "restocked", 40)
    add(15, "Berlin 1", "restocked", 100)  # restocked mid-window
    add(59.9, "Berlin 1", "never-sold", 20)
    add(30, "Berlin 1", "never-sold", 5)
    for day in range(28):
        add(day + 0.5, "Berlin 1", "negative", -1)
    for day in range(7):
        add(day + 0.5, "Hamburg 2", "new", -2)  # seen for a week only
    add(-1, "Hamburg 2", "later", -50)  # after as_of: not yet
    return pa.Table.from_pylist([{**r, "source_line": n} for n, r in enumerate(rows)], schema=TRANSACTIONS_SCHEMA)


@pytest.fixture(scope="module")
def rates():
    table = daily_rates(history(), as_of=AS_OF)
    return {(r["warehouse"], r["item_id"]): r for r in table.to_pylist()}


def test_a_steady_seller_has_its_rate_and_deliveries_do_not_count(rates):
    steady = rates[("Berlin 1", "steady")]
    assert (steady["units_sold"], steady["observed_days"], steady["daily_sales"]) == (84, 28, 3.0)
    assert days_of_cover(30, steady["daily_sales"]) == 10.0


def test_a_level_restocked_mid_window_keeps_its_sales_rate(rates):
    assert rates[("Berlin 1", "restocked")]["daily_sales"] == 2.0


def test_an_item_never_sold_has_no_cover_not_zero(rates):
    never = rates[("Berlin 1", "never-sold")]
    assert never["units_sold"] == 0 and never["daily_sales"] == 0.0
    assert days_of_cover(25, never["daily_sales"]) is None
    assert days_of_cover(25, None) is None  # no history at all


def test_a_level_already_negative_has_no_days_left(rates):
    assert rates[("Berlin 1", "negative")]["daily_sales"] == 1.0
    assert days_of_cover(-5, 1.0) == 0.0
    assert days_of_cover(0, None) == 0.0


def test_a_level_seen_for_a_week_is_averaged_over_the_week_and_the_future_is_ignored(rates):
    assert rates[("Hamburg 2", "new")]["observed_days"] == 7
    assert rates[("Hamburg 2", "new")]["daily_sales"] == 2.0
    assert ("Hamburg 2", "later") not in rates


def test_the_window_is_a_parameter_and_empty_input_gives_no_rates():
    shorter = {
        (r["warehouse"], r["item_id"]): r["units_sold"]
        for r in daily_rates(history(), as_of=AS_OF, window_days=7).to_pylist()
    }
    assert shorter[("Berlin 1", "steady")] == 21
    assert daily_rates(TRANSACTIONS_SCHEMA.empty_table(), as_of=AS_OF).num_rows == 0
    with pytest.raises(ValueError, match="at least one day"):
        daily_rates(history(), as_of=AS_OF, window_days=0)


def test_a_level_known_before_the_window_is_averaged_over_the_whole_window():
    """The job reads only the window's partitions; the level item's firstSeenAt says it is older than them."""
    window = history().filter(pc.greater(history()["timestamp"], pa.scalar(AS_OF - timedelta(days=3))))
    alone = {(r["warehouse"], r["item_id"]): r for r in daily_rates(window, as_of=AS_OF).to_pylist()}
    assert alone[("Berlin 1", "steady")]["observed_days"] == 3  # looks new without the level's age
    known = {("Berlin 1", "steady"): AS_OF - timedelta(days=400)}
    told = {(r["warehouse"], r["item_id"]): r for r in daily_rates(window, as_of=AS_OF, first_seen=known).to_pylist()}
    assert told[("Berlin 1", "steady")]["observed_days"] == 28
    assert told[("Berlin 1", "steady")]["daily_sales"] == pytest.approx(9 / 28)


def level(item, quantity, *, rate=None, warehouse="Berlin 1", window=None, **extra):
    stored = {"warehouse": warehouse, "itemId": item, "itemName": item.title(), "quantity": quantity, **extra}
    if rate is not None:
        stored["dailySales"] = rate
        stored["salesWindowDays"] = window or 28
    return stored


def test_only_changed_rates_are_written_and_a_level_that_stopped_selling_loses_its_rate(rates):
    table = daily_rates(history(), as_of=AS_OF)
    stored = [
        level("steady", 30, rate=3.0),  # unchanged: no write
        level("restocked", 130, rate=1.5),  # changed
        level("never-sold", 25),  # no sales: stays without a rate
        level("negative", -5),  # first rate
        level("gone-quiet", 4, rate=2.0),  # no transaction in the window any more: rate removed
    ]
    writes = {w.item_id: w for w in rate_writes(stored, table, window_days=28)}
    assert set(writes) == {"restocked", "negative", "gone-quiet"}
    assert writes["restocked"].daily_sales == 2.0 and writes["negative"].daily_sales == 1.0
    assert writes["gone-quiet"].daily_sales is None
    assert rate_writes([level("steady", 30, rate=3.0, window=7)], table, window_days=28)  # another window: rewrite


def test_stockouts_are_the_levels_with_a_rate_running_out_within_the_days_fewest_days_first():
    levels = [
        level("a", 30, rate=3.0),  # 10 days
        level("b", 6, rate=2.0),  # 3 days
        level("c", -2, rate=1.0),  # already out: 0
        level("d", 5),  # no rate: never listed
        level("e", 3, rate=1.0, warehouse="Aachen"),  # 3 days, an earlier warehouse name
    ]
    rows = stockout_rows(levels, within_days=7)
    assert [(r["warehouse"], r["item_id"], r["days_of_cover"]) for r in rows] == [
        ("Berlin 1", "c", 0.0),
        ("Aachen", "e", 3.0),
        ("Berlin 1", "b", 3.0),
    ]
    assert [r["item_id"] for r in stockout_rows(levels, within_days=10)][-1] == "a"
    assert [r["item_id"] for r in stockout_rows(levels, within_days=0)] == ["c"]


def entries():
    levels = [
        level("fast", 4, rate=2.0),  # below 10, 2 days
        level("slow", 8, rate=0.5),  # below 10, 16 days: listed as below threshold
        level("unsold", 3),  # below 10, no rate: after those with a cover
        level("running", 40, rate=8.0),  # above the threshold, 5 days: running out
        level("fine", 50, rate=1.0),  # not listed
        level("cap", 2, rate=1.0, warehouse="Hamburg 2"),  # 2 days in another warehouse
    ]
    return digest_entries(levels, {"running": 20}, default_threshold=10)


def test_the_digest_lists_below_threshold_and_running_out_worst_first_grouped_by_warehouse():
    listed = entries()
    assert [e.item_id for e in listed] == ["cap", "fast", "running", "slow", "unsold"]
    digest = compose_digest(
        listed, day="2026-12-06", warehouses=3, console_url="https://c/console", csv_location="s3://b/k"
    )
    assert digest.subject == "Stock digest 2026-12-06: 4 below threshold, 3 running out within 7 days"
    text = digest.message
    assert "Below their restock threshold:               4" in text
    assert "Warehouses concerned:                        2 of 3" in text
    assert "https://c/console" in text and "s3://b/k" in text
    berlin, hamburg = text.index("== Berlin 1 (4)"), text.index("== Hamburg 2 (1)")
    assert hamburg < berlin  # the warehouse of the worst entry first
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines[1] == "- fast Fast: 4 left (restock below 10); 2 a day, 2 days of cover [below threshold, running out]"
    assert lines[2].endswith("8 a day, 5 days of cover [running out]")
    assert (
        lines[4]
        == "- unsold Unsold: 3 left (restock below 10); no sales in the window, cover unknown [below threshold]"
    )
    assert (digest.listed, digest.total) == (5, 5)


def test_nothing_to_report_sends_nothing_or_one_line():
    assert compose_digest([], day="d", warehouses=2, console_url="", csv_location="s3://b/k") is None
    line = compose_digest([], day="d", warehouses=2, console_url="", csv_location="s3://b/k", when_empty="line")
    assert line.message.count("\n") == 1 and "nothing below its threshold" in line.message


def test_a_digest_too_large_for_sns_lists_the_worst_that_fit_and_points_to_the_csv():
    many = digest_entries(
        [level(f"item-{n:06d}", n % 9, rate=1.0 + n % 5, warehouse=f"W{n % 40}") for n in range(20_000)],
        {},
        default_threshold=10,
    )
    digest = compose_digest(many, day="d", warehouses=40, console_url="https://c", csv_location="s3://b/k")
    assert len(digest.message.encode()) <= DIGEST_MAX_BYTES < 262_144
    assert 0 < digest.listed < digest.total == 20_000
    assert f"The {digest.listed} worst of 20000 are listed" in digest.message
    shown = {line.split()[1] for line in digest.message.splitlines() if line.startswith("- ")}
    assert shown == {e.item_id for e in many[: digest.listed]}  # the worst ones, not any


def test_the_restock_alert_says_the_rate_and_the_cover_when_known():
    with_rate = RestockAlert("id", "Berlin 1", "a1", "Shirt", 6, 10, "f.csv", 2.0, 28)
    text = alert_message(with_rate)
    assert (
        "Daily sales:    2 a day (last 28 days)" in text and "Days of cover:  about 3 days at the current rate" in text
    )
    assert "none left" in alert_message(RestockAlert("id", "Berlin 1", "a1", "Shirt", -1, 10, None, 2.0, 28))
    without = alert_message(RestockAlert("id", "Berlin 1", "a1", "Shirt", 6, 10, None))
    assert "not known yet" in without and "Days of cover" not in without


def test_report_rows_carry_the_rate_and_the_cover_of_the_level_as_it_is_now():
    row = level_row(level("a", 9, rate=3.0))
    assert (row["daily_sales"], row["days_of_cover"]) == (3.0, 3.0)
    assert (level_row(level("b", 9))["daily_sales"], level_row(level("b", 9))["days_of_cover"]) == (None, None)
