"""Adjustment and transfer requests as the console sends them: what is refused, and why, before any write."""

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
