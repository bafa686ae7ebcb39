"""Planning a catalog import: the checked rows against the catalog, in a few bulk queries.

`plan` never writes; `hub.catalog.import_apply` writes what it plans.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.catalog import reference
from hub.catalog.import_read import COLUMNS, ParsedFile, Row, row_issue
from hub.catalog.models import Barcode, Product, TaxRate
from hub.catalog.schemas import PATH_SEPARATOR, ImportIssue, ImportReport


@dataclass(slots=True)
class CurrentProduct:
    id: int
    sku: str
    name: str
    category_id: int | None
    unit: str
    price_minor: int
    tax_rate_id: int
    active: bool
    scale_code: str | None
    barcodes: tuple[str, ...] = ()


@dataclass(slots=True)
class Target:
    row: Row
    current: CurrentProduct | None
    tax_rate_id: int


@dataclass
class Plan:
    parsed: ParsedFile
    errors: list[ImportIssue]
    category_ids: dict[tuple[str, ...], int]  # existing paths; `apply` adds the created ones
    new_categories: list[tuple[str, ...]]
    creates: list[Target]
    updates: list[Target]
    unchanged: int

    def report(self) -> ImportReport:
        order = {name: i for i, name in enumerate(COLUMNS)}
        errors = sorted(self.errors, key=lambda e: (e.row, order.get(e.column or "", -1)))
        return ImportReport(
            rows=self.parsed.total,
            to_create=len(self.creates),
            to_update=len(self.updates),
            unchanged=self.unchanged,
            categories_to_create=[PATH_SEPARATOR.join(path) for path in self.new_categories],
            errors=errors,
        )

    def has(self, column: str) -> bool:
        return column in self.parsed.columns


@dataclass
class _Catalog:
    """What the rows are checked against, loaded in a few bulk queries."""

    taxes: dict[str, int]
    products: dict[str, CurrentProduct]  # by sku

    def __post_init__(self) -> None:
        self.by_id = {product.id: product for product in self.products.values()}
        self.code_owner = {code: p.id for p in self.by_id.values() for code in p.barcodes}
        self.scale_owner = {p.scale_code: p.id for p in self.by_id.values() if p.scale_code}

    def keeper(self, owner_id: int | None, parsed: ParsedFile) -> str | None:
        """The sku of ANOTHER product that keeps a code: one this file does not rewrite."""
        if owner_id is None or self.by_id[owner_id].sku in parsed.skus:
            return None  # free, or owned by a product whose row replaces its codes
        return self.by_id[owner_id].sku

    def clashes(self, row: Row, result: Plan) -> list[ImportIssue]:
        issues = []
        if row.tax_code not in self.taxes:
            known = ", ".join(sorted(self.taxes)[:20]) or "none yet"
            message = f"no tax rate {row.tax_code!r}; known: {known}"
            issues.append(row_issue(row, "tax_rate", "unknown_tax_rate", message))
        for code in row.barcodes if result.has("barcodes") else ():
            if owner := self.keeper(self.code_owner.get(code), result.parsed):
                message = f"barcode {code!r} belongs to product {owner!r}, not in this file"
                issues.append(row_issue(row, "barcodes", "barcode_taken", message))
        scale = row.scale_code if result.has("scale_code") else None
        if scale is not None and (owner := self.keeper(self.scale_owner.get(scale), result.parsed)):
            message = f"scale code {scale} is used by product {owner!r}, not in this file"
            issues.append(row_issue(row, "scale_code", "scale_code_taken", message))
        return issues


def plan(session: Session, parsed: ParsedFile) -> Plan:
    """What the import would change, and the rows that clash with the catalog."""
    result = Plan(parsed, list(parsed.errors), _category_paths(session), [], [], [], 0)
    if not parsed.rows:
        return result
    taxes = dict(session.execute(select(TaxRate.code, TaxRate.id)).all())
    catalog = _Catalog(taxes, current_products(session))
    new_paths: dict[tuple[str, ...], None] = {}
    for row in parsed.rows:
        if issues := catalog.clashes(row, result):
            result.errors.extend(issues)
            continue
        for depth in range(1, len(row.category) + 1):
            if row.category[:depth] not in result.category_ids:
                new_paths[row.category[:depth]] = None
        current = catalog.products.get(row.sku)
        target = Target(row, current, taxes[row.tax_code])
        if current is None:
            result.creates.append(target)
        elif _differs(result, target, current):
            result.updates.append(target)
        else:
            result.unchanged += 1
    result.new_categories = list(new_paths)
    return result


def _category_paths(session: Session) -> dict[tuple[str, ...], int]:
    return {
        tuple(path.split(PATH_SEPARATOR)): cid
        for cid, path in reference.category_paths(session).items()
    }


def current_products(session: Session) -> dict[str, CurrentProduct]:
    """Every product by sku, with its barcodes sorted: what the import compares and exports."""
    products = {
        row.sku: CurrentProduct(*row)
        for row in session.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.category_id,
                Product.unit,
                Product.price_minor,
                Product.tax_rate_id,
                Product.active,
                Product.scale_code,
            )
        )
    }
    codes: dict[int, list[str]] = {}
    for product_id, code in session.execute(select(Barcode.product_id, Barcode.code)):
        codes.setdefault(product_id, []).append(code)
    for product in products.values():
        product.barcodes = tuple(sorted(codes.get(product.id, ())))
    return products


def _differs(result: Plan, target: Target, product: CurrentProduct) -> bool:
    row = target.row
    if (row.name, row.unit, row.price_minor, target.tax_rate_id) != (
        product.name,
        product.unit,
        product.price_minor,
        product.tax_rate_id,
    ):
        return True
    category_id = result.category_ids.get(row.category, -1) if row.category else None
    return (
        (result.has("category") and category_id != product.category_id)
        or (result.has("active") and row.active != product.active)
        or (result.has("scale_code") and row.scale_code != product.scale_code)
        or (result.has("barcodes") and tuple(sorted(row.barcodes)) != product.barcodes)
    )
