"""CSV downloads a spreadsheet opens safely: text it would run as a formula shows as text, numbers stay numbers."""

import csv
import io

import pytest

from stock_pipeline.domain.reports import neutralised, to_csv


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("-3", "-3"),  # a number written as text
        ("+4.5e2", "+4.5e2"),
        ("Berlin 1", "Berlin 1"),
        ("a=b", "a=b"),
    ],
)
def test_formula_text_is_prefixed_and_numbers_are_not(text, shown):
    assert neutralised(text) == shown


def test_a_report_row_keeps_numbers_and_booleans_and_neutralises_names():
    text = to_csv(
        ["warehouse", "item_name", "quantity", "below_threshold"],
        [{"warehouse": "=cmd|' /C calc'!A0", "item_name": "@evil", "quantity": -2, "below_threshold": True}],
    )
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row == {
        "warehouse": "'=cmd|' /C calc'!A0",
        "item_name": "'@evil",
        "quantity": "-2",
        "below_threshold": "true",
    }
