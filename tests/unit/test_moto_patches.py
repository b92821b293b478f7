"""The local stack's moto speed-ups keep moto's answers: an UpdateExpression moto refuses is refused after the
patch too (clause counts, overlapping paths), and one it takes is applied the same way, however often it is sent
(the parsed expression is cached per text; each call still validates its own values against its own item); a
cancelled transaction leaves the items and the stream as they were (only the items it names are kept aside)."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import moto_patches


def patched_table(name, keys, **extra):
    """moto (patched) in this process with one on-demand table of string `keys` (partition key first)."""
    moto_patches.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
        yield ddb


@pytest.fixture
def table():
    yield from patched_table("t", ["PK"])


@pytest.mark.parametrize(
    ("expression", "refusal"),
    [
        ("SET a = :a SET b = :a", 'The "SET" section can only be used once'),
        ("ADD n :one ADD m :one", 'The "ADD" section can only be used once'),
        ("SET a = :a REMOVE c REMOVE d", 'The "REMOVE" section can only be used once'),
        ("SET a = :a, a = :a", "Two document paths overlap"),
    ],
)
def test_what_moto_refuses_is_still_refused(table, expression, refusal):
    values = {":a": {"S": "x"}, ":one": {"N": "1"}}
    used = {k: v for k, v in values.items() if k in expression}
    with pytest.raises(ClientError, match=refusal):
        table.update_item(
            TableName="t", Key={"PK": {"S": "k"}}, UpdateExpression=expression, ExpressionAttributeValues=used
        )


def test_one_cached_expression_applies_each_calls_own_values_to_its_own_item(table):
    expression = "SET previousQuantity = if_not_exists(quantity, :none), quantity = :new ADD changes :one"
    for key, new in (("a", 5), ("b", 7), ("a", 9)):
        table.update_item(
            TableName="t",
            Key={"PK": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeValues={":none": {"N": "-1"}, ":new": {"N": str(new)}, ":one": {"N": "1"}},
        )
    a = table.get_item(TableName="t", Key={"PK": {"S": "a"}})["Item"]
    b = table.get_item(TableName="t", Key={"PK": {"S": "b"}})["Item"]
    assert (a["previousQuantity"], a["quantity"], a["changes"]) == ({"N": "5"}, {"N": "9"}, {"N": "2"})
    assert (b["previousQuantity"], b["quantity"], b["changes"]) == ({"N": "-1"}, {"N": "7"}, {"N": "1"})


@pytest.fixture
def ledger():
    stream = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    for ddb in patched_table("ledger", ["PK", "SK"], StreamSpecification=stream):
        for pk, sk, n in (("WH#a", "ITEM#1", 5), ("WH#a", "ITEM#2", 7), ("WH#b", "ITEM#1", 1)):
            ddb.put_item(TableName="ledger", Item={"PK": {"S": pk}, "SK": {"S": sk}, "n": {"N": str(n)}})
        yield ddb


def state(ddb):
    items = sorted(ddb.scan(TableName="ledger")["Items"], key=lambda i: (i["PK"]["S"], i["SK"]["S"]))
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    # moto's in-process mock does not route DynamoDB Streams calls: the stream's records read where moto keeps them
    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"].tables["ledger"].stream_shard
    records = [record.to_json() for record in shard.items]
    images = [(r["dynamodb"].get("OldImage", {}).get("n"), r["dynamodb"].get("NewImage", {}).get("n")) for r in records]
    return items, [(r["eventName"], r["dynamodb"]["Keys"]["SK"]["S"], *images[n]) for n, r in enumerate(records)]


def actions(last_condition):
    def key(pk, sk):
        return {"PK": {"S": pk}, "SK": {"S": sk}}

    return [
        {"Update": {"TableName": "ledger", "Key": key("WH#a", "ITEM#1"), "UpdateExpression": "ADD n :d",
                    "ExpressionAttributeValues": {":d": {"N": "-2"}}}},
        {"Put": {"TableName": "ledger", "Item": {**key("WH#a", "ITEM#3"), "n": {"N": "4"}}}},  # a new item
        {"Put": {"TableName": "ledger", "Item": {**key("WH#c", "ITEM#1"), "n": {"N": "4"}}}},  # a new partition
        {"Delete": {"TableName": "ledger", "Key": key("WH#a", "ITEM#2")}},
        {"ConditionCheck": {"TableName": "ledger", "Key": key("WH#b", "ITEM#1"), "ConditionExpression": "n = :n",
                            "ExpressionAttributeValues": {":n": {"N": str(last_condition)}}}},
    ]  # fmt: skip


def test_a_cancelled_transaction_leaves_every_item_and_the_stream_as_they_were(ledger):
    before = state(ledger)
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ledger.transact_write_items(TransactItems=actions(last_condition=99))
    assert state(ledger) == before
    twice = actions(last_condition=1)[:1] * 2  # two actions on one item: refused as a whole as well
    with pytest.raises(ClientError, match="ValidationException"):
        ledger.transact_write_items(TransactItems=twice)
    assert state(ledger) == before


def test_a_transaction_that_goes_through_writes_every_action_once(ledger):
    _, records = state(ledger)
    ledger.transact_write_items(TransactItems=actions(last_condition=1))
    after, after_records = state(ledger)
    assert [(i["PK"]["S"], i["SK"]["S"], i["n"]["N"]) for i in after] == [
        ("WH#a", "ITEM#1", "3"),
        ("WH#a", "ITEM#3", "4"),
        ("WH#b", "ITEM#1", "1"),
        ("WH#c", "ITEM#1", "4"),
    ]
    assert after_records == [
        *records,
        ("MODIFY", "ITEM#1", {"N": "5"}, {"N": "3"}),  # the old image as it was, the new as it is
        ("INSERT", "ITEM#3", None, {"N": "4"}),
        ("INSERT", "ITEM#1", None, {"N": "4"}),
        ("REMOVE", "ITEM#2", {"N": "7"}, None),
    ]


def add(token, amount, *, key="k"):
    """A transaction that adds `amount` to item `key`'s n, with an idempotency token."""
    update = {"TableName": "t", "Key": {"PK": {"S": key}}, "UpdateExpression": "ADD n :a"}
    update["ExpressionAttributeValues"] = {":a": {"N": str(amount)}}
    return {"TransactItems": [{"Update": update}], "ClientRequestToken": token}


def n_of(ddb, key="k"):
    return int(ddb.get_item(TableName="t", Key={"PK": {"S": key}})["Item"]["n"]["N"])


def test_a_token_sent_again_with_the_same_request_is_answered_without_applying_it(table):
    table.transact_write_items(**add("token-1", 5))
    table.transact_write_items(**add("token-1", 5))  # a retry after a lost response, within 10 minutes

    assert n_of(table) == 5


def test_a_token_sent_again_with_other_parameters_is_refused(table):
    table.transact_write_items(**add("token-2", 5))

    with pytest.raises(ClientError) as refused:
        table.transact_write_items(**add("token-2", 6))  # the same token, another request (another delivery's clock)

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert n_of(table) == 5


def test_a_token_is_new_again_after_ten_minutes(table, monkeypatch):
    from local_aws import dynamodb_tokens

    table.transact_write_items(**add("token-3", 5))
    later = dynamodb_tokens.clock() + dynamodb_tokens.WINDOW_SECONDS + 1
    monkeypatch.setattr(dynamodb_tokens, "clock", lambda: later)

    table.transact_write_items(**add("token-3", 6))

    assert n_of(table) == 11


def test_calls_without_a_token_each_get_their_own_from_botocore(table):
    request = add("unused", 2)
    del request["ClientRequestToken"]
    table.transact_write_items(**request)
    table.transact_write_items(**request)

    assert n_of(table) == 4


@pytest.fixture
def stock_table():
    """The template's table (its indexes and projections), patched moto."""
    from local_aws.template import stock_table_request

    moto_patches.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(**stock_table_request("stock"))
        yield ddb


def test_an_index_read_in_pages_is_every_item_once_in_the_indexs_order_with_its_projection(stock_table):
    # Given 2,500 levels below threshold on one GSI4 partition, some with equal crossing times, one with a binary
    # attribute (which JSON cannot hold: the generic serializer answers for it)
    for n in range(2500):
        stock_table.put_item(
            TableName="stock",
            Item={
                "PK": {"S": f"WH#W{n % 7}"},
                "SK": {"S": f"ITEM#i{n:05d}"},
                "GSI4PK": {"S": "BELOW#3"},
                "alertedAt": {"S": f"2026-12-07T10:{n % 60:02d}:00Z"},
                "itemName": {"S": f"name {n}"},
                "quantity": {"N": str(n % 10)},
                "notProjected": {"S": "x"},
                **({"photo": {"B": b"\x00\x01"}} if n == 5 else {}),
            },
        )

    # When GSI4 is read in pages of 300
    seen, start = [], None
    while True:
        page = stock_table.query(
            TableName="stock",
            IndexName="GSI4",
            KeyConditionExpression="GSI4PK = :p",
            ExpressionAttributeValues={":p": {"S": "BELOW#3"}},
            Limit=300,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        seen += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break

    # Then every level comes once, ordered by the index's key then the table's, with the projected attributes only
    order = [(i["alertedAt"]["S"], i["PK"]["S"], i["SK"]["S"]) for i in seen]
    assert order == sorted(order) and len(set(order)) == 2500
    assert set(seen[0]) == {"PK", "SK", "GSI4PK", "alertedAt", "itemName", "quantity"}
    # and a GetItem of the binary one, and a nested projection, answer as moto's own serializer does
    item = stock_table.get_item(TableName="stock", Key={"PK": {"S": "WH#W5"}, "SK": {"S": "ITEM#i00005"}})["Item"]
    assert item["photo"] == {"B": b"\x00\x01"}
    backwards = stock_table.query(
        TableName="stock",
        IndexName="GSI4",
        KeyConditionExpression="GSI4PK = :p",
        ExpressionAttributeValues={":p": {"S": "BELOW#3"}},
        ScanIndexForward=False,
        Limit=5,
    )["Items"]
    assert [(i["alertedAt"]["S"], i["PK"]["S"], i["SK"]["S"]) for i in backwards] == sorted(order, reverse=True)[:5]
