"""HTTP edges shared by every router: the route class that checks Content-Type, body limits,
security headers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response, params
from fastapi.routing import APIRoute
from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.errors import ApiError

JSON_TYPES = frozenset({"application/json"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MAX_ID = 2**63 - 1
# Every id in a path: bounded so a huge number is a 422, never a database overflow.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int, Query(ge=1, le=MAX_ID)]
CursorQuery = Annotated[int, Query(ge=0, le=MAX_ID, description="0 = from the start")]


def _in_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_range", "out of range: send a date-time between the years 1 and 9999 UTC"
        ) from None


# A date-time with a UTC offset that is also a storable UTC time (0001-01-01T00:00+03:00 is not).
UtcTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class KassaRoute(APIRoute):
    """Refuses a body of the wrong media type with 415 instead of guessing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        expects = self._expected_types()

        async def route(request: Request) -> Response:
            if expects and request.method in BODY_METHODS and _has_body(request):
                media = request.headers.get("content-type", "").split(";")[0].strip().lower()
                if media not in expects and not (media.endswith("+json") and expects is JSON_TYPES):
                    raise ApiError(
                        415,
                        "unsupported_media_type",
                        f"send the body as {' or '.join(sorted(expects))}, "
                        f"not {media or 'nothing'}",
                        field="content-type",
                        loc=["header", "content-type"],
                    )
            return await handler(request)

        return route

    def _expected_types(self) -> frozenset[str] | None:
        if self.body_field is None:
            return None
        if isinstance(self.body_field.field_info, params.Form):
            return FORM_TYPES
        return JSON_TYPES


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


class BodyLimitMiddleware:
    """413 before reading a body over the limit (by Content-Length), or as soon as a streamed body
    passes it. `overrides` gives larger limits to path prefixes such as catalog imports."""

    def __init__(self, app: ASGIApp, *, limit: int, overrides: dict[str, int]) -> None:
        self.app = app
        self.limit = limit
        self.overrides = overrides

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _send_413(send, limit)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise StarletteHTTPException(413, _too_large(limit))
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes: send less per request"


async def _send_413(send: Send, limit: int) -> None:
    import json

    body = json.dumps(
        {"detail": [{"loc": [], "field": "", "type": "too_large", "msg": _too_large(limit)}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI boots itself with one inline script; only /docs gets this.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    """CSP and friends on every response. A response that brings its own
    Content-Security-Policy keeps it (published report pages: inline styles, their charts,
    nothing else); every other header is added regardless."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in ("/docs", "/docs/oauth2-redirect") else STRICT_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", csp.encode()))
                headers += [
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
