"""Console Lambda behind the HTTP API: the page and its files, sign-in, presigned uploads, today's files.

The page and sign-in are public (they hold no data); every other route is behind the API's Cognito JWT authorizer,
so a request reaching them carries a verified user. Every answer carries a strict Content-Security-Policy: the page
runs only its own script and style, talks only to this API and, for uploads, to the bucket.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline.adapters.aws import client_config, new_session, s3_client
from stock_pipeline.adapters.cognito import ConsoleAuth, SignInError
from stock_pipeline.adapters.file_outcomes import FileOutcomes
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.movements import BelowZeroError, Movements
from stock_pipeline.adapters.profiles import ProfileStore
from stock_pipeline.adapters.queries import StockQueries
from stock_pipeline.adapters.recent_changes import RecentChanges
from stock_pipeline.adapters.reconciliation import Repairs, Runs
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.adapters.sns import NoticePublisher
from stock_pipeline.config import Settings
from stock_pipeline.domain.console import (
    ITEM_CHARTED,
    KINDS,
    UploadError,
    file_rows,
    item_page,
    lowest_levels,
    overview,
    todays_prefixes,
    upload_target,
)
from stock_pipeline.domain.imports import summarize, summary_keys, summary_text
from stock_pipeline.domain.movements import (
    ChangesCatchingUp,
    MovementError,
    adjustment_from,
    stocktake_from,
    transfer_from,
)
from stock_pipeline.domain.reconciliation import Difference, ReconciliationError, checked_run, repair_cause
from stock_pipeline.domain.supplier_profiles import ProfileError
from stock_pipeline.observability import logger

STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",  # uPlot 1.6.31 (MIT), `make vendor`
    "uPlot.min.css": "text/css; charset=utf-8",
}
MFA_CODE = re.compile(r"\d{6}")
SUMMARY_DAYS = 35  # an import summary's claim is kept as long as its files' outcomes


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    store: ObjectStore
    profiles: ProfileStore
    outcomes: FileOutcomes
    auth: ConsoleAuth
    movements: Movements
    queries: StockQueries
    levels: StockLevels
    recent: RecentChanges
    upload_origin: str  # where browsers POST their files (the bucket's endpoint), for the CSP's connect-src
    notices: NoticePublisher  # the restock topic: an import's summary
    runs: Runs  # the full reconciliation's runs, and the repair of one level
    repairs: Repairs


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    settings.require("console_client_id")
    store = ObjectStore(s3_client(session))
    probe = store.presigned_post(settings.bucket_name, "probe", content_type="text/plain", max_bytes=1)
    parts = urlsplit(probe["url"])
    return Dependencies(
        settings=settings,
        store=store,
        profiles=ProfileStore(store, settings.bucket_name, settings.supplier_profiles_key),
        outcomes=FileOutcomes(session.client("dynamodb", config=client_config()), settings.table_name),
        auth=ConsoleAuth(session.client("cognito-idp", config=client_config()), settings.console_client_id),
        movements=Movements(session.client("dynamodb", config=client_config()), settings.table_name),
        queries=StockQueries(session.client("dynamodb", config=client_config()), settings.table_name),
        levels=StockLevels(session.client("dynamodb", config=client_config()), settings.table_name),
        recent=RecentChanges(session.client("dynamodb", config=client_config()), settings.table_name),
        upload_origin=f"{parts.scheme}://{parts.netloc}",
        notices=NoticePublisher(session.client("sns", config=client_config()), settings.restock_topic_arn),
        runs=Runs(session.client("dynamodb", config=client_config()), settings.table_name),
        repairs=Repairs(session.client("dynamodb", config=client_config()), settings.table_name),
    )


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


app = APIGatewayHttpResolver()
_injected: list[Dependencies] = []


def deps() -> Dependencies:
    return _injected[-1] if _injected else _dependencies()


def security_headers(upload_origin: str) -> dict[str, str]:
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {upload_origin}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Strict-Transport-Security": "max-age=31536000",
    }


def _respond(status: int, content_type: str, body: str, *, cache_s: int = 0) -> Response:
    headers = {
        **security_headers(deps().upload_origin),
        "Cache-Control": f"max-age={cache_s}" if cache_s else "no-store",
    }
    return Response(status, content_type, body, headers=headers)


def _json(status: int, payload: Any) -> Response:
    return _respond(status, "application/json", json.dumps(payload, default=str, ensure_ascii=False))


def _problem(status: int, detail: str) -> Response:
    return _json(status, {"title": "Bad request" if status == 400 else "Refused", "status": status, "detail": detail})


class BodyError(ValueError):
    """The request's body is not the JSON object the route takes."""


def _body() -> dict[str, Any]:
    """The JSON object a POST carries: anything else (not JSON, a list, a string) is the caller's 400, not a 500."""
    try:
        body = app.current_event.json_body
    except ValueError as exc:  # json.JSONDecodeError, and a body that is not UTF-8
        raise BodyError("the request body is not JSON") from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BodyError("the request body must be a JSON object")
    return body


@app.exception_handler(BodyError)
def _bad_body(exc: BodyError) -> Response:
    return _problem(400, str(exc))


def _asset(name: str) -> str:
    return resources.files("stock_pipeline.console").joinpath(name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- public: the page, its files, sign-in


@app.get("/console")
def page() -> Response:
    return _respond(200, "text/html; charset=utf-8", _asset("index.html"))


@app.get("/console/static/<file>")
def static_file(file: str) -> Response:
    if file not in STATIC:  # a fixed list: no path from the request reaches the file system
        return _problem(404, f"no file {file!r}")
    return _respond(200, STATIC[file], _asset(file), cache_s=300)


@app.post("/console/api/session")
def sign_in() -> Response:
    """Password (or a new one for a temporary password), then, when the pool wants it, the authenticator app's
    code: each step answers with tokens or with the next challenge and its session."""
    body = _body()
    username, password = str(body.get("username", "")).strip(), str(body.get("password", ""))
    challenge, code = str(body.get("challenge", "")), str(body.get("code", "")).strip()
    session = str(body.get("session", ""))
    if challenge in ("SOFTWARE_TOKEN_MFA", "MFA_SETUP"):
        if not username or not session or not MFA_CODE.fullmatch(code):
            return _problem(400, "the 6-digit code from your authenticator app, please")
    elif not username or not password:
        return _problem(400, "user name and password, please")
    auth = deps().auth
    try:
        if challenge == "SOFTWARE_TOKEN_MFA":
            answer = auth.mfa_code(username, code, session)
        elif challenge == "MFA_SETUP":
            answer = auth.mfa_setup(username, code, session)
        elif session:
            answer = auth.new_password(username, password, session)
        else:
            answer = auth.sign_in(username, password)
    except SignInError as exc:
        logger.info("console sign-in refused", extra={"user": username, "reason": str(exc)})
        return _problem(401, str(exc))
    logger.info("console sign-in", extra={"user": username, "challenge": answer.get("challenge")})
    return _json(200, answer)


# ---------------------------------------------------------------------------- signed-in users (JWT authorizer)


def _user() -> str:
    claims = (
        (app.current_event.request_context.authorizer.jwt_claim or {})
        if app.current_event.request_context.authorizer
        else {}
    )
    return str(claims.get("username") or claims.get("cognito:username") or claims.get("sub") or "unknown")


def _suppliers() -> list[str]:
    try:
        return sorted(deps().profiles.profiles())
    except ProfileError:
        return []


@app.get("/console/api/profiles")
def profiles() -> Response:
    kinds = [
        {"name": k.name, "label": k.label, "extensions": k.extensions, "needsSupplier": k.needs_supplier}
        for k in KINDS.values()
    ]
    settings = deps().settings
    return _json(
        200,
        {
            "suppliers": _suppliers(),
            "kinds": kinds,
            "uploadLimitMB": settings.console_upload_limit_mb,
            "mfa": settings.console_mfa,
        },
    )


@app.post("/console/api/mfa")
def two_factor() -> Response:
    """Turn on two-factor sign-in for the signed-in user (`start`: the key for the app; `verify`: its first code)
    where the pool leaves it to each user (ConsoleMfa OPTIONAL; ON sets it up at sign-in)."""
    body = _body()
    if deps().settings.console_mfa != "OPTIONAL":
        return _problem(400, f"two-factor sign-in is {deps().settings.console_mfa} for this console, not optional")
    header = app.current_event.get_header_value("authorization") or ""
    access_token = header[7:].strip() if header.lower().startswith("bearer ") else header.strip()
    try:
        if body.get("action") == "start":
            return _json(200, deps().auth.start_totp(access_token, _user()))
        code = str(body.get("code", "")).strip()
        if body.get("action") != "verify" or not MFA_CODE.fullmatch(code):
            return _problem(400, 'action "start", or "verify" with the 6-digit code from your authenticator app')
        deps().auth.enable_totp(access_token, code)
    except SignInError as exc:
        return _problem(400, str(exc))
    logger.info("console two-factor sign-in turned on", extra={"user": _user()})
    return _json(200, {"enabled": True})


@app.post("/console/api/uploads")
def upload() -> Response:
    """A presigned POST for one file: the key is ours, the size and content type fixed by the signature."""
    body = _body()
    settings = deps().settings
    limit = settings.console_upload_limit_mb * 1024 * 1024
    size, names = body.get("size"), [body.get("kind"), body.get("filename")]
    if isinstance(size, bool) or not isinstance(size, int) or not all(isinstance(n, str) for n in names):
        return _problem(400, "kind and filename as text and size as a whole number of bytes, please")
    if body.get("supplier") is not None and not isinstance(body.get("supplier"), str):
        return _problem(400, "supplier: a supplier's name, please")
    try:
        target = upload_target(
            str(body["kind"]),
            str(body["filename"]),
            size,
            supplier=body.get("supplier"),
            suppliers=_suppliers(),
            limit_bytes=limit,
            now=datetime.now(UTC),
            taken=_taken_keys(settings.bucket_name),
        )
    except UploadError as exc:
        return _problem(400, str(exc))
    post = deps().store.presigned_post(
        settings.bucket_name,
        target.key,
        content_type=target.content_type,
        max_bytes=limit,
        metadata={"uploaded-by": _user()},  # from the verified token; the signed policy holds it to this value
    )
    logger.info("console upload signed", extra={"user": _user(), "key": target.key, "size": size})
    return _json(
        200, {"key": target.key, "url": post["url"], "fields": post["fields"], "contentType": target.content_type}
    )


def _taken_keys(bucket: str) -> Callable[[str], bool]:
    """Is a key taken? One listing of its folder answers every probe of a free name (the role may list the input
    prefixes; it may not read what people uploaded)."""
    listed: dict[str, set[str]] = {}

    def taken(key: str) -> bool:
        folder = key.rsplit("/", 1)[0] + "/"
        if folder not in listed:
            listed[folder] = set(deps().store.list_keys(bucket, folder))
        return key in listed[folder]

    return taken


@app.get("/console/api/files")
def files() -> Response:
    """Today's files (UTC) under the input prefixes with what became of them; the page polls this."""
    day = datetime.now(UTC).date()
    return _json(200, {"day": day.isoformat(), "files": _todays_files(day)})


def _todays_files(day: Any) -> list[dict[str, Any]]:
    store, bucket = deps().store, deps().settings.bucket_name
    objects = [o for prefix in todays_prefixes(day, _suppliers()) for o in store.list_objects(bucket, prefix)]
    objects = [o for o in objects if not o["key"].endswith("/")]
    outcomes = deps().outcomes.outcomes([(o["key"], o["etag"]) for o in objects])
    return file_rows(objects, outcomes, day)


@app.get("/console/api/overview")
def landing() -> Response:
    """What needs attention: levels below threshold worst first, today's files failed first, the day's alerts."""
    now = datetime.now(UTC)
    view = overview(deps().queries.below_threshold(), _todays_files(now.date()), now=now)
    return _json(200, {**view, "reconciliation": deps().runs.latest()})


@app.get("/console/api/items/<item_id>")
def item(item_id: str) -> Response:
    """One item: its lowest levels, threshold, totals and the last 30 days of the lowest few levels' changes."""
    from urllib.parse import unquote

    item_id = unquote(item_id)
    levels = deps().levels.levels_of_item(item_id)
    if not levels:
        return _problem(404, f"no warehouse holds a stock level of item {item_id!r}")
    since = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    charted = lowest_levels(levels, ITEM_CHARTED)  # one Query each: the lowest few, not every store of a chain
    changes = {
        str(level["warehouse"]): deps().recent.of_level(str(level["warehouse"]), item_id, since=since)
        for level in charted
    }
    threshold = deps().levels.thresholds([item_id]).get(item_id)
    return _json(200, item_page(item_id, levels, threshold, deps().settings.default_restock_threshold, changes))


@app.get("/console/api/rejected")
def rejected_rows() -> Response:
    """A short-lived link to a file's rejected rows (only keys under the rejected prefix)."""
    key = app.current_event.get_query_string_value("key") or ""
    prefix = deps().settings.rejected_prefix
    if not key.startswith(prefix) or ".." in key or not key.endswith(".rejected.jsonl"):
        return _problem(400, "key: not a rejected-rows file")
    name = key.rsplit("/", 1)[-1]
    url = deps().store.presigned_get(deps().settings.bucket_name, key, download_name=name)
    return _json(200, {"url": url})


@app.post("/console/api/adjustments")
def adjust() -> Response:
    """A signed change of one level with its reason (damaged, lost, found, correction), by the signed-in user."""
    try:
        applied = deps().movements.adjust(adjustment_from(_body(), user=_user()), at=_now_text())
    except MovementError as exc:
        return _problem(400, str(exc))
    logger.info("stock adjusted", extra={"user": _user(), **asdict(applied)})
    return _json(200, asdict(applied))


@app.post("/console/api/transfers")
def transfer() -> Response:
    """Stock from one warehouse to another, both levels in one transaction; one that would take the source below
    zero is refused (409, with the level) unless sent again with confirm."""
    try:
        applied = deps().movements.transfer(transfer_from(_body(), user=_user()), at=_now_text())
    except BelowZeroError as exc:
        return _json(409, {"title": "Would go below zero", "status": 409, "detail": str(exc), "level": exc.level})
    except MovementError as exc:
        return _problem(400, str(exc))
    logger.info("stock transferred", extra={"user": _user(), **asdict(applied)})
    return _json(200, asdict(applied))


@app.post("/console/api/stocktakes")
def stocktake() -> Response:
    """Counted levels (several at once): each becomes the level, the difference recorded with who counted."""
    try:
        applied = deps().movements.stocktake(stocktake_from(_body(), user=_user()), at=_now_text())
    except ChangesCatchingUp as exc:  # a past count's level changed seconds ago: the log follows within a minute
        return _json(409, {"title": "Try again in a minute", "status": 409, "detail": str(exc), "retry": True})
    except MovementError as exc:
        return _problem(400, str(exc))
    logger.info("stocktake applied", extra={"user": _user(), **asdict(applied)})
    return _json(200, asdict(applied))


@app.post("/console/api/imports")
def import_summary() -> Response:
    """The summary of files a person uploaded as history, e-mailed once when every one of them is processed: 202
    while some wait (the page asks again), then 200 with the summary (`emailed` false if it went already)."""
    try:
        keys = summary_keys(_body())
    except ValueError as exc:
        return _problem(400, str(exc))
    store, bucket = deps().store, deps().settings.bucket_name
    etags = {o["key"]: o["etag"] for key in keys for o in store.list_objects(bucket, key) if o["key"] == key}
    if missing := [k for k in keys if k not in etags]:
        return _problem(404, f"not uploaded: {', '.join(missing[:5])}")
    files = [(key, etags[key]) for key in keys]
    outcomes = deps().outcomes.outcomes(files)
    if len(outcomes) < len(files):
        return _json(202, {"waiting": len(files) - len(outcomes), "files": len(files)})
    summary = summarize([(f[0], outcomes[f]) for f in files], deps().queries.below_threshold())
    now = datetime.now(UTC)
    claimed = deps().outcomes.claim_summary(
        files, at=now.isoformat(), expires_at=int((now + timedelta(days=SUMMARY_DAYS)).timestamp())
    )
    if claimed:
        subject, message = summary_text(summary)
        deps().notices.publish(subject, message, {"kind": "import-summary"})
        logger.info("import summary e-mailed", extra={"user": _user(), "files": len(files)})
    return _json(200, {**summary, "emailed": claimed})


@app.post("/console/api/repairs")
def repair() -> Response:
    """One level of a reconciliation run's examples set to its expected value, if it still holds what the run saw
    (409 with the reason otherwise), recorded in its history with the signed-in user and the reason given."""
    body = _body()
    try:
        run = checked_run(str(body.get("run")))
        cause = repair_cause(run, str(body.get("reason") or ""))
    except ReconciliationError as exc:
        return _problem(400, str(exc))
    found = deps().runs.get(run)
    wanted = (body.get("warehouse"), body.get("item_id"))
    example = next((w for w in (found or {}).get("worst", []) if (w["warehouse"], w["item_id"]) == wanted), None)
    if example is None:
        return _problem(404, f"run {run} names no difference of {wanted[1]!r} in {wanted[0]!r}")
    difference = Difference(
        example["warehouse"],
        example["item_id"],
        int(example["expected"]),
        None if example["stored"] is None else int(example["stored"]),
        0,
    )
    repaired, why = deps().repairs.repair(difference, cause=cause, who=_user(), at=_now_text())
    if not repaired:
        return _json(409, {"title": "Not repaired", "status": 409, "detail": why})
    logger.info("level repaired", extra={"user": _user(), "run": run, "warehouse": wanted[0], "item": wanted[1]})
    return _json(200, {"repaired": True, "quantity": difference.expected})


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@app.not_found
def _no_route(_: Exception) -> Response:
    return _problem(404, f"no console route {app.current_event.path}")


def handle(event: dict[str, Any], context: LambdaContext | None, dependencies: Dependencies) -> dict[str, Any]:
    _injected.append(dependencies)
    try:
        return app.resolve(event, context)
    finally:
        _injected.pop()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
