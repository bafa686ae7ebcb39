"""One error shape for every 4xx/5xx: `{"detail": [{"loc", "field", "type", "msg"}]}`.

The shape is FastAPI's own validation error shape plus `field` (a dotted path), so a client
handles schema errors and business errors the same way. Inputs are never echoed back: they may
hold passwords or tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("kassa.hub")

RETRY_AFTER_SECONDS = 5


class ErrorItem(BaseModel):
    loc: list[str | int]
    field: str
    type: str
    msg: str


class ErrorBody(BaseModel):
    detail: list[ErrorItem]


class ApiError(Exception):
    """An error a user can cause: a status, a machine-readable code, the field, what to do."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        loc: Sequence[str | int] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.loc = list(loc) if loc is not None else (field.split(".") if field else [])
        self.field = field or _field_of(self.loc)
        self.headers = headers


def not_found(entity: str, field: str = "id") -> ApiError:
    return ApiError(404, "not_found", f"{entity} not found", field=field)


def error_body(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"detail": items}


def _field_of(loc: Sequence[str | int]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path", "header"))


def item(loc: Sequence[str | int], code: str, msg: str) -> dict[str, Any]:
    return {"loc": list(loc), "field": _field_of(loc), "type": code, "msg": msg}


def _validation_items(exc: RequestValidationError) -> tuple[int, list[dict[str, Any]]]:
    status = 422
    items = []
    for err in exc.errors():
        code = str(err.get("type", "invalid"))
        if code == "json_invalid":
            status = 400
        loc = [p for p in err.get("loc", ()) if isinstance(p, (str, int))]
        items.append(item(loc, code, str(err.get("msg", "invalid value"))))
    return status, items


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        body = error_body([item(exc.loc, exc.code, exc.message)])
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, items = _validation_items(exc)
        return JSONResponse(error_body(items), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body([item([], code, str(exc.detail))]),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check uniqueness first and name the field; this is the race-safe net.
        log.info("integrity error mapped to 409: %s", exc.orig)
        return JSONResponse(
            error_body([item([], "conflict", "conflicts with existing data; reload and retry")]),
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _operational(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", exc.orig)
        return unavailable()

    @app.exception_handler(DBAPIError)
    async def _dbapi(_request: Request, exc: DBAPIError) -> JSONResponse:
        if exc.connection_invalidated:
            return unavailable()
        log.exception("database error")
        return JSONResponse(
            error_body([item([], "internal", "internal error; it has been logged")]),
            status_code=500,
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(
            error_body([item([], "internal", "internal error; it has been logged")]),
            status_code=500,
        )


def unavailable() -> JSONResponse:
    return JSONResponse(
        error_body([item([], "unavailable", "the database is busy or unreachable; retry later")]),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error codes a route can answer."""
    text = {
        400: "Malformed JSON",
        401: "Not authenticated (or the device token was revoked)",
        403: "Authenticated but not allowed here",
        404: "Not found",
        409: "Conflicts with existing data",
        413: "Body too large",
        415: "Wrong Content-Type",
        422: "Invalid input; `field` names what to fix",
        429: "Too many attempts; see Retry-After",
        503: "Database busy or unreachable; see Retry-After",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}
