"""Build `wire.v1.CatalogDelta` pages.

Correctness of the cursor: every feed-relevant write takes its `change_seq` from one counter row
whose lock is held to commit, so commits happen in seq order. A page first reads the counter
(`high`), then only rows with `cursor < change_seq <= high`: every such row is already committed
and visible, so a client that moves to `next_cursor` never skips a change. A row rewritten
meanwhile gets a seq above `high` and comes in a later page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.catalog.models import Barcode, Category, Product, TaxRate, WeightTemplate
from hub.db import current_change_seq
from hub.errors import ApiError
from hub.staff.models import User
from hub.stores.models import Store
from wire.v1 import (
    CashierV1,
    CatalogDelta,
    CategoryV1,
    ProductV1,
    StoreV1,
    TaxRateV1,
    WeightTemplateV1,
)


@dataclass(frozen=True)
class FeedPage:
    etag: str
    delta: CatalogDelta | None  # None: the client's ETag still matches


def etag_for(*, store_id: int, position: int) -> str:
    """The ETag names where a client stands after a page: its store and its `next_cursor`."""
    return f'"feed-{store_id}-{position}"'


def build_page(
    session: Session, *, store_id: int, cursor: int, limit: int, if_none_match: str | None = None
) -> FeedPage:
    """One page after `cursor`; None as delta when the client is caught up and says so by ETag."""
    if session.get_bind().dialect.name == "postgresql":
        # One snapshot for the whole page: products and their barcodes are read as of one moment.
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    high = current_change_seq(session)
    if cursor > high:
        raise ApiError(
            409,
            "cursor_ahead",
            f"cursor {cursor} is ahead of the hub ({high}); the hub was restored from a backup? "
            "Reload the catalog from cursor 0",
            loc=["query", "cursor"],
        )
    caught_up = etag_for(store_id=store_id, position=high)
    if (
        cursor == high
        and if_none_match
        and caught_up in {t.strip() for t in if_none_match.split(",")}
    ):
        return FeedPage(etag=caught_up, delta=None)

    def window(model: Any, query: Select[Any] | None = None) -> Select[Any]:
        query = query if query is not None else select(model)
        return (
            query.where(model.change_seq > cursor, model.change_seq <= high)
            .order_by(model.change_seq)
            .limit(limit + 1)
        )

    candidates: list[tuple[int, str, Any]] = []
    for kind, rows in (
        ("tax_rate", session.scalars(window(TaxRate))),
        ("category", session.scalars(window(Category))),
        ("template", session.scalars(window(WeightTemplate))),
        ("store", session.scalars(window(Store, select(Store).where(Store.id == store_id)))),
        (
            "cashier",
            session.scalars(
                window(User, select(User).where(User.role == "cashier", User.store_id == store_id))
            ),
        ),
    ):
        candidates.extend((row.change_seq, kind, row) for row in rows)
    candidates.extend((row.change_seq, "product", row) for row in _products(session, window))
    candidates.sort(key=lambda c: c[0])
    has_more = len(candidates) > limit
    page = candidates[:limit]
    next_cursor = page[-1][0] if has_more else high
    return FeedPage(
        etag=etag_for(store_id=store_id, position=next_cursor),
        delta=_delta(
            session,
            page,
            store_id=store_id,
            cursor=cursor,
            next_cursor=next_cursor,
            has_more=has_more,
        ),
    )


def _products(session: Session, window: Any) -> Iterable[Any]:
    query = window(
        Product,
        select(
            Product.id,
            Product.sku,
            Product.name,
            Product.category_id,
            Product.unit,
            Product.price_minor,
            Product.tax_rate_id,
            TaxRate.rate_bp,
            Product.scale_code,
            Product.active,
            Product.change_seq,
        ).join(TaxRate, TaxRate.id == Product.tax_rate_id),
    )
    return session.execute(query).all()


def _barcodes(session: Session, products: list[Any]) -> dict[int, list[str]]:
    """Barcodes of the page's products: they are exactly the products whose change_seq lies in
    the page's range, so one range query on the index does (no 5,000-value IN list)."""
    out: dict[int, list[str]] = {p.id: [] for p in products}
    if not products:
        return out
    low = min(p.change_seq for p in products)
    top = max(p.change_seq for p in products)
    query = (
        select(Barcode.code, Barcode.product_id)
        .select_from(Product)
        .join(Barcode, Barcode.product_id == Product.id)
        .where(Product.change_seq >= low, Product.change_seq <= top)
    )
    for code, product_id in session.execute(query):
        if product_id in out:
            out[product_id].append(code)
    for codes in out.values():
        codes.sort()
    return out


def _delta(
    session: Session,
    page: list[tuple[int, str, Any]],
    *,
    store_id: int,
    cursor: int,
    next_cursor: int,
    has_more: bool,
) -> CatalogDelta:
    by_kind: dict[str, list[Any]] = {}
    for _seq, kind, row in page:
        by_kind.setdefault(kind, []).append(row)
    products = by_kind.get("product", [])
    barcodes = _barcodes(session, products)
    stores = by_kind.get("store", [])
    return CatalogDelta(
        cursor=cursor,
        next_cursor=next_cursor,
        has_more=has_more,
        store=_store(stores[0]) if stores else None,
        tax_rates=tuple(
            TaxRateV1(id=t.id, code=t.code, name=t.name, rate_bp=t.rate_bp)
            for t in by_kind.get("tax_rate", [])
        ),
        categories=tuple(
            CategoryV1(id=c.id, parent_id=c.parent_id, name=c.name, active=c.active)
            for c in by_kind.get("category", [])
        ),
        products=tuple(
            ProductV1(
                id=p.id,
                sku=p.sku,
                name=p.name,
                category_id=p.category_id,
                unit=p.unit,
                price_minor=p.price_minor,
                tax_rate_id=p.tax_rate_id,
                vat_rate_bp=p.rate_bp,
                barcodes=tuple(barcodes[p.id]),
                scale_code=p.scale_code,
                active=p.active,
            )
            for p in products
        ),
        weight_templates=tuple(
            WeightTemplateV1(id=w.id, name=w.name, pattern=w.pattern, active=w.active)
            for w in by_kind.get("template", [])
        ),
        cashiers=tuple(_cashier(u) for u in by_kind.get("cashier", [])),
    )


def _store(store: Store) -> StoreV1:
    return StoreV1(
        id=store.id,
        name=store.name,
        address=store.address,
        timezone=store.timezone,
        currency=store.currency,
        language=store.language,  # type: ignore[arg-type]
        receipt_header=store.receipt_header,
        receipt_footer=store.receipt_footer,
    )


def _cashier(user: User) -> CashierV1:
    """A cashier of this store; disabled ones (or without a PIN) arrive inactive, without a hash."""
    here = user.active and user.pin_hash is not None
    return CashierV1(
        id=user.id,
        name=user.name,
        pin_hash=user.pin_hash if here else None,
        max_discount_bp=user.max_discount_bp,
        active=here,
    )
