"""Purchasing API: suppliers and their terms (chain-wide), purchase orders and goods receipts
(per store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.access import (
    CatalogEditorDep,
    DbDep,
    ManagerDep,
    StoreManagerDep,
    StoreManagerOrServiceDep,
)
from hub.errors import responses
from hub.http import MAX_ID, IdPath, KassaRoute
from hub.purchasing import orders, receipts, service
from hub.purchasing.schemas import (
    OrderCreate,
    OrderLinesIn,
    OrderOut,
    OrderReceived,
    OrderStatus,
    ReceiptIn,
    ReceiveIn,
    SupplierCreate,
    SupplierOut,
    SupplierProductIn,
    SupplierProductOut,
    SupplierUpdate,
)
from hub.stock import service as stock
from hub.stock.schemas import StockDocOut

router = APIRouter(tags=["purchasing"], route_class=KassaRoute)

WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)
READ_ERRORS = responses(401, 403, 404, 422)
SUPPLIERS = "/api/v1/suppliers"
ORDERS = "/api/v1/stores/{store_id}/purchase-orders"


# --- suppliers -------------------------------------------------------------------------------


@router.get(SUPPLIERS, responses=READ_ERRORS)
def list_suppliers(db: DbDep, actor: ManagerDep, active: bool | None = None) -> list[SupplierOut]:
    with db.read() as s:
        return [SupplierOut.model_validate(x) for x in service.list_suppliers(s, active=active)]


@router.get(SUPPLIERS + "/{supplier_id}", responses=READ_ERRORS)
def get_supplier(supplier_id: IdPath, db: DbDep, actor: ManagerDep) -> SupplierOut:
    with db.read() as s:
        return SupplierOut.model_validate(service.get_supplier(s, supplier_id))


@router.post(SUPPLIERS, status_code=201, responses=WRITE_ERRORS)
def create_supplier(body: SupplierCreate, db: DbDep, actor: CatalogEditorDep) -> SupplierOut:
    """A supplier with its lead time and review period (days)."""
    with db.write() as s:
        return SupplierOut.model_validate(service.create_supplier(s, actor=actor, data=body))


@router.patch(SUPPLIERS + "/{supplier_id}", responses=WRITE_ERRORS)
def update_supplier(
    supplier_id: IdPath, body: SupplierUpdate, db: DbDep, actor: CatalogEditorDep
) -> SupplierOut:
    with db.write() as s:
        supplier = service.update_supplier(s, actor=actor, supplier_id=supplier_id, data=body)
        return SupplierOut.model_validate(supplier)


@router.get(SUPPLIERS + "/{supplier_id}/products", responses=READ_ERRORS)
def list_supplier_products(
    supplier_id: IdPath, db: DbDep, actor: ManagerDep
) -> list[SupplierProductOut]:
    """What the supplier sells us: pack size, minimum order, last cost per product."""
    with db.read() as s:
        return service.list_terms(s, supplier_id=supplier_id)


@router.put(
    SUPPLIERS + "/{supplier_id}/products/{product_id}",
    responses={**WRITE_ERRORS, 201: {"description": "The terms are new"}},
)
def put_supplier_product(
    supplier_id: IdPath,
    product_id: IdPath,
    body: SupplierProductIn,
    db: DbDep,
    actor: CatalogEditorDep,
    response: Response,
) -> SupplierProductOut:
    """Set the supplier's terms for a product (201 when new); fields left out keep their value."""
    with db.write() as s:
        terms, created = service.put_terms(
            s, actor=actor, supplier_id=supplier_id, product_id=product_id, data=body
        )
    if created:
        response.status_code = 201
    return terms


# --- purchase orders -------------------------------------------------------------------------


@router.post(
    ORDERS,
    status_code=201,
    responses={**WRITE_ERRORS, 200: {"description": "An order with this source_key existed"}},
)
def create_order(
    store_id: IdPath,
    body: OrderCreate,
    db: DbDep,
    actor: StoreManagerOrServiceDep,
    response: Response,
) -> OrderOut:
    """A draft order. With `source_key`, an existing order of that key is returned (200).
    Service accounts (the reorder flow) may create drafts too."""
    with db.write() as s:
        order, created = orders.create_order(s, actor=actor, store_id=store_id, data=body)
        out = orders.orders_out(s, [order])[0]
    if not created:
        response.status_code = 200
    return out


@router.get(ORDERS, responses=READ_ERRORS)
def list_orders(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerOrServiceDep,
    status: OrderStatus | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OrderOut]:
    """The store's purchase orders, newest first."""
    with db.read() as s:
        return orders.list_orders(
            s, store_id=store_id, status=status, before_id=before_id, limit=limit
        )


@router.get(ORDERS + "/{purchase_order_id}", responses=READ_ERRORS)
def get_order(
    store_id: IdPath, purchase_order_id: IdPath, db: DbDep, actor: StoreManagerOrServiceDep
) -> OrderOut:
    """An order with its lines, ordered vs received."""
    with db.read() as s:
        return orders.get_order(s, store_id=store_id, order_id=purchase_order_id)


@router.put(ORDERS + "/{purchase_order_id}/lines", responses=WRITE_ERRORS)
def replace_order_lines(
    store_id: IdPath,
    purchase_order_id: IdPath,
    body: OrderLinesIn,
    db: DbDep,
    actor: StoreManagerDep,
) -> OrderOut:
    """Replace a draft's lines."""
    with db.write() as s:
        order = orders.replace_lines(
            s, actor=actor, store_id=store_id, order_id=purchase_order_id, data=body
        )
        return orders.orders_out(s, [order])[0]


@router.post(ORDERS + "/{purchase_order_id}/send", responses=WRITE_ERRORS)
def send_order(
    store_id: IdPath, purchase_order_id: IdPath, db: DbDep, actor: StoreManagerDep
) -> OrderOut:
    """draft -> sent (sending it again changes nothing)."""
    with db.write() as s:
        order = orders.send(s, actor=actor, store_id=store_id, order_id=purchase_order_id)
        return orders.orders_out(s, [order])[0]


@router.post(ORDERS + "/{purchase_order_id}/cancel", responses=WRITE_ERRORS)
def cancel_order(
    store_id: IdPath, purchase_order_id: IdPath, db: DbDep, actor: StoreManagerDep
) -> OrderOut:
    """Cancel an order not yet received in full; goods already received stay in stock."""
    with db.write() as s:
        order = orders.cancel(s, actor=actor, store_id=store_id, order_id=purchase_order_id)
        return orders.orders_out(s, [order])[0]


@router.post(ORDERS + "/{purchase_order_id}/receive", responses=WRITE_ERRORS)
def receive_order(
    store_id: IdPath,
    purchase_order_id: IdPath,
    body: ReceiveIn,
    db: DbDep,
    actor: StoreManagerDep,
) -> OrderReceived:
    """A delivery: posts the goods at cost and counts them against the order's lines."""
    with db.write() as s:
        order, doc = orders.receive(
            s, actor=actor, store_id=store_id, order_id=purchase_order_id, data=body
        )
        return OrderReceived(
            purchase_order=orders.orders_out(s, [order])[0], doc=stock.doc_out(s, doc)
        )


# --- goods receipts without an order ---------------------------------------------------------


@router.post("/api/v1/stores/{store_id}/receipts", status_code=201, responses=WRITE_ERRORS)
def create_receipt(
    store_id: IdPath, body: ReceiptIn, db: DbDep, actor: StoreManagerDep
) -> StockDocOut:
    """Goods in without a purchase order, at cost; the supplier's last cost is remembered."""
    with db.write() as s:
        doc = receipts.receive_goods(s, actor=actor, store_id=store_id, data=body)
        return stock.doc_out(s, doc)
