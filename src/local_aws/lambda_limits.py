"""Lambda's synchronous payload quota and its memory limit, as the local runtime and the local Invoke apply them (no
import of the rest of the local stack: both use it)."""

from __future__ import annotations

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
# it stood when the invocation began: the high-water mark is reset at the start (Linux's /proc/self/clear_refs "5").
# What it cannot see: memory the function frees and another thread takes (one invocation runs at a time, but moto
# serves the function's own requests in this process, so its work counts, as the network buffers of a real call
# would not); and the kill comes after the handler returns, so its side effects are done (in AWS they stop midway).
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


def start_memory_watch() -> int | None:
    """Reset the process's high-water mark; the resident set now (MB), or None where Linux's /proc is missing."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def check_memory(memory_mb: int, started_at_mb: int | None) -> None:
    """Fail the invocation as Lambda would if its modelled peak passed the function's MemorySize."""
    peak = _status_mb("VmHWM")
    if started_at_mb is None or peak is None:
        return
    used = RUNTIME_FOOTPRINT_MB + max(0, peak - started_at_mb)
    if used > memory_mb:
        raise InvocationError(
            "Runtime.OutOfMemory",
            f"Runtime exited with error: signal: killed (about {used} MB used of the function's {memory_mb} MB)",
        )
