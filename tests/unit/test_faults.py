"""The fault injector's decisions and the answers it makes up, without a stack: botocore parses them as AWS's."""

from __future__ import annotations

import contextlib
import json

import pytest
from botocore.awsrequest import AWSPreparedRequest
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.parsers import create_parser

from local_aws.faults import CALL_FAULTS, FaultInjector, FaultPlan, FunctionKilled, InvocationKilled, _fault

KEY = "ASIAFUNCTIONKEY00001"


def request(service: str, n: int = 0, target: str | None = None) -> AWSPreparedRequest:
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20261206/eu-central-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "X-Amz-Content-SHA256": f"{n:064x}",
    }
    if target:
        headers["X-Amz-Target"] = target
    return AWSPreparedRequest("POST", f"http://127.0.0.1:5000/{n}", headers, b"{}", False)


def test_decisions_repeat_with_the_seed_and_hit_about_the_rate():
    def faulted(seed: int) -> list[int]:
        injector = FaultInjector(FaultPlan(seed=seed, calls=0.05))
        injector.register(KEY, "fn")
        hits = []
        for n in range(4000):
            try:
                response = injector.send(request("dynamodb", n, "DynamoDB_20120810.PutItem"), lambda r: "sent")
            except (ConnectionClosedError, ReadTimeoutError):
                response = None
            if response != "sent":
                hits.append(n)
        return hits

    first, again, other = faulted(7), faulted(7), faulted(8)
    assert first == again
    assert first != other
    assert 140 <= len(first) <= 260  # 5 % of 4,000 is 200


def test_calls_of_unregistered_keys_never_fault():
    injector = FaultInjector(FaultPlan(calls=1.0))
    assert all(injector.send(request("s3", n), lambda r: "sent") == "sent" for n in range(100))


@pytest.mark.parametrize(
    ("service", "target", "protocol", "codes"),
    [
        (
            "dynamodb",
            "DynamoDB_20120810.TransactWriteItems",
            "json",
            {"ProvisionedThroughputExceededException", "ThrottlingException"},
        ),
        ("s3", None, "rest-xml", {"SlowDown"}),
        ("sns", None, "query", {"Throttling"}),
    ],
)
def test_throttling_answers_parse_as_the_services_own(service, target, protocol, codes):
    seen = set()
    for variant in (0.1, 0.9):
        response = _fault("throttling", request(service, target=target), lambda r: None, variant)
        parsed = create_parser(protocol).parse(
            {"status_code": response.status_code, "headers": response.headers, "body": response.content},
            None,
        )
        seen.add(parsed["Error"]["Code"])
    assert seen == codes


def test_a_timeout_after_apply_sends_the_request_then_fails():
    sent = []
    with pytest.raises(ReadTimeoutError):
        _fault("timeout-after-apply", request("sqs"), sent.append, 0.5)
    assert len(sent) == 1
    with pytest.raises(ConnectionClosedError):
        _fault("connection-reset", request("sqs"), sent.append, 0.5)
    assert len(sent) == 1  # a reset never reaches the service


def test_server_errors_are_5xx():
    statuses = {_fault("server-error", request("dynamodb"), lambda r: None, v).status_code for v in (0.1, 0.9)}
    assert statuses == {503, 500}
    assert set(CALL_FAULTS) == {"throttling", "server-error", "connection-reset", "timeout-after-apply"}


def test_a_killed_invocation_stops_reaching_aws_and_loses_its_answer():
    injector = FaultInjector(FaultPlan(seed=3, calls=0.0, kills=1.0))
    injector.register(KEY, "fn")
    reached = []

    def work() -> None:
        with injector.invocation("fn", KEY):
            for n in range(30):
                with contextlib.suppress(InvocationKilled):  # the handler's own error handling, as it may do
                    injector.send(request("dynamodb", n), reached.append)

    with pytest.raises(FunctionKilled) as killed:
        work()
    assert killed.value.error_type in ("Sandbox.Timedout", "Runtime.ExitError")
    assert len(reached) < 30  # nothing after the kill point (at most 24 calls, plus the last one applied)
    assert injector.figures.invocations_killed == 1
    # the next invocation is not killed by the previous one's state
    injector_clean = FaultInjector(FaultPlan(calls=0.0, kills=0.0))
    injector_clean.register(KEY, "fn")
    with injector_clean.invocation("fn", KEY):
        assert injector_clean.send(request("dynamodb", 1), lambda r: "sent") == "sent"


def test_only_s3_events_are_delivered_twice():
    injector = FaultInjector(FaultPlan(duplicates=1.0))
    stored = {"object": {"key": "reference/store/week+1.csv"}}  # as S3 events write keys: URL-encoded
    s3_event = json.dumps({"Records": [{"eventSource": "aws:s3", "s3": stored}]})
    assert injector.duplicated(s3_event)
    assert not injector.duplicated(json.dumps({"Records": [{"eventSource": "aws:dynamodb"}]}))
    assert not injector.duplicated("not json")
    assert injector.figures.duplicates_delivered == 1
    assert injector.journal == ["S3 event delivered twice at once: reference/store/week 1.csv"]


def test_the_journal_names_a_query_protocol_call_by_its_action():
    injector = FaultInjector(FaultPlan(seed=1, calls=1.0))
    injector.register(KEY, "fn")
    publish = request("sns")
    publish.body = b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aeu-central-1%3A123456789012%3Aalerts&Message=x"
    with contextlib.suppress(Exception):
        injector.send(publish, lambda r: None)
    [entry] = injector.journal
    assert entry.startswith("fn sns POST Publish: ") and entry.split(": ")[1] in CALL_FAULTS


def test_the_chaos_figures_name_the_arguments_that_reproduce_the_run():
    from argparse import Namespace

    from local_aws.chaos.__main__ import arguments

    stress = Namespace(seed=11, rate=0.1, kills=0.25, duplicates=0.5, small=False)
    assert arguments(stress) == ["--seed", "11", "--rate", "0.1", "--kills", "0.25", "--duplicates", "0.5"]
    reference = Namespace(seed=1, rate=0.05, kills=0.02, duplicates=0.1, small=True)
    assert arguments(reference) == ["--seed", "1", "--rate", "0.05", "--small"]
