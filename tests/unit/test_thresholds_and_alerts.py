"""Thresholds files and the alert decision (pure)."""

import json

import pytest

from stock_pipeline.domain.alerts import Decision, LevelState, RestockAlert, decide, message, subject
from stock_pipeline.domain.errors import UnreadableObjectError
from stock_pipeline.domain.thresholds import Threshold, effective_from, is_thresholds_key, parse_thresholds


def test_valid_entries_apply_and_each_malformed_one_is_rejected_with_index_and_reason():
    body = json.dumps(
        {
            "ThresholdList": [
                {"ItemId": "a123v5", "RestockIfBelow": 25},
                {"ItemId": "", "RestockIfBelow": 5},
                {"ItemId": "b1", "RestockIfBelow": -1},
                {"ItemId": "b2", "RestockIfBelow": "7"},
                {"ItemId": 42, "RestockIfBelow": 7},
                "not an object",
                {"ItemId": "c3", "RestockIfBelow": 0},
            ]
        }
    ).encode()
    thresholds, rejections = parse_thresholds(body)
    assert thresholds == [Threshold("a123v5", 25), Threshold("c3", 0)]
    assert [(r.line, r.reason.split(":")[1].strip()[:20]) for r in rejections] == [
        (1, "ItemId must be a non"),
        (2, "RestockIfBelow must n"[:20]),
        (3, "RestockIfBelow must b"[:20]),
        (4, "ItemId must be a non"),
        (5, "expected an object wi"[:20]),
    ]


def test_a_repeated_item_keeps_the_later_entry_and_reports_the_earlier():
    thresholds, rejections = parse_thresholds(
        b'{"ThresholdList": [{"ItemId": "x", "RestockIfBelow": 1}, {"ItemId": "x", "RestockIfBelow": 2}]}'
    )
    assert thresholds == [Threshold("x", 2)]
    assert rejections[0].line == 0


@pytest.mark.parametrize("body", [b"not json", b'{"Thresholds": []}', b"[]"])
def test_a_file_that_is_not_a_thresholds_document_is_unreadable(body):
    with pytest.raises(UnreadableObjectError):
        parse_thresholds(body)


def test_the_key_names_the_day_the_file_speaks_for():
    key = "restock_thresholds/2026/11/23/restock_thresholds.json"
    assert is_thresholds_key(key)
    assert effective_from(key) == "2026-11-23"
    assert not is_thresholds_key("restock_thresholds/2026/11/23/other.json")


def level(quantity, below=False):
    return LevelState("Berlin 1", "a123v5", "tecRacer T-Shirt", quantity, below, "inventory_files/x.csv")


@pytest.mark.parametrize(
    ("quantity", "flag", "threshold", "expected"),
    [
        (9, False, 10, Decision.ALERT),  # crosses below
        (8, True, 10, Decision.NONE),  # stays below: no second alert
        (10, True, 10, Decision.REARM),  # back at the threshold: re-armed
        (50, False, 10, Decision.NONE),  # above and armed
        (24, False, 25, Decision.ALERT),  # the item's own threshold
        (0, False, 0, Decision.NONE),  # threshold 0: never below
    ],
)
def test_one_alert_per_crossing(quantity, flag, threshold, expected):
    assert decide(level(quantity, flag), threshold) is expected


def test_the_alert_says_warehouse_item_level_threshold_and_file():
    alert = RestockAlert("id", "Berlin 1", "a123v5", "tecRacer T-Shirt", 7, 10, "inventory_files/2021/02/15/x.csv")
    text = message(alert)
    for expected in ("Berlin 1", "a123v5", "tecRacer T-Shirt", "7", "10", "inventory_files/2021/02/15/x.csv"):
        assert expected in text
    assert subject(alert) == "Restock tecRacer T-Shirt at Berlin 1: 7 left (below 10)"


def test_subjects_stay_within_the_sns_limit_and_ascii():
    alert = RestockAlert("id", "Lager Süd " * 10, "x", "Très long nom " * 10, 1, 10, None)
    text = subject(alert)
    assert len(text) <= 100
    assert text.isascii()


def test_a_crossing_is_news_by_its_transactions_time_not_the_upload():
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from stock_pipeline.domain.alerts import is_news

    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    day = timedelta(hours=24)
    level = LevelState("Berlin 1", "a1", "Shirt", 3, False)
    assert is_news(level, now, day)  # a level stored before the change time was kept
    assert is_news(replace(level, changed_at="2026-12-06T12:00:00.000000Z"), now, day)
    assert not is_news(replace(level, changed_at="2026-12-06T11:59:59.999999Z"), now, day)
    assert not is_news(replace(level, changed_at="2026-10-01T08:00:00.000000Z"), now, day)
