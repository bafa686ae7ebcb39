"""Catalog use-cases: tax rates, the category tree, products with barcodes, scale-label templates.

Every write bumps `change_seq` on each row it changes (tills pull deltas by it) and is audited in
the same transaction. Uniqueness is checked here first so the error names the field; the database
constraints are the race-safe net (mapped to 409).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session

from hub.access import Principal
from hub.audit import service as audit
from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate, fold
from hub.catalog.schemas import (
    PATH_SEPARATOR,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    ProductCreate,
    ProductOut,
    ProductUpdate,
    TaxRateCreate,
    TaxRateUpdate,
    WeightTemplateCreate,
    WeightTemplateUpdate,
)
from hub.db import next_change_seq, utcnow
from hub.errors import ApiError, not_found


def _changes(data: BaseModel, *, nullable: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a PATCH sent; null only where it means something (e.g. no category)."""
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None and key not in nullable:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    return changes


def _conflict(field: str | list[str | int], message: str) -> ApiError:
    loc = ["body", field] if isinstance(field, str) else ["body", *field]
    return ApiError(409, "duplicate", message, loc=loc)


def _record(
    session: Session,
    actor: Principal | None,
    action: str,
    obj: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None = None,
) -> None:
    entity = obj.__tablename__
    audit.record(
        session,
        actor=actor,
        action=f"{entity}.{action}",
        entity=entity,
        entity_id=obj.id,
        before=before,
        after=after if after is not None else audit.snapshot(obj),
    )


# --- tax rates -----------------------------------------------------------------------------


def list_tax_rates(session: Session) -> list[TaxRate]:
    return list(session.scalars(select(TaxRate).order_by(TaxRate.id)))


def _check_tax_code(session: Session, code: str, exclude_id: int | None = None) -> None:
    query = select(TaxRate.id).where(TaxRate.code == code)
    if exclude_id is not None:
        query = query.where(TaxRate.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise _conflict("code", f"a tax rate with code {code!r} exists")


def create_tax_rate(session: Session, *, actor: Principal | None, data: TaxRateCreate) -> TaxRate:
    _check_tax_code(session, data.code)
    rate = TaxRate(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(rate)
    session.flush()
    _record(session, actor, "create", rate, None)
    return rate


def update_tax_rate(
    session: Session, *, actor: Principal | None, tax_rate_id: int, data: TaxRateUpdate
) -> TaxRate:
    rate = session.get(TaxRate, tax_rate_id)
    if rate is None:
        raise not_found("tax rate", "tax_rate_id")
    changes = _changes(data, nullable={"rate_bp"})
    if "code" in changes:
        _check_tax_code(session, changes["code"], exclude_id=rate.id)
    before = audit.snapshot(rate)
    rate_changed = "rate_bp" in changes and changes["rate_bp"] != rate.rate_bp
    for key, value in changes.items():
        setattr(rate, key, value)
    # Tills get each product with its VAT rate: a new rate must reach them as product deltas.
    product_ids = (
        list(session.scalars(select(Product.id).where(Product.tax_rate_id == rate.id)))
        if rate_changed
        else []
    )
    last = next_change_seq(session, len(product_ids) + 1)
    rate.change_seq = last
    _bump_products(session, product_ids, first_seq=last - len(product_ids))
    session.flush()
    _record(session, actor, "update", rate, before)
    return rate


def _bump_products(session: Session, product_ids: list[int], *, first_seq: int) -> None:
    if product_ids:
        now = utcnow()
        session.execute(
            update(Product),
            [
                {"id": pid, "change_seq": first_seq + i, "updated_at": now}
                for i, pid in enumerate(sorted(product_ids))
            ],
        )


# --- categories ----------------------------------------------------------------------------


def category_paths(session: Session) -> dict[int, str]:
    """Every category's path from the top, names joined by '/'."""
    rows = {
        cid: (parent, name)
        for cid, parent, name in session.execute(
            select(Category.id, Category.parent_id, Category.name)
        )
    }
    paths: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        if cid not in paths:
            parent, name = rows[cid]
            if parent is None or depth > len(rows):
                paths[cid] = name
            else:
                paths[cid] = path(parent, depth + 1) + PATH_SEPARATOR + name
        return paths[cid]

    for cid in rows:
        path(cid)
    return paths


def category_out(category: Category, paths: dict[int, str]) -> CategoryOut:
    return CategoryOut.model_validate(
        {**audit.snapshot(category), "path": paths.get(category.id, category.name)}
    )


def list_categories(session: Session) -> list[CategoryOut]:
    paths = category_paths(session)
    categories = session.scalars(select(Category))
    return sorted((category_out(c, paths) for c in categories), key=lambda c: (c.path, c.id))


def get_category_out(session: Session, *, category_id: int) -> CategoryOut:
    category = session.get(Category, category_id)
    if category is None:
        raise not_found("category", "category_id")
    return category_out(category, category_paths(session))


def _check_sibling_name(
    session: Session, *, parent_id: int | None, name: str, exclude_id: int | None = None
) -> None:
    # Checked here because UNIQUE (parent_id, name) does not hold for top-level (NULL) parents.
    same_parent = (
        Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    )
    query = select(Category.id).where(same_parent, Category.name == name)
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise _conflict("name", f"this parent already has a category named {name!r}")


def _check_parent(session: Session, parent_id: int | None, *, moving: int | None = None) -> None:
    if parent_id is None:
        return
    if session.get(Category, parent_id) is None:
        raise ApiError(
            422, "unknown_category", "no category with this id", loc=["body", "parent_id"]
        )
    if moving is None:
        return
    parents = dict(session.execute(select(Category.id, Category.parent_id)).all())
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == moving:
            raise ApiError(
                422,
                "category_cycle",
                "a category cannot move into itself or one of its subcategories",
                loc=["body", "parent_id"],
            )
        seen.add(current)
        current = parents.get(current)


def create_category(
    session: Session, *, actor: Principal | None, data: CategoryCreate
) -> CategoryOut:
    _check_parent(session, data.parent_id)
    _check_sibling_name(session, parent_id=data.parent_id, name=data.name)
    category = Category(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(category)
    session.flush()
    _record(session, actor, "create", category, None)
    return category_out(category, category_paths(session))


def update_category(
    session: Session, *, actor: Principal | None, category_id: int, data: CategoryUpdate
) -> CategoryOut:
    category = session.get(Category, category_id)
    if category is None:
        raise not_found("category", "category_id")
    changes = _changes(data, nullable={"parent_id"})
    if "parent_id" in changes:
        _check_parent(session, changes["parent_id"], moving=category.id)
    if "parent_id" in changes or "name" in changes:
        _check_sibling_name(
            session,
            parent_id=changes.get("parent_id", category.parent_id),
            name=changes.get("name", category.name),
            exclude_id=category.id,
        )
    before = audit.snapshot(category)
    for key, value in changes.items():
        setattr(category, key, value)
    category.change_seq = next_change_seq(session)
    session.flush()
    _record(session, actor, "update", category, before)
    return category_out(category, category_paths(session))


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


# --- products ------------------------------------------------------------------------------


def product_out(product: Product) -> ProductOut:
    return ProductOut.model_validate(
        {**audit.snapshot(product), "barcodes": [b.code for b in product.barcodes]}
    )


def _product_snapshot(product: Product) -> dict[str, Any]:
    values = audit.snapshot(product)
    del values["sku_folded"], values["name_folded"]
    return {**values, "barcodes": sorted(b.code for b in product.barcodes)}


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
            raise _conflict(
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
            raise _conflict(
                "scale_code",
                f"scale code {scale_code} is used by product {owner.sku!r} (id {owner.id})",
            )


def create_product(session: Session, *, actor: Principal | None, data: ProductCreate) -> Product:
    values = data.model_dump()
    _check_references(session, values)
    owner = session.execute(select(Product.id).where(Product.sku == data.sku)).scalar()
    if owner is not None:
        raise _conflict("sku", f"product {owner} already has sku {data.sku!r}")
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
    _record(session, actor, "create", product, None, _product_snapshot(product))
    return product


def update_product(
    session: Session, *, actor: Principal | None, product_id: int, data: ProductUpdate
) -> Product:
    product = get_product(session, product_id=product_id)
    changes = _changes(data, nullable={"category_id", "scale_code"})
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
    _record(session, actor, "update", product, before, _product_snapshot(product))
    return product


# --- weighted-barcode templates ------------------------------------------------------------


def list_weight_templates(session: Session) -> list[WeightTemplate]:
    return list(session.scalars(select(WeightTemplate).order_by(WeightTemplate.id)))


def _check_pattern(session: Session, pattern: str, exclude_id: int | None = None) -> None:
    query = select(WeightTemplate.id).where(WeightTemplate.pattern == pattern)
    if exclude_id is not None:
        query = query.where(WeightTemplate.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise _conflict("pattern", f"a template with pattern {pattern!r} exists")


def create_weight_template(
    session: Session, *, actor: Principal | None, data: WeightTemplateCreate
) -> WeightTemplate:
    _check_pattern(session, data.pattern)
    template = WeightTemplate(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(template)
    session.flush()
    _record(session, actor, "create", template, None)
    return template


def update_weight_template(
    session: Session, *, actor: Principal | None, template_id: int, data: WeightTemplateUpdate
) -> WeightTemplate:
    template = session.get(WeightTemplate, template_id)
    if template is None:
        raise not_found("weight template", "template_id")
    changes = _changes(data)
    if "pattern" in changes:
        _check_pattern(session, changes["pattern"], exclude_id=template.id)
    before = audit.snapshot(template)
    for key, value in changes.items():
        setattr(template, key, value)
    template.change_seq = next_change_seq(session)
    session.flush()
    _record(session, actor, "update", template, before)
    return template
