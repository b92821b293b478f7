"""An HTTP API of the template served on 127.0.0.1, the way API Gateway serves it.

Routes come from the API's OpenAPI body in the translated template (what `sam deploy` gives API Gateway): each
path and method with its Lambda proxy integration (payload format 2.0) and its security. A request to an IAM
route must carry a valid SigV4 signature (service `execute-api`) made with the local credentials, or it is
refused with 403 as IAM refuses it; a request to a JWT route must carry a token the authorizer's issuer signed
(checked against the issuer's keys, moto's Cognito locally), unexpired, for one of its audiences, or it is refused
with 401 as API Gateway's JWT authorizer refuses it; the function runs in-process with the template's environment.
"""

from __future__ import annotations

import base64
import datetime
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_aws.runtime import LocalFunction

log = logging.getLogger(__name__)

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
MAX_SKEW = datetime.timedelta(minutes=15)  # SigV4 refuses older or future-dated signatures


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str  # /warehouses/{warehouse}/items
    pattern: re.Pattern[str]
    function: LocalFunction
    iam: bool
    jwt: Mapping[str, Any] | None = None  # the authorizer's jwtConfiguration (issuer, audience)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def routes_from(body: Mapping[str, Any], functions: Iterable[LocalFunction]) -> list[Route]:
    by_arn = {f.arn: f for f in functions}
    schemes = body.get("components", {}).get("securitySchemes", {})
    jwt_schemes = {
        name: scheme["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authorizer", {}).get("type") == "jwt"
    }
    routes = []
    for template, methods in body.get("paths", {}).items():
        for method, operation in methods.items():
            uri = str(operation.get("x-amazon-apigateway-integration", {}).get("uri", ""))
            function = next((f for arn, f in by_arn.items() if arn in uri), None)
            if function is None:
                continue
            security = operation.get("security", [])
            iam = any("AWS_IAM" in requirement for requirement in security)
            jwt = next(
                (jwt_schemes[name] for requirement in security for name in requirement if name in jwt_schemes), None
            )
            regex = "^" + re.sub(r"\\\{([^}+]+)\\\+\\\}", r"(?P<\1>.+)", re.escape(template))  # {proxy+}: the rest
            regex = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", regex) + "$"
            routes.append(Route(method.upper(), template, re.compile(regex), function, iam, jwt))
    # literal segments before parameters, as API Gateway prefers the most specific route
    return sorted(routes, key=lambda r: (r.template.count("{"), -len(r.template)))


class LocalHttpApi:
    def __init__(
        self,
        routes: list[Route],
        *,
        region: str,
        credentials: Mapping[str, str],
        port: int = 0,
        jwks: Any = None,
    ) -> None:
        self.routes, self.region = routes, region
        self._jwks = jwks  # issuer -> its JSON Web Key Set (for JWT routes)
        self._secrets = {credentials["aws_access_key_id"]: credentials["aws_secret_access_key"]}
        api = self

        class Handler(BaseHTTPRequestHandler):
            def __getattr__(self, name: str) -> Any:
                # Every method reaches the router (TRACE, OPTIONS, ...): one without a route gets API Gateway's
                # 404 {"message": "Not Found"}, not http.server's 501 page.
                if name.startswith("do_"):
                    return lambda: api._serve(self)
                raise AttributeError(name)

            def log_message(self, *args: Any) -> None:  # quiet, like the rest of the local stack
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-http-api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHttpApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ------------------------------------------------------------------ one request

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        split = urlsplit(request.path)
        decoded_path = unquote(split.path)
        for route in self.routes:
            match = route.pattern.match(split.path)
            if route.method == request.command and match:
                break
        else:
            return self._reply(request, 404, {"message": "Not Found"})
        if route.iam and not self._signed(request, body):
            return self._reply(request, 403, {"message": "Forbidden"})
        claims = None
        if route.jwt is not None:
            claims = self._verified_claims(request, route.jwt)
            if claims is None:
                return self._reply(request, 401, {"message": "Unauthorized"})
        event = self._event(request, route, split.path, decoded_path, split.query, match.groupdict(), body)
        if claims is not None:
            event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        try:
            response = route.function.invoke(event)
        except Exception as exc:  # a function error is API Gateway's 500 (and a line in the function's log)
            log.warning("%s failed: %s: %s", route.function.name, type(exc).__name__, exc)
            return self._reply(request, 500, {"message": "Internal Server Error"})
        self._proxy_response(request, response)

    def _signed(self, request: BaseHTTPRequestHandler, body: bytes) -> bool:
        """Recompute the SigV4 signature with the secret of the claimed access key and compare."""
        match = _AUTH.match(request.headers.get("Authorization") or "")
        amz_date = request.headers.get("X-Amz-Date") or ""
        if match is None or match["service"] != "execute-api" or match["key"] not in self._secrets:
            return False
        try:
            signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
        except ValueError:
            return False
        if abs(datetime.datetime.now(datetime.UTC) - signed_at) > MAX_SKEW or not amz_date.startswith(match["date"]):
            return False
        names = match["headers"].split(";")
        headers = {name: request.headers.get(name, "") for name in names}
        url = f"http://{request.headers.get('Host', '')}{request.path}"
        candidate = AWSRequest(method=request.command, url=url, data=body, headers=headers)
        candidate.context["timestamp"] = amz_date
        signer = SigV4Auth(
            Credentials(match["key"], self._secrets[match["key"]], request.headers.get("X-Amz-Security-Token")),
            "execute-api",
            match["region"],
        )
        canonical = signer.canonical_request(candidate)
        expected = signer.signature(signer.string_to_sign(candidate, canonical), candidate)
        return expected == match["signature"] and match["region"] == self.region

    def _verified_claims(self, request: BaseHTTPRequestHandler, config: Mapping[str, Any]) -> dict[str, Any] | None:
        """The token's claims when API Gateway's JWT authorizer would accept it: a `Bearer` token (or the bare
        token) signed by the issuer's keys, issued by it, unexpired, for one of the audiences (`aud` or, for
        Cognito access tokens, `client_id`)."""
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        header = request.headers.get("Authorization") or ""
        token = header[7:].strip() if header.lower().startswith("bearer ") else header.strip()
        issuer, audience = str(config.get("issuer", "")), [str(a) for a in config.get("audience", [])]
        if not token or self._jwks is None:
            return None
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(self._jwks(issuer)))
        except (JoseError, ValueError):
            return None
        claims = dict(decoded.claims)
        if claims.get("iss") != issuer or float(claims.get("exp", 0)) <= time.time():
            return None
        audiences = claims.get("aud") or claims.get("client_id") or []
        audiences = [audiences] if isinstance(audiences, str) else list(audiences)
        return claims if set(audiences) & set(audience) else None

    def _event(
        self,
        request: BaseHTTPRequestHandler,
        route: Route,
        raw_path: str,
        path: str,
        query: str,
        parameters: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """Payload format 2.0: raw path as sent, decoded path parameters, repeated query values joined by commas."""
        values: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            values.setdefault(name, []).append(value)
        now = time.time()
        headers = {name.lower(): value for name, value in request.headers.items()}
        access_key = (_AUTH.match(headers.get("authorization", "")) or {"key": None})["key"]
        return {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": headers,
            "queryStringParameters": {k: ",".join(v) for k, v in values.items()} or None,
            "pathParameters": {k: unquote(v) for k, v in parameters.items()} or None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "authorizer": {"iam": {"accessKey": access_key}} if route.iam else None,
                "domainName": headers.get("host", ""),
                "http": {
                    "method": request.command,
                    "path": path,
                    "protocol": request.request_version,
                    "sourceIp": request.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route.key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": base64.b64encode(body).decode() if body else None,
            "isBase64Encoded": bool(body),
        }

    def _proxy_response(self, request: BaseHTTPRequestHandler, response: Any) -> None:
        if not isinstance(response, dict) or "statusCode" not in response:
            return self._reply(request, 200, response)  # 2.0 lets a function return just the body
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode()
        request.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            request.send_header(name, str(value))
        for cookie in response.get("cookies") or []:
            request.send_header("Set-Cookie", cookie)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)

    def _reply(self, request: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
