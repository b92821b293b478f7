"""`stockctl import` on the local stack: a team's opening balances, thresholds and sixty days of history, imported
in order; no e-mail about the past, one summary naming the levels below threshold now; an interrupted import
resumes without counting a file twice."""

import io
import json
from argparse import Namespace
from datetime import UTC, datetime, timedelta

import pytest

from stockctl import imports

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
START = (datetime.now(UTC) - timedelta(days=90)).replace(hour=8, minute=0, second=0, microsecond=0)
ITEMS = 8


def history(folder):
    """Opening balances of 20 (a file of the day before: each level's quantity as its first change; a counted file
    is for counts of the last 30 days), a thresholds file, and 60 daily files: a delivery of 30 a week, sales of 5
    a day, so each level crosses 10 again and again. Returns the levels it should leave."""
    before = START - timedelta(days=1)
    (folder / "opening").mkdir()
    (folder / "opening" / f"{before:%Y%m%d%H%M}_inventory.csv").write_text(
        HEADER + "".join(f"{before:%Y-%m-%dT%H:%M:%SZ}\tImp 1\th-{i}\tHistoric {i}\t20\n" for i in range(ITEMS))
    )
    (folder / f"restock_thresholds_{START:%Y%m%d}.json").write_text(
        json.dumps({"ThresholdList": [{"ItemId": "h-0", "RestockIfBelow": 12}]})
    )
    levels = dict.fromkeys(range(ITEMS), 20)
    (folder / "days").mkdir()
    for day in range(60):
        when = START + timedelta(days=day)
        rows = []
        for i in range(ITEMS):
            change = 30 if (day + i) % 7 == 0 else -5
            levels[i] += change
            rows.append(f"{when:%Y-%m-%dT%H:%M:%SZ}\tImp 1\th-{i}\tHistoric {i}\t{change}\n")
        (folder / "days" / f"{when:%Y%m%d%H%M}_inventory.csv").write_text(HEADER + "".join(rows))
    return levels


@pytest.fixture
def state(stack, tmp_path):
    path = tmp_path / "local-stack.json"
    path.write_text(json.dumps(stack.describe()))
    return str(path)


def args(source, state, **extra):
    return Namespace(source=str(source), dry_run=False, ahead=10, local=state, stack=None, region=None, **extra)


def level(stack, item):
    ddb, table = stack.client("dynamodb"), stack.outputs["StockTableName"]
    return ddb.get_item(TableName=table, Key={"PK": {"S": "WH#Imp 1"}, "SK": {"S": f"ITEM#{item}"}}).get("Item")


def test_a_dry_run_names_every_file_that_cannot_go_and_uploads_nothing(stack, state, tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    history(folder)
    (folder / "days" / "202611010800_inventory.csv").write_text("Date;Store;Item;Qty\n")
    before = stack.client("s3").list_objects_v2(Bucket=stack.outputs["DataBucketName"]).get("KeyCount", 0)
    out = io.StringIO()
    assert imports.run(Namespace(**{**vars(args(folder, state)), "dry_run": True}), out=out) == 2
    assert "CANNOT IMPORT days/202611010800_inventory.csv: an inventory file's first line" in out.getvalue()
    assert "nothing was uploaded" in out.getvalue()
    assert not (folder / ".stockctl-import.json").exists()  # no upload recorded, and none made
    assert stack.client("s3").list_objects_v2(Bucket=stack.outputs["DataBucketName"]).get("KeyCount", 0) == before


def test_an_import_interrupted_and_run_again_applies_each_file_once_and_sends_one_summary(stack, state, tmp_path):
    # Given a team's history in a folder
    folder = tmp_path / "history"
    folder.mkdir()
    expected = history(folder)
    inbox = stack.inbox(stack.outputs["RestockTopicArn"], name="import-inbox")

    # When its import is interrupted at its third wait for the pipeline (each file changes the one warehouse, so
    # each waits for the one before it), then run again
    waits = []

    def interrupt():
        waits.append(stack.drain())
        if len(waits) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        imports.run(args(folder, state), settle=interrupt, out=io.StringIO())
    out = io.StringIO()
    assert imports.run(args(folder, state), settle=stack.drain, out=out) == 0

    # Then the second run uploaded only the rest, and every level is what the history sums to, once
    assert out.getvalue().count("already uploaded:") == 3
    for i, quantity in expected.items():
        assert int(level(stack, f"h-{i}")["quantity"]["N"]) == quantity
    # and the only e-mail is the summary: the crossings of the past are recorded, not e-mailed
    [summary] = inbox.read()
    assert summary["subject"] == f"Import done: {62 - 3} files, {len(below(expected))} levels below threshold now"
    assert all(f"Imp 1 / h-{i}:" in summary["message"] for i in below(expected))


def below(expected):
    return [i for i, q in expected.items() if q < (12 if i == 0 else 10)]
