from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.db import next_change_seq
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.stores.models import Store
from hub.stores.schemas import StoreCreate, StoreUpdate


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> bool:
    """Case-insensitive for every script (SQLite's lower() folds only ASCII); chains are small."""
    wanted = name.casefold()
    return any(
        other.casefold() == wanted
        for other in session.scalars(select(Store.name).where(Store.id != (exclude_id or 0)))
    )


def create_store(
    session: Session, *, actor: Principal | None, data: StoreCreate, catalog_currency: str
) -> Store:
    if data.currency != catalog_currency:
        raise ApiError(
            422,
            "currency_mismatch",
            f"the chain's catalog is priced in {catalog_currency}; a store must trade in it "
            "(set KASSA_CATALOG_CURRENCY for a chain in another currency)",
            field="currency",
            loc=["body", "currency"],
        )
    if _name_taken(session, data.name):
        raise ApiError(409, "duplicate", "a store with this name exists", loc=["body", "name"])
    store = Store(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(store)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="store.create",
        entity="store",
        entity_id=store.id,
        store_id=store.id,
        after=audit.snapshot(store),
    )
    return store


def get_store(session: Session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise not_found("store", "store_id")
    return store


def list_stores(session: Session, *, actor: Principal) -> list[Store]:
    query = select(Store).order_by(Store.id)
    if not actor.sees_every_store:
        query = query.where(Store.id == actor.store_id)
    return list(session.scalars(query))


def update_store(session: Session, *, actor: Principal, store_id: int, data: StoreUpdate) -> Store:
    store = get_store(session, store_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    if "active" in changes and not actor.is_owner:
        raise ApiError(
            403, "forbidden", "only owners close or reopen a store", loc=["body", "active"]
        )
    if "name" in changes and _name_taken(session, changes["name"], exclude_id=store_id):
        raise ApiError(409, "duplicate", "a store with this name exists", loc=["body", "name"])
    before = audit.snapshot(store)
    for key, value in changes.items():
        setattr(store, key, value)
    store.change_seq = next_change_seq(session)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="store.update",
        entity="store",
        entity_id=store.id,
        store_id=store.id,
        before=before,
        after=audit.snapshot(store),
    )
    return store
