"""Lambda's Invoke for the stack's functions, which moto would run in Docker: the function runs in-process, as
the pollers run it, and answers as Lambda does (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html):
200 with the handler's result, or 200 with `X-Amz-Function-Error: Unhandled` and the error as the payload. Only
RequestResponse invocations of functions a local stack registered; the caller is authorised first by the
enforcer (`lambda:InvokeFunction` on the function), like every other request. `stockctl redrive` replays a stream
batch through it."""

from __future__ import annotations

import json
import re
from typing import Any

_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")
_FUNCTIONS: dict[str, Any] = {}  # name and ARN -> LocalFunction


def register(function: Any) -> None:
    _FUNCTIONS[function.name] = function
    _FUNCTIONS[function.arn] = function


def forget(function: Any) -> None:
    for key in (function.name, function.arn):
        _FUNCTIONS.pop(key, None)


def answer(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes] | None:
    """The Invoke of a registered function, run here; None for every other request (moto answers those)."""
    if environ.get("REQUEST_METHOD") != "POST":
        return None
    match = _PATH.match(environ.get("PATH_INFO", ""))
    if match is None:
        return None
    from urllib.parse import unquote

    function = _FUNCTIONS.get(unquote(match.group("function")))
    if function is None:
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    payload = environ["wsgi.input"].read(length) if length else b""
    invocation = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
    if invocation != "RequestResponse":
        body = json.dumps({"Type": "User", "message": f"local stack: {invocation} invocations are not emulated"})
        return (
            400,
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidParameterValueException")],
            body.encode(),
        )
    from local_aws.lambda_limits import InvocationError, RequestTooLargeError

    event = json.loads(payload or b"{}")
    headers = [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]
    try:
        result = function.invoke(event)
    except RequestTooLargeError as exc:  # Lambda's refusal of the request: the function never ran
        body = json.dumps({"Type": "User", "message": str(exc)})
        return 413, [("Content-Type", "application/json"), ("x-amzn-ErrorType", exc.error_type)], body.encode()
    except Exception as exc:  # the function's error, as Lambda reports an unhandled one
        kind = exc.error_type if isinstance(exc, InvocationError) else type(exc).__name__
        error = {"errorMessage": str(exc), "errorType": kind}
        return 200, [*headers, ("X-Amz-Function-Error", "Unhandled")], json.dumps(error).encode()
    return 200, headers, json.dumps(result, default=str).encode()
