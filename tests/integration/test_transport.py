"""The local stack's in-process delivery answers as its HTTP server does: the same calls made both ways agree."""

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import transport
from local_aws.stack_support import CREDENTIALS

KEYS = ["plain.txt", "a b/ü+=%2F&?.csv", "inventory_files/2026/12/07/x y.tsv"]


def clients(stack, service):
    """The same client twice: to the endpoint the stack serves in process, and to the server over loopback."""
    over_http = stack.endpoint.replace("127.0.0.1", "localhost")  # not a served name: botocore's own socket
    session = boto3.session.Session(
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=stack.region,
    )
    config = Config(signature_version="s3v4", retries={"max_attempts": 1})
    return session.client(service, endpoint_url=stack.endpoint, config=config), session.client(
        service, endpoint_url=over_http, config=config
    )


def answer(call):
    try:
        result = call()
    except ClientError as exc:
        return "error", exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    result.pop("ResponseMetadata", None)
    if "Body" in result:
        result["Body"] = result["Body"].read()
    return result


def test_the_stack_endpoint_is_served_in_process_and_another_name_is_not(stack):
    request = type("Request", (), {"url": f"{stack.endpoint}/", "method": "GET", "headers": {}, "body": None})
    assert transport._apps.get(stack.endpoint.removeprefix("http://")) is not None
    elsewhere = type("Request", (), {"url": stack.endpoint.replace("127.0.0.1", "localhost") + "/"})
    assert transport.deliver(elsewhere) is None
    assert transport.deliver(request) is not None


@pytest.mark.parametrize("key", KEYS)
def test_s3_objects_with_awkward_keys_and_metadata_read_back_the_same_both_ways(stack, key):
    local, http = clients(stack, "s3")
    bucket = stack.outputs["DataBucketName"]
    metadata = {"uploaded-by": "console-user", "with_underscore": "kept"}  # moto keeps an underscored name as sent
    body = "Timestamp\tItem\nü 1\n".encode()
    for client, suffix in ((local, "-local"), (http, "-http")):
        client.put_object(Bucket=bucket, Key=f"transport/{key}{suffix}", Body=body, Metadata=metadata)

    def read(client, suffix):
        name = f"transport/{key}{suffix}"
        head = answer(lambda: client.head_object(Bucket=bucket, Key=name))
        got = answer(lambda: client.get_object(Bucket=bucket, Key=name, Range="bytes=2-9"))
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"transport/{key}")["Contents"]
        drop = ("LastModified", "ETag")
        return (
            {k: v for k, v in head.items() if k not in drop},
            {k: v for k, v in got.items() if k not in drop},
            sorted(o["Key"].removesuffix(suffix) for o in listed if o["Key"].endswith(suffix)),
        )

    assert read(local, "-local") == read(http, "-http")
    assert read(local, "-local")[0]["Metadata"] == metadata
    assert read(local, "-local")[1]["Body"] == body[2:10]


def test_errors_and_json_protocol_answers_are_the_same_both_ways(stack):
    local, http = clients(stack, "dynamodb")
    table = stack.outputs["StockTableName"]
    missing = {"PK": {"S": "NOPE"}, "SK": {"S": "NOPE"}}
    assert answer(lambda: local.get_item(TableName=table, Key=missing)) == answer(
        lambda: http.get_item(TableName=table, Key=missing)
    )
    assert answer(lambda: local.describe_table(TableName="no-such-table")) == answer(
        lambda: http.describe_table(TableName="no-such-table")
    )
    assert answer(lambda: local.describe_table(TableName="no-such-table"))[:2] == ("error", "ResourceNotFoundException")


def test_query_protocol_messages_keep_their_attributes_both_ways(stack):
    local, http = clients(stack, "sqs")
    url = local.create_queue(QueueName=f"{stack.stack_name}-transport")["QueueUrl"]
    for client, n in ((local, "1"), (http, "2")):
        client.send_message(
            QueueUrl=url,
            MessageBody=f"ü & < {n}",
            MessageAttributes={"who": {"DataType": "String", "StringValue": "a b+c"}},
        )
    received = []
    for client in (local, http):
        message = client.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=0)["Messages"]
        received.extend((m["Body"][:-1], m["MessageAttributes"]["who"]["StringValue"]) for m in message)
    assert received == [("ü & < ", "a b+c"), ("ü & < ", "a b+c")]
