"""Lambda's synchronous payload quota, as the local runtime and the local Invoke apply it (no import of the rest of
the local stack: both use it)."""

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
