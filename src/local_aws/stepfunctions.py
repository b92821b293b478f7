"""Step Functions executions on the local stack: moto's ASL interpreter, with Lambda tasks run in-process.

moto would invoke a Task's Lambda through its Lambda service, which needs Docker; here the invocation goes to
the stack's LocalFunction (the real handler, with the template's Environment), with Lambda's response shape.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from local_aws.iam.enforcer import ENFORCEMENT, AccessDeniedError
from local_aws.iam.operations import Need
from local_aws.iam.policy import Principal
from local_aws.runtime import LocalFunction

STATE_DATA_BYTES = 256 * 1024
_functions: dict[str, LocalFunction] = {}
_principals: list[Callable[[str], Principal | None]] = []


def route_lambda_tasks(functions: Iterable[LocalFunction], principal_of: Callable[[str], Principal | None]) -> None:
    """Lambda tasks run the stack's functions; `principal_of(role ARN)` is who a machine's tasks call AWS as."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    for function in functions:
        _functions[function.name] = function
        _functions[function.arn] = function
    _principals.append(principal_of)
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
    role = getattr(state_credentials, "role_arn", None)
    principal = next((p for p in (f(role) for f in _principals) if p is not None), None) if role else None
    if principal is not None:
        # the task's Invoke is the state machine role's lambda:InvokeFunction on the function (a qualified name's
        # ARN carries its qualifier): https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html
        arn = name if name.startswith("arn:") else function.arn
        try:
            ENFORCEMENT.require(principal, [Need("lambda:InvokeFunction", arn)], region)
        except AccessDeniedError as exc:  # Lambda's AccessDeniedException fails the task (Lambda.AWSLambdaException)
            raise ClientError(
                {
                    "Error": {"Code": "AccessDeniedException", "Message": str(exc)},
                    "ResponseMetadata": {"HTTPStatusCode": 403},
                },
                "Invoke",
            ) from exc
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
                "errorType": getattr(exc, "error_type", type(exc).__name__),  # Sandbox.Timedout, ...
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            },
        }
    output = json.dumps(result, default=str)
    if len(output.encode()) > STATE_DATA_BYTES:
        # A task's result becomes the state's data, which takes at most 256 KiB of UTF-8: beyond it the execution
        # fails with States.DataLimitExceeded (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
        # "Maximum input or output size for a task, state, or execution"). Locally the task fails with that error.
        return {
            "StatusCode": 200,
            "FunctionError": "Unhandled",
            "ExecutedVersion": "$LATEST",
            "Payload": {
                "errorType": "States.DataLimitExceeded",
                "errorMessage": f"the state/task '{function.name}' returned a result of {len(output.encode())} bytes, "
                f"which exceeds the maximum size limit of {STATE_DATA_BYTES} bytes",
            },
        }
    return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": json.loads(output)}


def wait_for_executions() -> int:
    """Join the interpreter's worker threads (executions run in the background, as on AWS); returns how many."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    joined = 0
    while TMP_THREADS:
        thread = TMP_THREADS.pop(0)
        thread.join(timeout=600)
        joined += 1
    return joined
