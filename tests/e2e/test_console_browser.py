"""The web console in a real headless browser (Debian's Chromium driven by Playwright) on the local stack:
sign in, upload a workbook and a broken one, watch one processed and one FAILED with its reason, read a report
and download its CSV. Screenshots of each page land in test-output/ for a person to look at."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from loadgen.files import HEADER
from loadgen.workbooks import product_table_csv, supplier_feed
from tests.conftest import totp
from tests.e2e.browser import CHROMIUM, FLAGS, OUTPUT
from tests.e2e.conftest import upload

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=[f for f in FLAGS if f != "--headless" and "virtual-time" not in f]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def data(local_stack):
    """A warehouse with stock below its threshold, and a product table so acme's workbook maps."""
    upload(local_stack, "reference/product/console.csv", product_table_csv(30).decode())
    upload(
        local_stack,
        "inventory_files/2026/11/26/20261126070000_inventory.csv",
        HEADER + "2026-11-26T07:00:00Z\tConsole Hall\tcon-1\tConsole Shirt\t40\n"
        "2026-11-26T07:00:00Z\tConsole Hall\tcon-2\tConsole Mug\t4\n",
    )
    local_stack.drain()


def test_sign_in_upload_watch_and_report_in_a_browser(local_stack, browser, data, tmp_path):
    OUTPUT.mkdir(exist_ok=True)
    good, broken = tmp_path / "acme stock.xlsx", tmp_path / "broken.xlsx"
    good.write_bytes(supplier_feed("acme", 20, seed=5, unmapped=1))
    broken.write_bytes(b"this is not a workbook")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    console = local_stack.outputs["ConsoleUrl"]

    # Signed out: the sign-in form, and the data routes refuse the page's own requests
    page.goto(console)
    page.get_by_label("User name").wait_for()
    assert page.evaluate("fetch('console/api/files').then(r => r.status)") == 401
    labelled = page.evaluate(
        "[...document.querySelectorAll('input:not([type=file]), select')].every(e => e.labels.length > 0)"
    )
    assert labelled  # every field has a label (screen readers, clicking the label)
    page.screenshot(path=OUTPUT / "console-sign-in.png")

    # Sign in with the keyboard: Enter submits
    page.get_by_label("User name").fill(local_stack.console_credentials["username"])
    page.get_by_label("Password").fill(local_stack.console_credentials["password"])
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="What needs attention").wait_for()  # the landing page: the overview
    page.get_by_role("link", name="Upload").click()
    page.get_by_role("heading", name="Upload files").wait_for()

    # Upload a workbook and a broken one through the file picker, and a thresholds file by drag and drop
    page.get_by_label("What are you uploading?").select_option("supplier_feed")
    page.locator("#upload").get_by_label("Supplier").select_option("acme")
    page.set_input_files("#file", [str(good), str(broken)])
    page.get_by_text("broken.xlsx: uploaded as").wait_for()
    page.get_by_text("acme stock.xlsx: uploaded as").wait_for()
    page.get_by_label("What are you uploading?").select_option("thresholds")
    page.evaluate(
        """() => {
          const data = new DataTransfer();
          data.items.add(new File([JSON.stringify({ThresholdList: [{ItemId: "con-1", RestockIfBelow: 50}]})],
                                  "thresholds.json", {type: "application/json"}));
          document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    page.get_by_text("thresholds.json: uploaded as restock_thresholds/").wait_for()
    page.screenshot(path=OUTPUT / "console-upload.png", full_page=True)

    # Files: waiting until the pipeline runs, then processed with counts and FAILED with the reason
    page.get_by_role("link", name="Files").click()
    page.locator("#files-body tr").first.wait_for()
    local_stack.drain()
    good_row = page.locator("#files-body tr", has_text="acme-stock")
    broken_row = page.locator("#files-body tr", has_text="broken")
    good_row.locator(".status-processed").wait_for(timeout=20_000)  # the page refreshes by itself
    broken_row.locator(".status-FAILED").wait_for(timeout=20_000)
    assert "21 rows read, 20 mapped, 1 unmapped" in good_row.inner_text()
    assert "not a readable workbook" in broken_row.inner_text()
    with page.expect_download() as rejected:
        good_row.get_by_role("button", name="Download").click()
    assert json.loads(Path(rejected.value.path()).read_text().splitlines()[0])["reason"].startswith("unmapped")
    page.screenshot(path=OUTPUT / "console-files.png", full_page=True)
    files = page.locator("#files table")
    assert files.evaluate("t => t.scrollWidth <= t.parentElement.clientWidth")  # no column past the page at 1,280 px

    # Reports: a warehouse's items, those above a quantity, below threshold, and the CSV
    page.get_by_role("link", name="Reports").click()
    page.locator("#reports").get_by_label("Warehouse").select_option("Console Hall")
    page.get_by_role("button", name="Show items").click()
    page.get_by_text("Items in Console Hall (2)").wait_for()
    page.get_by_label("Only quantities above").fill("10")
    page.get_by_role("button", name="Show items").click()
    page.get_by_text("Items in Console Hall above 10 (1)").wait_for()
    with page.expect_download() as csv_file:
        page.get_by_role("button", name="Download CSV").first.click()
    lines = Path(csv_file.value.path()).read_text().splitlines()
    assert lines[0].startswith("warehouse,item_id") and len(lines) == 2 and ",con-1," in lines[1]
    page.get_by_role("button", name="Items below threshold").click()
    page.get_by_text("Items below their restock threshold in Console Hall").wait_for()
    page.screenshot(path=OUTPUT / "console-reports.png", full_page=True)

    # On a phone: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="Files").click()
    page.locator("#files-body tr").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=OUTPUT / "console-files-phone.png", full_page=True)

    # Signing out forgets the token: the data routes refuse again
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("User name").wait_for()
    assert page.evaluate("sessionStorage.length") == 0


def signed_in(page, local_stack):
    """The console opened and signed in with the keyboard (Enter submits), on its landing page."""
    page.goto(local_stack.outputs["ConsoleUrl"])
    page.get_by_label("User name").fill(local_stack.console_credentials["username"])
    page.get_by_label("Password").fill(local_stack.console_credentials["password"])
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="What needs attention").wait_for()


def test_a_user_turns_two_factor_sign_in_on_and_is_asked_for_the_code_from_then_on(local_stack, browser):
    """ConsoleMfa=OPTIONAL: the key shown in the console, the app's code to confirm it, then at every sign-in."""
    idp, pool = local_stack.client("cognito-idp"), local_stack.outputs["ConsoleUserPoolId"]
    user, password = "two-factor-user", "Two-Factor-Pass1"
    idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(local_stack.outputs["ConsoleUrl"])

    def sign_in():
        page.get_by_label("User name").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    sign_in()
    page.get_by_role("link", name="Two-factor sign-in").click()
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.get_by_label("Code the app shows").wait_for()  # shown with the key
    secret = page.locator("#totp-secret").inner_text()
    assert page.get_by_role("link", name="Add to an authenticator app").get_attribute("href").startswith("otpauth://")
    page.get_by_label("Code the app shows").fill(totp(secret))
    page.screenshot(path=OUTPUT / "console-two-factor.png", full_page=True)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("Two-factor sign-in is on").wait_for()
    page.get_by_role("button", name="Sign out").click()

    sign_in()
    page.get_by_label("Code from your authenticator app").fill("000000" if totp(secret) != "000000" else "111111")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("not the one your authenticator app shows").wait_for()
    page.get_by_label("Code from your authenticator app").fill(totp(secret))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Two-factor sign-in").wait_for()  # signed in, back on the page it was on
    assert page.evaluate("sessionStorage.length") == 1


def test_count_adjust_and_transfer_then_see_the_overview_and_the_item_chart_change(local_stack, browser):
    """A stocktake of two items, an adjustment, and a transfer that would go below zero, confirmed on a second
    click; the levels in the table say each happened once; the overview lists the level now below its threshold
    and the item's page charts its month with who changed what."""
    hour_ago = datetime.now(UTC) - timedelta(hours=1)  # a live file: its crossing is one of the day's
    upload(
        local_stack,
        f"inventory_files/{hour_ago:%Y/%m/%d}/{hour_ago:%Y%m%d%H%M%S}_inventory.csv",
        HEADER + f"{hour_ago:%Y-%m-%dT%H:%M:%SZ}\tCount Hall\tcnt-1\tCount Shirt\t10\n"
        f"{hour_ago:%Y-%m-%dT%H:%M:%SZ}\tCount Hall\tcnt-2\tCount Mug\t5\n",
    )
    local_stack.drain()
    # a reader in New York, on a laptop's width
    page = browser.new_page(viewport={"width": 1280, "height": 900}, timezone_id="America/New_York", locale="en-US")
    signed_in(page, local_stack)
    page.get_by_role("link", name="Count & move").click()
    stock = page.locator("#stock")

    rows = stock.locator("#count-rows tr")
    for n, (item, counted) in enumerate((("cnt-1", "8"), ("cnt-2", "6"))):
        if n:
            stock.get_by_role("button", name="Another row").click()
        rows.nth(n).get_by_label("Warehouse").fill("Count Hall")
        rows.nth(n).get_by_label("Item id").fill(item)
        rows.nth(n).get_by_label("Counted").fill(counted)
    stock.get_by_role("button", name="Record the count").click()
    stock.get_by_text("stocktake applied").wait_for()

    form = stock.locator("#adjust-form")
    form.get_by_label("Warehouse").fill("Count Hall")
    form.get_by_label("Item id").fill("cnt-1")
    form.get_by_label("Change").fill("-1")
    form.get_by_label("Reason").select_option("damaged")
    form.get_by_role("button", name="Adjust").click()
    stock.get_by_text("adjustment applied").wait_for()

    form = stock.locator("#transfer-form")
    form.get_by_label("From warehouse").fill("Count Hall")
    form.get_by_label("To warehouse").fill("Count Annex")
    form.get_by_label("Item id").fill("cnt-2")
    form.get_by_label("Quantity").fill("9")
    form.get_by_role("button", name="Transfer", exact=True).click()
    page.get_by_text("Count Hall holds 6 of cnt-2: moving 9 would leave -3").wait_for()
    form.get_by_role("button", name="Transfer anyway (below zero)").click()
    stock.get_by_text("transfer applied").wait_for()
    assert not form.get_by_role("button", name="Transfer anyway (below zero)").is_visible()  # asked once, not again
    page.screenshot(path=OUTPUT / "console-count-and-move.png", full_page=True)

    ddb, table = local_stack.client("dynamodb"), local_stack.outputs["StockTableName"]

    def level(warehouse, item):
        key = {"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
        return int(ddb.get_item(TableName=table, Key=key)["Item"]["quantity"]["N"])

    assert (level("Count Hall", "cnt-1"), level("Count Hall", "cnt-2"), level("Count Annex", "cnt-2")) == (7, -3, 9)

    # The overview (after the stream's consumers ran): cnt-2 went below its threshold, worst first
    local_stack.drain()
    page.get_by_role("link", name="Overview").click()
    below = page.locator("#overview-below tbody tr", has_text="cnt-2").filter(has_text="-3")
    below.wait_for()  # (the page showed the overview at sign-in too: wait for the fresh one)
    user = local_stack.console_credentials["username"]
    assert "Count Hall" in below.inner_text() and user in below.inner_text()
    crossed = page.locator("#overview-alerts tbody tr", has_text="cnt-2").all_inner_texts()
    assert sorted(text.split("\t")[1] for text in crossed) == ["Count Annex", "Count Hall"]  # 9 and -3, under 10
    page.screenshot(path=OUTPUT / "console-overview.png", full_page=True)

    # The item's page: its levels, and a chart of the month drawn by uPlot from the console's own files
    below.get_by_role("link", name="cnt-2").click()
    page.get_by_role("heading", name="Item cnt-2").wait_for()
    page.locator("#item-chart canvas").wait_for()
    assert int(page.locator("#item-chart").get_attribute("data-points")) >= 3  # the file, the count, the transfer, now
    changes = page.locator("#item-changes tbody").inner_text()
    assert "stocktake" in changes and f"by {user}: counted 6, was 5" in changes and "transfer" in changes
    assert page.locator("#item-levels tbody tr").count() == 2  # Count Hall and Count Annex
    page.screenshot(path=OUTPUT / "console-item.png", full_page=True)

    # ... read as a person reads it: who made each change in words, times in the reader's zone to the minute (the
    # exact time on hover), something said where no days of cover are known, and nothing wider than the page
    filed = page.locator("#item-changes tbody tr", has_text="inventory_files/")
    assert filed.locator("td").nth(6).inner_text() == "uploaded to S3 directly"  # put straight into the bucket
    when = filed.locator("td").nth(0)
    exact = datetime.fromisoformat(when.get_attribute("title").replace("Z", "+00:00"))
    local = exact.astimezone(ZoneInfo("America/New_York"))
    shown = when.inner_text()
    assert f"{local:%b} {local.day}, {local:%Y}, {local.hour % 12 or 12}:{local:%M}" in shown, shown
    assert ":" + f"{local:%S}" + " " not in shown and "T" not in shown  # to the minute, not an ISO string
    covers = page.locator("#item-levels tbody tr td:nth-child(4)").all_inner_texts()
    assert covers == ["not computed yet", "not computed yet"]  # no nightly rates yet
    fits = page.evaluate(
        """() => [document.documentElement.scrollWidth <= innerWidth,
                  ...[...document.querySelectorAll('#item-page table')]
                     .map(t => t.scrollWidth <= t.parentElement.clientWidth)]"""
    )
    assert all(fits), fits


def test_history_files_chosen_in_any_order_go_up_oldest_first_and_one_summary_is_emailed(
    local_stack, browser, tmp_path
):
    """The console's import of a handful of files: picked newest first, uploaded oldest first; the page waits
    for their processing and shows the summary, which is the only e-mail about them (the stack's freshness window
    here is a year: these files are older)."""
    inbox = local_stack.inbox(local_stack.outputs["RestockTopicArn"], name="browser-history-inbox")
    start = datetime.now(UTC) - timedelta(days=400)
    paths = []
    for n, change in enumerate((30, -27, 5)):  # 30, then 3 (a crossing, long ago), then 8: below 10 now
        when = start + timedelta(days=n)
        path = tmp_path / f"{when:%Y%m%d}0800_inventory.csv"
        path.write_text(HEADER + f"{when:%Y-%m-%dT%H:%M:%SZ}\tArchive Hall\tarc-1\tArchive Mug\t{change}\n")
        paths.append(path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    signed_in(page, local_stack)
    page.get_by_role("link", name="Upload").click()
    page.get_by_label("What are you uploading?").select_option("inventory")
    page.get_by_label("These files are history").check()
    page.set_input_files("#file", [str(p) for p in reversed(paths)])
    page.get_by_text("still being processed").wait_for(timeout=20_000)
    uploaded = page.locator("#upload-results li.ok").all_inner_texts()[::-1]  # the list shows the newest first
    assert [text.split(":")[0] for text in uploaded] == [p.name for p in paths]  # oldest first
    local_stack.drain()
    done = page.get_by_text("History: 3 file(s) processed (3 SUCCEEDED)")
    done.wait_for(timeout=20_000)
    below = re.search(r"(\d+) level\(s\) below threshold now", done.inner_text())
    assert below and int(below.group(1)) >= 1  # arc-1, and whatever the stack's other tests left below
    assert "The summary was e-mailed." in done.inner_text()
    page.screenshot(path=OUTPUT / "console-history.png", full_page=True)
    messages = inbox.read()
    about = [m for m in messages if "Archive Hall" in (m["message"] or "")]
    assert [m["attributes"].get("kind") for m in about] == ["import-summary"]
    assert "Archive Hall / arc-1: 8 (restock below 10)" in about[0]["message"]
