"""Reports Lambda behind the HTTP API (IAM-authorised): parse the request, call the report, answer JSON or CSV.

Bad input is a 400 problem document naming the parameter; an unknown warehouse or item a 404; never a 500 for
anything a caller sends. The parameters are checked against `domain.report_params`, which the OpenAPI document
(`stock_pipeline.reports_openapi`, docs/openapi.json) declares too: this module imports no pydantic, so the
function starts in a fraction of the time (docs/cost.md, "Cold starts").
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from stock_pipeline import reports
from stock_pipeline.adapters.aws import client_config, new_session
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.queries import StockQueries
from stock_pipeline.config import Settings
from stock_pipeline.domain.report_params import ACCOUNT_ID, QUERY
from stock_pipeline.domain.reports import NotFoundError, Page, ReportError, to_csv
from stock_pipeline.observability import logger

PROBLEM = "application/problem+json"


@dataclass(frozen=True, slots=True)
class Dependencies:
    settings: Settings
    queries: StockQueries
    levels: StockLevels


def build_dependencies(settings: Settings, session: Any) -> Dependencies:
    ddb = session.client("dynamodb", config=client_config())
    return Dependencies(settings, StockQueries(ddb, settings.table_name), StockLevels(ddb, settings.table_name))


@cache
def _dependencies() -> Dependencies:
    return build_dependencies(Settings.from_env(), new_session())


# the same routes serve the web console under /console/api/reports (Cognito JWT instead of IAM)
app = APIGatewayHttpResolver(strip_prefixes=["/console/api/reports"])
_injected: list[Dependencies] = []


def deps() -> Dependencies:
    return _injected[-1] if _injected else _dependencies()


# ---------------------------------------------------------------------------- routes


def _query(route: str) -> dict[str, Any]:
    """The route's query parameters, each checked against its constraints (ReportError names the first wrong)."""
    event = app.current_event
    return {param.name: param.parse(event.get_query_string_value(param.name)) for param in QUERY[route]}


@app.get("/warehouses")
def get_warehouses() -> Any:
    q = _query("/warehouses")
    page = reports.warehouses(deps().queries, limit=q["limit"], token=q["next"], now=_now())
    return _answer(page, q["format"])


@app.get("/warehouses/<warehouse>/items")
def get_warehouse_items(warehouse: str) -> Any:
    q = _query("/warehouses/{warehouse}/items")
    page = reports.warehouse_items(
        deps().queries, unquote(warehouse), above=q["min_quantity"], limit=q["limit"], token=q["next"], now=_now()
    )
    return _answer(page, q["format"])


@app.get("/items/<item_id>/total")
def get_item_total(item_id: str) -> Any:
    q = _query("/items/{item_id}/total")
    page = reports.item_total(
        deps().levels,
        unquote(item_id),
        default_threshold=deps().settings.default_restock_threshold,
        limit=q["limit"],
        token=q["next"],
        now=_now(),
    )
    return _answer(page, q["format"])


@app.get("/stock/<retailer_id>/<account_id>")
def get_article_stock(retailer_id: str, account_id: str) -> Any:
    q = _query("/stock/{retailer_id}/{account_id}")
    account = ACCOUNT_ID.parse(unquote(account_id))
    page = reports.article_stock(
        deps().queries, unquote(retailer_id), account, limit=q["limit"], token=q["next"], now=_now()
    )
    return _answer(page, q["format"])


@app.get("/suppliers/<supplier>/stock")
def get_supplier_stock(supplier: str) -> Any:
    q = _query("/suppliers/{supplier}/stock")
    page = reports.supplier_stock(deps().queries, unquote(supplier), limit=q["limit"], token=q["next"], now=_now())
    return _answer(page, q["format"])


@app.get("/forecast/stockouts")
def get_stockouts() -> Any:
    q = _query("/forecast/stockouts")
    page = reports.stockouts(
        deps().queries,
        within_days=q["within_days"],
        warehouse=q["warehouse"],
        limit=q["limit"],
        token=q["next"],
        now=_now(),
    )
    return _answer(page, q["format"])


# ---------------------------------------------------------------------------- answers and errors


def _answer(page: Page, format_: str | None) -> Response:
    wants_csv = format_ == "csv" or (
        format_ is None and "text/csv" in (app.current_event.headers.get("accept") or "").lower()
    )
    headers = {"X-Next-Token": page.next_token} if page.next_token else {}
    if wants_csv:
        return Response(200, "text/csv; charset=utf-8", to_csv(page.columns, page.rows), headers=headers)
    body = {**page.summary, "count": len(page.rows), "items": page.rows, "next": page.next_token}
    return Response(200, "application/json", json.dumps(body, default=str, ensure_ascii=False), headers=headers)


def _problem(status: int, title: str, detail: str, parameter: str | None = None) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if parameter:
        body["parameter"] = parameter
    return Response(status, PROBLEM, json.dumps(body, ensure_ascii=False))


@app.exception_handler(ReportError)
def _bad_report(error: ReportError) -> Response:
    return _problem(400, "Bad request", str(error), error.parameter)


@app.exception_handler(NotFoundError)
def _not_found(error: NotFoundError) -> Response:
    return _problem(404, "Not found", str(error.args[0] if error.args else error))


@app.not_found
def _no_route(_: Exception) -> Response:
    return _problem(404, "Not found", f"no report at {app.current_event.path}")


def _now() -> int:
    return int(time.time())


def handle(event: dict[str, Any], context: LambdaContext | None, dependencies: Dependencies) -> dict[str, Any]:
    _injected.append(dependencies)
    try:
        return app.resolve(event, context)
    finally:
        _injected.pop()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
