"""The console's API as a browser calls it: JSON requests with a bearer token, and the presigned POST of a file."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Any


class PresignedPostRefusedError(Exception):
    """S3 refused a presigned POST: the message holds its status and error document."""


def call(url: str, body: dict[str, Any] | None, token: str | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(  # noqa: S310 (the stack's own console URL)
        url,
        method="POST" if body is not None else "GET",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def post_form(url: str, fields: dict[str, str], content: bytes) -> None:
    """The browser's multipart POST of a presigned upload (the file last, as S3 requires)."""
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n\r\n'.encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(  # noqa: S310 (the presigned URL S3 gave)
        url, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60):  # noqa: S310
            return
    except urllib.error.HTTPError as error:
        raise PresignedPostRefusedError(
            f"S3 refused the presigned POST: HTTP {error.code}: {error.read()[:300].decode(errors='replace')}"
        ) from error
