"""The hub's FastAPI application factory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from hub import access, errors
from hub.db import Database
from hub.http import BodyLimitMiddleware, SecurityHeadersMiddleware
from hub.settings import Settings, get_settings

STATIC = Path(__file__).with_name("static")
IMPORT_PATH = "/api/v1/catalog/import"


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_safe()
    app = FastAPI(
        title="Kassa hub",
        version="1",
        description=(
            "Catalog, stores, tills, staff and the till contract of the Kassa hub. "
            "Every error answers `{detail: [{loc, field, type, msg}]}`."
        ),
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db or Database(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.db_pool_size,
    )
    errors.install(app)
    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False, dependencies=[access.Public])
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Kassa hub API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.png",
        )

    _mark_framework_routes_public(app)
    # The full till feed is ~26 MiB of JSON for 100k products and a few MiB gzipped: shop
    # uplinks matter more than the hub's CPU; level 1 keeps most of the saving for little CPU.
    app.add_middleware(GZipMiddleware, minimum_size=2048, compresslevel=1)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        overrides={IMPORT_PATH: settings.max_import_bytes},
    )
    return app


def _mark_framework_routes_public(app: FastAPI) -> None:
    """The OpenAPI document and static assets are public by design."""
    for route in app.routes:
        path = getattr(route, "path", "")
        if path == "/openapi.json":
            route.endpoint.__kassa_policy__ = "public"  # type: ignore[attr-defined]
        elif path == "/static":
            route.app.__kassa_policy__ = "public"  # type: ignore[attr-defined]


def _include_routers(app: FastAPI) -> None:
    from hub.audit.router import router as audit_router
    from hub.catalog.router import router as catalog_router
    from hub.devices.router import router as devices_router
    from hub.feed.router import router as feed_router
    from hub.health.router import router as health_router
    from hub.purchasing.router import router as purchasing_router
    from hub.reports.router import router as reports_router
    from hub.sales.router import router as sales_router
    from hub.shifts.router import router as shifts_router
    from hub.staff.router import router as staff_router
    from hub.stock.router import router as stock_router
    from hub.stores.router import router as stores_router

    routers: list[Any] = [
        health_router,
        staff_router,
        stores_router,
        devices_router,
        catalog_router,
        feed_router,
        audit_router,
        sales_router,
        shifts_router,
        stock_router,
        purchasing_router,
        reports_router,
    ]
    for router in routers:
        app.include_router(router)
