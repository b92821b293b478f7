"""Seeded fault injection on the local stack: what AWS does to a function on a bad night.

Three places, all off unless a `FaultPlan` is given to the stack (`make chaos`, `tests/e2e/test_chaos.py`):

- **Calls a function makes to AWS** (recognised by its execution role's session key, so the stack's own calls, the
  event-source pollers' and the tests' never fault), at `calls` of them: throttling
  (`ProvisionedThroughputExceededException`, `ThrottlingException`, S3 `SlowDown` 503), 500-class errors
  (`InternalServerError`, `ServiceUnavailable`), a connection reset before the request is sent, and a timeout
  *after* the request was applied (the service did the write; the client sees `ReadTimeoutError` and retries it).
  Each in the service's own error shape, so the SDK's retry logic decides exactly as it would in AWS
  (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
- **Invocations**, at `kills` of them: the function's work ends after a random number of its AWS calls (or just
  before it returns), as at a Lambda timeout or an out-of-memory kill. Every call after that point fails, so nothing
  more reaches AWS, and whatever the handler returns is lost: its event source sees `Sandbox.Timedout` or
  `Runtime.ExitError` and delivers the message or batch again (SQS when the message becomes visible, a stream
  mapping from the failed batch, Step Functions by the task's Retry;
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
- **S3 event messages**, at `duplicates` of them: delivered to two invocations running at the same time (SQS
  standard queues deliver at least once: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
  standard-queues-at-least-once-delivery.html); the second runs in a container of its own.

Every decision is a hash of the seed and what is decided on: the function (its logical id), the operation and how
many calls of that operation the function made before (the n-th invocation; the n-th S3 event message). Bucket names,
object keys and times that differ from run to run do not enter, so a run of the same workload meets the same faults
at the same places (up to the order a function's own writer threads happen to run in).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

CALL_FAULTS = ("throttling", "server-error", "connection-reset", "timeout-after-apply")


@dataclass(frozen=True)
class FaultPlan:
    """What to inject: shares of function calls, of invocations and of S3 event messages."""

    seed: int = 1
    calls: float = 0.05
    kills: float = 0.02
    duplicates: float = 0.10
    # The SDK's retry delays, scaled: throttling backs off from 1 s (standard mode), which on a compressed local
    # timeline (SQS redelivers at once, Firehose flushes in 2 s) only stretches the run. 1.0 keeps AWS's delays.
    backoff_scale: float = 0.05


class InvocationKilled(Exception):
    """Raised into the function's own calls after its kill point: nothing more reaches AWS."""


class FunctionKilled(Exception):
    """What the event source sees of a killed invocation (Lambda's error type in `error_type`)."""

    def __init__(self, function: str, error_type: str, calls: int) -> None:
        what = "Task timed out" if error_type == "Sandbox.Timedout" else "Runtime exited (out of memory)"
        super().__init__(f"{function}: {what} after {calls} AWS call(s) (injected)")
        self.error_type = error_type


@dataclass
class _Kill:
    after_calls: int
    error_type: str
    apply_last: bool  # the last call reaches AWS and the function dies before it reads the answer
    calls: int = 0
    dead: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Figures:
    calls_seen: int = 0
    calls_faulted: Counter[str] = field(default_factory=Counter)
    invocations: int = 0
    invocations_killed: int = 0
    duplicates_delivered: int = 0
    by_function: Counter[str] = field(default_factory=Counter)
    killed: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls seen": self.calls_seen,
            "calls faulted": dict(sorted(self.calls_faulted.items())),
            "invocations": self.invocations,
            "invocations killed": self.invocations_killed,
            "S3 events delivered twice at once": self.duplicates_delivered,
            "call faults by function": dict(sorted(self.by_function.items())),
            "kills by function": dict(sorted(self.killed.items())),
        }


class FaultInjector:
    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.figures = Figures()
        self._functions: dict[str, str] = {}  # session access key -> function name
        self._kills: dict[str, _Kill] = {}  # access key -> the kill planned for its running invocation
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.journal: list[str] = []  # what was injected where, in order (for a violation's post-mortem)

    # ------------------------------------------------------------------ decisions

    def _draw(self, *parts: object) -> float:
        digest = hashlib.sha256(repr((self.plan.seed, *parts)).encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def _occurrence(self, what: str) -> int:
        with self._lock:
            self._seen[what] += 1
            return self._seen[what]

    def register(self, access_key: str, function: str) -> None:
        self._functions[access_key] = function

    # ------------------------------------------------------------------ calls

    def send(self, request: Any, send: Callable[[Any], Any]) -> Any:
        key = _access_key(request.headers)
        function = self._functions.get(key or "")
        if function is None:
            return send(request)
        kill = self._kills.get(key or "")
        if kill is not None:
            with kill.lock:
                kill.calls += 1
                dies_now = not kill.dead and kill.calls > kill.after_calls
                kill.dead = kill.dead or dies_now
            if kill.dead:
                if dies_now and kill.apply_last:
                    send(request)  # applied; the function is gone before the answer arrives
                raise InvocationKilled(f"{function} was killed")
        identity = f"{function} {_operation(request)}"
        n = self._occurrence(identity)
        with self._lock:
            self.figures.calls_seen += 1
        if self._draw("call", identity, n) >= self.plan.calls:
            return send(request)
        kind = CALL_FAULTS[int(self._draw("kind", identity, n) * len(CALL_FAULTS))]
        with self._lock:
            self.figures.calls_faulted[kind] += 1
            self.figures.by_function[function] += 1
            self.journal.append(f"{function} {_operation(request).rstrip()}{_action(request)}: {kind}")
        return _fault(kind, request, send, self._draw("variant", identity, n))

    # ------------------------------------------------------------------ invocations

    @contextmanager
    def invocation(self, function: str, access_key: str, *, killable: bool = True) -> Iterator[None]:
        """Around one invocation: plans its kill; raises FunctionKilled when it was killed (its answer is lost)."""
        identity = "invocation"  # the n-th invocation of the function is what decides
        n = self._occurrence(f"invoke {function}")
        with self._lock:
            self.figures.invocations += 1
        if not killable or self._draw("kill", function, identity, n) >= self.plan.kills:
            yield
            return
        after = int(self._draw("kill-point", function, identity, n) * 24)
        error_type = "Sandbox.Timedout" if self._draw("kill-kind", function, identity, n) < 0.7 else "Runtime.ExitError"
        kill = _Kill(after, error_type, apply_last=self._draw("kill-apply", function, identity, n) < 0.5)
        self._kills[access_key] = kill
        try:
            try:
                yield
            except InvocationKilled:
                pass
            except Exception:
                if not kill.dead:
                    raise
        finally:
            self._kills.pop(access_key, None)
        with self._lock:
            self.figures.invocations_killed += 1
            self.figures.killed[function] += 1
            self.journal.append(f"{function} killed after {min(kill.calls, after)} call(s): {error_type}")
        raise FunctionKilled(function, error_type, min(kill.calls, after))

    def duplicated(self, body: str) -> bool:
        """Is this S3 event message (also) delivered to a second, concurrent invocation?"""
        if not _is_s3_event(body):
            return False
        n = self._occurrence("S3 event message")
        if self._draw("duplicate", n) >= self.plan.duplicates:
            return False
        with self._lock:
            self.figures.duplicates_delivered += 1
            keys = [
                unquote_plus(r.get("s3", {}).get("object", {}).get("key", "?")) for r in json.loads(body)["Records"]
            ]
            self.journal.append(f"S3 event delivered twice at once: {', '.join(keys)}")
        return True


def _is_s3_event(body: str) -> bool:
    try:
        records = json.loads(body).get("Records") or []
    except (ValueError, AttributeError):
        return False
    return bool(records) and all(r.get("eventSource") == "aws:s3" for r in records if isinstance(r, dict))


def _access_key(headers: Any) -> str | None:
    authorization = headers.get("Authorization")
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    if not authorization or "Credential=" not in authorization:
        return None
    return authorization.split("Credential=", 1)[1].split("/", 1)[0]


def _operation(request: Any) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        return target.decode() if isinstance(target, bytes) else str(target)
    return f"{_service(request)} {request.method} {'/'.join(_s3_prefix(request.url))}"


def _action(request: Any) -> str:
    """A query-protocol call's Action (SNS Publish, PublishBatch), for the journal only: the decisions keep
    `_operation`, so a seed meets the same faults as before."""
    body = request.body if isinstance(request.body, bytes | str) else b""
    form = parse_qs(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    return f" {form['Action'][0]}" if form.get("Action") else ""


def _s3_prefix(url: str) -> list[str]:
    """The first two parts of an object key (curated/stock_latest, inventory_files/2026): where, not which."""
    path = url.split("://", 1)[-1].split("?", 1)[0].split("/")[2:]  # host/bucket/key...
    return path[:2]


def _service(request: Any) -> str:
    authorization = request.headers.get("Authorization") or ""
    if isinstance(authorization, bytes):
        authorization = authorization.decode()
    try:
        return authorization.split("Credential=", 1)[1].split("/")[3]
    except IndexError:
        return "s3"


# The codes each service throttles and fails with (its API reference's "Errors" section; the SDKs' retry
# behaviour lists them as throttling or transient: https://docs.aws.amazon.com/sdkref/latest/guide/
# feature-retry-behavior.html).
_THROTTLING = {
    "dynamodb": ("ProvisionedThroughputExceededException", 400),  # ... or ThrottlingException, below
    "s3": ("SlowDown", 503),
    "sns": ("Throttling", 400),
}
_SERVER_ERROR = {
    "dynamodb": ("InternalServerError", 500),
    "s3": ("InternalError", 500),
    "sns": ("InternalError", 500),
    "sqs": ("InternalError", 500),
}


def _fault(kind: str, request: Any, send: Callable[[Any], Any], variant: float) -> Any:
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    service = _service(request)
    if kind == "connection-reset":
        raise ConnectionClosedError(endpoint_url=request.url)
    if kind == "timeout-after-apply":
        send(request)  # the service applied it; its answer never arrives
        raise ReadTimeoutError(endpoint_url=request.url)
    if kind == "throttling":
        code, status = _THROTTLING.get(service, ("ThrottlingException", 400))
        if service == "dynamodb" and variant < 0.5:
            code = "ThrottlingException"
    else:
        code, status = _SERVER_ERROR.get(service, ("InternalServerError", 500))
        if variant < 0.3:
            code, status = "ServiceUnavailable", 503
    return _error_response(service, request, code, status)


def _error_response(service: str, request: Any, code: str, status: int) -> Any:
    from botocore.awsrequest import AWSResponse

    from local_aws.iam.operations import HttpRequest
    from local_aws.iam.responses import error

    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()}
    shaped = HttpRequest(request.method, headers.get("host", ""), "/", "", headers, b"")
    status, response_headers, body = error(service, shaped, code, f"{code} (injected by the local stack)", status)
    return AWSResponse(request.url, status, dict(response_headers), _Raw(body))


class _Raw:
    """The raw stream botocore reads an answer's body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        body, self._body = self._body, b""
        return body


# ---------------------------------------------------------------------------------------------- installation

ACTIVE: FaultInjector | None = None
_installed = False


def activate(plan: FaultPlan | None) -> FaultInjector | None:
    """Make `plan` the process's fault plan (None: no faults); installs the hooks once."""
    global ACTIVE
    _install()
    ACTIVE = FaultInjector(plan) if plan is not None else None
    return ACTIVE


def _install() -> None:
    global _installed
    if _installed:
        return
    from botocore.httpsession import URLLib3Session
    from botocore.retries.standard import ExponentialBackoff

    from local_aws import transport

    original_send = transport.in_process_or(URLLib3Session.send)  # the faults come first, then the transport
    original_delay = ExponentialBackoff.delay_amount

    def send(self: Any, request: Any) -> Any:
        injector = ACTIVE
        if injector is None:
            return original_send(self, request)
        return injector.send(request, lambda r: original_send(self, r))

    def delay_amount(self: Any, context: Any) -> float:
        delay = original_delay(self, context)
        return delay * ACTIVE.plan.backoff_scale if ACTIVE is not None else delay

    URLLib3Session.send = send  # type: ignore[method-assign]
    ExponentialBackoff.delay_amount = delay_amount  # type: ignore[method-assign]
    _installed = True
