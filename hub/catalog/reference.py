"""Catalog reference data: tax rates, the category tree, scale-label (weighted-barcode) templates.

Written through `hub.catalog.writes`: each change bumps `change_seq` and is audited.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.access import Principal
from hub.audit import service as audit
from hub.catalog import writes
from hub.catalog.models import Category, Product, TaxRate, WeightTemplate
from hub.catalog.schemas import (
    PATH_SEPARATOR,
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    TaxRateCreate,
    TaxRateUpdate,
    WeightTemplateCreate,
    WeightTemplateUpdate,
)
from hub.db import next_change_seq, utcnow
from hub.errors import ApiError, not_found

# --- tax rates -----------------------------------------------------------------------------


def list_tax_rates(session: Session) -> list[TaxRate]:
    return list(session.scalars(select(TaxRate).order_by(TaxRate.id)))


def _check_tax_code(session: Session, code: str, exclude_id: int | None = None) -> None:
    query = select(TaxRate.id).where(TaxRate.code == code)
    if exclude_id is not None:
        query = query.where(TaxRate.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise writes.conflict("code", f"a tax rate with code {code!r} exists")


def create_tax_rate(session: Session, *, actor: Principal | None, data: TaxRateCreate) -> TaxRate:
    _check_tax_code(session, data.code)
    rate = TaxRate(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(rate)
    session.flush()
    writes.record(session, actor, "create", rate, None)
    return rate


def update_tax_rate(
    session: Session, *, actor: Principal | None, tax_rate_id: int, data: TaxRateUpdate
) -> TaxRate:
    rate = session.get(TaxRate, tax_rate_id)
    if rate is None:
        raise not_found("tax rate", "tax_rate_id")
    changes = writes.changes(data, nullable={"rate_bp"})
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
    writes.record(session, actor, "update", rate, before)
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
        raise writes.conflict("name", f"this parent already has a category named {name!r}")


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
    writes.record(session, actor, "create", category, None)
    return category_out(category, category_paths(session))


def update_category(
    session: Session, *, actor: Principal | None, category_id: int, data: CategoryUpdate
) -> CategoryOut:
    category = session.get(Category, category_id)
    if category is None:
        raise not_found("category", "category_id")
    changes = writes.changes(data, nullable={"parent_id"})
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
    writes.record(session, actor, "update", category, before)
    return category_out(category, category_paths(session))


# --- weighted-barcode templates ------------------------------------------------------------


def list_weight_templates(session: Session) -> list[WeightTemplate]:
    return list(session.scalars(select(WeightTemplate).order_by(WeightTemplate.id)))


def _check_pattern(session: Session, pattern: str, exclude_id: int | None = None) -> None:
    query = select(WeightTemplate.id).where(WeightTemplate.pattern == pattern)
    if exclude_id is not None:
        query = query.where(WeightTemplate.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise writes.conflict("pattern", f"a template with pattern {pattern!r} exists")


def create_weight_template(
    session: Session, *, actor: Principal | None, data: WeightTemplateCreate
) -> WeightTemplate:
    _check_pattern(session, data.pattern)
    template = WeightTemplate(**data.model_dump(), change_seq=next_change_seq(session))
    session.add(template)
    session.flush()
    writes.record(session, actor, "create", template, None)
    return template


def update_weight_template(
    session: Session, *, actor: Principal | None, template_id: int, data: WeightTemplateUpdate
) -> WeightTemplate:
    template = session.get(WeightTemplate, template_id)
    if template is None:
        raise not_found("weight template", "template_id")
    changes = writes.changes(data)
    if "pattern" in changes:
        _check_pattern(session, changes["pattern"], exclude_id=template.id)
    before = audit.snapshot(template)
    for key, value in changes.items():
        setattr(template, key, value)
    template.change_seq = next_change_seq(session)
    session.flush()
    writes.record(session, actor, "update", template, before)
    return template
