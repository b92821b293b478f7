"""This process's boto3 calls to its own moto servers handed to the server's WSGI application directly.

The local stack's functions, pollers and tests run in the process that serves the stack, so a call from them to
the stack would otherwise cross a loopback socket: a TCP connection per request (werkzeug's development server
answers every request with `Connection: close`), a server thread per request, the request's and the answer's
headers written and parsed twice. That was about a fifth of the suite's CPU time. The request still goes through
everything after the socket, unchanged: the same WSGI environ werkzeug's request handler builds (moto's handler
keeps underscored header names, so does this), the IAM, SigV4 and key-policy checks in front of moto
(`local_aws.iam.enforcer`), the fault injector before it (`local_aws.faults`), and botocore's response parsing
after it. Other processes (the browser, `stockctl --local`, the aws CLI) still reach the server over HTTP.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

_apps: dict[str, Any] = {}  # "127.0.0.1:port" -> the moto server's WSGI application
_lock = threading.Lock()

# Answers without a body whatever the application returns (RFC 9110 §9.3.2, §15.3.5, §15.4.5).
_NO_BODY_STATUS = {204, 304}


def serve(netloc: str, app: Any) -> None:
    """Deliver this process's calls to http://`netloc` to `app` in the calling thread."""
    with _lock:
        _apps[netloc] = app


def forget(netloc: str) -> None:
    with _lock:
        _apps.pop(netloc, None)


def app_of(server: Any) -> Any:
    """The WSGI application of a started `moto.server.ThreadedMotoServer`."""
    return server._server.app


def in_process_or(network_send: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`URLLib3Session.send` that answers a served endpoint in process and sends anything else on."""

    def send(session: Any, request: Any) -> Any:
        answer = deliver(request)
        return answer if answer is not None else network_send(session, request)

    return send


def deliver(request: Any) -> Any:
    """The AWSResponse `request` gets from the application serving its endpoint, or None if none serves it."""
    parts = urlsplit(request.url)
    app = _apps.get(parts.netloc)
    if app is None:
        return None
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.test import run_wsgi_app

    from local_aws.iam.enforcer import CALLER
    from local_aws.lambda_limits import WATCHING
    from local_aws.layers import local_aws_call
    from local_aws.request_count import COUNT

    environ = _environ(request, parts)
    saved = dict(CALLER.__dict__)  # a server thread per request kept the caller's own request state apart
    watch = getattr(WATCHING, "watch", None)  # an invocation's memory: the local AWS's share is not the function's
    if watch is not None:
        watch.pause()
    try:
        with COUNT.request(request), local_aws_call():  # moto's code, not the function's
            app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        try:
            body = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
    except Exception:  # werkzeug's server answers an application's failure with a 500, and logs it
        log.exception("the local stack failed to answer %s %s", request.method, request.url)
        status, headers, body = "500 INTERNAL SERVER ERROR", None, b"Internal Server Error"
    finally:
        CALLER.__dict__.clear()
        CALLER.__dict__.update(saved)
        if watch is not None:
            watch.resume()
    code = int(status.split(" ", 1)[0])
    if request.method == "HEAD" or code in _NO_BODY_STATUS:
        body = b""
    answer: dict[str, str] = {}
    for name, value in headers.items() if headers is not None else []:
        answer[name] = f"{answer[name]}, {value}" if name in answer else value  # as urllib3 joins repeated headers
    return AWSResponse(request.url, code, answer, MockRawResponse(body))


def _body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):  # a file-like body: botocore rewinds it itself before a retry
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) for chunk in body)


def _environ(request: Any, parts: Any) -> dict[str, Any]:
    """What werkzeug's `WSGIRequestHandler.make_environ` and moto's `MotoRequestHandler` build for this request."""
    from moto.moto_server.werkzeug_app import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    body = _body(request)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    host, _, port = parts.netloc.partition(":")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "local_aws.transport",
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": _wsgi(unquote(parts.path or "/")),
        "QUERY_STRING": _wsgi(parts.query),
        "REQUEST_URI": _wsgi(target),
        "RAW_URI": _wsgi(target),
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": 0,
        "SERVER_NAME": host,
        "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": parts.netloc,
    }
    names: dict[str, str] = {}
    preserved: dict[str, list[str]] = {}
    dashed = {environ_key_for_header(name) for name in request.headers if "_" not in name}
    for name, value in request.headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        text = text.replace("\r\n", "")
        if "_" in name:
            key = environ_key_for_header(name)
            if should_preserve_original_header_name(name) and key not in dashed:
                names.setdefault(key, name)
                preserved.setdefault(key, []).append(text)
            continue
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
            if key in environ and key != "HTTP_HOST":
                text = f"{environ[key]},{text}"
        environ[key] = text
    for key, values in preserved.items():
        environ[key] = ",".join(values)
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
    if body and "CONTENT_LENGTH" not in environ:  # http.client adds it for a body of known length
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _wsgi(text: str) -> str:
    """PEP 3333's native strings: the UTF-8 bytes as latin-1 (werkzeug's `_wsgi_encoding_dance`)."""
    return text.encode("utf-8").decode("latin-1")


def share_service_models() -> None:
    """Every botocore session of this process reads the service models through one loader.

    A session parses each service's JSON model and the endpoint rules the first time one of its clients needs them;
    the local stack makes a session per role and per function start, so a stack's start parsed the same files
    dozens of times (a tenth of its time). One loader per data path for the process, as one session has: the
    models are read-only once loaded."""
    import functools

    import botocore.session

    if getattr(botocore.session.create_loader, "shared", False):
        return
    shared = functools.lru_cache(maxsize=None)(botocore.session.create_loader)
    shared.shared = True  # type: ignore[attr-defined]
    botocore.session.create_loader = shared  # type: ignore[assignment]
