"""The local stack's capacity meter: units per partition key value on the table and on each index, as DynamoDB
consumes them (moto counts none)."""

import boto3
import pytest
from moto import mock_aws

from local_aws import capacity, moto_patches
from local_aws.template import stock_table_request


@pytest.fixture
def ddb():
    with mock_aws():
        moto_patches.install()
        capacity.install()
        client = boto3.client("dynamodb", region_name="eu-central-1")
        client.create_table(**stock_table_request("t", stream=True))
        yield client


def level(warehouse, item, quantity, **extra):
    return {
        "PK": {"S": f"WH#{warehouse}"},
        "SK": {"S": f"ITEM#{item}"},
        "GSI1PK": {"S": f"ITEM#{item}"},
        "GSI1SK": {"S": f"WH#{warehouse}"},
        "GSI2PK": {"S": f"WH#{warehouse}"},
        "quantity": {"N": str(quantity)},
        **extra,
    }


def test_writes_are_counted_per_key_on_the_table_and_each_index_they_touch(ddb):
    with capacity.CAPACITY.phase("writes") as phase:
        ddb.put_item(TableName="t", Item=level("Berlin", "a", 5))
        ddb.put_item(TableName="t", Item=level("Berlin", "b", 5, name={"S": "x" * 1500}))  # 2 KB: two units
        # a transaction: two units a KB on the table; crossing below moves the level into GSI4's BELOW
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"PK": {"S": "WH#Berlin"}, "SK": {"S": "ITEM#a"}},
                        "UpdateExpression": "SET GSI4PK = :b, alertedAt = :t ADD quantity :d",
                        "ExpressionAttributeValues": {":b": {"S": "BELOW"}, ":t": {"S": "2026"}, ":d": {"N": "-3"}},
                    }
                }
            ]
        )
    assert phase.writes[("t", "", "WH#Berlin")] == 1 + 2 + 2
    assert phase.writes[("t", "GSI2", "WH#Berlin")] == 1 + 1 + 1  # GSI2 does not project `name`
    assert phase.writes[("t", "GSI1", "ITEM#a")] == 2 and phase.writes[("t", "GSI1", "ITEM#b")] == 2
    assert phase.writes[("t", "GSI4", "BELOW")] == 1
    assert (phase.requests["TransactWriteItems"], phase.requests["PutItem"], phase.requests["UpdateItem"]) == (1, 2, 0)
    assert phase.hottest("write", 1) == [(("t", "", "WH#Berlin"), 5)]


def test_reads_are_counted_per_key_in_units_of_4_kb_half_for_eventually_consistent(ddb):
    for n in range(10):
        ddb.put_item(TableName="t", Item=level("Hamburg", f"i{n}", n, name={"S": "y" * 2000}))
    with capacity.CAPACITY.phase("reads") as phase:
        ddb.query(
            TableName="t", KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "WH#Hamburg"}}
        )
        ddb.query(
            TableName="t",
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :p",
            ExpressionAttributeValues={":p": {"S": "WH#Hamburg"}},
        )
        ddb.get_item(TableName="t", Key={"PK": {"S": "WH#Hamburg"}, "SK": {"S": "ITEM#i1"}})
    # ten items of 2,000 bytes and their keys: 20.7 KB = 6 units of 4 KB, halved; the GetItem half a unit; GSI2
    # holds the keys and the attributes it projects (not `name`): one unit, halved
    assert phase.reads[("t", "", "WH#Hamburg")] == 3 + 0.5
    assert phase.reads[("t", "GSI2", "WH#Hamburg")] == 0.5
    assert phase.requests["Query"] == 2 and phase.requests["GetItem"] == 1


def test_the_levels_below_threshold_spread_over_gsi4s_shards_each_in_one_for_good():
    from collections import Counter

    from stock_pipeline.adapters.levels import BELOW_SHARDS, below_partitions, below_shard

    shards = Counter(below_shard(f"Store {n % 50:02d}", f"sku-{n:06d}") for n in range(100_000))
    assert set(shards) == set(below_partitions()) - {"BELOW"} and len(shards) == BELOW_SHARDS
    assert max(shards.values()) < 1.1 * 100_000 / BELOW_SHARDS  # even: no shard is hot
    assert below_shard("Berlin 1", "a1") == below_shard("Berlin 1", "a1")  # a retried claim lands where it did


def test_a_change_the_index_does_not_hold_writes_nothing_there(ddb):
    ddb.put_item(TableName="t", Item=level("Köln", "c", 5))
    with capacity.CAPACITY.phase("unprojected") as phase:
        ddb.update_item(
            TableName="t",
            Key={"PK": {"S": "WH#Köln"}, "SK": {"S": "ITEM#c"}},
            UpdateExpression="SET alertSent = :s",  # GSI2 does not project it; GSI1 projects everything
            ExpressionAttributeValues={":s": {"S": "a-1"}},
        )
    assert phase.writes[("t", "", "WH#Köln")] == 1 and phase.writes[("t", "GSI1", "ITEM#c")] == 1
    assert ("t", "GSI2", "WH#Köln") not in phase.writes
