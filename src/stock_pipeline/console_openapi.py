"""The console's API as an OpenAPI document (docs/console-openapi.json): each route with its body and answers,
from the models below. The models describe; the domain's parsers decide (their 400s name the field): the fuzz run
on the local stack holds the two together, and a test holds the routes to the template's HttpApi events.
`python -m stock_pipeline.console_openapi` prints it (`make openapi`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stock_pipeline.domain.console import KINDS
from stock_pipeline.domain.movements import MAX_COUNT_ROWS, MAX_QUANTITY, REASONS

Text = Field(min_length=1, max_length=256)
MovementId = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="one per submission: sent again, applied once")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class SignIn(Model):
    username: str = Field(min_length=1)
    password: str | None = None
    challenge: Literal["", "NEW_PASSWORD_REQUIRED", "SOFTWARE_TOKEN_MFA", "MFA_SETUP"] | None = None
    session: str | None = None
    code: str | None = Field(default=None, pattern=r"^\d{6}$")


class TwoFactor(Model):
    action: Literal["start", "verify"]
    code: str | None = Field(default=None, pattern=r"^\d{6}$")


class UploadRequest(Model):
    kind: Literal[tuple(KINDS)]  # type: ignore[valid-type]
    filename: str = Field(min_length=1)
    size: int = Field(ge=1)
    supplier: str | None = None


class ImportFiles(Model):
    keys: list[str] = Field(min_length=1, max_length=100, description="the keys the uploads answered with")


class ImportSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    files: int
    statuses: dict[str, int]
    rejected_rows: int
    below_count: int
    emailed: bool = Field(description="false when the summary of these files went already")


class RepairRequest(Model):
    run: str = Field(pattern=r"^\d{8}T\d{6}Z-[0-9a-f]{8}$", description="the reconciliation run")
    warehouse: str = Text
    item_id: str = Text
    reason: str = Field(min_length=1, max_length=200, description="kept in the level's history")


class Repaired(BaseModel):
    repaired: bool
    quantity: int


class Waiting(BaseModel):
    waiting: int = Field(description="files without an outcome yet")
    files: int


class UploadTarget(BaseModel):
    key: str
    url: str
    fields: dict[str, str]
    contentType: str


class Adjustment(Model):
    movement_id: str = MovementId
    warehouse: str = Text
    item_id: str = Text
    change: int = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="signed, not 0")
    reason: Literal[REASONS]  # type: ignore[valid-type]


class Transfer(Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    movement_id: str = MovementId
    source: str = Field(alias="from", min_length=1, max_length=256)
    to: str = Field(min_length=1, max_length=256, description="another warehouse than `from`")
    item_id: str = Text
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    confirm: bool = Field(default=False, description="go ahead although the source would go below zero")


class CountRow(Model):
    warehouse: str = Text
    item_id: str = Text
    counted: int = Field(ge=0, le=MAX_QUANTITY)
    counted_at: datetime | None = Field(default=None, description="with its offset; default: the body's, or now")


class Stocktake(Model):
    movement_id: str = MovementId
    counted_at: datetime | None = Field(default=None, description="when counted (at most 30 days back)")
    counts: list[CountRow] = Field(min_length=1, max_length=MAX_COUNT_ROWS)


class Applied(BaseModel):
    movement_id: str
    status: Literal["APPLIED", "ALREADY_APPLIED"]
    levels: dict[str, int | None]


class Problem(BaseModel):
    title: str
    status: int
    detail: str
    level: int | None = Field(default=None, description="a transfer refused below zero: the source's level")
    retry: bool | None = Field(default=None, description="send the same request again in a minute")


class Page(BaseModel):
    model_config = ConfigDict(extra="allow")


class SignedLink(BaseModel):
    url: str


BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/console/api/session", "post"): SignIn,
    ("/console/api/mfa", "post"): TwoFactor,
    ("/console/api/uploads", "post"): UploadRequest,
    ("/console/api/imports", "post"): ImportFiles,
    ("/console/api/repairs", "post"): RepairRequest,
    ("/console/api/adjustments", "post"): Adjustment,
    ("/console/api/transfers", "post"): Transfer,
    ("/console/api/stocktakes", "post"): Stocktake,
}
ANSWERS: dict[tuple[str, str], tuple[type[BaseModel], dict[int, Any]]] = {
    ("/console/api/session", "post"): (Page, {400: "no user name or password", 401: "refused"}),
    ("/console/api/profiles", "get"): (Page, {}),
    ("/console/api/mfa", "post"): (Page, {400: "not optional here, or no valid code"}),
    ("/console/api/uploads", "post"): (UploadTarget, {400: "the file cannot be taken (kind, name, size)"}),
    ("/console/api/imports", "post"): (
        ImportSummary,
        {
            202: ("some files wait to be processed: ask again", Waiting),
            400: "not uploaded files' keys",
            404: "not uploaded",
        },
    ),
    ("/console/api/repairs", "post"): (
        Repaired,
        {400: "no run id or no reason", 404: "the run names no such difference", 409: "the level moved since the run"},
    ),
    ("/console/api/files", "get"): (Page, {}),
    ("/console/api/overview", "get"): (Page, {}),
    ("/console/api/items/{item_id}", "get"): (Page, {404: "no warehouse holds the item"}),
    ("/console/api/rejected", "get"): (SignedLink, {400: "not a rejected-rows file"}),
    ("/console/api/adjustments", "post"): (Applied, {400: "a field is wrong, or no such level"}),
    ("/console/api/transfers", "post"): (Applied, {400: "a field is wrong", 409: "would go below zero"}),
    ("/console/api/stocktakes", "post"): (Applied, {400: "a field is wrong", 409: "send again in a minute"}),
}
PUBLIC = {"/console/api/session"}


def openapi() -> dict[str, Any]:
    components: dict[str, Any] = {}
    others = [why[1] for _, problems in ANSWERS.values() for why in problems.values() if isinstance(why, tuple)]
    models = {*BODIES.values(), *(m for m, _ in ANSWERS.values()), *others, Problem}
    for model in sorted(models, key=lambda m: m.__name__):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), (model, problems) in ANSWERS.items():
        operation: dict[str, Any] = {
            "operationId": f"{method}_{path.removeprefix('/console/api/').replace('/', '_').strip('{}')}",
            "responses": {
                "200": {"description": "done", "content": _json(model)},
                **{str(code): _answer(why) for code, why in problems.items()},
            },
        }
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        if names:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                for name in names
            ]
        if path == "/console/api/rejected":
            operation["parameters"] = [
                {"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
            ]
        if (path, method) in BODIES:
            operation["requestBody"] = {"required": True, "content": _json(BODIES[(path, method)])}
        if path not in PUBLIC:
            operation["security"] = [{"cognito": []}]
            operation["responses"]["401"] = {"description": "no valid token (the JWT authorizer)"}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Stock Update Pipeline console", "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (the user pool's access token)"}
            },
        },
    }


def _answer(why: str | tuple[str, type[BaseModel]]) -> dict[str, Any]:
    """A problem (RFC 9457) unless the answer names its own model."""
    text, model = why if isinstance(why, tuple) else (why, Problem)
    return {"description": text, "content": _json(model)}


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


if __name__ == "__main__":
    print(json.dumps(openapi(), indent=1, ensure_ascii=False))
