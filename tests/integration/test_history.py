"""The history consumer on the local stack: the table's stream -> curated/stock_history/, every change once."""

import awswrangler as wr
import pytest

HEADER = "Timestamp\tWarehouseName\tItemId\tItemName\tStockLevelChange\n"


def upload_inventory(s3, bucket, name, rows):
    """An upload the stack ingests through its notification queue (when drained)."""
    key = f"inventory_files/2026/11/26/{name}_inventory.csv"
    body = HEADER + "".join(f"2026-11-26T{t}:00+00:00\t{w}\t{i}\tShirt\t{c}\n" for t, w, i, c in rows)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return key


def history(bucket, **match):
    table = wr.s3.read_parquet(f"s3://{bucket}/curated/stock_history/", dataset=True)
    for column, value in match.items():
        table = table[table[column] == value]
    return table.sort_values("sequence")


def level(stack, table_name, warehouse, item):
    item = stack.client("dynamodb").get_item(
        TableName=table_name, Key={"PK": {"S": f"WH#{warehouse}"}, "SK": {"S": f"ITEM#{item}"}}
    )["Item"]
    return int(item["quantity"]["N"])


def test_a_burst_of_updates_to_one_level_leaves_one_row_per_change_in_order(stack, s3, bucket, table_name):
    changes = [40, -3, -5, 12, -44]
    keys = [
        upload_inventory(s3, bucket, f"2026112609{n:02d}00", [(f"09:{n:02d}", "Berlin 1", "burst", c)])
        for n, c in enumerate(changes)
    ]
    stack.drain()

    rows = history(bucket, entity="warehouse_level", item_id="burst")
    assert rows["delta"].tolist() == changes
    assert rows["new_value"].tolist() == [40, 37, 32, 44, 0]
    assert rows["delta"].sum() == level(stack, table_name, "Berlin 1", "burst") == 0
    assert rows["source_key"].tolist() == keys and set(rows["source_lines"]) == {"2"}  # line 1: header
    assert rows["old_value"].isna().tolist() == [True, False, False, False, False]
    assert (rows["dt"] == rows["event_time"].dt.strftime("%Y-%m-%d")).all()


def test_the_cause_names_the_lines_a_change_sums(stack, s3, bucket):
    rows = [("10:00", "Hamburg 2", "lines", 5), ("10:01", "Hamburg 2", "other", 1), ("10:02", "Hamburg 2", "lines", 2)]
    key = upload_inventory(s3, bucket, "202611261000", rows)
    stack.drain()
    (row,) = history(bucket, item_id="lines").to_dict("records")
    assert (row["delta"], row["source_key"], row["source_lines"]) == (7, key, "2-4")


@pytest.fixture
def failing_once(stack):
    """The history function writes its files, then fails (a timeout after the PUT): Lambda retries the batch."""
    function = stack.functions["HistoryFunction"]
    real = function._resolve()
    calls = []

    def flaky(event, context):
        result = real(event, context)
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise TimeoutError("Task timed out after the files were written")
        return result

    function._handlers[0] = flaky
    yield calls
    function._handlers[0] = real


def test_a_retried_stream_batch_adds_nothing_twice(stack, s3, bucket, failing_once):
    changes = [9, -1, -2]
    for n, c in enumerate(changes):
        upload_inventory(s3, bucket, f"2026112611{n:02d}00", [(f"11:{n:02d}", "Köln 1", "retried", c)])
    stack.drain()

    assert len(failing_once) == 2 and failing_once[0] == failing_once[1]  # the same batch, delivered twice
    rows = history(bucket, item_id="retried")
    assert rows["delta"].tolist() == changes
    assert rows["event_id"].is_unique


def test_thresholds_are_history_too_and_flag_only_updates_are_not(stack, s3, bucket):
    upload_inventory(s3, bucket, "202611261200", [("12:00", "Berlin 1", "flagged", 3)])  # alert: flag set
    key = "restock_thresholds/2026/11/26/restock_thresholds.json"
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"ThresholdList": [{"ItemId": "flagged", "RestockIfBelow": 25}]}')
    stack.drain()

    rows = history(bucket, item_id="flagged")
    assert sorted(zip(rows["entity"], rows["new_value"], strict=True)) == [("threshold", 25), ("warehouse_level", 3)]


def test_the_history_role_writes_only_the_recent_changes_keys(stack, table_name):
    """The role's BatchWriteItem is conditioned on dynamodb:LeadingKeys CHG#*: the local stack gives the call its
    partition keys, so a batch with any other key (a level, here) is refused as AWS refuses it."""
    from botocore.exceptions import ClientError

    from stock_pipeline.adapters.stock_table import write_batches

    client = stack.session_of("HistoryFunction").client("dynamodb")

    def put(pk):
        item = {"PK": {"S": pk}, "SK": {"S": "2026-11-26T00:00:00Z#1"}, "entity": {"S": "LevelChange"}}
        write_batches(client, table_name, [{"PutRequest": {"Item": item}}], what="recent level changes")

    put("CHG#Berlin#leading-keys")
    with pytest.raises(ClientError) as refused:
        put("WH#Berlin")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "HistoryFunctionRole" in error["Message"] and "dynamodb:BatchWriteItem" in error["Message"]
    assert stack.client("dynamodb").get_item(
        TableName=table_name, Key={"PK": {"S": "CHG#Berlin#leading-keys"}, "SK": {"S": "2026-11-26T00:00:00Z#1"}}
    )["Item"]["entity"] == {"S": "LevelChange"}
    assert "Item" not in stack.client("dynamodb").get_item(
        TableName=table_name, Key={"PK": {"S": "WH#Berlin"}, "SK": {"S": "2026-11-26T00:00:00Z#1"}}
    )
