"""Newer-wins snapshot writes in batches of 25 PartiQL statements, against the template's table on moto.

The first tests pin the local stack's PartiQL to DynamoDB's documented behaviour (ql-reference.insert/.update,
BatchStatementError), because the writer's correctness rests on it; the others drive the writer's branches.
"""

import gzip
import json

import pytest

from stock_pipeline.adapters.stock_table import StockTable
from stock_pipeline.domain.snapshots import SnapshotColumns
from stock_pipeline.handlers.ingest import handle
from tests.conftest import sqs_event_for


def insert(table, pk, version, **more):
    names = ["PK", "SK", "lastUpdated", *more]
    return {
        "Statement": f'INSERT INTO "{table}" VALUE {{' + ", ".join(f"'{n}': ?" for n in names) + "}",
        "Parameters": [{"S": pk}, {"S": "S#1"}, {"S": version}, *({"S": v} for v in more.values())],
    }


def update(table, pk, version, quantity="1"):
    return {
        "Statement": f'UPDATE "{table}" SET "lastUpdated"=? SET "quantity"=? '
        'WHERE "PK"=? AND "SK"=? AND "lastUpdated"<?',
        "Parameters": [{"S": version}, {"N": quantity}, {"S": pk}, {"S": "S#1"}, {"S": version}],
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def errors(ddb, statements):
    return [r.get("Error", {}).get("Code") for r in ddb.batch_execute_statement(Statements=statements)["Responses"]]


def test_insert_of_an_existing_key_is_refused_as_duplicate_item_and_the_others_land(ddb, table_name):
    assert errors(ddb, [insert(table_name, "P#a", "1")]) == [None]

    assert errors(ddb, [insert(table_name, "P#a", "2"), insert(table_name, "P#b", "1")]) == ["DuplicateItem", None]
    item = ddb.get_item(TableName=table_name, Key={"PK": {"S": "P#a"}, "SK": {"S": "S#1"}})["Item"]
    assert item["lastUpdated"] == {"S": "1"}


def test_update_of_a_missing_item_is_refused_and_creates_nothing(ddb, table_name):
    [response] = ddb.batch_execute_statement(Statements=[update(table_name, "P#missing", "5")])["Responses"]

    assert response["Error"]["Code"] == "ConditionalCheckFailed"
    assert "Item" not in response["Error"]
    assert "Item" not in ddb.get_item(TableName=table_name, Key={"PK": {"S": "P#missing"}, "SK": {"S": "S#1"}})


def test_update_applies_only_when_its_where_holds_and_returns_the_stored_item_when_not(ddb, table_name):
    errors(ddb, [insert(table_name, "P#c", "2")])

    [older] = ddb.batch_execute_statement(Statements=[update(table_name, "P#c", "1")])["Responses"]
    newer = errors(ddb, [update(table_name, "P#c", "3", quantity="9")])

    assert older["Error"]["Code"] == "ConditionalCheckFailed"
    assert older["Error"]["Item"]["lastUpdated"] == {"S": "2"}
    assert newer == [None]
    item = ddb.get_item(TableName=table_name, Key={"PK": {"S": "P#c"}, "SK": {"S": "S#1"}})["Item"]
    assert (item["lastUpdated"], item["quantity"]) == ({"S": "3"}, {"N": "9"})


def test_an_item_over_400_kb_is_a_validation_error_of_its_statement_only(ddb, table_name):
    codes = errors(ddb, [insert(table_name, "P#big", "1", blob="x" * 410_000), insert(table_name, "P#small", "1")])
    assert codes == ["ValidationError", None]


# ---------------------------------------------------------------------------- the writer's branches


def snapshots(keys, version, quantity="1"):
    return SnapshotColumns(
        pk=[f"RET#w#ACC#{k}" for k in keys],
        sk=["ART#1#CH#1"] * len(keys),
        version="lastUpdated",
        columns={"lastUpdated": ("S", [version] * len(keys)), "quantity": ("N", [quantity] * len(keys))},
        constants={"entity": ("S", "ArticleStock")},
        lines=list(range(1, len(keys) + 1)),
    )


def stored(ddb, table_name, key):
    item = ddb.get_item(TableName=table_name, Key={"PK": {"S": f"RET#w#ACC#{key}"}, "SK": {"S": "ART#1#CH#1"}})
    return item.get("Item")


class Between:
    """The real client, with something done by another writer just before the first BatchExecuteStatement."""

    def __init__(self, client, before_write):
        self._client, self._before, self.calls = client, before_write, []

    def batch_execute_statement(self, **kwargs):
        self.calls.append([s["Statement"].split()[0] for s in kwargs["Statements"]])
        if self._before:
            self._before, before = None, self._before
            before()
        return self._client.batch_execute_statement(**kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_new_keys_are_inserted_older_ones_updated_equal_ones_not_written(ddb, table_name):
    writer = StockTable(ddb, table_name)
    writer.put_snapshots_if_newer(snapshots(["k1", "k2"], "2026-01-01T00:00:00.000000Z"))

    report = writer.put_snapshots_if_newer(
        SnapshotColumns(
            pk=["RET#w#ACC#k1", "RET#w#ACC#k2", "RET#w#ACC#k3"],
            sk=["ART#1#CH#1"] * 3,
            version="lastUpdated",
            columns={
                "lastUpdated": (
                    "S",
                    ["2026-01-02T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z"],
                ),
                "quantity": ("N", ["7", "8", "9"]),
            },
        )
    )

    assert (report.written, report.stale, report.invalid) == (2, 1, [])
    assert [stored(ddb, table_name, k)["quantity"]["N"] for k in ("k1", "k2", "k3")] == ["7", "1", "9"]


def test_a_competing_newer_write_between_read_and_insert_wins(ddb, table_name):
    # Given another writer stores a newer snapshot of the key after our read, before our INSERT
    def competitor():
        StockTable(ddb, table_name).put_snapshots_if_newer(snapshots(["race"], "2026-02-01T00:00:00.000000Z", "50"))

    client = Between(ddb, competitor)

    # When we write an older snapshot of that key
    report = StockTable(client, table_name).put_snapshots_if_newer(snapshots(["race"], "2026-01-01T00:00:00.000000Z"))

    # Then our INSERT is refused, the UPDATE that follows sees the newer version, and it stays
    assert client.calls == [["INSERT"], ["UPDATE"]]
    assert (report.written, report.stale) == (0, 1)
    assert stored(ddb, table_name, "race")["quantity"]["N"] == "50"


def test_an_item_deleted_between_read_and_update_is_stored_anew(ddb, table_name):
    writer = StockTable(ddb, table_name)
    writer.put_snapshots_if_newer(snapshots(["gone"], "2026-01-01T00:00:00.000000Z"))

    def delete():
        ddb.delete_item(TableName=table_name, Key={"PK": {"S": "RET#w#ACC#gone"}, "SK": {"S": "ART#1#CH#1"}})

    client = Between(ddb, delete)
    report = StockTable(client, table_name).put_snapshots_if_newer(
        snapshots(["gone"], "2026-03-01T00:00:00.000000Z", "4")
    )

    assert client.calls == [["UPDATE"], ["INSERT"]]
    assert report.written == 1
    assert stored(ddb, table_name, "gone")["quantity"]["N"] == "4"


class Throttling:
    """The real client, but DynamoDB throttles every other statement of the first request."""

    def __init__(self, client):
        self._client, self.throttled = client, 0

    def batch_execute_statement(self, **kwargs):
        statements = kwargs["Statements"]
        if self.throttled:
            return self._client.batch_execute_statement(**kwargs)
        keep = statements[::2]
        responses = iter(self._client.batch_execute_statement(Statements=keep)["Responses"])
        self.throttled = len(statements) - len(keep)
        return {
            "Responses": [
                next(responses) if i % 2 == 0 else {"Error": {"Code": "ThrottlingError", "Message": "slow down"}}
                for i in range(len(statements))
            ]
        }

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_throttled_statements_are_sent_again_after_a_back_off(ddb, table_name):
    client, pauses = Throttling(ddb), []
    keys = [f"t{i}" for i in range(10)]

    report = StockTable(client, table_name, sleep=pauses.append).put_snapshots_if_newer(
        snapshots(keys, "2026-01-01T00:00:00.000000Z")
    )

    assert client.throttled == 5
    assert len(pauses) == 1
    assert report.written == 10
    assert all(stored(ddb, table_name, k) for k in keys)


class Counting:
    def __init__(self, client):
        self._client, self.requests = client, 0

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name in ("batch_get_item", "batch_execute_statement", "put_item", "update_item"):
            self.requests += 1
        return attribute


def test_a_thousand_new_keys_take_fifty_requests_and_a_redelivery_reads_only(ddb, table_name):
    counting = Counting(ddb)
    writer = StockTable(counting, table_name)
    batch = snapshots([f"n{i}" for i in range(1000)], "2026-01-01T00:00:00.000000Z")

    first = writer.put_snapshots_if_newer(batch)
    requests_first, counting.requests = counting.requests, 0
    again = writer.put_snapshots_if_newer(batch)

    assert (first.written, requests_first, first.requests) == (1000, 50, 50)  # 10 reads of 100 keys, 40 of 25 writes
    assert (again.written, again.stale, counting.requests) == (0, 1000, 10)


# ---------------------------------------------------------------------------- through the handler


@pytest.mark.parametrize("compress", [False, True])
def test_a_record_dynamodb_cannot_store_is_rejected_with_its_line_and_the_rest_lands(
    compress, deps, s3, ddb, bucket, table_name
):
    def rec(article, product):
        return json.dumps(
            {
                "accountId": 1,
                "retailerId": f"r-big-{compress}",
                "channelId": 1,
                "productId": product,
                "articleId": article,
                "articleNumber": 1,
                "lastUpdated": "2026-11-23T10:00:00Z",
                "quantity": 3,
            }
        )

    body = "\n".join([rec(1, "p"), rec(2, "x" * 420_000), rec(3, "p")]).encode()
    key = f"raw/stock-updates/2026/11/23/10/big-{compress}.gz"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(body) if compress else body)["ETag"].strip('"')

    assert handle(sqs_event_for([(bucket, key, etag)]), None, deps) == {"batchItemFailures": []}

    pk = {"S": f"RET#r-big-{compress}#ACC#1"}
    found = [
        ddb.get_item(TableName=table_name, Key={"PK": pk, "SK": {"S": f"ART#{a}#CH#1"}}).get("Item") for a in (1, 2, 3)
    ]
    assert [f is not None for f in found] == [True, False, True]
    from stock_pipeline.domain.objects import ObjectRef

    rejected = s3.get_object(Bucket=bucket, Key=f"rejected/{key}.{ObjectRef(bucket, key, etag).stem}.rejected.jsonl")
    [line] = [json.loads(x) for x in rejected["Body"].read().splitlines()]
    assert line["line"] == 2
    assert line["reason"].startswith("not stored: Item size has exceeded")
