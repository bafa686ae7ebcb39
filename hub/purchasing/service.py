"""Suppliers (chain-wide) and their terms per product: pack size, minimum order, last cost."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog.models import Product
from hub.db import LEDGER_SEQ, change_seqs, hold_ledger
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.purchasing.models import Supplier, SupplierProduct
from hub.purchasing.schemas import (
    SupplierCreate,
    SupplierProductIn,
    SupplierProductOut,
    SupplierUpdate,
)


def _name_taken(session: Session, name: str, exclude_id: int | None = None) -> bool:
    """Case-insensitive in every script (SQLite's lower() folds only ASCII); suppliers are few."""
    wanted = name.casefold()
    return any(
        other.casefold() == wanted
        for other in session.scalars(select(Supplier.name).where(Supplier.id != (exclude_id or 0)))
    )


def _duplicate_name() -> ApiError:
    return ApiError(409, "duplicate", "a supplier with this name exists", loc=["body", "name"])


def list_suppliers(session: Session, *, active: bool | None = None) -> list[Supplier]:
    query = select(Supplier).order_by(Supplier.name, Supplier.id)
    if active is not None:
        query = query.where(Supplier.active.is_(active))
    return list(session.scalars(query))


def get_supplier(session: Session, supplier_id: int) -> Supplier:
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise not_found("supplier", "supplier_id")
    return supplier


def create_supplier(session: Session, *, actor: Principal, data: SupplierCreate) -> Supplier:
    hold_ledger(session)
    if _name_taken(session, data.name):
        raise _duplicate_name()
    supplier = Supplier(**data.model_dump(), change_seq=next(change_seqs(session, 1, LEDGER_SEQ)))
    session.add(supplier)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="supplier.create",
        entity="supplier",
        entity_id=supplier.id,
        after=audit.snapshot(supplier),
    )
    return supplier


def update_supplier(
    session: Session, *, actor: Principal, supplier_id: int, data: SupplierUpdate
) -> Supplier:
    hold_ledger(session)
    supplier = get_supplier(session, supplier_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    if "name" in changes and _name_taken(session, changes["name"], exclude_id=supplier_id):
        raise _duplicate_name()
    before = audit.snapshot(supplier)
    for key, value in changes.items():
        setattr(supplier, key, value)
    supplier.change_seq = next(change_seqs(session, 1, LEDGER_SEQ))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="supplier.update",
        entity="supplier",
        entity_id=supplier.id,
        before=before,
        after=audit.snapshot(supplier),
    )
    return supplier


# --- terms per product -----------------------------------------------------------------------


def _terms_out(terms: SupplierProduct, product: Product) -> SupplierProductOut:
    return SupplierProductOut.model_validate(
        {**audit.snapshot(terms), "sku": product.sku, "name": product.name, "unit": product.unit}
    )


def list_terms(session: Session, *, supplier_id: int) -> list[SupplierProductOut]:
    get_supplier(session, supplier_id)
    rows = session.execute(
        select(SupplierProduct, Product)
        .join(Product, Product.id == SupplierProduct.product_id)
        .where(SupplierProduct.supplier_id == supplier_id)
        .order_by(SupplierProduct.product_id)
    )
    return [_terms_out(terms, product) for terms, product in rows]


def put_terms(
    session: Session,
    *,
    actor: Principal,
    supplier_id: int,
    product_id: int,
    data: SupplierProductIn,
) -> tuple[SupplierProductOut, bool]:
    """Create or change a supplier's terms for a product; True when they are new."""
    hold_ledger(session)
    get_supplier(session, supplier_id)
    product = session.get(Product, product_id)
    if product is None:
        raise not_found("product", "product_id")
    terms = session.scalars(
        select(SupplierProduct).where(
            SupplierProduct.supplier_id == supplier_id, SupplierProduct.product_id == product_id
        )
    ).one_or_none()
    created = terms is None
    before: dict[str, Any] | None = None
    seq = next(
        change_seqs(session, 1, LEDGER_SEQ)
    )  # before the new row is added: this query autoflushes
    if terms is None:
        terms = SupplierProduct(
            supplier_id=supplier_id, product_id=product_id, **data.model_dump(), change_seq=seq
        )
        session.add(terms)
    else:
        before = audit.snapshot(terms)
        for key, value in data.model_dump(exclude_unset=True).items():
            setattr(terms, key, value)
        terms.change_seq = seq
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="supplier_product.create" if created else "supplier_product.update",
        entity="supplier_product",
        entity_id=terms.id,
        before=before,
        after=audit.snapshot(terms),
    )
    return _terms_out(terms, product), created


def remember_costs(
    session: Session, *, actor: Principal | None, supplier_id: int, costs: dict[int, int]
) -> None:
    """After a goods receipt: the supplier's last cost of each product it has terms for."""
    changed = [
        terms
        for terms in session.scalars(
            select(SupplierProduct)
            .where(
                SupplierProduct.supplier_id == supplier_id,
                SupplierProduct.product_id.in_(list(costs)),
            )
            .order_by(SupplierProduct.product_id)
        )
        if terms.last_cost_minor != costs[terms.product_id]
    ]
    if not changed:
        return
    before = {str(t.product_id): t.last_cost_minor for t in changed}
    for terms, seq in zip(changed, change_seqs(session, len(changed), LEDGER_SEQ), strict=True):
        terms.last_cost_minor = costs[terms.product_id]
        terms.change_seq = seq
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="supplier_product.last_cost",
        entity="supplier",
        entity_id=supplier_id,
        before={"last_cost_minor": before},
        after={"last_cost_minor": {str(t.product_id): t.last_cost_minor for t in changed}},
    )
