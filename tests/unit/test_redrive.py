"""stockctl redrive's pure parts: a replayed range cut into Invoke payloads under 6 MB, in order, none lost."""

import json

from stockctl.redrive import payloads


def test_a_long_range_is_cut_into_payloads_under_the_limit_in_record_order():
    records = [{"eventID": str(n), "dynamodb": {"Keys": {"PK": {"S": f"WH#{'x' * 200}"}}}} for n in range(500)]
    cut = list(payloads(records, limit=20_000))
    assert len(cut) > 1 and all(len(p) <= 20_000 for p in cut)
    again = [r for p in cut for r in json.loads(p)["Records"]]
    assert again == records


def test_one_record_larger_than_the_limit_still_goes_alone():
    big = {"eventID": "1", "blob": "y" * 50}
    assert [json.loads(p)["Records"] for p in payloads([big, {"eventID": "2"}], limit=40)] == [
        [big],
        [{"eventID": "2"}],
    ]
