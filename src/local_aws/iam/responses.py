"""The HTTP side of the enforcement: the request as the moto server received it, and refusals in each service's own
error shape (S3's XML, the query protocol's ErrorResponse, the JSON protocols' __type), with AWS's status codes."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from local_aws.iam import sigv4
from local_aws.iam.moto_state import bucket_region
from local_aws.iam.operations import HttpRequest, Need
from local_aws.iam.policy import Decision


def unmapped_hint(decision: Decision, need: Need) -> str:
    if need.context.get("local:unmapped"):
        return decision.message() + (
            " (the local stack does not know which resource this call acts on: map it in local_aws/iam/operations.py)"
        )
    return decision.message()


def http_request(environ: dict[str, Any]) -> HttpRequest:
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    path, _, query = raw.partition("?")
    if "://" in path:  # an absolute request target
        path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
    # An underscore in a header name is kept as sent where moto's request handler recorded it (S3 metadata names
    # may hold one, and SigV4 signs the name as sent): a dash otherwise, as WSGI spells it.
    names = environ.get("moto.preserved_header_names") or {}
    headers = {names.get(k, k[5:].replace("_", "-")).lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = environ["CONTENT_LENGTH"]
    return HttpRequest(environ["REQUEST_METHOD"], headers.get("host", ""), path, query, headers, body)


def service_of(request: HttpRequest) -> str:
    target = request.headers.get("x-amz-target", "")
    if target:
        return {"DynamoDB": "dynamodb", "AmazonSQS": "sqs", "AWSStepFunctions": "states"}.get(
            target.split("_")[0].split(".")[0], "json"
        )
    if "Action=" in request.query or request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        return "sns"
    return "s3"


def wrong_region(account: str, bucket: str, signed: sigv4.Signed) -> tuple[int, list[tuple[str, str]], bytes] | None:
    region = bucket_region(account, bucket)
    if region is None or region == signed.region:
        return None
    if signed.style == "header":
        code, message = (
            "AuthorizationHeaderMalformed",
            (f"The authorization header is malformed; the region '{signed.region}' is wrong; expecting '{region}'"),
        )
    else:
        code, message = (
            "AuthorizationQueryParametersError",
            (
                f"Error parsing the X-Amz-Credential parameter; the region '{signed.region}' is wrong; "
                f"expecting '{region}'"
            ),
        )
    body = _s3_error_xml(code, message, extra=f"<Region>{region}</Region>")
    return 400, [("Content-Type", "application/xml"), ("x-amz-bucket-region", region)], body


def _s3_error_xml(code: str, message: str, *, extra: str = "") -> bytes:
    from xml.sax.saxutils import escape

    request_id = uuid.uuid4().hex[:16].upper()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message>{extra}<RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
    ).encode()


# The code each service answers a refusal with, and its HTTP status.
_DENIED = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "dynamodb": ("AccessDeniedException", 400),
    "states": ("AccessDeniedException", 400),
    "kms": ("AccessDeniedException", 400),
}
# ... and a refusal of the KMS key behind the data it asked for.
_KMS_DENIED = {
    "sqs": (
        "KmsAccessDenied",
        400,
    ),  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html
    "sns": ("KMSAccessDenied", 400),  # https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
    "s3": ("AccessDenied", 403),
    "dynamodb": ("AccessDeniedException", 400),
}


def refusal(
    service: str, request: HttpRequest, decision: Decision, need: Need
) -> tuple[int, list[tuple[str, str]], bytes]:
    table = _KMS_DENIED if need.error == "KMS" else _DENIED
    code, status = table.get(service, ("AccessDeniedException", 400))
    return error(service, request, code, unmapped_hint(decision, need), status)


def error(
    service: str, request: HttpRequest, code: str, message: str, status: int
) -> tuple[int, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if service == "s3" or (not request.headers.get("x-amz-target") and service not in ("sns", "sts", "iam")):
        body = b"" if request.method == "HEAD" else _s3_error_xml(code, message)
        return status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)], body
    if request.headers.get("x-amz-target"):
        payload = {"__type": f"com.amazonaws.{service}#{code}", "message": message}
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
            ("x-amzn-query-error", f"{code};Sender"),  # SQS's JSON protocol reports its query-era codes here
        ]
        return status, headers, json.dumps(payload).encode()
    from xml.sax.saxutils import escape

    body = (
        f'<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/"><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
