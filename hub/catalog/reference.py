"""Catalog reference data: tax rates, the category tree, scale-label (weighted-barcode) templates.

Written through `hub.catalog.writes`: each change bumps `change_seq` and is audited.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.catalog import writes
from hub.catalog.models import Category, Product, TaxRate, WeightTemplate
from hub.catalog.schemas import (
    MAX_CATEGORY_DEPTH,
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
from hub.principal import Principal

# --- tax rates -----------------------------------------------------------------------------


def list_tax_rates(session: Session) -> list[TaxRate]:
    return list(session.scalars(select(TaxRate).order_by(TaxRate.id)))


def create_tax_rate(session: Session, *, actor: Principal | None, data: TaxRateCreate) -> TaxRate:
    writes.check_unique(session, TaxRate.code, data.code, what="a tax rate")
    return writes.create(session, actor, TaxRate, **data.model_dump())


def update_tax_rate(
    session: Session, *, actor: Principal | None, tax_rate_id: int, data: TaxRateUpdate
) -> TaxRate:
    rate = session.get(TaxRate, tax_rate_id)
    if rate is None:
        raise not_found("tax rate", "tax_rate_id")
    changes = writes.changes(data, nullable={"rate_bp"})
    if "code" in changes:
        writes.check_unique(
            session, TaxRate.code, changes["code"], what="a tax rate", exclude_id=rate.id
        )
    # Tills get each product with its VAT rate: a new rate must reach them as product deltas.
    product_ids = (
        list(session.scalars(select(Product.id).where(Product.tax_rate_id == rate.id)))
        if "rate_bp" in changes and changes["rate_bp"] != rate.rate_bp
        else []
    )
    last = next_change_seq(session, len(product_ids) + 1)
    _bump_products(session, product_ids, first_seq=last - len(product_ids))
    writes.update(session, actor, rate, changes, change_seq=last)
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
# Everything here walks the tree with loops, never recursion: data written before the depth
# limit (or by hand) may be deeper than MAX_CATEGORY_DEPTH, or even hold a cycle.


def category_paths(session: Session) -> dict[int, str]:
    """Every category's path from the top, names joined by '/'."""
    rows = {
        cid: (parent, name)
        for cid, parent, name in session.execute(
            select(Category.id, Category.parent_id, Category.name)
        )
    }
    paths: dict[int, str] = {}
    for start in rows:
        chain: list[int] = []  # `start` and the ancestors without a path yet, nearest first
        seen: set[int] = set()
        current: int | None = start
        while current is not None and current not in paths and current not in seen:
            chain.append(current)
            seen.add(current)
            current = rows[current][0]
        prefix = paths.get(current) if current is not None else None  # None: the top (or a cycle)
        for cid in reversed(chain):
            name = rows[cid][1]
            prefix = name if prefix is None else prefix + PATH_SEPARATOR + name
            paths[cid] = prefix
    return paths


def category_out(category: Category, paths: dict[int, str]) -> CategoryOut:
    return CategoryOut.model_validate(
        {**audit.snapshot(category), "path": paths.get(category.id, category.name)}
    )


def list_categories(session: Session) -> list[CategoryOut]:
    paths = category_paths(session)
    categories = session.scalars(select(Category))
    return sorted((category_out(c, paths) for c in categories), key=lambda c: (c.path, c.id))


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


def _ancestry(parents: dict[int, int | None], category_id: int) -> list[int]:
    """`category_id` and its ancestors up to the top, nearest first."""
    chain: list[int] = []
    seen: set[int] = set()
    current: int | None = category_id
    while current is not None and current not in seen:
        chain.append(current)
        seen.add(current)
        current = parents.get(current)
    return chain


def _height(parents: dict[int, int | None], category_id: int) -> int:
    """The levels of the subtree of `category_id`, itself included (1 for a leaf)."""
    children: dict[int, list[int]] = {}
    for cid, parent in parents.items():
        if parent is not None:
            children.setdefault(parent, []).append(cid)
    height, level, seen = 0, [category_id], {category_id}
    while level:
        height += 1
        level = [child for cid in level for child in children.get(cid, ()) if child not in seen]
        seen.update(level)
    return height


def _check_parent(session: Session, parent_id: int | None, *, moving: int | None = None) -> None:
    """The parent exists, is not `moving` or below it, and the tree stays within the depth."""
    if parent_id is None:
        return
    if session.get(Category, parent_id) is None:
        raise ApiError(
            422, "unknown_category", "no category with this id", loc=["body", "parent_id"]
        )
    parents = dict(session.execute(select(Category.id, Category.parent_id)).all())
    ancestry = _ancestry(parents, parent_id)
    if moving is not None and moving in ancestry:
        raise ApiError(
            422,
            "category_cycle",
            "a category cannot move into itself or one of its subcategories",
            loc=["body", "parent_id"],
        )
    depth = len(ancestry) + (_height(parents, moving) if moving is not None else 1)
    if depth > MAX_CATEGORY_DEPTH:
        raise ApiError(
            422,
            "too_deep",
            f"categories nest at most {MAX_CATEGORY_DEPTH} levels deep; under this parent the "
            f"tree would be {depth} levels deep",
            loc=["body", "parent_id"],
        )


def create_category(
    session: Session, *, actor: Principal | None, data: CategoryCreate
) -> CategoryOut:
    _check_parent(session, data.parent_id)
    _check_sibling_name(session, parent_id=data.parent_id, name=data.name)
    category = writes.create(session, actor, Category, **data.model_dump())
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
    writes.update(session, actor, category, changes)
    return category_out(category, category_paths(session))


# --- weighted-barcode templates ------------------------------------------------------------


def list_weight_templates(session: Session) -> list[WeightTemplate]:
    return list(session.scalars(select(WeightTemplate).order_by(WeightTemplate.id)))


def create_weight_template(
    session: Session, *, actor: Principal | None, data: WeightTemplateCreate
) -> WeightTemplate:
    writes.check_unique(session, WeightTemplate.pattern, data.pattern, what="a template")
    return writes.create(session, actor, WeightTemplate, **data.model_dump())


def update_weight_template(
    session: Session, *, actor: Principal | None, template_id: int, data: WeightTemplateUpdate
) -> WeightTemplate:
    template = session.get(WeightTemplate, template_id)
    if template is None:
        raise not_found("weight template", "template_id")
    changes = writes.changes(data)
    if "pattern" in changes:
        writes.check_unique(
            session,
            WeightTemplate.pattern,
            changes["pattern"],
            what="a template",
            exclude_id=template.id,
        )
    writes.update(session, actor, template, changes)
    return template
