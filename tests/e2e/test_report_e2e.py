"""`make report` on the local stack: the HTML page renders in a real headless browser with its five plots."""

import json
import re

import pytest

from loadgen.files import HEADER
from stockctl.__main__ import main as stockctl
from tests.e2e.browser import rendered_dom, screenshot
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e


def test_the_report_page_shows_stock_over_time_sales_rejections_and_levels_below_threshold(local_stack, tmp_path):
    # Given receipts, two sales files (one with a broken row) and a threshold the sales take the level below
    upload(
        local_stack,
        "restock_thresholds/2026/11/26/restock_thresholds.json",
        json.dumps({"ThresholdList": [{"ItemId": "rep-1", "RestockIfBelow": 25}]}),
    )
    upload(
        local_stack,
        "inventory_files/2026/11/24/20261124080000_inventory.csv",
        HEADER + "2026-11-24T08:00:00Z\tReport Hall\trep-1\tReport Widget\t40\n"
        "2026-11-24T08:00:00Z\tReport Hall\trep-2\tReport Gadget\t15\n",
    )
    local_stack.drain()
    upload(
        local_stack,
        "inventory_files/2026/11/25/20261125080000_inventory.csv",
        HEADER + "2026-11-25T08:00:00Z\tReport Hall\trep-1\tReport Widget\t-9\n"
        "2026-11-25T09:00:00Z\tReport Hall\trep-2\tReport Gadget\t-3\n",
    )
    local_stack.drain()
    upload(
        local_stack,
        "inventory_files/2026/11/26/20261126080000_inventory.csv",
        HEADER + "2026-11-26T08:00:00Z\tReport Hall\trep-1\tReport Widget\t-8\n"
        "2026-11-26T08:30:00Z\tReport Hall\trep-1\tReport Widget\tmany\n",
    )
    local_stack.drain()
    state = tmp_path / "local-stack.json"
    state.write_text(json.dumps(local_stack.describe()))
    # and the nightly forecast (started by hand): rep-1 sold 17 since the 24th
    assert stockctl(["forecast", "--local", str(state), "--wait", "--poll", "0.05"]) == 0

    # When the report is made from the local stack's lake
    out = tmp_path / "report.html"
    assert stockctl(["lake-report", "--local", str(state), "--out", str(out), "--items", "rep-1,rep-2"]) == 0

    # Then the page holds the five plots, and the browser decodes and draws every one of them
    page = out.read_text()
    assert page.count('<img class="plot"') == 5
    titles = ("Stock over time", "Units sold per day", "Rejected rows per day", "Levels below their restock", "Days of")
    for title in titles:
        assert title in page
    dom = rendered_dom(out.as_uri(), tmp_path / "profile")
    assert re.search(r'<body data-plots="5"', dom), dom[:500]
    # and the table of levels below threshold names rep-1 at 23 under 25 (rep-2, 12 above the default 10, is not)
    below = dom.split("Levels below their restock threshold</h2>", 1)[1]
    assert re.search(r"<td>Report Hall</td>\s*<td>rep-1</td>\s*<td>23</td>\s*<td>25</td>", below)
    assert "rep-2" not in below
    shot = screenshot(out.as_uri(), tmp_path / "profile", "report.png")
    assert shot.stat().st_size > 50_000  # a drawn page, not a blank one
