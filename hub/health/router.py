from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from hub import access
from hub.access import DbDep
from hub.errors import RETRY_AFTER_SECONDS
from hub.http import KassaRoute
from hub.migrate import current_revision, head_revision

router = APIRouter(route_class=KassaRoute, tags=["health"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: str
    migration: str | None
    expected_migration: str | None
    problems: list[str]


@router.get("/healthz", dependencies=[access.Public])
def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    dependencies=[access.Public],
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready; see problems"}},
)
def readyz(db: DbDep) -> Any:
    """Readiness: the database answers and its schema is at the newest migration."""
    problems: list[str] = []
    current = None
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(db.engine)
    except Exception as exc:  # the probe reports any database failure as not ready
        problems.append(f"database unreachable: {type(exc).__name__}")
    head = head_revision()
    if not problems and current != head:
        problems.append(f"schema at {current}, expected {head}: run `kassa hub migrate`")
    body = Readiness(
        status="not_ready" if problems else "ready",
        database=db.dialect,
        migration=current,
        expected_migration=head,
        problems=problems,
    )
    if problems:
        return JSONResponse(
            body.model_dump(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return body
