"""The till's catalog cache: pulled from the hub's feed, looked up offline.

The first pull starts at cursor 0 and follows `next_cursor` while `has_more`; later pulls start
from the stored cursor and send the last ETag, so an unchanged catalog costs one 304. Each page
is applied in one transaction together with its cursor, so a crash mid-load resumes where it
stopped. A 409 (the till's cursor is ahead of the hub: restored hub) reloads from 0.
Lookups: a barcode (scale labels decoded with the hub's templates: weight or price embedded),
or a search by name or sku that treats `%` and `_` literally.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from wire.barcodes import WeightTemplate, decode_weighted
from wire.money import line_amount_minor, round_half_up
from wire.v1 import CashierV1, CatalogDelta, ProductV1, StoreV1

SCHEMA = """
CREATE TABLE IF NOT EXISTS product (
    id INTEGER PRIMARY KEY, sku TEXT NOT NULL, name TEXT NOT NULL, name_folded TEXT NOT NULL,
    payload TEXT NOT NULL, scale_code INTEGER, active INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS product_scale ON product (scale_code);
CREATE TABLE IF NOT EXISTS barcode (code TEXT PRIMARY KEY, product_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS barcode_product ON barcode (product_id);
CREATE TABLE IF NOT EXISTS template (id INTEGER PRIMARY KEY, pattern TEXT NOT NULL,
    active INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cashier (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feed (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class _Page:
    status: int
    delta: CatalogDelta | None = None
    etag: str | None = None


def _fetch(
    client: httpx.Client,
    headers: dict[str, str],
    cursor: int,
    limit: int | None,
    etag: str | None,
) -> _Page:
    """One feed page, fetched and parsed (runs on the prefetch thread too)."""
    params: dict[str, int] = {"cursor": cursor}
    if limit:
        params["limit"] = limit
    response = client.get(
        "/api/v1/till/catalog",
        params=params,
        headers={**headers, **({"If-None-Match": etag} if etag else {})},
    )
    if response.status_code in (304, 409):
        return _Page(response.status_code)
    response.raise_for_status()
    return _Page(
        200, CatalogDelta.model_validate_json(response.content), response.headers.get("ETag")
    )


@dataclass(frozen=True)
class Found:
    """What a scan resolved to: the product and the quantity/price the code carries."""

    product: ProductV1
    qty_milli: int  # 1000 for a piece; grams for a weighed item
    unit_price_minor: int


def price_label_line(label_minor: int, price_per_kg_minor: int) -> tuple[int, int]:
    """(qty_milli, unit_price_minor) for a price-embedded scale label: the line must cost
    exactly what the label says. The weight follows from the price per kg; when rounding makes
    that weight at that price miss the label by a kopeck or more, the unit price is nudged (a
    weight within 10 g, a price per kg as close to the catalog's as can be) so the amount is the
    label's. Without a usable price per kg: one unit at the label's price."""
    if label_minor <= 0 or price_per_kg_minor <= 0:
        return 1000, max(label_minor, 1)
    estimate = max(round_half_up(label_minor * 1000, price_per_kg_minor), 1)
    best: tuple[int, int, int] | None = None  # (price distance, qty, unit price)
    for qty in sorted(range(max(estimate - 10, 1), estimate + 11), key=lambda q: abs(q - estimate)):
        near = round_half_up(label_minor * 1000, qty)
        for unit in range(near - 2, near + 3):
            if unit > 0 and line_amount_minor(qty, unit) == label_minor:
                candidate = (abs(unit - price_per_kg_minor), qty, unit)
                best = min(best, candidate) if best else candidate
    if best is None:
        return 1000, label_minor
    return best[1], best[2]


class CatalogCache:
    def __init__(self, path: str | Path) -> None:
        self._db = sqlite3.connect(Path(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _feed(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM feed WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def cursor(self) -> int:
        return int(self._feed("cursor") or 0)

    def apply(self, delta: CatalogDelta, etag: str | None) -> None:
        """One feed page, with its cursor, in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for p in delta.products:
                db.execute(
                    "INSERT OR REPLACE INTO product VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        p.id,
                        p.sku,
                        p.name,
                        p.name.casefold(),
                        p.model_dump_json(),
                        int(p.scale_code) if p.scale_code else None,
                        int(p.active),
                    ),
                )
                db.execute("DELETE FROM barcode WHERE product_id = ?", (p.id,))
                db.executemany(
                    "INSERT OR REPLACE INTO barcode VALUES (?, ?)", [(c, p.id) for c in p.barcodes]
                )
            db.executemany(
                "INSERT OR REPLACE INTO template VALUES (?, ?, ?)",
                [(t.id, t.pattern, int(t.active)) for t in delta.weight_templates],
            )
            db.executemany(
                "INSERT OR REPLACE INTO cashier VALUES (?, ?)",
                [(c.id, c.model_dump_json()) for c in delta.cashiers],
            )
            values = {"cursor": str(delta.next_cursor)}
            if delta.store is not None:
                values["store"] = delta.store.model_dump_json()
            if etag:
                values["etag"] = etag
            db.executemany("INSERT OR REPLACE INTO feed VALUES (?, ?)", list(values.items()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def pull(self, client: httpx.Client, token: str, *, limit: int | None = None) -> int:
        """Bring the cache up to date; returns the number of pages applied (0: unchanged).

        While one page is written the next is already being fetched and parsed (its cursor is
        known once the page is parsed), so a full load costs about the feed's time, not the
        feed's plus the writing's."""
        headers = {"Authorization": f"Bearer {token}"}
        pages = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-fetch") as pool:
            page = _fetch(client, headers, self.cursor, limit, self._feed("etag"))
            while True:
                if page.status == 304:
                    return pages
                if page.status == 409:  # our cursor is ahead of the hub: reload
                    self._db.execute("DELETE FROM feed")
                    page = _fetch(client, headers, 0, limit, None)
                    continue
                delta = page.delta
                assert delta is not None
                following = (
                    pool.submit(_fetch, client, headers, delta.next_cursor, limit, None)
                    if delta.has_more
                    else None
                )
                self.apply(delta, page.etag)
                pages += 1
                if following is None:
                    return pages
                page = following.result()

    # --- lookups ---------------------------------------------------------------------------

    def product(self, product_id: int) -> ProductV1 | None:
        row = self._db.execute("SELECT payload FROM product WHERE id = ?", (product_id,)).fetchone()
        return None if row is None else ProductV1.model_validate_json(row[0])

    def scan(self, code: str) -> Found | None:
        """A scanned code: a barcode of an active product, or a scale label."""
        row = self._db.execute(
            "SELECT p.payload FROM barcode b JOIN product p ON p.id = b.product_id "
            "WHERE b.code = ? AND p.active = 1",
            (code,),
        ).fetchone()
        if row is not None:
            product = ProductV1.model_validate_json(row[0])
            return Found(product, 1000, product.price_minor)
        templates = [
            WeightTemplate(r[0], r[1])
            for r in self._db.execute("SELECT id, pattern FROM template WHERE active = 1")
        ]
        match = decode_weighted(code, templates) if templates else None
        if match is None:
            return None
        row = self._db.execute(
            "SELECT payload FROM product WHERE scale_code = ? AND active = 1",
            (int(match.scale_code),),
        ).fetchone()
        if row is None:
            return None
        product = ProductV1.model_validate_json(row[0])
        if match.qty_milli is not None:
            return Found(product, match.qty_milli, product.price_minor)
        qty, unit = price_label_line(match.price_minor or 0, product.price_minor)
        return Found(product, qty, unit)

    def search(self, text: str, limit: int = 20) -> list[ProductV1]:
        """Active products whose name or sku contains `text` (case-insensitive, literal)."""
        needle = text.casefold()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._db.execute(
            "SELECT payload FROM product WHERE active = 1 AND (name_folded LIKE ? ESCAPE '\\' "
            "OR lower(sku) LIKE ? ESCAPE '\\') ORDER BY name LIMIT ?",
            (f"%{escaped}%", f"%{escaped}%", limit),
        ).fetchall()
        return [ProductV1.model_validate_json(r[0]) for r in rows]

    def cashiers(self) -> list[CashierV1]:
        rows = self._db.execute("SELECT payload FROM cashier ORDER BY id").fetchall()
        return [CashierV1.model_validate_json(r[0]) for r in rows]

    def store(self) -> StoreV1 | None:
        raw = self._feed("store")
        return None if raw is None else StoreV1.model_validate_json(raw)

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM product").fetchone()[0])
