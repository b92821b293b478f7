"""Step Functions executions on the local stack: moto's ASL interpreter, with Lambda tasks run in-process.

moto would invoke a Task's Lambda through its Lambda service, which needs Docker; here the invocation goes to
the stack's LocalFunction (the real handler, with the template's Environment), with Lambda's response shape.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable
from typing import Any

from local_aws.runtime import LocalFunction

_functions: dict[str, LocalFunction] = {}


def route_lambda_tasks(functions: Iterable[LocalFunction]) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    for function in functions:
        _functions[function.name] = function
        _functions[function.arn] = function
    lambda_eval_utils._invoke_lambda_function = _invoke  # type: ignore[attr-defined]


def _invoke(parameters: dict[str, Any], region: str, state_credentials: Any = None) -> dict[str, Any]:
    name = parameters["FunctionName"]
    function = _functions.get(name) or _functions.get(name.split(":function:")[-1].split(":")[0])
    if function is None:
        return {
            "StatusCode": 404,
            "FunctionError": "Unhandled",
            "Payload": {"errorType": "ResourceNotFoundException", "errorMessage": name},
        }
    payload = parameters.get("Payload") or b"{}"
    event = json.loads(payload.decode() if isinstance(payload, bytes) else payload)
    try:
        result = function.invoke(event)
    except Exception as exc:  # Lambda's unhandled-error response
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "$LATEST",
            "Payload": {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            },
        }
    return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": json.loads(json.dumps(result, default=str))}


def wait_for_executions() -> int:
    """Join the interpreter's worker threads (executions run in the background, as on AWS); returns how many."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    joined = 0
    while TMP_THREADS:
        thread = TMP_THREADS.pop(0)
        thread.join(timeout=600)
        joined += 1
    return joined
