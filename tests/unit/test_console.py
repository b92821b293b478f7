"""The web console's rules: where an upload goes, what it may be, what became of today's files (pure)."""

from datetime import UTC, date, datetime

import pytest

from stock_pipeline.domain.console import UploadError, file_rows, safe_stem, todays_prefixes, upload_target

NOW = datetime(2026, 11, 26, 9, 30, 5, tzinfo=UTC)
MB = 1024 * 1024


def target(kind, filename, size=1000, supplier=None, taken=lambda key: False):
    return upload_target(
        kind,
        filename,
        size,
        supplier=supplier,
        suppliers={"acme", "globex"},
        limit_bytes=100 * MB,
        now=NOW,
        taken=taken,
    )


def test_file_names_never_become_paths():
    assert safe_stem("../../etc/passwd.xlsx") == "passwd"
    assert safe_stem("C:\\Users\\me\\Lagerbestand März 2026.xlsx") == "lagerbestand-marz-2026"
    assert safe_stem("....xlsx") == "upload"
    key = target("supplier_feed", "../../reference/store/evil.xlsx", supplier="acme").key
    assert key == "supplier_feeds/acme/2026/11/26/evil-093005.xlsx"


def test_every_kind_lands_where_its_ingestion_reads_it():
    assert target("inventory", "stock.TSV").key == "inventory_files/2026/11/26/20261126093005_inventory.csv"
    assert target("thresholds", "anything.json").key == "restock_thresholds/2026/11/26/restock_thresholds.json"
    assert target("product", "Products.CSV").key == "reference/product/products-20261126-093005.csv"
    store = target("store", "listings.parquet")
    assert store.key == "reference/store/listings-20261126-093005.parquet"
    assert store.content_type == "application/vnd.apache.parquet"


def test_two_inventory_files_in_one_second_keep_both():
    taken = {"inventory_files/2026/11/26/20261126093005_inventory.csv"}
    assert target("inventory", "a.csv", taken=taken.__contains__).key.endswith("20261126093006_inventory.csv")


@pytest.mark.parametrize(
    ("kind", "filename", "size", "supplier", "reason"),
    [
        ("supplier_feed", "stock.xlsx", 10, "initech", "no profile"),
        ("supplier_feed", "stock.csv", 10, "acme", "is .xlsx"),
        ("inventory", "stock.xlsx", 10, None, "is .csv or .tsv or .txt"),
        ("thresholds", "t.json", 0, None, "is empty"),
        ("store", "l.csv", 101 * MB, None, "at most 100 MB"),
        ("images", "x.png", 10, None, "unknown kind"),
    ],
)
def test_an_upload_the_pipeline_cannot_take_is_refused_before_it_is_sent(kind, filename, size, supplier, reason):
    with pytest.raises(UploadError, match=reason):
        target(kind, filename, size, supplier=supplier)


def test_todays_files_are_waiting_processed_or_failed_newest_first():
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    objects = [
        {"key": "inventory_files/2026/11/26/20261126090000_inventory.csv", "etag": "a", "size": 5, "last_modified": at},
        {
            "key": "supplier_feeds/acme/2026/11/26/s-1.xlsx",
            "etag": "b",
            "size": 9,
            "last_modified": at.replace(hour=10),
        },
        {"key": "reference/store/l-1.csv", "etag": "c", "size": 9, "last_modified": at.replace(day=20)},  # not today
        {
            "key": "supplier_feeds/acme/2026/11/26/s-2.xlsx",
            "etag": "d",
            "size": 9,
            "last_modified": at.replace(hour=11),
        },
    ]
    outcomes = {
        ("inventory_files/2026/11/26/20261126090000_inventory.csv", "a"): {
            "status": "SUCCEEDED",
            "summary": "3 transactions read, 1 rejected",
            "rejected": 1,
            "rejectedKey": "rejected/inventory_files/x.rejected.jsonl",
        },
        ("supplier_feeds/acme/2026/11/26/s-1.xlsx", "b"): {"status": "FAILED", "summary": "sheet 'Stock' not found"},
    }
    rows = file_rows(objects, outcomes, date(2026, 11, 26))
    assert [(r["name"], r["status"]) for r in rows] == [
        ("s-2.xlsx", "waiting"),
        ("s-1.xlsx", "FAILED"),
        ("20261126090000_inventory.csv", "processed"),
    ]
    assert rows[2]["rejected_key"] == "rejected/inventory_files/x.rejected.jsonl" and rows[2]["kind"] == "inventory"
    assert todays_prefixes(date(2026, 11, 26), ["acme"])[:4] == [
        "inventory_files/2026/11/26/",
        "restock_thresholds/2026/11/26/",
        "stocktakes/2026/11/26/",
        "supplier_feeds/acme/2026/11/26/",
    ]


def test_the_authenticator_key_becomes_an_otpauth_link_apps_read():
    from stock_pipeline.domain.console import otpauth_uri

    assert otpauth_uri("JBSWY3DPEHPK3PXP", "anna.müller@example.com") == (
        "otpauth://totp/Stock%20console:anna.m%C3%BCller@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Stock%20console"
    )


def test_the_invitation_says_where_as_whom_until_when_and_keeps_both_placeholders():
    from stock_pipeline.domain.console import invitation

    subject, text = invitation("https://x.example/console", username="{username}", code="{####}", mfa="ON", days=7)
    assert "Sign in at https://x.example/console" in text and "{username}" in text and "{####}" in text
    assert "7 days" in text and "authenticator app" in text and len(subject) < 140
    _, without = invitation(None, username="{username}", code="{####}", mfa="OFF", days=7)
    assert "ask your administrator for its address" in without and "authenticator" not in without


def test_the_overview_lists_the_worst_first_the_days_alerts_and_failed_files_first():
    from datetime import UTC, datetime

    from stock_pipeline.domain.console import overview

    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    below = [
        {
            "warehouse": "A",
            "itemId": "slow",
            "quantity": 8,
            "alertThreshold": 10,
            "dailySales": 1.0,
            "alertedAt": "2026-12-01T08:00:00.000000Z",
        },  # 8 days of cover, crossed days ago
        {
            "warehouse": "A",
            "itemId": "unsold",
            "quantity": 2,
            "alertThreshold": 10,
            "alertedAt": "2026-12-06T09:00:00Z",
        },
        {
            "warehouse": "B",
            "itemId": "fast",
            "quantity": 6,
            "alertThreshold": 10,
            "dailySales": 3.0,
            "alertedAt": "2026-12-06T10:00:00.000000Z",
        },  # 2 days
    ]
    files = [
        {"name": "a", "status": "processed"},
        {"name": "b", "status": "FAILED"},
        {"name": "c", "status": "waiting"},
    ]
    view = overview(below, files, now=now)
    assert [r["item_id"] for r in view["below"]] == ["fast", "slow", "unsold"]  # fewest days, then no rate
    assert [r["item_id"] for r in view["alerts"]] == ["fast", "unsold"]  # the last 24 hours, newest first
    assert [f["name"] for f in view["files"]] == ["b", "c", "a"]
    assert view["counts"] == {
        "below_threshold": 3,
        "running_out": 1,
        "alerts_24h": 2,
        "files_today": 3,
        "files_failed": 1,
    }


def test_the_item_page_has_each_warehouse_its_forecast_and_its_changes_with_who():
    from stock_pipeline.domain.console import item_page

    levels = [{"warehouse": "B", "quantity": 4, "dailySales": 2.0}, {"warehouse": "A", "quantity": 0}]
    changes = {
        "A": [
            {
                "at": "2026-12-06T08:00:00Z",
                "old_value": 3,
                "new_value": 0,
                "delta": -3,
                "cause": "stocktake x by ana: counted 0, was 3",
                "by": "ana",
            }
        ],
        "B": [],
    }
    page = item_page("i1", levels, None, 10, changes)
    assert [(r["warehouse"], r["days_of_cover"]) for r in page["levels"]] == [("A", None), ("B", 2.0)]
    assert (page["restock_if_below"], page["threshold_is_default"]) == (10, True)
    assert page["history"]["A"] == [
        {
            "at": "2026-12-06T08:00:00Z",
            "old": 3,
            "new": 0,
            "delta": -3,
            "cause": "stocktake x by ana: counted 0, was 3",
            "by": "ana",
        }
    ]


def test_the_consoles_copy_of_uplot_is_the_pinned_release():
    """The chart library is served from the console's own files (no CDN): the committed copy must be the one the
    Makefile pins (`make vendor` refreshes it from npm and checks the same sums)."""
    import hashlib
    import re
    from pathlib import Path

    root = Path(__file__).parents[2]
    makefile = (root / "Makefile").read_text()
    for name, variable in (("uPlot.iife.min.js", "UPLOT_JS_SHA256"), ("uPlot.min.css", "UPLOT_CSS_SHA256")):
        pinned = re.search(rf"^{variable} := ([0-9a-f]{{64}})$", makefile, re.M).group(1)
        body = (root / "src" / "stock_pipeline" / "console" / name).read_bytes()
        assert hashlib.sha256(body).hexdigest() == pinned, name


def test_principal_ids_stored_before_names_were_given_read_as_names_on_the_item_page():
    from stock_pipeline.domain.console import item_page

    levels = [{"warehouse": "A", "quantity": 3, "lastChangedBy": "AWS:AIDAJQABLZS4A3QDU576Q"}]
    changes = {"A": [{"at": "2026-12-06T08:00:00Z", "by": "AWS:AROAJ2KXXGLTXPYRZ4:etl", "delta": 3}]}
    page = item_page("i1", levels, None, 10, changes)
    assert page["levels"][0]["changed_by"] == "uploaded to S3 directly"
    assert page["history"]["A"][0]["by"] == "etl (a role session, uploaded to S3 directly)"


def test_the_overview_lists_the_worst_and_newest_few_and_counts_them_all():
    import random

    from stock_pipeline.domain.console import overview

    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    rng = random.Random(5)
    below = [
        {
            "warehouse": f"W{n % 7}",
            "itemId": f"i{n}",
            "quantity": rng.randint(-5, 9),
            "alertThreshold": 10,
            "dailySales": rng.choice([None, 0.5, 1.0, 3.0]),
            "alertedAt": f"2026-12-{rng.randint(1, 7):02d}T{rng.randint(0, 23):02d}:00:00Z",
        }
        for n in range(5000)
    ]
    everything = overview(below, [], now=now, limit=10**6)
    bounded = overview(iter(below), [], now=now, limit=25)  # one pass over a stream of levels

    assert bounded["below"] == everything["below"][:25]
    assert bounded["alerts"] == everything["alerts"][:25]
    assert bounded["counts"] == everything["counts"]
    assert bounded["counts"]["below_threshold"] == 5000 and bounded["limit"] == 25


def test_the_item_page_of_a_chain_lists_its_lowest_levels_and_totals_every_store():
    from stock_pipeline.domain.console import item_page, lowest_levels

    levels = [{"warehouse": f"Store {n:04d}", "quantity": (n * 37) % 500} for n in range(2500)]
    page = item_page("i1", levels, 12, 10, {}, limit=100)

    assert (page["warehouses"], page["total_quantity"]) == (2500, sum(lv["quantity"] for lv in levels))
    quantities = [row["quantity"] for row in page["levels"]]
    assert len(quantities) == 100 and quantities == sorted(quantities)
    listed = {id(lv) for lv in lowest_levels(levels, 100)}
    assert quantities[-1] <= min(lv["quantity"] for lv in levels if id(lv) not in listed)
