"""Signatures as AWS checks them: Signature Version 4 in the Authorization header, in a presigned URL's query, and
on a browser's POST policy; Signature Version 2 refused where S3 refuses it.

- SigV4 (header and query): https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html and
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html (X-Amz-Expires at most 7 days;
  an expired URL is refused with "Request has expired")
- POST policy: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-authentication-HTTPPOST.html (the signature
  is the policy's base64 text signed with the SigV4 signing key of the credential's date, region and service)
- SigV2 is not accepted by buckets created after 24 June 2020, nor in Regions launched after January 2014, nor for
  SSE-KMS objects: https://docs.aws.amazon.com/AmazonS3/latest/API/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation
  and https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html. Every bucket of this stack is
  both new and SSE-KMS, so S3 answers SigV2 with InvalidRequest / "Please use AWS4-HMAC-SHA256".
- The credential scope's Region must be the bucket's: S3 answers AuthorizationHeaderMalformed (header) or
  AuthorizationQueryParametersError (query, POST) naming the Region it expected.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws.iam.operations import HttpRequest

_HEADER = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<headers>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$"
)
MAX_SKEW = timedelta(minutes=15)  # SigV4 refuses requests signed more than 15 minutes off
MAX_PRESIGNED = 7 * 24 * 3600


class SignatureError(Exception):
    """Refused before any policy is read: `code` and `status` are the service's."""

    def __init__(self, code: str, message: str, status: int = 403, region: str | None = None) -> None:
        super().__init__(message)
        self.code, self.status, self.region = code, status, region


@dataclass(frozen=True, slots=True)
class Signed:
    """Who signed and for what: access key, date, Region and service of the credential scope."""

    access_key: str
    date: str
    region: str
    service: str
    style: str  # "header" | "query" | "post"


def scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureError("IncompleteSignature", f"malformed credential scope {credential!r}", 400)
    return parts[0], parts[1], parts[2], parts[3]


def signed_by(request: HttpRequest) -> Signed | None:
    """How the request is signed (without checking the signature yet); None when it is not signed at all.
    Signature Version 2 in any of its three forms is refused here."""
    authorization = request.headers.get("authorization", "")
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    if authorization.startswith("AWS ") or ("AWSAccessKeyId" in query and "Signature" in query):
        raise SignatureError(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            400,
        )
    if authorization:
        match = _HEADER.match(authorization)
        if match is None:
            raise SignatureError("IncompleteSignature", "Authorization header requires AWS4-HMAC-SHA256", 400)
        key, date, region, service = scope(match["credential"])
        return Signed(key, date, region, service, "header")
    if "X-Amz-Credential" in query:
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise SignatureError(
                "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports AWS4-HMAC-SHA256", 400
            )
        key, date, region, service = scope(query["X-Amz-Credential"])
        return Signed(key, date, region, service, "query")
    return None


def verify(
    request: HttpRequest, signed: Signed, secret: str, token: str | None, *, now: datetime | None = None
) -> None:
    """Recompute the signature with the claimed key's secret (header or presigned URL) and compare."""
    now = now or datetime.now(UTC)
    query = dict(parse_qsl(request.query, keep_blank_values=True))
    credentials = Credentials(signed.access_key, secret, token)
    if signed.style == "header":
        match = _HEADER.match(request.headers["authorization"])
        assert match is not None
        stamp = request.headers.get("x-amz-date", "")
        _fresh(stamp, now)
        if token is not None and request.headers.get("x-amz-security-token") != token:
            raise SignatureError("InvalidClientTokenId", "The security token included in the request is invalid.")
        names = match["headers"].split(";")
        url = f"http://{request.host}{request.path}" + (f"?{request.query}" if request.query else "")
        candidate = AWSRequest(
            method=request.method, url=url, data=request.body, headers={n: request.headers.get(n, "") for n in names}
        )
        signer_class = S3SigV4Auth if signed.service == "s3" else SigV4Auth
        if signed.service == "s3":
            claimed = request.headers.get("x-amz-content-sha256", "")
            if re.fullmatch(r"[0-9a-f]{64}", claimed) and claimed != hashlib.sha256(request.body).hexdigest():
                raise SignatureError(
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    400,
                )
        expected = match["signature"]
    else:
        stamp = query.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = int(query.get("X-Amz-Expires", "0"))
        except ValueError as exc:
            raise SignatureError(
                "AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed", 400
            ) from exc
        if expires > MAX_PRESIGNED:
            raise SignatureError(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
                400,
            )
        if now > signed_at + timedelta(seconds=expires):
            raise SignatureError("AccessDenied", "Request has expired")
        if token is not None and query.get("X-Amz-Security-Token") != token:
            raise SignatureError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        names = query.get("X-Amz-SignedHeaders", "host").split(";")
        pairs = [p for p in request.query.split("&") if not p.startswith("X-Amz-Signature=")]
        url = f"http://{request.host}{request.path}?{'&'.join(pairs)}"
        candidate = AWSRequest(method=request.method, url=url, headers={n: request.headers.get(n, "") for n in names})
        signer_class = S3SigV4QueryAuth if signed.service == "s3" else SigV4Auth
        expected = query.get("X-Amz-Signature", "")
    candidate.context["timestamp"] = stamp
    signer = signer_class(credentials, signed.service, signed.region)
    canonical = signer.canonical_request(candidate)
    computed = signer.signature(signer.string_to_sign(candidate, canonical), candidate)
    if not hmac.compare_digest(computed, expected):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )


def _fresh(stamp: str, now: datetime) -> None:
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError("IncompleteSignature", "X-Amz-Date is missing or malformed", 400) from exc
    if abs(now - signed_at) > MAX_SKEW:
        raise SignatureError(
            "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
        )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def post_signed_by(fields: dict[str, str]) -> Signed:
    """A browser POST's credential (form field names are case-insensitive); SigV2 POSTs are refused."""
    if "awsaccesskeyid" in fields or ("signature" in fields and "x-amz-signature" not in fields):
        raise SignatureError(
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            400,
        )
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256" or "x-amz-credential" not in fields:
        raise SignatureError(
            "AccessDenied", "a browser upload needs a SigV4-signed policy (x-amz-algorithm, x-amz-credential)"
        )
    key, date, region, service = scope(fields["x-amz-credential"])
    return Signed(key, date, region, service, "post")


def verify_post(fields: dict[str, str], signed: Signed, secret: str, token: str | None) -> None:
    if token is not None and fields.get("x-amz-security-token") != token:
        raise SignatureError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
    key = signing_key(secret, signed.date, signed.region, signed.service)
    computed = hmac.new(key, fields.get("policy", "").encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(computed, fields.get("x-amz-signature", "")):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
