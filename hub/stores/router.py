from __future__ import annotations

from fastapi import APIRouter, Request

from hub.access import DbDep, OwnerDep, StaffOrServiceDep, StoreManagerDep
from hub.errors import responses
from hub.http import IdPath, KassaRoute
from hub.stores import service
from hub.stores.schemas import StoreCreate, StoreOut, StoreUpdate

router = APIRouter(prefix="/api/v1/stores", tags=["stores"], route_class=KassaRoute)

WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)


@router.post("", status_code=201, responses=WRITE_ERRORS)
def create_store(body: StoreCreate, db: DbDep, actor: OwnerDep, request: Request) -> StoreOut:
    """Create a store (owners only)."""
    with db.write() as s:
        store = service.create_store(
            s, actor=actor, data=body, catalog_currency=request.app.state.settings.catalog_currency
        )
        return StoreOut.model_validate(store)


@router.get("", responses=responses(401, 403))
def list_stores(db: DbDep, actor: StaffOrServiceDep) -> list[StoreOut]:
    """Stores the caller may see: all for an owner or a service account, their own for
    everyone else."""
    with db.read() as s:
        return [StoreOut.model_validate(x) for x in service.list_stores(s, actor=actor)]


@router.get("/{store_id}", responses=responses(401, 403, 404, 422))
def get_store(store_id: IdPath, db: DbDep, actor: StoreManagerDep) -> StoreOut:
    with db.read() as s:
        return StoreOut.model_validate(service.get_store(s, store_id))


@router.patch("/{store_id}", responses=WRITE_ERRORS)
def update_store(
    store_id: IdPath, body: StoreUpdate, db: DbDep, actor: StoreManagerDep
) -> StoreOut:
    """Change a store's settings; tills pick them up through the catalog feed."""
    with db.write() as s:
        return StoreOut.model_validate(
            service.update_store(s, actor=actor, store_id=store_id, data=body)
        )
