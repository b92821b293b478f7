"""Lambda's synchronous payload quota and its memory limit, as the local runtime and the local Invoke apply them (no
import of the rest of the local stack: both use it)."""

from __future__ import annotations

import threading
from typing import Any

# Lambda's invocation payload quota, request and response, for synchronous invocations: 6 MB
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html, and Invoke's API reference:
# https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html). Lambda counts the request in bytes of 6 MiB
# (RequestEntityTooLargeException) and refuses a response of more than 6,291,556 bytes of serialized JSON with
# Function.ResponseSizeTooLarge, an error of the function's (API Gateway answers it as any function error).
SYNC_REQUEST_BYTES = 6 * 1024 * 1024
SYNC_RESPONSE_BYTES = 6_291_556


class InvocationError(Exception):
    """An invocation Lambda fails itself, with the error type it reports."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class RequestTooLargeError(InvocationError):
    """The caller's request was refused before the function ran (Invoke answers 413)."""


def _marshal(result: Any) -> bytes:
    """The response as the Python runtime serializes it: JSON, Decimals as numbers, anything else refused with
    Runtime.MarshalError (what passes in process would fail in AWS)."""
    import decimal
    import json

    def number(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    try:
        return json.dumps(result, default=number).encode()
    except (TypeError, ValueError) as exc:
        raise InvocationError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def _within(payload: Any, limit: int, refusal: type[InvocationError], error_type: str, what: str) -> None:
    size = len(_marshal(payload))
    if size > limit:
        raise refusal(error_type, f"{what} of {size} bytes exceeded the maximum allowed payload size ({limit} bytes)")


def check_request(event: Any) -> None:
    _within(event, SYNC_REQUEST_BYTES, RequestTooLargeError, "RequestEntityTooLargeException", "Request payload")


def check_response(result: Any) -> None:
    _within(result, SYNC_RESPONSE_BYTES, InvocationError, "Function.ResponseSizeTooLarge", "Response payload")


# Lambda's memory: an invocation whose process passes the function's MemorySize is ended ("Runtime exited with error:
# signal: killed", error type Runtime.OutOfMemory: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
# and https://repost.aws/knowledge-center/lambda-memory-limit). Locally every function shares one process, so an
# invocation's peak is modelled as the runtime's own footprint (Python, boto3, Powertools, pyarrow: the resident set
# before the first invocation in `benchmarks.handler_run`) plus how far the process's resident set rose above where
# it stood when the invocation began. Linux's high-water mark (VmHWM, reset by writing 5 to /proc/self/clear_refs)
# gives the peaks; the local AWS answers the function's calls in this process (`local_aws.transport`), so each call
# is taken out: the peak before it counts, what moto keeps after it (its caches) does not.
# What it cannot see: memory another thread takes while the function runs (one invocation runs at a time; a test's
# own calls meanwhile would count), and the kill comes after the handler returns, so its side effects are done (in
# AWS they stop midway).
RUNTIME_FOOTPRINT_MB = 130


def _status_mb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class MemoryWatch:
    """One invocation's resident-set growth, the local AWS's share taken out."""

    def __init__(self) -> None:
        self.start = _status_mb("VmRSS") or 0
        self.peak = self.start
        self.kept_by_aws = 0
        self._before = 0

    def pause(self) -> None:
        """A call into the local AWS begins: the function's peak so far is kept."""
        self.peak = max(self.peak, (_status_mb("VmHWM") or 0) - self.kept_by_aws)
        self._before = _status_mb("VmRSS") or 0

    def resume(self) -> None:
        """The call returned: what the local AWS kept is not the function's."""
        self.kept_by_aws += max(0, (_status_mb("VmRSS") or 0) - self._before)
        _reset_peak()

    def used_mb(self) -> int:
        return max(self.peak, (_status_mb("VmHWM") or 0) - self.kept_by_aws) - self.start


WATCHING = threading.local()


def start_memory_watch() -> MemoryWatch | None:
    """Reset the process's high-water mark and watch this thread's invocation; None where /proc is missing."""
    if not _reset_peak():
        return None
    WATCHING.watch = MemoryWatch()
    return WATCHING.watch


def stop_memory_watch() -> None:
    WATCHING.watch = None


def check_memory(memory_mb: int, watch: MemoryWatch | None) -> None:
    """Fail the invocation as Lambda would if its modelled peak passed the function's MemorySize."""
    stop_memory_watch()
    if watch is None:
        return
    used = RUNTIME_FOOTPRINT_MB + max(0, watch.used_mb())
    if used > memory_mb:
        raise InvocationError(
            "Runtime.OutOfMemory",
            f"Runtime exited with error: signal: killed (about {used} MB used of the function's {memory_mb} MB)",
        )
