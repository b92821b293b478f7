"""Supplier profiles, workbook reading and feed mapping: pure logic, workbooks generated with xlsxwriter."""

import io
import json
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loadgen.workbooks import LAYOUTS, Layout, product_table_csv, supplier_feed, workbook
from stock_pipeline.adapters.profiles import bundled_profiles
from stock_pipeline.domain.products import (
    ProductTableError,
    mapping_from_table,
    parse_product_table,
)
from stock_pipeline.domain.supplier_feeds import (
    FAILED,
    FeedKeyError,
    failed,
    map_feed,
    parse_feed_key,
    stock_value,
    succeeded,
    supplier_stock_items,
)
from stock_pipeline.domain.supplier_profiles import ProfileError, ValueRule, parse_profiles, profile_for
from stock_pipeline.domain.workbooks import WorkbookError, read_feed_rows

PROFILES = bundled_profiles()


def mapping(items=50):
    return mapping_from_table(parse_product_table(product_table_csv(items), "p.csv").table, '"v1"')


# ---------------------------------------------------------------------------- profiles


def test_profiles_name_columns_by_header_or_by_position_letters_and_numbers():
    northwind = PROFILES["northwind"]
    assert northwind.part_number.position == 1 and northwind.stock.position == 4
    assert PROFILES["acme"].stock.name == "Qty on hand"
    assert PROFILES["globex"].value.labels == {"in stock": 50, "low stock": 5, "out of stock": 0}


def test_an_invalid_profile_document_names_every_problem():
    doc = {
        "suppliers": {
            "acme": {
                "sheet": "Stock",
                "header_row": 0,
                "part_number": {"name": ""},
                "stock": {"column": "B"},
                "value": {"rule": "eval", "code": "1+1"},
                "colour": "red",
            }
        }
    }
    with pytest.raises(ProfileError) as error:
        parse_profiles(doc, source="s3://b/reference/supplier_profiles.json")
    text = str(error.value)
    assert "s3://b/reference/supplier_profiles.json" in text
    for expected in (
        "header_row must be a positive integer",
        "part_number: name must be",
        "stock: expected",
        "rule must be one of numeric, yes_no, labels",
        "unknown field(s) 'colour'",
    ):
        assert expected in text


def test_a_profile_document_that_is_not_json_is_refused():
    with pytest.raises(ProfileError, match="not valid JSON"):
        parse_profiles(b"suppliers: [", source="override")


def test_an_unknown_supplier_is_named_with_the_known_ones():
    with pytest.raises(ProfileError, match=r"no profile for supplier 'initech' \(profiles exist for: acme, globex"):
        profile_for(PROFILES, "initech")


def test_profile_lookup_ignores_case():
    assert profile_for(PROFILES, "ACME").supplier == "acme"


# ---------------------------------------------------------------------------- value rules


@pytest.mark.parametrize(
    ("cell", "expected"),
    [(12.0, 12), ("7", 7), (-3.0, 0), (9000.0, 5000), (3.5, None), ("lots", None), ("", None), (True, None)],
)
def test_numeric_rule_clamps_to_its_range_and_rejects_what_is_no_whole_number(cell, expected):
    quantity, problem = stock_value(ValueRule("numeric", minimum=0, maximum=5000), cell)
    assert quantity == expected
    assert (problem is None) == (expected is not None)


def test_yes_no_and_label_rules_map_texts_and_name_the_unknown_value():
    yes_no = ValueRule("yes_no", yes=100, no=0)
    assert [stock_value(yes_no, v)[0] for v in ("YES", "no", True, "y", "N")] == [100, 0, 100, 100, 0]
    assert stock_value(yes_no, "maybe") == (None, "stock: 'maybe' is neither yes nor no")
    labels = PROFILES["globex"].value
    assert stock_value(labels, " in stock ")[0] == 50
    quantity, problem = stock_value(labels, "Backordered")
    assert quantity is None and "'Backordered' is not one of the labels" in problem


# ---------------------------------------------------------------------------- workbooks, three profile shapes


@pytest.mark.parametrize("supplier", ["acme", "northwind", "globex"])
def test_each_bundled_profile_reads_its_layout(supplier):
    data = supplier_feed(supplier, 20, seed=3)
    rows = read_feed_rows(data, PROFILES[supplier])
    header_row = LAYOUTS[supplier].header_row
    assert rows.lines[0] == header_row + 1 and len(rows.lines) == 20
    feed = map_feed(rows, PROFILES[supplier].value, mapping(), supplier)
    assert (feed.read, feed.mapped, feed.unmapped, feed.rejected) == (20, 20, 0, 0)
    assert feed.custom_labels[:2] == ["SKU-000000", "SKU-000001"]


def test_header_below_a_title_and_blank_rows_between_blocks():
    layout = LAYOUTS["acme"]
    data = workbook(layout, [["AC-00001", "x", 5, "H"], [], ["AC-00002", "y", 6, "H"]], extra_sheets=["Notes"])
    rows = read_feed_rows(data, PROFILES["acme"])
    assert rows.lines == [4, 6]  # Excel's row numbers: the header is row 3, row 5 is blank
    assert rows.stock == [5.0, 6.0]


def test_profile_mismatch_names_supplier_sheet_and_column():
    wrong_header = Layout("Stock", 3, ("Part No.", "Description", "Quantity"), 0, 2, "ACME")
    with pytest.raises(WorkbookError) as error:
        read_feed_rows(workbook(wrong_header, [["AC-1", "x", 3]]), PROFILES["acme"])
    assert str(error.value) == (
        "supplier 'acme', sheet 'Stock': column 'Qty on hand' not found in header row 3 "
        "(found: 'Part No.', 'Description', 'Quantity')"
    )


def test_missing_sheet_and_column_beyond_the_header_are_named():
    with pytest.raises(
        WorkbookError, match=r"supplier 'globex': sheet 'Availability' not found \(the workbook has: 'Data'\)"
    ):
        read_feed_rows(workbook(Layout("Data", 1, ("SKU", "Status"), 0, 1), []), PROFILES["globex"])
    narrow = Layout("Sheet1", 1, ("Item", "Name", "Price"), 0, 2)
    with pytest.raises(WorkbookError, match=r"sheet #1: column D \(position 4\) is beyond the last column \(C\)"):
        read_feed_rows(workbook(narrow, [[1, "a", 2.0]]), PROFILES["northwind"])


def test_a_file_that_is_no_workbook_is_refused_with_the_supplier_named():
    with pytest.raises(WorkbookError, match="supplier 'acme': not a readable workbook"):
        read_feed_rows(b"Part No.;Qty\nA;1\n", PROFILES["acme"])


# ---------------------------------------------------------------------------- mapping and accounting


def test_unmapped_invalid_and_superseded_rows_are_counted_and_rejected_with_their_row():
    layout = LAYOUTS["acme"]
    rows = [
        ["AC-00001", "a", 5, "H"],  # row 4: superseded by row 7
        ["AC-99999", "b", 3, "H"],  # row 5: unmapped
        ["AC-00002", "c", "many", "H"],  # row 6: invalid
        ["AC-00001", "a", 8, "H"],  # row 7
        ["", "d", 4, "H"],  # row 8: no part number
    ]
    feed = map_feed(read_feed_rows(workbook(layout, rows), PROFILES["acme"]), PROFILES["acme"].value, mapping(), "acme")
    assert (feed.read, feed.mapped, feed.unmapped, feed.rejected) == (5, 1, 1, 3)
    assert feed.quantities == [8] and feed.lines == [7]
    assert feed.unmapped_sample == ["AC-99999"]
    reasons = {r.line: r.reason for r in feed.rejections}
    assert reasons[4] == "part number 'AC-00001' appears again on row 7, which supersedes this row"
    assert reasons[5] == "unmapped: part number 'AC-99999' is not in the product table for supplier 'acme'"
    assert reasons[6] == "stock: 'many' is not a number"
    assert reasons[8] == "part number: empty"


def test_numeric_part_numbers_in_the_sheet_match_text_in_the_product_table():
    rows = read_feed_rows(supplier_feed("northwind", 3), PROFILES["northwind"])
    assert rows.part_numbers[0] == 100000.0
    feed = map_feed(rows, PROFILES["northwind"].value, mapping(), "northwind")
    assert feed.part_numbers == ["100000", "100001", "100002"] and feed.unmapped == 0


def test_several_part_numbers_of_one_sku_add_up():
    table = parse_product_table(b"custom_label,part_number,supplier\nSKU-1,A,acme\nSKU-1,B,acme\n", "p.csv").table
    layout = LAYOUTS["acme"]
    rows = read_feed_rows(workbook(layout, [["A", "", 2, ""], ["B", "", 3, ""]]), PROFILES["acme"])
    feed = map_feed(rows, PROFILES["acme"].value, mapping_from_table(table, "v"), "acme")
    items = supplier_stock_items(feed, supplier="acme", updated_at="2026-11-24T10:00:00.000Z", source_key="k")
    assert [(i["SK"], i["quantity"], i["partNumbers"]) for i in items] == [("SKU#SKU-1", 5, ["A", "B"])]


def test_a_50000_row_workbook_is_read_and_mapped_completely():
    data = supplier_feed("acme", 50_000, unmapped=25)
    rows = read_feed_rows(data, PROFILES["acme"])
    feed = map_feed(rows, PROFILES["acme"].value, mapping(50_000), "acme")
    assert (feed.read, feed.mapped, feed.unmapped, feed.rejected) == (50_025, 50_000, 25, 0)
    assert len(feed.unmapped_sample) == 10
    assert feed.lines[-1] == 3 + 50_000 and set(feed.custom_labels) == {f"SKU-{n:06d}" for n in range(50_000)}


# ---------------------------------------------------------------------------- keys and notices


def test_feed_keys_give_supplier_and_day_or_fall_back_to_arrival():
    arrival = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    assert parse_feed_key("supplier_feeds/ACME/2026/11/02/stock.xlsx", arrival).supplier == "acme"
    assert parse_feed_key("supplier_feeds/acme/2026/11/02/stock.xlsx", arrival).day == date(2026, 11, 2)
    assert parse_feed_key("supplier_feeds/acme/stock.xlsx", arrival).day == date(2026, 11, 24)
    with pytest.raises(FeedKeyError, match="not a date"):
        parse_feed_key("supplier_feeds/acme/2026/13/02/stock.xlsx", arrival)


def test_notices_carry_counts_or_the_reason_and_filterable_attributes():
    feed = map_feed(
        read_feed_rows(supplier_feed("globex", 4, unmapped=2), PROFILES["globex"]),
        PROFILES["globex"].value,
        mapping(),
        "globex",
    )
    ok = succeeded("supplier_feeds/globex/2026/11/24/a.xlsx", "globex", date(2026, 11, 24), feed, skus=4)
    body = json.loads(ok.message)
    assert body["summary"].endswith("6 rows read, 4 mapped, 2 unmapped, 0 rejected")
    assert body["unmapped_sample"] == ["GX-10000000", "GX-10000001"]
    assert ok.attributes == {"supplier": "globex", "status": "SUCCEEDED", "kind": "supplier_feed"}
    bad = failed("k", "acme", "sheet 'Stock' not found")
    assert bad.status == FAILED and json.loads(bad.message)["reason"] == "sheet 'Stock' not found"
    assert bad.subject == "Supplier feed FAILED: acme"


# ---------------------------------------------------------------------------- product tables


def test_product_tables_read_from_csv_xlsx_and_parquet_alike():
    csv = b"Custom Label;Part Number;Supplier\nSKU-1;00123;ACME\nSKU-2;B-7;globex\n"
    xlsx = workbook(
        Layout("Products", 1, ("custom_label", "part_number", "supplier"), 0, 1),
        [["SKU-1", "00123", "acme"], ["SKU-2", "B-7", "globex"]],
    )
    sink = io.BytesIO()
    pq.write_table(
        pa.table({"custom_label": ["SKU-1", "SKU-2"], "part_number": ["00123", "B-7"], "supplier": ["acme", "globex"]}),
        sink,
    )
    for data, key in ((csv, "p.csv"), (xlsx, "p.xlsx"), (sink.getvalue(), "p.parquet")):
        parsed = parse_product_table(data, key)
        assert parsed.table.to_pylist() == [
            {"supplier": "acme", "part_number": "00123", "custom_label": "SKU-1"},
            {"supplier": "globex", "part_number": "B-7", "custom_label": "SKU-2"},
        ], key


def test_product_rows_missing_a_field_or_conflicting_are_rejected_and_repeats_ignored():
    data = b"custom_label,part_number,supplier\nSKU-1,A,acme\n,B,acme\nSKU-9,a,acme\nSKU-1,A,acme\n"
    parsed = parse_product_table(data, "p.csv")
    assert parsed.table.num_rows == 1 and parsed.rows_read == 4
    assert [(r.line, r.reason) for r in parsed.rejections] == [
        (3, "custom_label: missing"),
        (4, "part number 'a' of supplier 'acme' is already mapped to 'SKU-1' on line 2"),
    ]


def test_a_product_table_without_its_columns_or_without_valid_rows_keeps_the_current_one():
    with pytest.raises(ProductTableError, match=r"missing column\(s\) supplier \(found: 'custom_label', 'part_number'"):
        parse_product_table(b"custom_label,part_number\nA,B\n", "p.csv")
    with pytest.raises(ProductTableError, match="no valid rows, the current table is kept; first problem: line 2"):
        parse_product_table(b"custom_label,part_number,supplier\n,,\n", "p.csv")
