"""Stock API of one store: counts, transfers, write-offs, adjustments; levels, moves, documents.
(Goods receipts live with purchasing: they involve suppliers and their prices.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from hub.access import DbDep, StoreManagerDep
from hub.errors import responses
from hub.http import MAX_ID, IdPath, KassaRoute
from hub.stock import service
from hub.stock.schemas import (
    AdjustmentIn,
    CountIn,
    CountOut,
    StockDocOut,
    StockMovePage,
    StockPage,
    TransferIn,
    WriteOffIn,
)

router = APIRouter(prefix="/api/v1/stores/{store_id}", tags=["stock"], route_class=KassaRoute)

WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)
READ_ERRORS = responses(401, 403, 404, 422)
Limit = Annotated[int, Query(ge=1, le=1000)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


@router.post("/counts", status_code=201, responses=WRITE_ERRORS)
def create_count(store_id: IdPath, body: CountIn, db: DbDep, actor: StoreManagerDep) -> CountOut:
    """A stock count: each line records the delta from the ledger's on-hand to what was counted."""
    with db.write() as s:
        return service.count(s, actor=actor, store_id=store_id, data=body)


@router.post("/transfers", status_code=201, responses=WRITE_ERRORS)
def create_transfer(
    store_id: IdPath, body: TransferIn, db: DbDep, actor: StoreManagerDep
) -> StockDocOut:
    """Send goods to another store at this store's average cost (stock may go negative)."""
    with db.write() as s:
        doc = service.transfer(s, actor=actor, store_id=store_id, data=body)
        return service.doc_out(s, doc)


@router.post("/write-offs", status_code=201, responses=WRITE_ERRORS)
def create_write_off(
    store_id: IdPath, body: WriteOffIn, db: DbDep, actor: StoreManagerDep
) -> StockDocOut:
    """Write goods off with a reason (damaged, expired, stolen...)."""
    with db.write() as s:
        doc = service.write_off(s, actor=actor, store_id=store_id, data=body)
        return service.doc_out(s, doc)


@router.post("/adjustments", status_code=201, responses=WRITE_ERRORS)
def create_adjustment(
    store_id: IdPath, body: AdjustmentIn, db: DbDep, actor: StoreManagerDep
) -> StockDocOut:
    """Correct stock by signed quantities, with a reason."""
    with db.write() as s:
        doc = service.adjust(s, actor=actor, store_id=store_id, data=body)
        return service.doc_out(s, doc)


@router.get("/stock", responses=READ_ERRORS)
def list_stock(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    negative_only: bool = False,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="a product id")] = None,
    limit: Limit = 100,
) -> StockPage:
    """On-hand, average cost and value per product, by product id; `negative_only` lists the
    products sold below zero."""
    with db.read() as s:
        return service.levels_page(
            s, store_id=store_id, negative_only=negative_only, after=after, limit=limit
        )


@router.get("/stock/moves", responses=READ_ERRORS)
def list_moves(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    product_id: OptionalId = None,
    before_id: OptionalId = None,
    limit: Limit = 100,
) -> StockMovePage:
    """The store's stock moves, newest first."""
    with db.read() as s:
        return service.moves_page(
            s, store_id=store_id, product_id=product_id, before_id=before_id, limit=limit
        )


@router.get("/stock-docs/{doc_id}", responses=READ_ERRORS)
def get_stock_doc(
    store_id: IdPath, doc_id: IdPath, db: DbDep, actor: StoreManagerDep
) -> StockDocOut:
    """A stock document with its moves."""
    with db.read() as s:
        return service.get_doc(s, store_id=store_id, doc_id=doc_id)
