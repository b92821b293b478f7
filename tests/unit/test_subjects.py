"""E-mail subjects SNS accepts (fewer than 100 ASCII characters, one line), whatever the item, key or warehouse."""

import re

from stock_pipeline.domain.alerts import RestockAlert, subject
from stock_pipeline.domain.subjects import subject_line

SNS_SUBJECT = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~][ -~]{0,98}$")  # the documented rule


def test_a_long_line_is_cut_under_100_with_an_ellipsis_and_short_ones_stay():
    assert subject_line("Restock cups") == "Restock cups"
    long = subject_line("x" * 300)
    assert len(long) == 99 and long.endswith("...")


def test_accents_line_breaks_and_control_characters_become_ascii_on_one_line():
    assert subject_line("Lager München\n\tSüd\x00 7") == "Lager Munchen Sud 7"
    assert subject_line("  \n ") == "(no subject)"
    assert SNS_SUBJECT.match(subject_line("\u00a0 leading space and 倉庫 non-latin"))


def test_an_alert_for_a_300_character_item_name_has_a_valid_subject():
    alert = RestockAlert(
        warehouse="Zentrallager Süd " + "W" * 80,
        item_id="a" * 40,
        item_name="Ü" * 300,
        quantity=3,
        threshold=10,
        alert_id="x",
        source_key="inventory_files/" + "k" * 200,
    )
    text = subject(alert)
    assert SNS_SUBJECT.match(text) and len(text) < 100
