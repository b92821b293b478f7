"""Adjustments and transfers through the console's API on the local stack (JWT, the console role's IAM): each
applied once whatever the browser resends, a transfer's two levels together or not at all, a transfer below zero
refused with the level unless confirmed, and the history naming what and who."""

import io
import json
import uuid

import pyarrow.parquet as pq
import pytest

from tests.integration.test_console import call

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


@pytest.fixture(scope="module")
def stocked(stack, bucket, s3):
    rows = "".join(f"2026-12-06T08:00:00Z\tNord {w}\tm-1\tMug\t{q}\n" for w, q in (("A", 10), ("C", 4)))
    s3.put_object(Bucket=bucket, Key="inventory_files/2026/12/06/20261206080000_inventory.csv", Body=HEADER + rows)
    stack.drain()
    return stack


def post(console, token, path, body):
    status, _, answer = call(f"{console}/api/{path}", "POST", body, token=token)
    return status, json.loads(answer)


def level(stack, warehouse, item="m-1"):
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["StockTableName"], Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
    )
    return item.get("Item")


def test_an_adjustment_needs_a_reason_and_is_applied_once_however_often_it_is_sent(stocked, console, token):
    body = {"movement_id": uuid.uuid4().hex, "warehouse": "Nord A", "item_id": "m-1", "change": -3, "reason": "damaged"}
    assert post(console, token, "adjustments", {**body, "reason": "stolen"})[0] == 400
    assert post(console, token, "adjustments", {**body, "change": "3"})[0] == 400
    assert post(console, token, "adjustments", {**body, "item_id": "nothing-here"}) == (
        400,
        {"title": "Bad request", "status": 400, "detail": "no stock of nothing-here in Nord A to adjust"},
    )
    first = post(console, token, "adjustments", body)
    again = post(console, token, "adjustments", body)  # the browser resent it (a timeout, a double click)
    assert first == (200, {"movement_id": body["movement_id"], "status": "APPLIED", "levels": {"Nord A": 7}})
    assert again[1]["status"] == "ALREADY_APPLIED" and again[1]["levels"] == {"Nord A": 7}
    stored = level(stocked, "Nord A")
    user = stocked.console_credentials["username"]
    assert stored["lastChangedBy"] == {"S": user}
    assert stored["lastSourceKey"]["S"] == f"adjustment {body['movement_id']} (damaged) by {user}"


def test_a_transfer_moves_both_levels_together_and_refuses_to_go_below_zero_unless_confirmed(stocked, console, token):
    move = {"movement_id": uuid.uuid4().hex, "from": "Nord C", "to": "Nord B", "item_id": "m-1", "quantity": 6}
    status, refused = post(console, token, "transfers", move)
    assert status == 409 and refused["level"] == 4 and "Nord C holds 4 of m-1" in refused["detail"]
    assert level(stocked, "Nord B") is None and level(stocked, "Nord C")["quantity"] == {"N": "4"}  # neither moved
    assert post(console, token, "transfers", {**move, "to": "Nord C"})[0] == 400

    status, applied = post(console, token, "transfers", {**move, "confirm": True})
    assert status == 200 and applied["levels"] == {"Nord C": -2, "Nord B": 6}
    assert post(console, token, "transfers", {**move, "confirm": True})[1]["status"] == "ALREADY_APPLIED"
    created = level(stocked, "Nord B")
    assert created["itemName"] == {"S": "Mug"} and created["GSI2PK"] == {"S": "WH#Nord B"}
    ledger = stocked.client("dynamodb").get_item(
        TableName=stocked.outputs["StockTableName"],
        Key={"PK": {"S": f"MOVE#{move['movement_id']}"}, "SK": {"S": "MOVE"}},
    )["Item"]
    assert ledger["confirmed"] == {"BOOL": True} and ledger["kind"] == {"S": "transfer"}
    # the new warehouse is in the registry, so the reports know it
    status, _, body = call(f"{console}/api/reports/warehouses/Nord%20B/items", token=token)
    assert status == 200 and json.loads(body)["items"][0]["quantity"] == 6


def test_the_history_shows_each_movement_once_with_who_made_it(stocked, console, token, s3, bucket):
    # Given levels of its own, an adjustment and a transfer (each sent twice, as a browser may)
    rows = "".join(f"2026-12-06T08:00:00Z\tHist {w}\tm-1\tMug\t{q}\n" for w, q in (("A", 10), ("C", 4)))
    s3.put_object(Bucket=bucket, Key="inventory_files/2026/12/06/20261206080500_inventory.csv", Body=HEADER + rows)
    stocked.drain()
    adjustment = {"movement_id": uuid.uuid4().hex, "warehouse": "Hist A", "item_id": "m-1", "change": -3}
    transfer = {"movement_id": uuid.uuid4().hex, "from": "Hist C", "to": "Hist B", "item_id": "m-1", "quantity": 6}
    for _ in range(2):
        assert post(console, token, "adjustments", {**adjustment, "reason": "damaged"})[0] == 200
        assert post(console, token, "transfers", {**transfer, "confirm": True})[0] == 200

    # When the history function has read the table's stream
    stocked.drain()

    # Then the history has each movement once, with who made it
    rows = [
        row
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/")
        for obj in page.get("Contents", [])
        for row in pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())).to_pylist()
        if row["entity"] == "warehouse_level" and row["warehouse"].startswith("Hist ")
    ]
    user = stocked.console_credentials["username"]
    moves = sorted(
        (r["warehouse"], r["delta"], r["source_key"].split(" ", 1)[0], r["changed_by"])
        for r in rows
        if not r["source_key"].startswith("inventory_files/")
    )
    assert moves == [
        ("Hist A", -3, "adjustment", user),
        ("Hist B", 6, "transfer", user),
        ("Hist C", -6, "transfer", user),
    ]


def validate(stack):
    from local_aws import stepfunctions as local_stepfunctions

    arn = stack.fire_schedule("ValidationSchedule")
    local_stepfunctions.wait_for_executions()
    execution = stack.client("stepfunctions").describe_execution(executionArn=arn)
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    return json.loads(execution["output"])


def test_movements_and_a_file_at_the_same_time_count_once_and_the_validation_reconciles_them(
    stocked, console, token, s3, bucket
):
    s3.put_object(
        Bucket=bucket,
        Key="inventory_files/2026/12/06/20261206081000_inventory.csv",
        Body=HEADER + "2026-12-06T08:10:00Z\tSüd X\ts-1\tSpoon\t20\n",
    )
    stocked.drain()
    assert validate(stocked)["differences"] == 0  # the baseline: 20

    adjustment = {
        "movement_id": uuid.uuid4().hex,
        "warehouse": "Süd X",
        "item_id": "s-1",
        "change": -2,
        "reason": "lost",
    }
    move = {"movement_id": uuid.uuid4().hex, "from": "Süd X", "to": "Süd Y", "item_id": "s-1", "quantity": 5}
    count = {"movement_id": uuid.uuid4().hex, "counts": [{"warehouse": "Süd X", "item_id": "s-1", "counted": 15}]}
    sale = HEADER + "2026-12-06T08:20:00Z\tSüd X\ts-1\tSpoon\t-4\n"

    def the_file() -> None:  # uploaded and applied (queue, ingest function) while the movements come in
        s3.put_object(Bucket=bucket, Key="inventory_files/2026/12/06/20261206082000_inventory.csv", Body=sale)
        stocked.drain()

    work = [
        lambda: post(console, token, "adjustments", adjustment),
        lambda: post(console, token, "transfers", move),
        lambda: post(console, token, "stocktakes", count),
        the_file,
        lambda: post(console, token, "adjustments", adjustment),  # each movement sent twice, as a browser may
        lambda: post(console, token, "transfers", move),
        lambda: post(console, token, "stocktakes", count),
    ]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        done = [f.result() for f in [pool.submit(job) for job in work]]
    assert sorted(d[1]["status"] for d in done if isinstance(d, tuple)) == ["ALREADY_APPLIED"] * 3 + ["APPLIED"] * 3
    stocked.drain()
    # each counted once: the level is the baseline, the file and what each movement did when it was applied (the
    # stocktake's difference taken against the level of its moment), no more
    from stock_pipeline.adapters.validation_table import ValidationTable

    moved = ValidationTable(stocked.client("dynamodb"), stocked.outputs["StockTableName"]).movements("2026-01-01")
    final = int(level(stocked, "Süd X", "s-1")["quantity"]["N"])
    assert final == 20 - 4 + moved[("Süd X", "s-1")]
    assert level(stocked, "Süd Y", "s-1")["quantity"] == {"N": "5"}
    # and what the timestamps say: the count (15) plus whatever was applied after it
    history = sorted(
        (
            row
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/")
            for obj in page.get("Contents", [])
            for row in pq.read_table(
                io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
            ).to_pylist()
            if row["warehouse"] == "Süd X" and row["item_id"] == "s-1"
        ),
        key=lambda row: row["sequence"],
    )
    counted = [n for n, row in enumerate(history) if (row["source_key"] or "").startswith("stocktake")]
    assert len(counted) == 1 and history[counted[0]]["new_value"] == 15
    assert final == 15 + sum(row["delta"] for row in history[counted[0] + 1 :])
    checked = validate(stocked)
    assert checked["differences"] == 0 and checked["files"] == 1, checked


def test_a_stocktake_sets_the_counted_levels_once_and_the_history_shows_counted_and_previous(
    stocked, console, token, s3, bucket
):
    s3.put_object(
        Bucket=bucket,
        Key="inventory_files/2026/12/06/20261206083000_inventory.csv",
        Body=HEADER
        + "2026-12-06T08:30:00Z\tInventur 1\tt-1\tTape\t12\n2026-12-06T08:30:00Z\tInventur 1\tt-2\tTag\t3\n",
    )
    stocked.drain()
    take = {
        "movement_id": uuid.uuid4().hex,
        "counts": [
            {"warehouse": "Inventur 1", "item_id": "t-1", "counted": 9},  # 3 missing
            {"warehouse": "Inventur 1", "item_id": "t-2", "counted": 3},  # as recorded
            {"warehouse": "Inventur 2", "item_id": "t-1", "counted": 4},  # found where none was recorded
        ],
    }
    assert post(console, token, "stocktakes", {**take, "counts": [{**take["counts"][0], "counted": -1}]})[0] == 400
    assert post(console, token, "stocktakes", {**take, "counts": take["counts"] * 2})[0] == 400  # counted twice
    status, applied = post(console, token, "stocktakes", take)
    assert status == 200 and applied["status"] == "APPLIED"
    assert applied["levels"] == {"Inventur 1 / t-1": 9, "Inventur 1 / t-2": 3, "Inventur 2 / t-1": 4}
    assert post(console, token, "stocktakes", take)[1]["status"] == "ALREADY_APPLIED"
    # a sale after the count applies on top of it
    s3.put_object(
        Bucket=bucket,
        Key="inventory_files/2026/12/06/20261206090000_inventory.csv",
        Body=HEADER + "2026-12-06T09:00:00Z\tInventur 1\tt-1\tTape\t-2\n",
    )
    stocked.drain()
    assert level(stocked, "Inventur 1", "t-1")["quantity"] == {"N": "7"}
    user = stocked.console_credentials["username"]
    rows = [
        row
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="curated/stock_history/")
        for obj in page.get("Contents", [])
        for row in pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())).to_pylist()
        if row["entity"] == "warehouse_level"
        and (row["source_key"] or "").startswith("stocktake")
        and row["warehouse"].startswith("Inventur")
    ]
    assert sorted((r["warehouse"], r["item_id"], r["old_value"], r["new_value"], r["changed_by"]) for r in rows) == [
        ("Inventur 1", "t-1", 12, 9, user),
        ("Inventur 1", "t-2", 3, 3, user),  # t-2 was right: the count is in the history all the same, delta 0
        ("Inventur 2", "t-1", None, 4, user),
    ]
    assert all(f"by {user}: counted" in r["source_key"] for r in rows)
    assert validate(stocked)["differences"] == 0


def test_a_count_raced_by_a_file_is_taken_against_the_level_the_file_left(stocked, monkeypatch):
    """The interleaving the condition guards: the level changes between the stocktake's read and its write. The
    transaction fails on `quantity = previous`, the count reads again, and the recorded difference is against the
    level the file left (so the validation's sum stays right)."""
    from stock_pipeline.adapters.movements import Movements
    from stock_pipeline.adapters.validation_table import ValidationTable
    from stock_pipeline.domain.movements import stocktake_from

    ddb, table = stocked.client("dynamodb"), stocked.outputs["StockTableName"]
    movements = Movements(ddb, table)
    ddb.put_item(
        TableName=table,
        Item={
            "PK": {"S": "WH#Race 1"},
            "SK": {"S": "ITEM#r-1"},
            "entity": {"S": "StockLevel"},
            "quantity": {"N": "10"},
        },
    )
    read, raced = movements._level, []

    def read_then_a_file_lands(warehouse, item_id):
        found = read(warehouse, item_id)
        if not raced:
            raced.append(True)
            ddb.update_item(
                TableName=table,
                Key={"PK": {"S": "WH#Race 1"}, "SK": {"S": "ITEM#r-1"}},
                UpdateExpression="ADD quantity :five",
                ExpressionAttributeValues={":five": {"N": "5"}},
            )
        return found

    monkeypatch.setattr(movements, "_level", read_then_a_file_lands)
    take = stocktake_from(
        {"movement_id": uuid.uuid4().hex, "counts": [{"warehouse": "Race 1", "item_id": "r-1", "counted": 12}]},
        user="ana",
    )
    applied = movements.stocktake(take, at="2026-12-06T10:00:00.000000Z")
    assert applied.status == "APPLIED" and applied.levels == {"Race 1 / r-1": 12}
    moved = ValidationTable(ddb, table).movements("2026-12-06T09:59:00", "2026-12-06T10:01:00")
    assert moved == {("Race 1", "r-1"): -3}  # 12 counted against the 15 the file left, not the 10 first read

    # its "file" was a raw write no source records: the level and the count leave with the test, or the module's
    # later validations find a level that differs from its sources (as they should)
    register = ddb.query(
        TableName=table,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :at)",
        ExpressionAttributeValues={":pk": {"S": "MOVEMENTS"}, ":at": {"S": "2026-12-06T10:00:00.000000Z#"}},
    )["Items"]
    leftovers = [{"PK": i["PK"], "SK": i["SK"]} for i in register if take.movement_id in i["SK"]["S"]]
    leftovers += [
        {"PK": {"S": "WH#Race 1"}, "SK": {"S": "ITEM#r-1"}},
        {"PK": {"S": f"MOVE#{take.movement_id}"}, "SK": {"S": "MOVE"}},
    ]
    for key in leftovers:
        ddb.delete_item(TableName=table, Key=key)


def test_a_counted_file_takes_each_count_at_its_moment_and_what_came_after_stays_on_top(stocked, s3, bucket):
    """Uploaded straight to S3 (a scanner's export): the count at 15 was taken before a sale of 4 was applied,
    so the level ends at 11, not 15; a row without a moment counts at the upload; a bad row is rejected with its
    line; the same file delivered again changes nothing; the validation reconciles it all."""
    import time
    from datetime import UTC, datetime

    from stock_pipeline.adapters.file_outcomes import FileOutcomes

    s3.put_object(
        Bucket=bucket,
        Key="inventory_files/2026/12/06/20261206100000_inventory.csv",
        Body=HEADER + "2026-12-06T10:00:00Z\tZähl 1\tz-1\tZange\t20\n",
    )
    stocked.drain()
    counted_at = datetime.now(UTC)  # the shelf held 15 at this moment, the system said 20
    time.sleep(1.1)
    s3.put_object(
        Bucket=bucket,
        Key="inventory_files/2026/12/06/20261206101000_inventory.csv",
        Body=HEADER + "2026-12-06T10:10:00Z\tZähl 1\tz-1\tZange\t-4\n",  # a sale applied after the count
    )
    stocked.drain()
    key = "stocktakes/2026/12/06/scanner-export.csv"
    body = (
        f"Lager;Artikel;Menge;Zeitpunkt\nZähl 1;z-1;15;{counted_at.isoformat()}\nZähl 1;z-2;3;\nZähl 1;z-3;-1;\n"
    ).encode()
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"')
    stocked.drain()
    assert level(stocked, "Zähl 1", "z-1")["quantity"] == {"N": "11"}  # 15 counted, then the sale of 4
    assert level(stocked, "Zähl 1", "z-2")["quantity"] == {"N": "3"}
    assert level(stocked, "Zähl 1", "z-3") is None
    cause = level(stocked, "Zähl 1", "z-1")["lastSourceKey"]["S"]
    assert f"counted 15 at {counted_at:%Y-%m-%dT%H:%M:%SZ}, was 20" in cause

    ddb, table = stocked.client("dynamodb"), stocked.outputs["StockTableName"]
    outcome = FileOutcomes(ddb, table).outcomes([(key, etag)])[(key, etag)]
    assert outcome["status"] == "SUCCEEDED" and outcome["summary"] == "2 counts applied from 3 rows, 1 rejected"
    rejected = s3.get_object(Bucket=bucket, Key=outcome["rejectedKey"])["Body"].read().decode()
    assert '"line": 4' in rejected and "cannot be negative" in rejected
    assert outcome["uploadedBy"] and outcome["uploadedBy"] in cause  # straight to S3: the principal

    s3.put_object(Bucket=bucket, Key=key, Body=body)  # the same file again: its counts are applied already
    stocked.drain()
    assert level(stocked, "Zähl 1", "z-1")["quantity"] == {"N": "11"}
    again = FileOutcomes(ddb, table).outcomes([(key, etag)])[(key, etag)]
    assert again["summary"] == "2 counts applied from 3 rows, 1 rejected, 1 group(s) applied before"
    checked = validate(stocked)
    assert checked["differences"] == 0, checked


def test_a_counted_workbook_uploaded_in_the_console_names_its_counter(stocked, console, token):
    """Through the console's presigned POST (the console role may write under stocktakes/): the stocktake is the
    signed-in user's, and today's files list it as a stocktake, processed."""
    import requests
    import xlsxwriter

    from tests.integration.test_console import presign

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["Warehouse", "Item ID", "Counted"])
    sheet.write_row(1, 0, ["Nord D", "m-1", 8])
    book.close()
    data = buffer.getvalue()
    status, target = presign(console, token, kind="stocktake", filename="Zählung Nord D.xlsx", size=len(data))
    assert status == 200 and target["key"].startswith("stocktakes/")
    sent = requests.post(target["url"], data=target["fields"], files={"file": ("z.xlsx", data)}, timeout=30)
    assert sent.status_code == 204
    stocked.drain()
    user = stocked.console_credentials["username"]
    assert level(stocked, "Nord D")["quantity"] == {"N": "8"}
    assert level(stocked, "Nord D")["lastChangedBy"] == {"S": user}
    files = {f["key"]: f for f in json.loads(call(f"{console}/api/files", token=token)[2])["files"]}
    listed = files[target["key"]]
    assert (listed["kind"], listed["status"], listed["uploaded_by"]) == ("stocktake", "processed", user)
