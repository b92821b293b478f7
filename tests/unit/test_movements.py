"""Adjustment and transfer requests as the console sends them: what is refused, and why, before any write."""

from datetime import UTC, datetime

import pytest

from stock_pipeline.domain.movements import MovementError, adjustment_from, below_zero_message, transfer_from

ID = "b1946ac92492d2347c6235b4d2611184"


def test_an_adjustment_takes_a_signed_whole_change_and_one_of_the_four_reasons():
    made = adjustment_from(
        {"movement_id": ID, "warehouse": " Berlin 1 ", "item_id": "a1", "change": -3, "reason": "damaged"}, user="ana"
    )
    assert (made.warehouse, made.change, made.reason, made.user) == ("Berlin 1", -3, "damaged", "ana")
    assert made.cause == f"adjustment {ID} (damaged) by ana"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"change": 0}, "changes nothing"),
        ({"change": 2.5}, "whole number"),
        ({"change": True}, "whole number"),
        ({"change": "3"}, "whole number"),
        ({"change": 10**10}, "at most"),
        ({"reason": "stolen"}, "reason: one of damaged, lost, found, correction"),
        ({"warehouse": "   "}, "warehouse: a non-empty text"),
        ({"item_id": "a\x00b"}, "no control characters"),
        ({"movement_id": "short"}, "movement_id"),
        ({"movement_id": "../../etc"}, "movement_id"),
    ],
)
def test_an_adjustment_that_cannot_be_applied_as_asked_is_refused_with_the_field_to_fix(change, message):
    body = {"movement_id": ID, "warehouse": "Berlin 1", "item_id": "a1", "change": -3, "reason": "lost", **change}
    with pytest.raises(MovementError, match=message):
        adjustment_from(body, user="ana")


def test_a_transfer_moves_a_positive_quantity_between_two_warehouses_confirmed_or_not():
    body = {"movement_id": ID, "from": "A", "to": "B", "item_id": "a1", "quantity": 4}
    made = transfer_from(body, user="ana")
    assert (made.source, made.target, made.quantity, made.confirmed) == ("A", "B", 4, False)
    assert transfer_from({**body, "confirm": True}, user="ana").confirmed
    for wrong, message in (
        ({"quantity": 0}, "more than 0"),
        ({"to": "A"}, "another warehouse"),
        ({"confirm": "yes"}, "true or false"),
    ):
        with pytest.raises(MovementError, match=message):
            transfer_from({**body, **wrong}, user="ana")
    assert below_zero_message(made, 3) == (
        "A holds 3 of a1: moving 4 would leave -1. Send it again with confirm to go ahead (recorded as confirmed)."
    )


def test_a_stocktake_takes_up_to_ninety_distinct_non_negative_counts():
    from stock_pipeline.domain.movements import stocktake_from

    row = {"warehouse": "A", "item_id": "a1", "counted": 3}
    take = stocktake_from({"movement_id": ID, "counts": [row, {**row, "item_id": "a2", "counted": 0}]}, user="ana")
    assert [c.counted for c in take.counts] == [3, 0]
    assert take.cause(take.counts[0], 5) == f"stocktake {ID} by ana: counted 3, was 5"
    assert take.cause(take.counts[0], None).endswith("counted 3, no level")
    for counts, message in (
        ([], "a list"),
        ([row, row], "counted twice"),
        ([{**row, "counted": -1}], "row 1: counted: 0 or more"),
        ([row, "x"], "row 2: an object"),
        ([{**row, "item_id": f"i{n}"} for n in range(91)], "at most 90"),
        # 90 rows in 10 warehouses would be 102 actions (rows, warehouses, ledger, register): over DynamoDB's 100
        ([{**row, "warehouse": f"W{n % 10}", "item_id": f"i{n}"} for n in range(90)], "do not fit one transaction"),
    ):
        with pytest.raises(MovementError, match=message):
            stocktake_from({"movement_id": ID, "counts": counts}, user="ana")


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def change(old, new, at="2026-12-06T10:00:00Z"):
    return {"at": at, "old_value": old, "new_value": new, "delta": (new or 0) - (old or 0)}


def test_a_past_count_is_placed_among_the_changes_applied_after_it():
    from stock_pipeline.domain.movements import Count, counted_level, level_at

    nine = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    count = Count("Berlin", "a1", 15, nine)
    # at nine the level was 20; a sale of 4 (10:00) and a delivery of 10 (11:00) were applied since: 26 now
    after = [change(20, 16), change(16, 26, "2026-12-06T11:00:00Z")]
    at_count = level_at(nine, current=26, updated_at="2026-12-06T11:00:01Z", changes_after=after)
    assert at_count == 20
    assert counted_level(count, current=26, at_count=at_count) == 15 - 4 + 10  # the count, then what came after
    # nothing applied since the count: the level now is the level then
    assert level_at(nine, current=26, updated_at="2026-12-06T08:59:00+00:00", changes_after=[]) == 26
    # the level did not exist at nine (created by the first change after it), or does not exist at all
    assert level_at(nine, current=7, updated_at="2026-12-06T10:00:00Z", changes_after=[change(None, 7)]) is None
    assert counted_level(count, current=7, at_count=None) == 22
    assert level_at(nine, current=None, updated_at=None, changes_after=[]) is None


def test_a_past_count_whose_level_changed_since_but_is_not_logged_yet_is_sent_again_later():
    from stock_pipeline.domain.movements import ChangesCatchingUp, level_at

    nine = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    with pytest.raises(ChangesCatchingUp, match="again in a minute"):
        level_at(nine, current=26, updated_at="2026-12-06T11:00:00.123456Z", changes_after=[])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-06T09:00:00+01:00", datetime(2026, 12, 6, 8, 0, tzinfo=UTC)),
        ("2026-12-06T08:00:00Z", datetime(2026, 12, 6, 8, 0, tzinfo=UTC)),
        ("2026-12-06T12:03:00Z", NOW),  # a device's clock a few minutes ahead: now
        (None, None),
    ],
)
def test_counted_at_takes_a_moment_with_its_offset(value, expected):
    from stock_pipeline.domain.movements import counted_at_from

    assert counted_at_from(value, now=NOW) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-12-06 08:00", "no time zone"),
        ("yesterday", "not an ISO-8601"),
        ("2026-12-06T13:00:00Z", "in the future"),
        ("2026-10-01T08:00:00Z", "more than 30 days ago"),
        (1733472000, "with its offset"),
        ("", "not an ISO-8601"),
        ({}, "with its offset"),
    ],
)
def test_counted_at_says_what_is_wrong_with_a_moment(value, reason):
    from stock_pipeline.domain.movements import MovementError, counted_at_from

    with pytest.raises(MovementError, match=reason):
        counted_at_from(value, now=NOW)


def test_the_history_names_the_moment_of_a_past_count():
    from stock_pipeline.domain.movements import stocktake_from

    take = stocktake_from(
        {
            "movement_id": ID,
            "counted_at": "2026-12-06T09:00:00+01:00",
            "counts": [
                {"warehouse": "B", "item_id": "a1", "counted": 3},
                {"warehouse": "B", "item_id": "a2", "counted": 4, "counted_at": None},
            ],
        },
        user="ana",
        now=NOW,
    )
    first, second = take.counts
    assert first.counted_at == datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    assert second.counted_at == first.counted_at  # a row without its own moment takes the body's
    assert take.cause(first, 5) == f"stocktake {ID} by ana: counted 3 at 2026-12-06T08:00:00Z, was 5"
