"""Inventory files, thresholds and alerts against moto: the template's table, real transactions and stream records."""

import json
from datetime import UTC, datetime, timedelta

import awswrangler as wr
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from local_aws.pollers import DynamoDbStreamPoller
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.pacing import Pacer
from stock_pipeline.handlers.ingest import handle
from stock_pipeline.ingestion import ingest_inventory_file
from tests.conftest import sqs_event_for

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"
# A live file's transactions happen now: a crossing they cause is e-mailed (an older one is history: not e-mailed)
LIVE = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def inbox(stack):
    return stack.inbox(stack.outputs["RestockTopicArn"], name="integration-inbox")


@pytest.fixture(scope="module")
def run_alerts(stack):
    """The alert function, fed from the table's stream by the local stream poller (handler in-process)."""
    [poller] = [
        p for p in stack.pollers if isinstance(p, DynamoDbStreamPoller) and p.function.logical_id == "AlertFunction"
    ]

    def run():
        while poller.poll_once():
            pass
        return poller

    return run


def upload_and_ingest(s3, deps, bucket, key, text):
    etag = s3.put_object(Bucket=bucket, Key=key, Body=text.encode())["ETag"].strip('"')
    assert handle(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}
    return etag


def rows(warehouse, *entries, when="2021-02-15T12:00:00Z"):
    return HEADER + "".join(f"{when}\t{warehouse}\t{item}\tName of {item}\t{change}\n" for item, change in entries)


def key(n):
    return f"inventory_files/2021/02/15/2021021512{n:04d}_inventory.csv"


def level(deps, warehouse, item):
    found = deps.levels.level(warehouse, item)
    return None if found is None else found["quantity"]


def test_the_reference_rows_set_levels_and_land_in_the_lake(stack, deps, s3, bucket):
    text = (
        HEADER
        + "2021-02-15T12:00:00.000+01:00\tBerlin 1\ta123v5\ttecRacer T-Shirt\t-3\n"
        + "2021-02-15T15:00:00.000+01:00\tBorkum 1\tg45678\tAWS Sticker\t500\n"
    )
    upload_and_ingest(s3, deps, bucket, "inventory_files/2021/02/15/20210215150000_inventory.csv", text)

    berlin = deps.levels.level("Berlin 1", "a123v5")
    assert berlin["quantity"] == -3  # negative levels are stored (and logged as an anomaly by the alerts)
    assert berlin["itemName"] == "tecRacer T-Shirt"
    assert berlin["GSI1PK"] == "ITEM#a123v5"
    assert level(deps, "Borkum 1", "g45678") == 500
    lake = wr.s3.read_parquet(f"s3://{bucket}/curated/inventory_transactions/warehouse=Borkum 1/", dataset=True)
    assert lake[["item_id", "stock_level_change", "source_line", "dt"]].to_dict("records") == [
        {"item_id": "g45678", "stock_level_change": 500, "source_line": 3, "dt": "2021-02-15"}
    ]
    glue = stack.client("glue").get_table(DatabaseName=stack.outputs["GlueDatabaseName"], Name="inventory_transactions")
    assert glue["Table"]["Parameters"]["projection.enabled"] == "true"


def test_the_same_file_delivered_twice_changes_levels_once(deps, s3, bucket):
    text = rows("WH-twice", ("i1", 5), ("i2", -2))
    etag = upload_and_ingest(s3, deps, bucket, key(1), text)
    handle(sqs_event_for([(bucket, key(1), etag), (bucket, key(1), etag)]), None, deps)  # twice more, one batch

    assert (level(deps, "WH-twice", "i1"), level(deps, "WH-twice", "i2")) == (5, -2)


class CrashingLevels:
    """The real adapter, with a crash (as a timeout would cause) after a number of chunks."""

    def __init__(self, real, crash_at_chunk):
        self.real, self.crash_at_chunk = real, crash_at_chunk

    def apply_chunk(self, **kwargs):
        if kwargs["chunk"] == self.crash_at_chunk:
            raise RuntimeError("Lambda timed out")
        return self.real.apply_chunk(**kwargs)

    def __getattr__(self, name):  # everything else is the real adapter's
        return getattr(self.real, name)


def test_a_file_reprocessed_after_a_crash_half_way_applies_every_change_exactly_once(deps, s3, bucket):
    # Given a file of 250 items (3 chunks) whose first run crashed after its first chunk
    entries = [(f"item-{i:03d}", i + 1) for i in range(250)]
    text = rows("WH-crash", *entries)
    etag = s3.put_object(Bucket=bucket, Key=key(2), Body=text.encode())["ETag"].strip('"')
    ref = ObjectRef(bucket, key(2), etag)
    common = {"store": deps.store, "writer": deps.store, "lake": deps.lake, "rejected_prefix": "rejected/"}
    with pytest.raises(RuntimeError):
        ingest_inventory_file(ref, levels=CrashingLevels(deps.levels, 1), now=datetime.now(UTC), **common)
    assert level(deps, "WH-crash", "item-000") == 1
    assert level(deps, "WH-crash", "item-249") is None

    # When the message comes back and the file is processed again
    report = ingest_inventory_file(ref, levels=deps.levels, now=datetime.now(UTC), **common)

    # Then the applied chunk is skipped and every level is what one clean run gives
    assert (report.chunks, report.chunks_already_applied) == (3, 1)
    levels = {item["itemId"]: item["quantity"] for item in deps.levels.levels_of_warehouse("WH-crash")}
    assert levels == dict(entries)


def test_a_large_file_for_one_warehouse_is_written_at_its_partitions_rate_and_a_small_one_at_once(deps, s3, bucket):
    # Given a file of 600 levels of one warehouse and 40 of another, paced at 100 units a second (on a clock that
    # moves only when the pacer waits: the figure is the waiting, not this machine's speed)
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    pacer = Pacer(100, clock=lambda: clock[0], sleep=sleep)
    text = rows("WH-paced", *[(f"p-{i:03d}", 1) for i in range(600)]) + rows("WH-small", ("s-1", 2))[len(HEADER) :]
    etag = s3.put_object(Bucket=bucket, Key=key(9), Body=text.encode())["ETag"].strip('"')
    common = {"store": deps.store, "writer": deps.store, "lake": deps.lake, "rejected_prefix": "rejected/"}

    # When it is ingested
    report = ingest_inventory_file(
        ObjectRef(bucket, key(9), etag), levels=deps.levels, now=datetime.now(UTC), pacer=pacer, **common
    )

    # Then its 1,200 units to WH-paced took 11 seconds past the burst of one, the small warehouse none, and
    # every level is applied
    assert report.paced_s == pytest.approx((1200 - 100) / 100)
    assert report.levels == 601
    assert level(deps, "WH-paced", "p-599") == 1 and level(deps, "WH-small", "s-1") == 2


def test_files_arriving_out_of_order_give_the_same_levels(deps, s3, bucket):
    upload_and_ingest(s3, deps, bucket, key(4), rows("WH-order", ("i1", -4), when="2021-02-15T14:00:00Z"))
    upload_and_ingest(s3, deps, bucket, key(3), rows("WH-order", ("i1", 10), when="2021-02-15T13:00:00Z"))
    assert level(deps, "WH-order", "i1") == 6


def test_malformed_rows_are_rejected_and_the_rest_applies(deps, s3, bucket):
    text = rows("WH-bad", ("i1", 3)) + "2021-02-15T12:00:00Z\tWH-bad\ti2\tx\tlots\nonly one column\n"
    etag = upload_and_ingest(s3, deps, bucket, key(5), text)

    assert level(deps, "WH-bad", "i1") == 3
    assert level(deps, "WH-bad", "i2") is None
    body = s3.get_object(Bucket=bucket, Key=f"rejected/{key(5)}.{ObjectRef(bucket, key(5), etag).stem}.rejected.jsonl")
    rejected = [json.loads(line) for line in body["Body"].read().splitlines()]
    assert [(r["line"], r["reason"][:26]) for r in rejected] == [
        (3, "StockLevelChange: not an i"),
        (4, "expected 5 tab-separated c"),
    ]


def thresholds_file(day, *entries):
    return json.dumps({"ThresholdList": [{"ItemId": i, "RestockIfBelow": t} for i, t in entries]})


def test_thresholds_are_stored_with_their_file_and_a_later_day_wins(deps, s3, bucket):
    later = "restock_thresholds/2021/02/16/restock_thresholds.json"
    earlier = "restock_thresholds/2021/02/15/restock_thresholds.json"
    upload_and_ingest(s3, deps, bucket, later, thresholds_file(16, ("t-1", 30), ("t-2", 5)))
    upload_and_ingest(s3, deps, bucket, earlier, thresholds_file(15, ("t-1", 99), ("t-3", 7)))

    assert deps.levels.thresholds(["t-1", "t-2", "t-3", "t-none"]) == {"t-1": 30, "t-2": 5, "t-3": 7}
    item = s3_item(deps, "ITEM#t-1", "THRESHOLD")
    assert item["sourceKey"] == later
    assert item["effectiveFrom"] == "2021-02-16"


def s3_item(deps, pk, sk):
    raw = deps.levels._ddb.get_item(TableName=deps.levels.name, Key={"PK": {"S": pk}, "SK": {"S": sk}})["Item"]
    return {k: next(iter(v.values())) for k, v in raw.items()}


def test_malformed_threshold_entries_are_rejected_with_index_and_the_others_apply(deps, s3, bucket):
    k = "restock_thresholds/2021/02/17/restock_thresholds.json"
    body = json.dumps(
        {"ThresholdList": [{"ItemId": "m-1", "RestockIfBelow": 3}, {"ItemId": "m-2", "RestockIfBelow": -3}]}
    )
    etag = upload_and_ingest(s3, deps, bucket, k, body)

    assert deps.levels.thresholds(["m-1", "m-2"]) == {"m-1": 3}
    rejected = s3.get_object(Bucket=bucket, Key=f"rejected/{k}.{ObjectRef(bucket, k, etag).stem}.rejected.jsonl")
    [entry] = [json.loads(line) for line in rejected["Body"].read().splitlines()]
    assert entry["line"] == 1
    assert "RestockIfBelow must not be negative" in entry["reason"]


def test_one_alert_per_crossing_and_a_restock_rearms(deps, s3, bucket, inbox, run_alerts):
    run_alerts()
    inbox.read()  # what earlier tests caused
    upload_and_ingest(
        s3, deps, bucket, "restock_thresholds/2021/02/18/restock_thresholds.json", thresholds_file(18, ("x-1", 25))
    )

    upload_and_ingest(s3, deps, bucket, key(10), rows("WH-alert", ("x-1", 30), ("x-2", 12), when=LIVE))
    run_alerts()
    assert inbox.read() == []  # both at or above their thresholds (25, and the default 10)

    upload_and_ingest(s3, deps, bucket, key(11), rows("WH-alert", ("x-1", -6), ("x-2", -3), when=LIVE))  # 24 and 9
    run_alerts()
    first = inbox.read()
    assert sorted((m["attributes"]["itemId"], m["attributes"]["warehouse"]) for m in first) == [
        ("x-1", "WH-alert"),
        ("x-2", "WH-alert"),
    ]
    x1 = next(m for m in first if m["attributes"]["itemId"] == "x-1")
    assert x1["subject"] == "Restock Name of x-1 at WH-alert: 24 left (below 25)"
    assert key(11) in x1["message"]

    upload_and_ingest(s3, deps, bucket, key(12), rows("WH-alert", ("x-1", -1), ("x-2", -1), when=LIVE))  # stays below
    run_alerts()
    assert inbox.read() == []

    upload_and_ingest(s3, deps, bucket, key(13), rows("WH-alert", ("x-2", 20), when=LIVE))  # restocked: 28, re-armed
    run_alerts()
    assert deps.levels.level("WH-alert", "x-2")["belowThreshold"] is False
    upload_and_ingest(s3, deps, bucket, key(14), rows("WH-alert", ("x-2", -25), when=LIVE))  # 3: crosses again
    run_alerts()
    again = inbox.read()
    assert [(m["attributes"]["itemId"], "3 left" in m["subject"]) for m in again] == [("x-2", True)]


def test_a_50000_row_file_gives_the_levels_of_an_independent_groupby(deps, s3, bucket):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "Timestamp": pd.Timestamp("2021-02-15T12:00:00Z")
            + pd.to_timedelta(rng.integers(0, 86_400, 50_000), unit="s"),
            "WarehouseName": [f"WH-big-{n}" for n in rng.integers(0, 8, 50_000)],
            "ItemId": [f"sku-{n}" for n in rng.integers(0, 150, 50_000)],
            "ItemName": "Some item",
            "StockLevelChange": rng.integers(-20, 40, 50_000),
        }
    )
    frame["Timestamp"] = frame["Timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00"
    text = frame.to_csv(sep="\t", index=False)
    upload_and_ingest(s3, deps, bucket, key(20), text)

    expected = frame.groupby(["WarehouseName", "ItemId"])["StockLevelChange"].sum().to_dict()
    stored = {
        (item["warehouse"], item["itemId"]): item["quantity"]
        for warehouse in sorted(frame["WarehouseName"].unique())
        for item in deps.levels.levels_of_warehouse(warehouse)
    }
    assert stored == expected


def test_a_warehouse_in_two_unicode_forms_is_one_warehouse_and_huge_values_are_rejected(deps, s3, bucket):
    # Given "München 7" typed composed (Windows) and decomposed (macOS), and a change no warehouse makes
    text = (
        HEADER
        + "2026-11-25T08:00:00Z\tM\u00fcnchen 7\tnf1\tCap\t3\n"
        + "2026-11-25T08:01:00Z\tMu\u0308nchen 7\tnf1\tCap\t4\n"
        + "2026-11-25T08:02:00Z\tM\u00fcnchen 7\tnf2\tMug\t900000000000000000\n"
        + "2026-11-25T08:03:00Z\tM\u00fcnchen 7\tnf2\tMug\t900000000000000000\n"
    )
    upload_and_ingest(s3, deps, bucket, key(30), text)
    # Then both rows move one level, and the out-of-range rows are rejected with their line instead of wrapping

    assert level(deps, "M\u00fcnchen 7", "nf1") == 7
    assert level(deps, "Mu\u0308nchen 7", "nf1") is None
    assert level(deps, "M\u00fcnchen 7", "nf2") is None
    rejected = s3.list_objects_v2(Bucket=bucket, Prefix=f"rejected/{key(30)}")["Contents"]
    lines = s3.get_object(Bucket=bucket, Key=rejected[0]["Key"])["Body"].read().decode().splitlines()
    reasons = [(json.loads(line)["line"], json.loads(line)["reason"]) for line in lines]
    assert reasons == [
        (4, "StockLevelChange: out of range (more than 1,000,000,000,000 units either way)"),
        (5, "StockLevelChange: out of range (more than 1,000,000,000,000 units either way)"),
    ]


def test_the_same_content_under_a_second_key_is_not_applied_again_and_is_reported(stack, deps, s3, bucket):
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="duplicate-inbox")
    text = rows("WH-dup", ("d1", 5))
    upload_and_ingest(s3, deps, bucket, key(31), text)
    # When someone uploads the same file again under another name
    upload_and_ingest(s3, deps, bucket, key(32), text)
    # Then the level moved once, and a FAILED notice names the file that brought the content first
    assert level(deps, "WH-dup", "d1") == 5
    [notice] = notices.read()
    assert notice["subject"] == f"File FAILED: {key(32)}"
    assert f"the same content as {key(31)}, which arrived first: not applied again" in notice["message"]


def test_a_300_character_item_name_and_a_long_key_still_reach_the_inbox(stack, deps, s3, bucket, inbox, run_alerts):
    """SNS refuses a subject of 100 characters or more (InvalidParameter): the alert and the notice are cut to fit."""
    from botocore.exceptions import ClientError

    run_alerts()
    inbox.read()
    notices = stack.inbox(stack.outputs["FeedStatusTopicArn"], name="integration-notices")
    name = "Überlanger Artikelname mit Umlauten " * 9
    upload_and_ingest(s3, deps, bucket, key(30), HEADER + f"{LIVE}\tWH {'L' * 120}\tlong-1\t{name}\t3\n")
    run_alerts()
    [alert] = inbox.read()
    assert alert["subject"].startswith("Restock Uberlanger Artikelname") and len(alert["subject"]) < 100

    long_key = "supplier_feeds/acme/2021/02/15/" + "sehr-langer-dateiname-" * 12 + ".odt"
    upload_and_ingest(s3, deps, bucket, long_key, "not a workbook")
    [notice] = notices.read()
    assert notice["subject"].startswith("File FAILED: supplier_feeds/acme/") and len(notice["subject"]) < 100
    assert long_key in notice["message"]

    with pytest.raises(ClientError) as refused:
        stack.client("sns").publish(TopicArn=stack.outputs["RestockTopicArn"], Subject="x" * 100, Message="m")
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"


def test_a_thresholds_write_applied_twice_reports_its_changes_both_times(deps):
    """A PutItem whose answer was lost is retried by the SDK (or the file re-delivered after a kill): the second
    write finds the item it wrote itself and must still report the change (found by `make chaos`: the retry read
    the new value as the old one, the change vanished and the re-evaluation never ran for the item)."""
    from stock_pipeline.domain.thresholds import Threshold, ThresholdChange

    entries = [Threshold("t-twice", 40), Threshold("t-twice-2", 8)]
    args = {"source_key": "restock_thresholds/2021/03/01/x.json", "effective_from": "2021-03-01"}
    first = deps.levels.put_thresholds(entries, **args, source_file="x.json#e1")
    again = deps.levels.put_thresholds(entries, **args, source_file="x.json#e1")
    expected = [ThresholdChange("t-twice", None, 40), ThresholdChange("t-twice-2", None, 8)]
    assert first == again == expected
    # another file changes it from there; an older day's file changes nothing
    later = deps.levels.put_thresholds(
        [Threshold("t-twice", 50)], **{**args, "effective_from": "2021-03-02"}, source_file="y#e2"
    )
    assert later == [ThresholdChange("t-twice", 40, 50)]
    assert deps.levels.put_thresholds(entries[:1], **args, source_file="x.json#e1") == []
    assert deps.levels.thresholds(["t-twice"]) == {"t-twice": 50}


def test_a_thresholds_file_redelivered_after_a_kill_still_starts_the_reevaluation(stack, deps, s3, bucket):
    """The interleaving `make chaos` found: the function stored the thresholds and died before it started the
    workflow; SQS delivers the file again and the re-evaluation must start with the same changes."""
    key = "restock_thresholds/2021/03/05/restock_thresholds.json"
    text = thresholds_file(5, ("t-killed", 33))
    etag = s3.put_object(Bucket=bucket, Key=key, Body=text.encode())["ETag"].strip('"')
    from stock_pipeline.domain.thresholds import parse_thresholds

    # what the killed attempt did before it died: the thresholds, stored by this very file
    thresholds, _ = parse_thresholds(text.encode())
    deps.levels.put_thresholds(thresholds, source_key=key, effective_from="2021-03-05", source_file=f"{key}#{etag}")
    assert handle(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}

    sfn = stack.client("stepfunctions")
    name = f"thresholds-{ObjectRef(bucket, key, etag).stem}"
    runs = sfn.list_executions(stateMachineArn=stack.outputs["ReevaluateStateMachineArn"])["executions"]
    [run] = [r for r in runs if r["name"] == name]
    started = json.loads(sfn.describe_execution(executionArn=run["executionArn"])["input"])
    changes = json.loads(s3.get_object(Bucket=bucket, Key=started["changesKey"])["Body"].read())
    assert "t-killed" in json.dumps(changes)


def test_an_alert_batch_delivered_again_after_its_alerts_went_out_sends_nothing_twice(
    stack, deps, s3, bucket, inbox, monkeypatch
):
    """The interleaving `make chaos` counted duplicates of: the alert function published, then died before it
    returned, and Lambda handed it the same stream batch again. The claim was its own, so it was taken again and
    the e-mail went out twice; `alertSent`, recorded after the publish, now stops the second one."""
    [poller] = [
        p for p in stack.pollers if isinstance(p, DynamoDbStreamPoller) and p.function.logical_id == "AlertFunction"
    ]
    while poller.poll_once():  # earlier tests' records out of the way
        pass
    inbox.read()
    invoke, events = poller.function.invoke, []
    monkeypatch.setattr(poller.function, "invoke", lambda event: events.append(event) or invoke(event))
    upload_and_ingest(s3, deps, bucket, key(40), rows("WH-twice", ("y-1", 12), when=LIVE))
    upload_and_ingest(s3, deps, bucket, key(41), rows("WH-twice", ("y-1", -5), when=LIVE))  # 7: below the default 10
    while poller.poll_once():
        pass
    assert [m["attributes"]["itemId"] for m in inbox.read()] == ["y-1"]

    for event in events:  # the same batches again, as after a kill between the publish and the answer
        invoke(event)
    assert inbox.read() == []
    assert deps.levels.level("WH-twice", "y-1")["belowThreshold"] is True


def test_recording_an_alert_as_sent_is_best_effort(deps, monkeypatch):
    """The e-mail is out when `alertSent` is written: a failing write is reported back, never raised (raising would
    fail the batch and send every alert of it again)."""
    from botocore.exceptions import ClientError

    def throttled(**kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(deps.levels._ddb, "update_item", throttled)
    assert deps.levels.mark_sent([("WH-x", "i-1", "a-1"), ("WH-x", "i-2", "a-2")]) == ["a-1", "a-2"]


def test_an_import_of_sixty_days_emails_none_of_its_past_crossings_and_a_live_one_after_it(
    deps, s3, bucket, inbox, run_alerts
):
    # Given sixty daily files from three months ago in which 12 levels of one warehouse cross their threshold again
    # and again (a delivery of 30 every week, a sale of 5 a day: below 10 two days a week)
    run_alerts()
    inbox.read()
    start = datetime.now(UTC) - timedelta(days=90)
    crossings_in_history = 0
    quantity = dict.fromkeys(range(12), 0)
    for day in range(60):
        when = start + timedelta(days=day)
        entries = []
        for i in range(12):
            change = 30 if (day + i) % 7 == 0 else -5
            crossings_in_history += quantity[i] >= 10 > quantity[i] + change
            quantity[i] += change
            entries.append((f"imp-{i:02d}", change))
        text = rows("WH-import", *entries, when=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        upload_and_ingest(s3, deps, bucket, f"inventory_files/{when:%Y/%m/%d}/{when:%Y%m%d}120000_inventory.csv", text)
    run_alerts()

    # Then none of the past crossings was e-mailed, though they happened (and are recorded)
    assert crossings_in_history > 30
    assert [m for m in inbox.read() if m["attributes"]["warehouse"] == "WH-import"] == []
    below_now = {i for i, q in quantity.items() if q < 10}
    assert below_now and len(below_now) < 12
    for i in range(12):
        stored = deps.levels.level("WH-import", f"imp-{i:02d}")
        assert stored["quantity"] == quantity[i]
        assert stored.get("belowThreshold", False) is (i in below_now)
        if i in below_now:  # it crossed in the past: not one of today's crossings
            assert stored["alertedAt"] < (start + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # first seen at its earliest transaction, not when the pipeline processed the first file
        assert stored["firstSeenAt"] == f"{start:%Y-%m-%d}T{start:%H:%M:%S}.000000Z"

    # When a live file then takes a level that is fine now below its threshold
    fine = min(i for i in range(12) if i not in below_now)
    upload_and_ingest(s3, deps, bucket, key(50), rows("WH-import", (f"imp-{fine:02d}", -quantity[fine]), when=LIVE))
    run_alerts()

    # Then that one crossing is e-mailed, once
    assert [m["attributes"]["itemId"] for m in inbox.read() if m["attributes"]["warehouse"] == "WH-import"] == [
        f"imp-{fine:02d}"
    ]


def test_a_levels_first_seen_time_moves_back_to_history_imported_after_it(deps, s3, bucket):
    # Given a level the live feed made today
    upload_and_ingest(s3, deps, bucket, key(51), rows("WH-late", ("late-1", 40), when=LIVE))
    live = deps.levels.level("WH-late", "late-1")["firstSeenAt"]

    # When its history of last month is imported afterwards (files arrive in any order), twice
    month_ago = (datetime.now(UTC) - timedelta(days=30)).replace(microsecond=0)
    history = rows("WH-late", ("late-1", 5), when=month_ago.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for _ in range(2):
        upload_and_ingest(
            s3, deps, bucket, f"inventory_files/{month_ago:%Y/%m/%d}/{month_ago:%Y%m%d}080000_inventory.csv", history
        )

    # Then it was first seen a month ago (the minimum of its transactions), and its level counts both files once
    stored = deps.levels.level("WH-late", "late-1")
    assert live > stored["firstSeenAt"] == month_ago.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert stored["quantity"] == 45


def test_the_forecast_after_an_import_is_the_forecast_of_the_same_history_processed_day_by_day(deps, s3, bucket):
    from stock_pipeline.domain.inventory import parse_inventory_file
    from stock_pipeline.domain.rates import daily_rates
    from stock_pipeline.domain.validation import parse_utc

    # Given sixty days of one level's history: stocked with 100 sixty days ago, sold only in its last three days
    now = datetime.now(UTC).replace(microsecond=0)
    days = [(now - timedelta(days=60), 100), (now - timedelta(days=2), -6), (now - timedelta(days=1), -6)]

    def file_of(warehouse, when, change):
        return rows(warehouse, ("fc-1", change), when=when.strftime("%Y-%m-%dT%H:%M:%SZ"))

    # When one warehouse gets it day by day as it happened, and another imports it all this afternoon
    texts = []
    for when, change in days:
        for warehouse, processed in (("WH-daily", when + timedelta(minutes=5)), ("WH-imported", now)):
            text = file_of(warehouse, when, change)
            texts.append(text)
            k = f"inventory_files/{when:%Y/%m/%d}/{when:%Y%m%d%H%M}{len(texts):02d}_inventory.csv"
            etag = s3.put_object(Bucket=bucket, Key=k, Body=text.encode())["ETag"].strip('"')
            common = {"store": deps.store, "writer": deps.store, "lake": deps.lake, "rejected_prefix": "rejected/"}
            ingest_inventory_file(ObjectRef(bucket, k, etag), levels=deps.levels, now=processed, **common)

    # Then both levels were first seen sixty days ago, and the nightly rate of both is 12 units over the whole window
    seen = {w: deps.levels.level(w, "fc-1")["firstSeenAt"] for w in ("WH-daily", "WH-imported")}
    assert seen["WH-daily"] == seen["WH-imported"] == days[0][0].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    transactions = pa.concat_tables(parse_inventory_file(t.encode()).table for t in texts)
    rates = daily_rates(
        transactions, as_of=now, window_days=28, first_seen={(w, "fc-1"): parse_utc(s) for w, s in seen.items()}
    ).to_pylist()
    by_warehouse = {row["warehouse"]: row["daily_sales"] for row in rates}
    assert by_warehouse["WH-daily"] == by_warehouse["WH-imported"] == pytest.approx(12 / 28)
