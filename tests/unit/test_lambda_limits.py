"""Lambda's synchronous payload quota on the local runtime: a request over 6 MiB is refused before the function
runs, a response over 6,291,556 bytes fails the invocation as Function.ResponseSizeTooLarge (the HTTP API then
answers 500), and a response the Python runtime cannot serialize fails as Runtime.MarshalError."""

import json
import re
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from local_aws.http_api import LocalHttpApi, Route
from local_aws.lambda_limits import SYNC_REQUEST_BYTES, SYNC_RESPONSE_BYTES, InvocationError, RequestTooLargeError
from local_aws.runtime import LocalFunction

HANDLER = """
import datetime
from decimal import Decimal

def handler(event, context):
    kind = event.get("answer")
    if kind == "bytes":
        return {"statusCode": 200, "body": "x" * event["size"]}
    if (event.get("queryStringParameters") or {}).get("size"):  # through the HTTP API
        return {"statusCode": 200, "body": "x" * int(event["queryStringParameters"]["size"])}
    if kind == "decimal":
        return {"n": Decimal("3"), "f": Decimal("2.5")}
    if kind == "datetime":
        return {"at": datetime.datetime(2026, 12, 7)}
    if kind == "memory":  # holds this many MB at once, then lets them go
        held = bytearray(event["mb"] * 1024 * 1024)
        held[:: 4096] = b"x" * len(held[:: 4096])  # touched: resident, not only reserved
        return {"held_mb": len(held) // (1024 * 1024)}
    return {"statusCode": 200, "body": "small"}
"""


@pytest.fixture
def function(tmp_path):
    (tmp_path / "sized.py").write_text(HANDLER)
    return LocalFunction(
        logical_id="Sized",
        name="sized",
        arn="arn:aws:lambda:eu-central-1:123456789012:function:sized",
        handler="sized.handler",
        environment={},
        timeout_s=3,
        memory_mb=256,
        code_dir=tmp_path,
        base_environment={},
    )


def answer_of(size):
    """A proxy response of `size` bytes once serialized (the body is most of it)."""
    overhead = len('{"statusCode": 200, "body": ""}')
    return {"answer": "bytes", "size": size - overhead}


def test_a_response_at_the_limit_passes_and_one_byte_more_fails_the_invocation(function):
    assert len(function.invoke(answer_of(SYNC_RESPONSE_BYTES))["body"]) > 6_000_000
    with pytest.raises(InvocationError) as failed:
        function.invoke(answer_of(SYNC_RESPONSE_BYTES + 1))
    assert failed.value.error_type == "Function.ResponseSizeTooLarge"
    assert "of 6291557 bytes exceeded the maximum allowed payload size (6291556 bytes)" in str(failed.value)
    assert function.errors == 1  # the function's error, as Lambda counts it


def test_a_request_over_6_mib_is_refused_before_the_function_runs(function):
    with pytest.raises(RequestTooLargeError) as refused:
        function.invoke({"padding": "x" * SYNC_REQUEST_BYTES})
    assert refused.value.error_type == "RequestEntityTooLargeException"
    assert function.invocations == 0


def test_the_runtime_serializes_decimals_and_refuses_what_json_cannot_hold(function):
    assert function.invoke({"answer": "decimal"}) == {"n": Decimal("3"), "f": Decimal("2.5")}
    with pytest.raises(InvocationError) as failed:
        function.invoke({"answer": "datetime"})
    assert failed.value.error_type == "Runtime.MarshalError"


def test_the_http_api_answers_an_oversized_response_with_500(function):
    route = Route("GET", "/big", re.compile(r"^/big$"), function, iam=False)
    keys = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}
    api = LocalHttpApi([route], region="eu-central-1", credentials=keys).start()
    try:
        with urllib.request.urlopen(f"{api.url}/big?size=1000", timeout=10) as small:
            assert small.status == 200 and len(small.read()) == 1000
        with pytest.raises(urllib.error.HTTPError) as big:
            urllib.request.urlopen(f"{api.url}/big?size={SYNC_RESPONSE_BYTES}", timeout=30)
        assert big.value.code == 500 and json.loads(big.value.read()) == {"message": "Internal Server Error"}
    finally:
        api.stop()


def test_a_task_result_over_step_functions_state_limit_fails_the_task_as_data_limit_exceeded(function):
    from local_aws import stepfunctions

    stepfunctions._functions[function.name] = function
    try:
        within = stepfunctions._invoke({"FunctionName": function.name, "Payload": json.dumps(answer_of(200_000))}, "")
        over = stepfunctions._invoke({"FunctionName": function.name, "Payload": json.dumps(answer_of(262_145))}, "")
    finally:
        stepfunctions._functions.pop(function.name)
    assert "FunctionError" not in within and len(within["Payload"]["body"]) > 199_000
    assert over["FunctionError"] == "Unhandled"
    assert over["Payload"]["errorType"] == "States.DataLimitExceeded"
    assert "262145 bytes, which exceeds the maximum size limit of 262144 bytes" in over["Payload"]["errorMessage"]


def test_an_invocation_past_its_memory_size_fails_as_lambda_ends_it(function):
    # 256 MB, of which the runtime's own footprint takes 130 MB in the model
    assert function.invoke({"answer": "memory", "mb": 20}) == {"held_mb": 20}
    with pytest.raises(InvocationError) as killed:
        function.invoke({"answer": "memory", "mb": 200})
    assert killed.value.error_type == "Runtime.OutOfMemory"
    assert re.search(r"about \d+ MB used of the function's 256 MB", str(killed.value))
