"""The local stack's request counter: each request named by its service and operation as AWS bills it, each
function's requests its own, and its time apart from the local AWS's."""

import contextlib
import time

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from local_aws.request_count import COUNT, describe, latency


def sent(service, call, **kwargs):
    """The request a real boto3 client prepares for `call`, answered before it leaves."""
    seen = []

    def capture(request, **_):
        seen.append(request)
        return AWSResponse(request.url, 200, {}, None)

    client = boto3.client(service, region_name="eu-central-1", aws_access_key_id="a", aws_secret_access_key="b")
    client.meta.events.register("before-send", capture)
    with contextlib.suppress(Exception):  # the empty answer does not parse for every operation: the request counts
        getattr(client, call)(**kwargs)
    return seen[0]


@pytest.mark.parametrize(
    ("service", "call", "kwargs", "expected"),
    [
        (
            "dynamodb",
            "transact_write_items",
            {"TransactItems": [{"Put": {"TableName": "t", "Item": {"PK": {"S": "a"}}}}]},
            ("dynamodb", "TransactWriteItems"),
        ),
        ("sns", "publish", {"TopicArn": "arn:aws:sns:eu-central-1:1:t", "Message": "m"}, ("sns", "Publish")),
        ("sqs", "delete_message", {"QueueUrl": "https://q/1/q", "ReceiptHandle": "r"}, ("sqs", "DeleteMessage")),
        ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}, ("s3", "PUT")),
        ("s3", "get_object", {"Bucket": "b", "Key": "k"}, ("s3", "GET")),
        ("s3", "list_objects_v2", {"Bucket": "b", "Prefix": "p/"}, ("s3", "LIST")),
    ],
)
def test_a_request_is_named_by_its_service_and_the_operation_aws_bills(service, call, kwargs, expected):
    assert describe(sent(service, call, **kwargs)) == expected


def test_an_invocations_requests_are_its_own_and_its_time_in_the_local_aws_is_not():
    request = sent("dynamodb", "get_item", TableName="t", Key={"PK": {"S": "a"}})
    with COUNT.counting() as counts:
        with COUNT.invocation("IngestFunction"):
            time.sleep(0.02)  # its own work
            for _ in range(3):
                with COUNT.request(request):
                    time.sleep(0.05)  # the local AWS answering
        with COUNT.request(request):  # outside any function: a test's or the pollers'
            pass
    assert counts.requests == {("IngestFunction", "dynamodb", "GetItem"): 3, ("", "dynamodb", "GetItem"): 1}
    assert counts.invocations == {"IngestFunction": 1}
    assert 0.02 <= counts.own_seconds["IngestFunction"] < 0.1  # not the 0.15 s spent in the local AWS
    modelled = counts.aws_seconds("IngestFunction")
    assert modelled == pytest.approx(counts.own_seconds["IngestFunction"] + 3 * latency("dynamodb", "GetItem"))


def test_nothing_is_counted_when_no_one_counts():
    request = sent("dynamodb", "get_item", TableName="t", Key={"PK": {"S": "a"}})
    with COUNT.invocation("IngestFunction"), COUNT.request(request):
        pass
    with COUNT.counting() as counts:
        pass
    assert not counts.requests and not counts.invocations
