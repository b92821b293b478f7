"""Inventory transaction files: parsing, validation, aggregation and deterministic chunks (pure)."""

from datetime import UTC, datetime

import pytest

from stock_pipeline.domain.inventory import (
    CHUNK_SIZE,
    aggregate_changes,
    chunks,
    is_inventory_key,
    lake_rows,
    parse_inventory_file,
)

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
REFERENCE = (
    HEADER
    + "2021-02-15T12:00:00.000+01:00\tBerlin 1\ta123v5\ttecRacer T-Shirt\t-3\n"
    + "2021-02-15T15:00:00.000+01:00\tBorkum 1\tg45678\tAWS Sticker\t500\n"
)


def test_the_reference_rows_of_the_design_parse_to_utc_deltas():
    parsed = parse_inventory_file(REFERENCE.encode())
    assert parsed.rejections == []
    assert parsed.table.to_pylist() == [
        {
            "timestamp": datetime(2021, 2, 15, 11, tzinfo=UTC),
            "warehouse": "Berlin 1",
            "item_id": "a123v5",
            "item_name": "tecRacer T-Shirt",
            "change": -3,
            "source_line": 2,
        },
        {
            "timestamp": datetime(2021, 2, 15, 14, tzinfo=UTC),
            "warehouse": "Borkum 1",
            "item_id": "g45678",
            "item_name": "AWS Sticker",
            "change": 500,
            "source_line": 3,
        },
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("inventory_files/2021/02/15/20210215120000_inventory.csv", True),
        ("inventory_files/2021/02/15/202102151200_inventory.csv", True),
        ("inventory_files/2021/02/15/2021021512_inventory.csv", False),
        ("inventory_files/2021/02/15/notes.csv", False),
    ],
)
def test_file_names_carry_a_12_or_14_digit_timestamp(key, expected):
    assert is_inventory_key(key) is expected


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2021-02-15T12:00:00Z\tBerlin 1\ta1\tShirt", "expected 5 tab-separated columns, found 4"),
        ("2021-02-15T12:00:00Z\tBerlin 1\ta1\tShirt\t3\textra", "expected 5 tab-separated columns, found 6"),
        ("2021-02-15T12:00:00Z\tBerlin 1\ta1\tShirt\tthree", "StockLevelChange: not an integer"),
        ("2021-02-15T12:00:00Z\tBerlin 1\ta1\tShirt\t1.5", "StockLevelChange: not an integer"),
        ("2021-02-15 noon\tBerlin 1\ta1\tShirt\t3", "Timestamp: not an ISO-8601 timestamp"),
        ("2021-02-15T12:00:00\tBerlin 1\ta1\tShirt\t3", "Timestamp: not an ISO-8601 timestamp"),
        ("2021-02-15T12:00:00Z\t \ta1\tShirt\t3", "WarehouseName: empty"),
        ("2021-02-15T12:00:00Z\tBerlin 1\t\tShirt\t3", "ItemId: empty"),
        ("2021-02-15T12:00:00Z\tBerlin 1\t" + "a" * 257 + "\tShirt\t3", "ItemId: longer than 256 characters"),
        # 251 characters of 4 bytes: 1,004 bytes, over the 1,000 that keep "WH#"+name within a 1,024-byte sort key
        ("2021-02-15T12:00:00Z\t" + "\U0001f3ec" * 251 + "\ta1\tShirt\t3", "WarehouseName: longer than 256"),
        ("2021-02-15T12:00:00Z\tBerlin 1\ta1\t" + "Shirt " * 200 + "\t3", "ItemName: longer than 1,000 characters"),
    ],
)
def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_counts(row, reason):
    data = (
        HEADER
        + "2021-02-15T12:00:00Z\tBerlin 1\ta1\tShirt\t1\n\n"
        + row
        + "\n2021-02-15T13:00:00Z\tBerlin 1\ta1\tShirt\t+2\n"
    )
    parsed = parse_inventory_file(data.encode())
    assert parsed.table.column("change").to_pylist() == [1, 2]
    assert parsed.table.column("source_line").to_pylist() == [2, 5]
    [rejection] = parsed.rejections
    assert rejection.line == 4
    assert reason in rejection.reason


def test_timestamps_accept_z_offsets_and_microseconds():
    data = HEADER + "2021-02-15T12:00:00.123456Z\tW\ti\tn\t1\n2021-02-15T12:00:00-05:00\tW\ti\tn\t1\n"
    stamps = parse_inventory_file(data.encode()).table.column("timestamp").to_pylist()
    assert stamps == [datetime(2021, 2, 15, 12, 0, 0, 123456, tzinfo=UTC), datetime(2021, 2, 15, 17, tzinfo=UTC)]


def test_header_only_and_empty_files_have_no_transactions():
    assert parse_inventory_file(HEADER.encode()).table.num_rows == 0
    assert parse_inventory_file(b"").table.num_rows == 0


def test_changes_are_summed_per_warehouse_and_item_and_the_latest_name_is_kept():
    data = (
        HEADER
        + "2021-02-15T13:00:00Z\tB\ti1\tNew name\t5\n"
        + "2021-02-15T12:00:00Z\tB\ti1\tOld name\t-2\n"
        + "2021-02-15T12:00:00Z\tA\ti1\tOld name\t7\n"
    )
    changes = aggregate_changes(parse_inventory_file(data.encode()).table)
    assert [(c.warehouse, c.item_id, c.item_name, c.change, c.transactions) for c in changes] == [
        ("A", "i1", "Old name", 7, 1),
        ("B", "i1", "New name", 3, 2),
    ]
    # the earliest and the latest transaction of each: the level's first-seen time and the change's own time
    assert [(c.first_at, c.last_at) for c in changes] == [
        ("2021-02-15T12:00:00.000000Z", "2021-02-15T12:00:00.000000Z"),
        ("2021-02-15T12:00:00.000000Z", "2021-02-15T13:00:00.000000Z"),
    ]


def test_chunks_fit_a_transaction_with_its_ledger_entry_and_are_deterministic():
    rows = [f"2021-02-15T12:00:00Z\tW{i % 7}\titem-{i}\tn\t1" for i in range(250)]
    table = parse_inventory_file((HEADER + "\n".join(rows)).encode()).table
    first = chunks(aggregate_changes(table))
    again = chunks(aggregate_changes(table.take(list(reversed(range(table.num_rows))))))
    assert [len(c) for c in first] == [CHUNK_SIZE, CHUNK_SIZE, 250 - 2 * CHUNK_SIZE]
    assert first == again


def test_lake_rows_carry_partitions_and_source():
    rows = lake_rows(parse_inventory_file(REFERENCE.encode()).table, source_key="inventory_files/x.csv").to_pylist()
    assert rows[0]["warehouse"] == "Berlin 1"
    assert rows[0]["dt"] == "2021-02-15"
    assert rows[0]["source_key"] == "inventory_files/x.csv"
    assert rows[0]["source_line"] == 2


def test_fields_quoted_as_spreadsheets_save_them_are_read_as_their_values():
    from stock_pipeline.domain.inventory import parse_inventory_file

    text = (
        "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
        '"2026-11-25T10:00:00+00:00"\t"Hamburg 2"\t"a1"\t"12"" Pizza"\t"-2"\n'
        '2026-11-25T11:00:00+00:00\tHamburg 2\ta1\t12" Pizza\t5\n'
    )
    parsed = parse_inventory_file(text.encode())
    assert parsed.rejections == []
    assert [(r["warehouse"], r["item_name"], r["change"], r["source_line"]) for r in parsed.table.to_pylist()] == [
        ("Hamburg 2", '12" Pizza', -2, 2),
        ("Hamburg 2", '12" Pizza', 5, 3),
    ]


def test_names_are_read_in_unicode_nfc_whatever_form_the_file_uses():
    import unicodedata

    import pyarrow as pa
    import pyarrow.compute as pc

    from stock_pipeline.domain.inventory import nfc

    composed, decomposed = "M\u00fcnchen 3", "Mu\u0308nchen 3"
    assert nfc(pa.array([composed, decomposed, None, "Berlin 1"])).to_pylist() == [composed, composed, None, "Berlin 1"]
    # why not Arrow's own: it gives the decomposed form even when asked for NFC (if this starts to hold, use it)
    assert pc.utf8_normalize(pa.array([composed]), "NFC").to_pylist() != [unicodedata.normalize("NFC", composed)]
