"""The local stack's moto speed-ups keep moto's answers: an UpdateExpression moto refuses is refused after the
patch too (clause counts, overlapping paths), and one it takes is applied the same way, however often it is sent
(the parsed expression is cached per text; each call still validates its own values against its own item)."""

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import moto_patches


@pytest.fixture
def table():
    moto_patches.install()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-central-1")
        ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield ddb


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
