from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from hub.access import DbDep, OwnerDep, StoreManagerDep
from hub.audit.models import AuditEntry
from hub.audit.schemas import AuditOut
from hub.errors import responses
from hub.http import IdPath, KassaRoute
from hub.text import Code

router = APIRouter(tags=["audit"], route_class=KassaRoute)
Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="page: ids below this")]


def _page(
    db: DbDep, *, store_id: int | None, action: str | None, limit: int, before: int | None
) -> list[AuditOut]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if store_id is not None:
        query = query.where(AuditEntry.store_id == store_id)
    if action:
        query = query.where(AuditEntry.action == action)
    if before:
        query = query.where(AuditEntry.id < before)
    with db.read() as s:
        return [AuditOut.model_validate(e) for e in s.scalars(query)]


@router.get("/api/v1/audit", responses=responses(401, 403, 422))
def chain_audit(
    db: DbDep,
    actor: OwnerDep,
    action: Code | None = None,
    limit: Limit = 100,
    before: Before = None,
) -> list[AuditOut]:
    """The whole chain's audit log, newest first (owners)."""
    return _page(db, store_id=None, action=action, limit=limit, before=before)


@router.get("/api/v1/stores/{store_id}/audit", responses=responses(401, 403, 422))
def store_audit(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    action: Code | None = None,
    limit: Limit = 100,
    before: Before = None,
) -> list[AuditOut]:
    """One store's audit log, newest first."""
    return _page(db, store_id=store_id, action=action, limit=limit, before=before)
