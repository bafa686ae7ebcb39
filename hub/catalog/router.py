"""Catalog API: chain-wide, read and edited by owners and managers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from hub.access import CatalogEditorDep, DbDep, ManagerDep
from hub.catalog import importer, products, reference
from hub.catalog.schemas import (
    CategoryCreate,
    CategoryOut,
    CategoryUpdate,
    ImportRejected,
    ImportReport,
    ProductCreate,
    ProductOut,
    ProductPage,
    ProductUpdate,
    TaxRateCreate,
    TaxRateOut,
    TaxRateUpdate,
    WeightTemplateCreate,
    WeightTemplateOut,
    WeightTemplateUpdate,
)
from hub.db import utcnow
from hub.errors import responses
from hub.http import MAX_ID, IdPath, KassaRoute
from hub.text import LongText
from wire.currencies import CURRENCY_EXPONENTS

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"], route_class=KassaRoute)

READ_ERRORS = responses(401, 403)
QUERY_ERRORS = responses(401, 403, 422)
GET_ERRORS = responses(401, 403, 404, 422)
WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)
CREATE_ERRORS = responses(400, 401, 403, 409, 413, 415, 422)
IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **responses(400, 401, 403, 413, 415),
    422: {"model": ImportRejected, "description": "The file has errors; nothing was written"},
}


# --- tax rates -----------------------------------------------------------------------------


@router.get("/tax-rates", responses=READ_ERRORS)
def list_tax_rates(db: DbDep, actor: ManagerDep) -> list[TaxRateOut]:
    with db.read() as s:
        return [TaxRateOut.model_validate(r) for r in reference.list_tax_rates(s)]


@router.post("/tax-rates", status_code=201, responses=CREATE_ERRORS)
def create_tax_rate(body: TaxRateCreate, db: DbDep, actor: CatalogEditorDep) -> TaxRateOut:
    """A VAT rate in basis points (2200 = 22 %); `rate_bp: null` is "без НДС"."""
    with db.write() as s:
        return TaxRateOut.model_validate(reference.create_tax_rate(s, actor=actor, data=body))


@router.patch("/tax-rates/{tax_rate_id}", responses=WRITE_ERRORS)
def update_tax_rate(
    tax_rate_id: IdPath, body: TaxRateUpdate, db: DbDep, actor: CatalogEditorDep
) -> TaxRateOut:
    """Changing `rate_bp` re-sends every product with this rate to the tills."""
    with db.write() as s:
        rate = reference.update_tax_rate(s, actor=actor, tax_rate_id=tax_rate_id, data=body)
        return TaxRateOut.model_validate(rate)


# --- categories ----------------------------------------------------------------------------


@router.get("/categories", responses=READ_ERRORS)
def list_categories(db: DbDep, actor: ManagerDep) -> list[CategoryOut]:
    """The whole tree as a flat list ordered by path."""
    with db.read() as s:
        return reference.list_categories(s)


@router.post("/categories", status_code=201, responses=CREATE_ERRORS)
def create_category(body: CategoryCreate, db: DbDep, actor: CatalogEditorDep) -> CategoryOut:
    with db.write() as s:
        return reference.create_category(s, actor=actor, data=body)


@router.patch("/categories/{category_id}", responses=WRITE_ERRORS)
def update_category(
    category_id: IdPath, body: CategoryUpdate, db: DbDep, actor: CatalogEditorDep
) -> CategoryOut:
    """Rename, move (`parent_id`, null = top level) or deactivate a category."""
    with db.write() as s:
        return reference.update_category(s, actor=actor, category_id=category_id, data=body)


# --- products ------------------------------------------------------------------------------


@router.get("/products", responses=QUERY_ERRORS)
def list_products(
    db: DbDep,
    actor: ManagerDep,
    q: Annotated[LongText | None, Query(max_length=200)] = None,
    category_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> ProductPage:
    """Search by name or sku (any case, `%` and `_` literal) or an exact barcode; a category
    includes its subcategories."""
    with db.read() as s:
        items, total = products.search_products(
            s, q=q, category_id=category_id, active=active, limit=limit, offset=offset
        )
        return ProductPage(
            items=[products.product_out(p) for p in items], total=total, limit=limit, offset=offset
        )


@router.get("/products/{product_id}", responses=GET_ERRORS)
def get_product(product_id: IdPath, db: DbDep, actor: ManagerDep) -> ProductOut:
    with db.read() as s:
        return products.product_out(products.get_product(s, product_id=product_id))


@router.post("/products", status_code=201, responses=CREATE_ERRORS)
def create_product(body: ProductCreate, db: DbDep, actor: CatalogEditorDep) -> ProductOut:
    with db.write() as s:
        return products.product_out(products.create_product(s, actor=actor, data=body))


@router.patch("/products/{product_id}", responses=WRITE_ERRORS)
def update_product(
    product_id: IdPath, body: ProductUpdate, db: DbDep, actor: CatalogEditorDep
) -> ProductOut:
    """Change price, name, category, tax rate, unit, barcodes (the whole list), scale code or
    the active flag."""
    with db.write() as s:
        product = products.update_product(s, actor=actor, product_id=product_id, data=body)
        return products.product_out(product)


# --- weighted-barcode templates ------------------------------------------------------------


@router.get("/weight-templates", responses=READ_ERRORS)
def list_weight_templates(db: DbDep, actor: ManagerDep) -> list[WeightTemplateOut]:
    with db.read() as s:
        return [WeightTemplateOut.model_validate(t) for t in reference.list_weight_templates(s)]


@router.post("/weight-templates", status_code=201, responses=CREATE_ERRORS)
def create_weight_template(
    body: WeightTemplateCreate, db: DbDep, actor: CatalogEditorDep
) -> WeightTemplateOut:
    """A scale-label template such as `22PPPPPWWWWWC` (P scale code, W grams or M price)."""
    with db.write() as s:
        template = reference.create_weight_template(s, actor=actor, data=body)
        return WeightTemplateOut.model_validate(template)


@router.patch("/weight-templates/{template_id}", responses=WRITE_ERRORS)
def update_weight_template(
    template_id: IdPath, body: WeightTemplateUpdate, db: DbDep, actor: CatalogEditorDep
) -> WeightTemplateOut:
    with db.write() as s:
        template = reference.update_weight_template(
            s, actor=actor, template_id=template_id, data=body
        )
        return WeightTemplateOut.model_validate(template)


# --- import and export ---------------------------------------------------------------------


def _exponent(request: Request) -> int:
    return CURRENCY_EXPONENTS[request.app.state.settings.catalog_currency]


@router.post("/import", response_model=ImportReport, responses=IMPORT_ERRORS)
def import_catalog(
    file: Annotated[UploadFile, File(description="CSV (UTF-8, ';' or ',') or XLSX")],
    db: DbDep,
    actor: CatalogEditorDep,
    request: Request,
    dry_run: bool = True,
) -> Any:
    """Upsert products by sku from the export format. `dry_run` (the default) only reports; a
    real run with any error answers 422 with the same report and writes nothing."""
    try:
        return importer.run_import(
            db,
            actor=actor,
            data=file.file.read(),
            filename=file.filename,
            exponent=_exponent(request),
            dry_run=dry_run,
        )
    except importer.ImportFailed as failed:
        return JSONResponse(failed.body(), status_code=422)


@router.get(
    "/export",
    response_class=Response,
    responses={
        **QUERY_ERRORS,
        200: {
            "description": "The catalog in the import format",
            "content": {"text/csv": {}, importer.XLSX_MEDIA_TYPE: {}},
        },
    },
)
def export_catalog(
    db: DbDep,
    actor: ManagerDep,
    request: Request,
    fmt: Annotated[Literal["csv", "xlsx"], Query(alias="format")] = "csv",
) -> Response:
    """Every product in the import format: export, edit, import."""
    with db.read() as s:
        rows = importer.export_rows(s, exponent=_exponent(request))
    content = importer.to_xlsx(rows) if fmt == "xlsx" else importer.to_csv(rows)
    media = importer.XLSX_MEDIA_TYPE if fmt == "xlsx" else "text/csv; charset=utf-8"
    stamp = utcnow().date().isoformat()
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="catalog-{stamp}.{fmt}"'},
    )
