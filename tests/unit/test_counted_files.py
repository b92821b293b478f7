"""Counted files as people bring them: other tools' headers, other locales' numbers, spreadsheets' date cells."""

import io
from datetime import UTC, datetime

import pytest
import xlsxwriter

from stock_pipeline.domain.console import upload_target
from stock_pipeline.domain.counted_files import (
    CountedFileError,
    is_counted_file_key,
    parse_counted_file,
    whole_count,
)
from stock_pipeline.domain.movements import MovementError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
UPLOADED = datetime(2026, 12, 6, 11, 58, tzinfo=UTC)
KEY = "stocktakes/2026/12/06/inventur.csv"


def parse(data: bytes, key: str = KEY):
    return parse_counted_file(data, key, "etag-1", user="ana", uploaded=UPLOADED, now=NOW)


def rows_of(parsed):
    return [(c.warehouse, c.item_id, c.counted, c.counted_at) for take in parsed.stocktakes for c in take.counts]


def test_a_german_spreadsheet_export_with_semicolons_and_thousands_is_read():
    data = "\ufeffLager;Artikel;Gezählt\nBerlin 1;a1;1.234\nBerlin 1;a2;7\n;;\nHamburg;a1;12,0\n".encode()
    parsed = parse(data)
    assert rows_of(parsed) == [
        ("Berlin 1", "a1", 1234, UPLOADED),  # no moment: counted when the file was uploaded
        ("Berlin 1", "a2", 7, UPLOADED),
        ("Hamburg", "a1", 12, UPLOADED),
    ]
    assert parsed.rejections == [] and parsed.rows == 3  # the empty row is no row
    assert [t.user for t in parsed.stocktakes] == ["ana"]


def test_bad_rows_are_rejected_with_line_and_reason_and_the_good_rows_stay():
    data = (
        b"warehouse,item_id,counted,counted_at\n"
        b"B,a1,5,2026-12-06T09:00:00+01:00\n"
        b"B,a2,-3,\n"
        b"B,a3,2.5,\n"
        b",a4,1,\n"
        b"B,a1,6,\n"
        b"B,a5,4,2026-12-06 09:00\n"
        b"B,a6,4,2026-12-07T09:00:00Z\n"
    )
    parsed = parse(data)
    assert rows_of(parsed) == [("B", "a1", 5, datetime(2026, 12, 6, 8, 0, tzinfo=UTC))]
    reasons = {r.line: r.reason for r in parsed.rejections}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "cannot be negative" in reasons[3]
    assert "not a whole number" in reasons[4]
    assert reasons[5] == "warehouse: missing"
    assert "counted on line 2 already" in reasons[6]
    assert "no time zone" in reasons[7] and "Europe/Berlin" in reasons[7]
    assert "in the future" in reasons[8]


def test_a_workbook_with_date_cells_takes_the_zone_its_header_names():
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Zählung")
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, ["Warehouse", "SKU", "Qty", "Counted at (Europe/Berlin)"])
    sheet.write_row(1, 0, ["Berlin 1", "a1", 15])
    sheet.write_datetime(1, 3, datetime(2026, 12, 6, 9, 30), stamp)
    sheet.write_row(2, 0, ["Berlin 1", "00123", 3])  # item ids keep their zeros as text
    book.close()
    parsed = parse(buffer.getvalue(), "stocktakes/2026/12/06/Zählung.XLSX")
    assert rows_of(parsed) == [
        ("Berlin 1", "a1", 15, datetime(2026, 12, 6, 8, 30, tzinfo=UTC)),
        ("Berlin 1", "00123", 3, UPLOADED),
    ]


def test_a_zone_resolves_without_the_systems_zone_files_as_on_lambda():
    """The function package carries the tzdata package (src/requirements.txt): with no zone directory to search, as
    on an image without /usr/share/zoneinfo, the header's zone still resolves."""
    import zoneinfo

    zoneinfo.reset_tzpath(to=())
    zoneinfo.ZoneInfo.clear_cache()
    try:
        parsed = parse(b"warehouse,item,counted,counted at (America/Sao_Paulo)\nRio,a1,4,2026-12-06 09:00\n")
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
    assert rows_of(parsed) == [("Rio", "a1", 4, datetime(2026, 12, 6, 12, 0, tzinfo=UTC))]


def test_a_file_that_is_not_counts_is_refused_as_a_whole():
    with pytest.raises(CountedFileError, match=r"missing column.*counted"):
        parse(b"warehouse,item_id,price\nB,a1,3\n")
    with pytest.raises(CountedFileError, match=r"no row can be counted; line 2"):
        parse(b"warehouse,item_id,counted\nB,a1,many\n")
    with pytest.raises(CountedFileError, match="not a time zone"):
        parse(b"warehouse,item_id,counted,counted_at (Mars/Olympus)\nB,a1,3,2026-12-06 09:00\n")


def test_many_rows_become_groups_that_each_fit_one_transaction_with_ids_from_the_file():
    body = "warehouse,item_id,counted\n" + "".join(f"W{n % 3},i{n},{n}\n" for n in range(200))
    first, again = parse(body.encode()), parse(body.encode())
    assert [len(t.counts) for t in first.stocktakes] == [90, 90, 20]
    assert [t.movement_id for t in first.stocktakes] == [t.movement_id for t in again.stocktakes]
    assert len({t.movement_id for t in first.stocktakes}) == 3
    other = parse_counted_file(body.encode(), KEY, "etag-2", user="ana", uploaded=UPLOADED, now=NOW)
    assert first.stocktakes[0].movement_id != other.stocktakes[0].movement_id  # a new upload: a new stocktake


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1234", 1234),
        ("1.234", 1234),
        ("1,234", 1234),
        ("1 234", 1234),
        ("1'234", 1234),
        ("1\u202f234", 1234),
        ("12.0", 12),
        ("12,00", 12),
        (12.0, 12),
        (7, 7),
        ("0", 0),
        ("1.234.567", 1234567),
    ],
)
def test_counts_in_the_ways_locales_write_them(cell, expected):
    assert whole_count(cell) == expected


@pytest.mark.parametrize("cell", ["12.5", "1,23", "1.2345", "-4", "abc", 3.5, True, "", "1.234,5"])
def test_what_is_not_a_count(cell):
    with pytest.raises(MovementError):
        whole_count(cell)


def test_the_console_puts_a_counted_file_where_its_ingestion_reads_it():
    target = upload_target(
        "stocktake",
        "Inventur Lager 1.xlsx",
        100,
        supplier=None,
        suppliers=[],
        limit_bytes=10**6,
        now=NOW,
        taken=lambda key: False,
    )
    assert target.key == "stocktakes/2026/12/06/inventur-lager-1-120000.xlsx" and is_counted_file_key(target.key)
    assert is_counted_file_key("stocktakes/scanner/export.TXT") and not is_counted_file_key("stocktakes/readme")
