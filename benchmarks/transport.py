"""botocore event hooks for benchmarks: count every AWS request by service and operation, and optionally answer
them in-process (a canned 200) so the handler's own compute is measured without a network or a moto server.

Everything above the HTTP send runs for real: parameter validation, serialisation, signing, response parsing.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders


class _Body(io.BytesIO):
    def stream(self, amt: int = 65536, **_: Any) -> Any:
        while chunk := self.read(amt):
            yield chunk


class RequestCounter:
    """`before-send` hook: counts requests; with `objects`, answers them instead of sending (S3 GetObject from
    `objects`, every other call an empty success)."""

    def __init__(self, objects: Mapping[tuple[str, str], bytes] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self._objects = objects
        self._lock = threading.Lock()

    def install(self, boto3_session: Any) -> RequestCounter:
        """Register on the session: every client created from it afterwards is counted."""
        boto3_session.events.register("before-send", self)
        return self

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        _, service, operation = [*event_name.split("."), "?", "?"][:3]
        with self._lock:
            self.counts[f"{service}.{operation}"] += 1
        if self._objects is None:
            return None  # count only: the request goes out
        headers = HTTPHeaders()
        body = b""
        if service == "s3" and operation == "GetObject":
            path = unquote(urlsplit(request.url).path)  # path-style or virtual-hosted: the key ends the path
            found = next((data for (_, key), data in self._objects.items() if path.endswith("/" + key)), None)
            if found is None:  # what S3 answers for a key it does not have (a reference file not uploaded)
                body = b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
                return AWSResponse(request.url, 404, HTTPHeaders(), _Body(body))
            body = found
            headers["Content-Length"] = str(len(body))
            headers["ETag"] = '"canned"'
        elif service == "dynamodb":
            body = _dynamodb_answer(operation, request.body)
            headers["Content-Type"] = "application/x-amz-json-1.0"
        elif service == "sns":  # a Query-protocol answer botocore can parse
            body = f"<{operation}Response><{operation}Result><MessageId>canned</MessageId></{operation}Result>".encode()
            body += f"<ResponseMetadata><RequestId>canned</RequestId></ResponseMetadata></{operation}Response>".encode()
        else:
            headers["ETag"] = '"canned"'
        return AWSResponse(request.url, 200, headers, _Body(body))

    def total(self, service: str, operations: tuple[str, ...] | None = None) -> int:
        return sum(
            n
            for name, n in self.counts.items()
            if name.startswith(f"{service}.") and (operations is None or name.split(".", 1)[1] in operations)
        )


def _dynamodb_answer(operation: str, request_body: bytes | str | None) -> bytes:
    """What DynamoDB answers when every write succeeds and no key is stored yet (the KDG case: new keys).

    Batch answers carry one entry per statement, so parsing them is measured like any other response work.
    """
    raw = request_body.encode() if isinstance(request_body, str) else (request_body or b"")
    if operation == "BatchExecuteStatement":
        return b'{"Responses": [' + b",".join([b"{}"] * raw.count(b'"Statement"')) + b"]}"
    if operation == "BatchGetItem":
        return b'{"Responses": {}, "UnprocessedKeys": {}}'
    if operation in ("Query", "Scan"):
        return b'{"Items": [], "Count": 0, "ScannedCount": 0}'
    if operation == "UpdateItem" and b'"ReturnValues"' in raw:
        # the item as the SET clause writes it to an empty key: `name = :value` or `if_not_exists(x, :value)`
        request = json.loads(raw)
        values = request.get("ExpressionAttributeValues", {})
        assigned = re.findall(r"(\w+) = (?:if_not_exists\(\w+, )?(:\w+)", request.get("UpdateExpression", ""))
        attributes = {name: values[value] for name, value in assigned if value in values}
        return json.dumps({"Attributes": attributes}).encode()
    return b"{}"
