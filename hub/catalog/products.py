"""Catalog products with their barcodes: search, create, update.

Written through `hub.catalog.writes`: each change bumps `change_seq` and is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog import writes
from hub.catalog.models import Barcode, Category, Product, TaxRate, fold
from hub.catalog.schemas import ProductCreate, ProductOut, ProductUpdate
from hub.db import next_change_seq, utcnow
from hub.errors import ApiError, not_found
from hub.principal import Principal


def product_out(product: Product) -> ProductOut:
    return ProductOut.model_validate(
        {**audit.snapshot(product), "barcodes": [b.code for b in product.barcodes]}
    )


def _product_snapshot(product: Product) -> dict[str, Any]:
    values = audit.snapshot(product)
    del values["sku_folded"], values["name_folded"]
    return {**values, "barcodes": sorted(b.code for b in product.barcodes)}


def _descendants(session: Session, category_id: int) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for cid, parent in session.execute(select(Category.id, Category.parent_id)):
        children.setdefault(parent, []).append(cid)
    found, todo = {category_id}, [category_id]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def search_products(
    session: Session,
    *,
    q: str | None = None,
    category_id: int | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Product], int]:
    """A page of products and the total: `q` matches name or sku (any case, literally) or is
    exactly a barcode; `category_id` includes its subcategories."""
    conditions: list[ColumnElement[bool]] = []
    if q and q.strip():
        text = q.strip()
        folded = fold(text)
        conditions.append(
            or_(
                Product.name_folded.contains(folded, autoescape=True),
                Product.sku_folded.contains(folded, autoescape=True),
                Product.id.in_(select(Barcode.product_id).where(Barcode.code == text)),
            )
        )
    if category_id is not None:
        conditions.append(Product.category_id.in_(_descendants(session, category_id)))
    if active is not None:
        conditions.append(Product.active.is_(active))
    query: Select[Product] = select(Product).where(*conditions)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(
        query.order_by(Product.name_folded, Product.id).limit(limit).offset(offset)
    )
    return list(page), total


def get_product(session: Session, *, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None:
        raise not_found("product", "product_id")
    return product


def _check_references(session: Session, values: dict[str, Any]) -> None:
    if "tax_rate_id" in values and session.get(TaxRate, values["tax_rate_id"]) is None:
        raise ApiError(
            422, "unknown_tax_rate", "no tax rate with this id", loc=["body", "tax_rate_id"]
        )
    category_id = values.get("category_id")
    if category_id is not None and session.get(Category, category_id) is None:
        raise ApiError(
            422, "unknown_category", "no category with this id", loc=["body", "category_id"]
        )


def _check_codes(session: Session, values: dict[str, Any], product_id: int | None) -> None:
    """Barcodes unique in the list and across all products; scale code unique."""
    codes: list[str] = values.get("barcodes") or []
    first_index: dict[str, int] = {}
    for index, code in enumerate(codes):
        if code in first_index:
            raise ApiError(
                422,
                "duplicate",
                f"barcode {code!r} is listed twice (also at barcodes.{first_index[code]})",
                loc=["body", "barcodes", index],
            )
        first_index[code] = index
    if codes:
        owners = session.execute(
            select(Barcode.code, Product.id, Product.sku)
            .join(Product, Product.id == Barcode.product_id)
            .where(Barcode.code.in_(codes), Barcode.product_id != (product_id or 0))
        ).all()
        taken = sorted(owners, key=lambda owner: first_index[owner[0]])
        if taken:
            code, owner_id, owner_sku = taken[0]
            raise writes.conflict(
                ["barcodes", first_index[code]],
                f"barcode {code!r} belongs to product {owner_sku!r} (id {owner_id}): "
                "remove it there first",
            )
    scale_code = values.get("scale_code")
    if scale_code is not None:
        owner = session.execute(
            select(Product.id, Product.sku).where(
                Product.scale_code == scale_code, Product.id != (product_id or 0)
            )
        ).first()
        if owner is not None:
            raise writes.conflict(
                "scale_code",
                f"scale code {scale_code} is used by product {owner.sku!r} (id {owner.id})",
            )


def create_product(session: Session, *, actor: Principal | None, data: ProductCreate) -> Product:
    values = data.model_dump()
    _check_references(session, values)
    owner = session.execute(select(Product.id).where(Product.sku == data.sku)).scalar()
    if owner is not None:
        raise writes.conflict("sku", f"product {owner} already has sku {data.sku!r}")
    _check_codes(session, values, None)
    codes = values.pop("barcodes")
    product = Product(
        **values,
        sku_folded=fold(data.sku),
        name_folded=fold(data.name),
        change_seq=next_change_seq(session),
        barcodes=[Barcode(code=code) for code in sorted(codes)],
    )
    session.add(product)
    session.flush()
    writes.record(session, actor, "create", product, None, _product_snapshot(product))
    return product


def update_product(
    session: Session, *, actor: Principal | None, product_id: int, data: ProductUpdate
) -> Product:
    product = get_product(session, product_id=product_id)
    changes = writes.changes(data, nullable={"category_id", "scale_code"})
    _check_references(session, changes)
    _check_codes(session, changes, product.id)
    before = _product_snapshot(product)
    if "barcodes" in changes:
        wanted = set(changes.pop("barcodes"))
        kept = [b for b in product.barcodes if b.code in wanted]
        added = [Barcode(code=code) for code in wanted - {b.code for b in kept}]
        product.barcodes = sorted(kept + added, key=lambda b: b.code)
    for key, value in changes.items():
        setattr(product, key, value)
    product.name_folded = fold(product.name)
    product.change_seq = next_change_seq(session)
    product.updated_at = utcnow()
    session.flush()
    writes.record(session, actor, "update", product, before, _product_snapshot(product))
    return product
