"""The report's figures' data, from lake rows (pure pandas)."""

import pandas as pd

from stockctl.lake_report import (
    LakeData,
    below_threshold,
    busiest_items,
    lowest_cover,
    render_html,
    sales_per_day,
    stock_over_time,
)

T = pd.Timestamp("2026-11-26T08:00:00Z")


def change(n, item, warehouse, value, entity="warehouse_level"):
    return {
        "entity": entity,
        "item_id": item,
        "warehouse": warehouse if entity == "warehouse_level" else None,
        "new_value": value,
        "event_time": T + pd.Timedelta(minutes=n),
        "sequence": str(n).zfill(40),
    }


HISTORY = pd.DataFrame(
    [
        change(1, "a", "Berlin 1", 30),
        change(2, "a", "Berlin 1", 8),
        change(3, "b", "Berlin 1", 9),
        change(4, "a", "Hamburg 2", 12),
        change(5, "a", None, 15, entity="threshold"),
        change(6, "c", "Berlin 1", 50),
    ]
)


def test_stock_over_time_is_a_series_per_item_and_warehouse_carried_forward():
    series = stock_over_time(HISTORY, ["a"])
    assert list(series.columns) == ["a @ Berlin 1", "a @ Hamburg 2"]
    assert series["a @ Berlin 1"].tolist() == [30, 8, 8]
    assert series["a @ Hamburg 2"].isna().tolist() == [True, True, False]
    assert busiest_items(HISTORY, 1) == ["a"]


def test_levels_below_threshold_use_the_newest_threshold_or_the_default():
    below = below_threshold(HISTORY, default_threshold=10)
    assert below.to_dict("records") == [
        {"warehouse": "Berlin 1", "item_id": "a", "level": 8, "threshold": 15},
        {"warehouse": "Berlin 1", "item_id": "b", "level": 9, "threshold": 10},
        {"warehouse": "Hamburg 2", "item_id": "a", "level": 12, "threshold": 15},
    ]


def test_sales_are_the_negative_changes_per_day_and_warehouse():
    moves = pd.DataFrame(
        {
            "dt": ["2026-11-25", "2026-11-25", "2026-11-26", "2026-11-26"],
            "warehouse": ["Berlin 1", "Berlin 1", "Berlin 1", "Hamburg 2"],
            "stock_level_change": [-3, 40, -5, -2],
        }
    )
    sold = sales_per_day(moves)
    assert sold.to_dict() == {
        "Berlin 1": {"2026-11-25": 3, "2026-11-26": 5},
        "Hamburg 2": {"2026-11-25": 0, "2026-11-26": 2},
    }


def test_an_empty_lake_still_makes_a_page_that_says_so():
    empty = LakeData(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(columns=["day", "rows"]))
    page = render_html(empty, [], 10, source="nowhere")
    assert page.count('<img class="plot"') == 5
    assert "No level is below its threshold." in page and "Items: none yet" in page


def test_the_lowest_covers_come_from_the_newest_forecast_run_without_levels_that_do_not_sell():
    rates = pd.DataFrame(
        [
            {"dt": "2026-12-05", "warehouse": "Berlin 1", "item_id": "a", "days_of_cover": 0.5},  # an older run
            {"dt": "2026-12-06", "warehouse": "Berlin 1", "item_id": "a", "days_of_cover": 4.0},
            {"dt": "2026-12-06", "warehouse": "Berlin 1", "item_id": "b", "days_of_cover": 1.5},
            {"dt": "2026-12-06", "warehouse": "Berlin 1", "item_id": "c", "days_of_cover": None},  # no sales
        ]
    )
    assert lowest_cover(rates)["days_of_cover"].to_dict() == {"b @ Berlin 1": 1.5, "a @ Berlin 1": 4.0}
    assert lowest_cover(pd.DataFrame()).empty
