"""Reports Lambda behind the HTTP API (IAM-authorised): parse the request, call the report, answer JSON or CSV.

Bad input is a 400 problem document naming the parameter; an unknown warehouse or item a 404; never a 500 for
anything a caller sends. `python -m stock_pipeline.handlers.reports` prints the OpenAPI document (docs/openapi.json).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from stock_pipeline import reports
from stock_pipeline.adapters.aws import client_config, new_session
from stock_pipeline.adapters.levels import StockLevels
from stock_pipeline.adapters.queries import StockQueries
from stock_pipeline.config import Settings
from stock_pipeline.domain.reports import MAX_LIMIT, NotFoundError, Page, ReportError, to_csv
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
app = APIGatewayHttpResolver(enable_validation=True, strip_prefixes=["/console/api/reports"])
_injected: list[Dependencies] = []


def deps() -> Dependencies:
    return _injected[-1] if _injected else _dependencies()


# ---------------------------------------------------------------------------- response documents (OpenAPI)


class Level(BaseModel):
    warehouse: str
    item_id: str
    item_name: str | None = None
    quantity: int
    below_threshold: bool
    updated_at: str | None = None
    daily_sales: float | None = Field(None, description="units sold a day over the forecast window; null: no sales")
    days_of_cover: float | None = Field(None, description="days the level lasts at that rate; null: no sales rate")


class Levels(BaseModel):
    warehouse: str
    min_quantity: int | None = None
    count: int
    items: list[Level]
    next: str | None = Field(None, description="pass as `next` for the following page; null on the last page")


class Warehouse(BaseModel):
    warehouse: str
    seen_at: str | None = None


class Warehouses(BaseModel):
    count: int
    items: list[Warehouse]
    next: str | None = None


class WarehouseLevel(BaseModel):
    warehouse: str
    quantity: int
    below_threshold: bool
    updated_at: str | None = None
    daily_sales: float | None = Field(None, description="units sold a day over the forecast window; null: no sales")
    days_of_cover: float | None = Field(None, description="days the level lasts at that rate; null: no sales rate")


class ItemTotal(BaseModel):
    item_id: str
    total: int = Field(description="over every warehouse, on every page")
    warehouses: int = Field(description="warehouses holding a level of the item, on every page")
    restock_if_below: int
    threshold_is_default: bool
    count: int
    items: list[WarehouseLevel]
    next: str | None = None


class Article(BaseModel):
    retailer_id: str
    account_id: int
    article_id: int
    channel_id: int
    article_number: int | None = None
    product_id: str | None = None
    quantity: int
    last_updated: str


class Articles(BaseModel):
    retailer_id: str
    account_id: int
    count: int
    items: list[Article]
    next: str | None = None


class SupplierSku(BaseModel):
    supplier: str
    custom_label: str
    quantity: int
    quantity_delta: int | None = None
    part_numbers: list[str] | None = None
    updated_at: str | None = None


class SupplierStock(BaseModel):
    supplier: str
    count: int
    items: list[SupplierSku]
    next: str | None = None


class Stockout(BaseModel):
    warehouse: str
    item_id: str
    item_name: str | None = None
    quantity: int
    daily_sales: float = Field(description="units sold a day over the forecast window")
    days_of_cover: float = Field(description="days the level lasts at that rate (0: none left)")
    below_threshold: bool
    forecast_at: str | None = Field(None, description="when the rate was computed (UTC)")


class Stockouts(BaseModel):
    within_days: int
    warehouse: str | None = None
    matching: int = Field(description="levels expected to run out within the days, on every page")
    count: int
    items: list[Stockout]
    next: str | None = None


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    parameter: str | None = None


LIMIT = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description=f"rows per page, 1 to {MAX_LIMIT} (default 100)")]
NEXT = Annotated[str | None, Query(description="the `next` token of the previous page")]
FORMAT = Annotated[str | None, Query(pattern="^(json|csv)$", description="csv for spreadsheets (or Accept: text/csv)")]


def _responses(model: type[BaseModel]) -> dict[int, dict[str, Any]]:
    problem = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return {
        200: {
            "description": "the report (JSON), or CSV with the next token in X-Next-Token",
            "content": {"application/json": {"model": model}, "text/csv": {"schema": {"type": "string"}}},
        },
        400: {"description": "a parameter is invalid (named in `parameter`)", **problem},
        404: {"description": "unknown warehouse or item", **problem},
    }


# ---------------------------------------------------------------------------- routes


@app.get("/warehouses", summary="Warehouses that have stock", responses=_responses(Warehouses))
def get_warehouses(
    limit: LIMIT = None, next: NEXT = None, format: FORMAT = None
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.warehouses(deps().queries, limit=limit, token=next, now=_now())
    return _answer(page, format)


@app.get(
    "/warehouses/<warehouse>/items",
    summary="Items in a warehouse (report 1); with min_quantity, those above it (report 2)",
    responses=_responses(Levels),
)
def get_warehouse_items(
    warehouse: Annotated[str, Path(description="warehouse name, URL-encoded (spaces, unicode)")],
    min_quantity: Annotated[
        int | None, Query(ge=0, description="only levels strictly greater than this (0 or more)")
    ] = None,
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.warehouse_items(
        deps().queries, unquote(warehouse), above=min_quantity, limit=limit, token=next, now=_now()
    )
    return _answer(page, format)


@app.get(
    "/items/<item_id>/total", summary="Total of an item across warehouses (report 3)", responses=_responses(ItemTotal)
)
def get_item_total(
    item_id: Annotated[str, Path()], limit: LIMIT = None, next: NEXT = None, format: FORMAT = None
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.item_total(
        deps().levels,
        unquote(item_id),
        default_threshold=deps().settings.default_restock_threshold,
        limit=limit,
        token=next,
        now=_now(),
    )
    return _answer(page, format)


@app.get(
    "/stock/<retailer_id>/<account_id>",
    summary="Latest stock per article of a retailer's account",
    responses=_responses(Articles),
)
def get_article_stock(
    retailer_id: Annotated[str, Path()],
    account_id: Annotated[int, Path()],
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.article_stock(deps().queries, unquote(retailer_id), account_id, limit=limit, token=next, now=_now())
    return _answer(page, format)


@app.get(
    "/suppliers/<supplier>/stock", summary="Supplier stock with quantityDelta", responses=_responses(SupplierStock)
)
def get_supplier_stock(
    supplier: Annotated[str, Path()],
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.supplier_stock(deps().queries, unquote(supplier), limit=limit, token=next, now=_now())
    return _answer(page, format)


@app.get(
    "/forecast/stockouts",
    summary="Levels expected to run out within N days at their daily sales, fewest days of cover first",
    responses=_responses(Stockouts),
)
def get_stockouts(
    within_days: Annotated[
        int, Query(ge=0, le=reports.MAX_WITHIN_DAYS, description="days ahead (0 lists the levels already out)")
    ] = 7,
    warehouse: Annotated[str | None, Query(min_length=1, description="one warehouse; all without it")] = None,
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    page = reports.stockouts(
        deps().queries, within_days=within_days, warehouse=warehouse, limit=limit, token=next, now=_now()
    )
    return _answer(page, format)


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


@app.exception_handler(RequestValidationError)
def _invalid(error: RequestValidationError) -> Response:
    first = error.errors()[0] if error.errors() else {}
    location = [str(part) for part in first.get("loc", ())]
    parameter = location[-1] if location else None
    return _problem(400, "Bad request", f"{parameter}: {first.get('msg', 'invalid')}", parameter)


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


def openapi() -> dict[str, Any]:
    schema = json.loads(app.get_openapi_json_schema(title="Stock Update Pipeline reports", version="1.0.0"))
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    return schema


def handle(event: dict[str, Any], context: LambdaContext | None, dependencies: Dependencies) -> dict[str, Any]:
    _injected.append(dependencies)
    try:
        return app.resolve(event, context)
    finally:
        _injected.pop()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(openapi(), indent=2, ensure_ascii=False) + "\n")
