"""The requests each function makes to the local AWS, and its own compute time apart from the local AWS's: what a
workload costs in AWS, counted on the local stack (`benchmarks.import_year`).

AWS bills a function by its invocations and its duration, and each service by its requests. moto is 10-100 times
slower than the services it stands for, so a local invocation's wall time is not its AWS duration: the counter
keeps the time an invocation spends outside the local AWS (its own parsing, aggregation, serialisation), to which
a cost model adds each request's typical latency in AWS (`LATENCY_S`).

Counted where every in-process call to the local AWS passes (`local_aws.transport.deliver`) and where the local
Lambda runs a handler (`local_aws.runtime`); off (one attribute check) unless `COUNT.counting()` is open.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

# A request's typical time in AWS, in the same Region (single-digit milliseconds for DynamoDB; a transaction of 99
# updates more; S3 tens of milliseconds for a first byte). Assumptions of the cost model, not measurements.
# (service, operation), or (service, "") for the service's other operations
LATENCY_S = {
    ("dynamodb", "TransactWriteItems"): 0.025,
    ("dynamodb", "BatchWriteItem"): 0.015,
    ("dynamodb", "BatchGetItem"): 0.010,
    ("dynamodb", ""): 0.006,
    ("s3", ""): 0.030,
    ("sns", ""): 0.015,
    ("sqs", ""): 0.010,
}
DEFAULT_LATENCY_S = 0.015


def latency(service: str, operation: str) -> float:
    return LATENCY_S.get((service, operation), LATENCY_S.get((service, ""), DEFAULT_LATENCY_S))


@dataclass
class Counts:
    # (caller: a function's logical id, or "" outside any function; service; operation) -> requests
    requests: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    invocations: Counter[str] = field(default_factory=Counter)
    own_seconds: Counter[str] = field(default_factory=Counter)  # time in the handler outside the local AWS

    def aws_seconds(self, function: str) -> float:
        """The function's modelled duration in AWS: its own compute plus each request's latency there."""
        mine = ((service, op, n) for (caller, service, op), n in self.requests.items() if caller == function)
        waits = sum(n * latency(service, op) for service, op, n in mine)
        return self.own_seconds[function] + waits


class RequestCounter:
    def __init__(self) -> None:
        self._counts: Counts | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @contextmanager
    def counting(self) -> Iterator[Counts]:
        counts = self._counts = Counts()
        try:
            yield counts
        finally:
            self._counts = None

    @contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """Around a handler: its requests are its own, and its time outside the local AWS is counted."""
        counts = self._counts
        if counts is None:
            yield
            return
        self._local.function, self._local.in_aws = function, 0.0
        started = time.perf_counter()
        try:
            yield
        finally:
            own = time.perf_counter() - started - self._local.in_aws
            self._local.function = ""
            with self._lock:
                counts.invocations[function] += 1
                counts.own_seconds[function] += max(own, 0.0)

    @contextmanager
    def request(self, request: Any) -> Iterator[None]:
        """Around one request to the local AWS."""
        counts = self._counts
        if counts is None:
            yield
            return
        started = time.perf_counter()
        try:
            yield
        finally:
            caller = getattr(self._local, "function", "")
            if caller:
                self._local.in_aws += time.perf_counter() - started
            with self._lock:
                counts.requests[(caller, *describe(request))] += 1


def describe(request: Any) -> tuple[str, str]:
    """(service, operation) of a botocore request, from its signature's scope and its target or action."""
    headers = request.headers
    authorization = headers.get("Authorization", b"")
    authorization = authorization.decode() if isinstance(authorization, bytes) else str(authorization)
    scope = authorization.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else "?"
    target = headers.get("X-Amz-Target")
    if target:
        target = target.decode() if isinstance(target, bytes) else str(target)
        return service, target.rsplit(".", 1)[-1]
    body = request.body
    if isinstance(body, bytes | str) and body:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        if "Action=" in text[:200]:
            return service, parse_qs(text[:2000]).get("Action", ["?"])[0]
    if service == "s3":  # priced by method, and a listing as a PUT
        listing = request.method == "GET" and ("list-type=" in request.url or "prefix=" in request.url)
        return service, "LIST" if listing else str(request.method)
    return service, str(request.method)


COUNT = RequestCounter()
