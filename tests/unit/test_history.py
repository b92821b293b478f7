"""Stock history rows from stream records (pure)."""

from datetime import UTC, datetime
from decimal import Decimal

from stock_pipeline.domain.history import StreamChange, file_stem, history_rows

AT = datetime(2026, 11, 26, 23, 59, 59, tzinfo=UTC)


def level(seq, old, new, *, at=AT, event="MODIFY", **extra):
    keys = {"PK": "WH#Berlin 1", "SK": "ITEM#a1"}
    image = {"warehouse": "Berlin 1", "itemId": "a1", "itemName": "Apple", "lastSourceKey": "inventory_files/f.csv"}

    def img(q):
        return None if q is None else {**keys, **image, "quantity": Decimal(q), **extra}

    return StreamChange(f"e{seq}", event, str(seq), at, keys, img(old), img(new))


def test_a_burst_of_level_updates_gives_one_row_per_change_whose_deltas_sum_to_the_level():
    quantities = [None, 12, 7, 7, 30, 0]
    records = [level(i + 1, quantities[i], quantities[i + 1]) for i in range(len(quantities) - 1)]
    rows = history_rows(records).to_pylist()
    assert [r["new_value"] for r in rows] == [12, 7, 30, 0]  # 7 -> 7 (a flag moved) is not a change
    assert [r["delta"] for r in rows] == [12, -5, 23, -30]
    assert sum(r["delta"] for r in rows) == rows[-1]["new_value"]
    assert [r["sequence"] for r in rows] == sorted(r["sequence"] for r in rows)
    assert rows[0]["old_value"] is None and rows[0]["event_name"] == "MODIFY"
    assert {(r["entity"], r["warehouse"], r["item_id"], r["source_key"]) for r in rows} == {
        ("warehouse_level", "Berlin 1", "a1", "inventory_files/f.csv")
    }


def test_every_stored_level_kind_is_tracked_with_its_own_keys_and_ledger_items_are_not():
    at = AT
    records = [
        StreamChange(
            "t",
            "INSERT",
            "10",
            at,
            {"PK": "ITEM#a1", "SK": "THRESHOLD"},
            None,
            {"itemId": "a1", "restockIfBelow": Decimal(15), "sourceKey": "restock_thresholds/t.json"},
        ),
        StreamChange(
            "s",
            "MODIFY",
            "11",
            at,
            {"PK": "SUP#acme", "SK": "SKU#X-1"},
            {"quantity": Decimal(4)},
            {"quantity": Decimal(9), "supplier": "acme", "sourceKey": "supplier/acme.xlsx"},
        ),
        StreamChange(
            "a",
            "MODIFY",
            "12",
            at,
            {"PK": "RET#r-7#ACC#42", "SK": "ART#1001#CH#3"},
            {"quantity": Decimal(5)},
            {"quantity": Decimal(2), "sourceKey": "raw/x.gz", "sourceLine": Decimal(17)},
        ),
        StreamChange("f", "INSERT", "13", at, {"PK": "FILE#k#e", "SK": "CHUNK#00000"}, None, {"items": Decimal(3)}),
    ]
    rows = {r["entity"]: r for r in history_rows(records).to_pylist()}
    assert set(rows) == {"threshold", "supplier_stock", "article_stock"}
    assert (rows["threshold"]["item_id"], rows["threshold"]["new_value"], rows["threshold"]["delta"]) == ("a1", 15, 15)
    assert (rows["supplier_stock"]["supplier"], rows["supplier_stock"]["sku"], rows["supplier_stock"]["delta"]) == (
        "acme",
        "X-1",
        5,
    )
    article = rows["article_stock"]
    assert (article["retailer_id"], article["account_id"], article["article_id"], article["channel_id"]) == (
        "r-7",
        42,
        1001,
        3,
    )
    assert (article["delta"], article["source_key"], article["source_lines"]) == (-3, "raw/x.gz", "17")


def test_a_removed_level_is_a_change_to_nothing():
    (row,) = history_rows([level(5, 8, None, event="REMOVE")]).to_pylist()
    assert (row["old_value"], row["new_value"], row["delta"], row["event_name"]) == (8, None, -8, "REMOVE")


def test_rows_fall_into_the_day_of_their_change_and_the_file_is_named_after_the_first_record():
    next_day = datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC)
    records = [level(900, 1, 2), level(901, 2, 3, at=next_day)]
    assert history_rows(records).column("dt").to_pylist() == ["2026-11-26", "2026-11-27"]
    assert file_stem(records) == "seq-" + "900".zfill(40)


def test_a_count_that_confirms_the_level_is_kept_with_a_delta_of_zero_and_a_flag_move_after_it_is_not():
    counted = "stocktake m1 by ana@example.com: counted 7, was 7"
    before = level(1, 7, 7)  # the images of a level at 7 from a file
    after_count = {**before.new, "lastSourceKey": counted}
    records = [
        StreamChange("c", "MODIFY", "1", AT, before.keys, before.new, after_count),  # the count: a new cause
        StreamChange("f", "MODIFY", "2", AT, before.keys, after_count, {**after_count, "alertedAt": "x"}),  # a flag
    ]
    (row,) = history_rows(records).to_pylist()
    assert (row["old_value"], row["new_value"], row["delta"], row["source_key"]) == (7, 7, 0, counted)
