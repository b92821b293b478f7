"""The reports API's parameters and their constraints (pure): the handler checks a request against them, and the
OpenAPI document (`stock_pipeline.reports_openapi`) declares the same ones; a unit test holds the two together.

Checked by hand rather than by Powertools' request validation: that imports pydantic, about a third of the
reports function's cold start (docs/cost.md, "Cold starts").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stock_pipeline.domain.reports import MAX_LIMIT, ReportError

MAX_WITHIN_DAYS = 366


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    integer: bool = False
    minimum: int | None = None
    maximum: int | None = None
    pattern: str | None = None
    min_length: int | None = None
    default: Any = None
    description: str = ""

    def parse(self, raw: str | None) -> Any:
        """The value of a parameter as sent (None: not sent), or ReportError naming it."""
        if raw is None:
            return self.default
        if self.integer:
            text = raw.strip()
            if not re.fullmatch(r"[+-]?\d{1,1000}", text):  # any integer, as the document says (no bound)
                raise ReportError(self.name, f"{self.name}: Input should be a valid integer, got {raw[:40]!r}")
            value: Any = int(text)
            if self.minimum is not None and value < self.minimum:
                raise ReportError(self.name, f"{self.name}: Input should be greater than or equal to {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ReportError(self.name, f"{self.name}: Input should be less than or equal to {self.maximum}")
            return value
        if self.pattern is not None and not re.search(self.pattern, raw):
            raise ReportError(self.name, f"{self.name}: String should match pattern '{self.pattern}'")
        if self.min_length is not None and len(raw) < self.min_length:
            raise ReportError(self.name, f"{self.name}: String should have at least {self.min_length} character")
        return raw


LIMIT = Param(
    "limit", integer=True, minimum=1, maximum=MAX_LIMIT, description=f"rows per page, 1 to {MAX_LIMIT} (default 100)"
)
NEXT = Param("next", description="the `next` token of the previous page")
FORMAT = Param("format", pattern="^(json|csv)$", description="csv for spreadsheets (or Accept: text/csv)")
MIN_QUANTITY = Param(
    "min_quantity", integer=True, minimum=0, description="only levels strictly greater than this (0 or more)"
)
WITHIN_DAYS = Param(
    "within_days",
    integer=True,
    minimum=0,
    maximum=MAX_WITHIN_DAYS,
    default=7,
    description="days ahead (0 lists the levels already out)",
)
ONE_WAREHOUSE = Param("warehouse", min_length=1, description="one warehouse; all without it")
ACCOUNT_ID = Param("account_id", integer=True)
PAGING = (LIMIT, NEXT, FORMAT)

# the query parameters of each route, as the OpenAPI document declares them
QUERY = {
    "/warehouses": PAGING,
    "/warehouses/{warehouse}/items": (MIN_QUANTITY, *PAGING),
    "/items/{item_id}/total": PAGING,
    "/stock/{retailer_id}/{account_id}": PAGING,
    "/suppliers/{supplier}/stock": PAGING,
    "/forecast/stockouts": (WITHIN_DAYS, ONE_WAREHOUSE, *PAGING),
}
