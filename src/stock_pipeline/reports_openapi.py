"""The reports API as an OpenAPI document (docs/openapi.json): its routes with their parameters and answers,
declared with Powertools' OpenAPI support and pydantic models. Documentation only: the function that serves the
routes (`handlers.reports`) checks the same parameters from `domain.report_params` without importing pydantic, and
`tests/unit/test_reports_openapi.py` holds the two together. `python -m stock_pipeline.reports_openapi` prints it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, Field

from stock_pipeline.domain.report_params import MAX_WITHIN_DAYS
from stock_pipeline.domain.reports import MAX_LIMIT

PROBLEM = "application/problem+json"


# the same routes serve the web console under /console/api/reports (Cognito JWT instead of IAM)
app = APIGatewayHttpResolver(enable_validation=True, strip_prefixes=["/console/api/reports"])


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
    """Documented only: served by handlers.reports."""


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
    """Documented only: served by handlers.reports."""


@app.get(
    "/items/<item_id>/total", summary="Total of an item across warehouses (report 3)", responses=_responses(ItemTotal)
)
def get_item_total(
    item_id: Annotated[str, Path()], limit: LIMIT = None, next: NEXT = None, format: FORMAT = None
) -> Any:  # JSON or CSV: the models are documented in `responses`
    """Documented only: served by handlers.reports."""


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
    """Documented only: served by handlers.reports."""


@app.get(
    "/suppliers/<supplier>/stock", summary="Supplier stock with quantityDelta", responses=_responses(SupplierStock)
)
def get_supplier_stock(
    supplier: Annotated[str, Path()],
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    """Documented only: served by handlers.reports."""


@app.get(
    "/forecast/stockouts",
    summary="Levels expected to run out within N days at their daily sales, fewest days of cover first",
    responses=_responses(Stockouts),
)
def get_stockouts(
    within_days: Annotated[
        int, Query(ge=0, le=MAX_WITHIN_DAYS, description="days ahead (0 lists the levels already out)")
    ] = 7,
    warehouse: Annotated[str | None, Query(min_length=1, description="one warehouse; all without it")] = None,
    limit: LIMIT = None,
    next: NEXT = None,
    format: FORMAT = None,
) -> Any:  # JSON or CSV: the models are documented in `responses`
    """Documented only: served by handlers.reports."""


def openapi() -> dict[str, Any]:
    schema = json.loads(app.get_openapi_json_schema(title="Stock Update Pipeline reports", version="1.0.0"))
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    return schema


if __name__ == "__main__":
    sys.stdout.write(json.dumps(openapi(), indent=2, ensure_ascii=False) + "\n")
