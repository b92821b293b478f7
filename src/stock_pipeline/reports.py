"""Application layer of the reports API: each report is one paginated read of the table, shaped into rows.

Knows the domain and the adapters' interfaces, not HTTP and not AWS.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from stock_pipeline.adapters.queries import QueryPage
from stock_pipeline.domain import reports as domain
from stock_pipeline.domain.forecast import STOCKOUT_COLUMNS, stockout_candidates, stockout_order
from stock_pipeline.domain.report_params import MAX_WITHIN_DAYS
from stock_pipeline.domain.reports import NotFoundError, Page, Query, ReportError


class Queries(Protocol):
    def warehouses(self, *, limit: int, start: dict[str, Any] | None) -> QueryPage: ...

    def warehouse_known(self, warehouse: str) -> bool: ...

    def warehouse_names(self) -> list[str]: ...

    def levels(self, warehouse: str, *, above: int | None, limit: int, start: dict[str, Any] | None) -> QueryPage: ...

    def articles(self, retailer: str, account: int, *, limit: int, start: dict[str, Any] | None) -> QueryPage: ...

    def supplier_stock(self, supplier: str, *, limit: int, start: dict[str, Any] | None) -> QueryPage: ...

    def selling(self, warehouse: str, *, limit: int, start: dict[str, Any] | None) -> QueryPage: ...


class ItemLevels(Protocol):
    def levels_of_item(self, item_id: str) -> list[dict[str, Any]]: ...

    def thresholds(self, item_ids: Sequence[str]) -> dict[str, int]: ...


def warehouses(queries: Queries, *, limit: int | None, token: str | None, now: int) -> Page:
    query = Query("warehouses", {}, "PK", "WAREHOUSES")
    return _paged(
        query,
        lambda n, start: queries.warehouses(limit=n, start=start),
        domain.warehouse_row,
        domain.WAREHOUSE_COLUMNS,
        limit,
        token,
        now,
    )


def warehouse_items(
    queries: Queries, warehouse: str, *, above: int | None, limit: int | None, token: str | None, now: int
) -> Page:
    """Report 1 (every item of the warehouse) or, with `above`, report 2 (items whose level is greater).

    A name is looked up as given: one of blanks only (the document allows any non-empty text) names no warehouse
    the pipeline records (it trims names), so it is a 404 like any other unknown name."""
    if above is not None and above < 0:
        raise ReportError("min_quantity", f"min_quantity must be 0 or more, not {above}")
    if token is None and not queries.warehouse_known(warehouse):
        raise NotFoundError(f"no stock has been recorded for warehouse {warehouse!r}")
    partition = ("GSI2PK", f"WH#{warehouse}") if above is not None else ("PK", f"WH#{warehouse}")
    query = Query("warehouse_items", {"warehouse": warehouse, "above": above}, *partition)
    page = _paged(
        query,
        lambda n, start: queries.levels(warehouse, above=above, limit=n, start=start),
        domain.level_row,
        domain.LEVEL_COLUMNS,
        limit,
        token,
        now,
    )
    summary = {"warehouse": warehouse, **({"min_quantity": above} if above is not None else {})}
    return Page(page.columns, page.rows, page.next_token, summary, page.read_capacity)


def item_total(
    levels: ItemLevels,
    item_id: str,
    *,
    default_threshold: int,
    limit: int | None = None,
    token: str | None = None,
    now: int = 0,
) -> Page:
    """Report 3: the item over every warehouse (GSI1), with its restock threshold (an unknown item, blanks only
    included, is a 404). The total counts every warehouse; the rows come a page at a time (a chain's article is
    in thousands of stores), after the warehouse the token names."""
    query = Query("item_total", {"item": item_id}, "GSI1PK", f"ITEM#{item_id}")
    after = None
    if token:
        key = domain.decode_token(token, query, now=now)
        after = str(key.get("GSI1SK", {}).get("S", "")).removeprefix("WH#")
    found = levels.levels_of_item(item_id)
    threshold = levels.thresholds([item_id]).get(item_id)
    page, last = domain.item_total(item_id, found, threshold, default_threshold, limit=limit, after=after)
    next_token = None
    if last is not None:
        position = {"GSI1PK": {"S": f"ITEM#{item_id}"}, "GSI1SK": {"S": f"WH#{last}"}}
        next_token = domain.encode_token(position, query, now=now)
    return Page(page.columns, page.rows, next_token, page.summary)


def article_stock(
    queries: Queries, retailer: str, account: int, *, limit: int | None, token: str | None, now: int
) -> Page:
    query = Query("article_stock", {"retailer": retailer, "account": account}, "PK", f"RET#{retailer}#ACC#{account}")
    page = _paged(
        query,
        lambda n, start: queries.articles(retailer, account, limit=n, start=start),
        domain.article_row,
        domain.ARTICLE_COLUMNS,
        limit,
        token,
        now,
    )
    return Page(
        page.columns, page.rows, page.next_token, {"retailer_id": retailer, "account_id": account}, page.read_capacity
    )


def supplier_stock(queries: Queries, supplier: str, *, limit: int | None, token: str | None, now: int) -> Page:
    query = Query("supplier_stock", {"supplier": supplier}, "PK", f"SUP#{supplier}")
    page = _paged(
        query,
        lambda n, start: queries.supplier_stock(supplier, limit=n, start=start),
        domain.supplier_row,
        domain.SUPPLIER_COLUMNS,
        limit,
        token,
        now,
    )
    return Page(page.columns, page.rows, page.next_token, {"supplier": supplier}, page.read_capacity)


SELLING_PAGE = 1000


def stockouts(
    queries: Queries, *, within_days: int, warehouse: str | None, limit: int | None, token: str | None, now: int
) -> Page:
    """Levels expected to reach zero within `within_days` at their daily sales, fewest days of cover first.

    The cover depends on the level of now, so no index is sorted by it: the report reads the levels that sell
    (GSI3, one warehouse or each registered one), never the levels without sales or the lake, sorts, and pages by
    position in that order (the token holds the last row's cover, warehouse and item)."""
    if not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise ReportError("within_days", f"within_days must be between 0 and {MAX_WITHIN_DAYS}, not {within_days}")
    size = domain.limit_from(limit)
    scope = warehouse if warehouse is not None else "*"
    query = Query("stockouts", {"within_days": within_days, "warehouse": warehouse}, "scope", scope)
    after = None
    if token:
        key = domain.decode_token(token, query, now=now)
        try:
            after = (float(key["cover"]["N"]), key["warehouse"]["S"], key["item"]["S"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError("next", "the next token does not belong to this report") from exc
    elif warehouse is not None and not queries.warehouse_known(warehouse):
        raise NotFoundError(f"no stock has been recorded for warehouse {warehouse!r}")
    names = [warehouse] if warehouse is not None else queries.warehouse_names()
    capacity = [0.0]

    def selling() -> Iterator[dict[str, Any]]:
        for name in names:
            start = None
            while True:
                page = queries.selling(name, limit=SELLING_PAGE, start=start)
                yield from page.items
                capacity[0] += page.read_capacity
                if not page.last_key:
                    break
                start = page.last_key

    # One pass, one page of levels held at a time: a million selling levels are read, not kept (a 512 MB function
    # could not hold them); only the page's rows and one more (is there a next page?) are.
    matching = [0]

    def counted(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            matching[0] += 1
            if after is None or stockout_order(row) > after:
                yield row

    remaining = heapq.nsmallest(
        size + 1, counted(stockout_candidates(selling(), within_days=within_days)), key=stockout_order
    )
    shown = remaining[:size]
    shown = shown[: domain.rows_within(shown)]
    next_token = None
    if len(remaining) > len(shown):
        last = shown[-1]
        position = {
            "scope": {"S": scope},
            "cover": {"N": repr(float(last["days_of_cover"]))},
            "warehouse": {"S": str(last["warehouse"])},
            "item": {"S": str(last["item_id"])},
        }
        next_token = domain.encode_token(position, query, now=now)
    summary: dict[str, Any] = {"within_days": within_days, "matching": matching[0]}
    if warehouse is not None:
        summary["warehouse"] = warehouse
    return Page(STOCKOUT_COLUMNS, shown, next_token, summary, capacity[0])


def _paged(
    query: Query,
    fetch: Callable[[int, dict[str, Any] | None], QueryPage],
    row: Callable[[Mapping[str, Any]], dict[str, Any]],
    columns: Sequence[str],
    limit: int | None,
    token: str | None,
    now: int,
) -> Page:
    size = domain.limit_from(limit)
    start = domain.decode_token(token, query, now=now) if token else None
    page = fetch(size, start)
    rows = [row(item) for item in page.items]
    fit = domain.rows_within(rows)
    # Fewer rows than were read fit in a page's bytes: the next page starts after the last one shown.
    last = page.keys[fit - 1] if fit < len(rows) else page.last_key
    next_token = domain.encode_token(last, query, now=now) if last else None
    return Page(columns, rows[:fit], next_token, read_capacity=page.read_capacity)
