"""The tills' sales upload, and what managers see of it: sales, the quarantine, journal state."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from hub.access import DbDep, DeviceDep, StoreManagerDep
from hub.devices.models import Device
from hub.devices.service import refuse_foreign_store
from hub.errors import ApiError, not_found, responses
from hub.http import CursorQuery, IdPath, IdQuery, KassaRoute, UtcTime
from hub.sales import journal, service
from hub.sales.models import JournalIssue, QuarantinedSale, Sale, SaleLine, SalePayment, TillState
from hub.sales.schemas import (
    JournalIssueOut,
    QuarantinedOut,
    SaleDetail,
    SaleLineOut,
    SalePaymentOut,
    SaleSummary,
    TillJournalOut,
)
from wire.v1 import SalesBatch, SalesBatchResult

router = APIRouter(tags=["sales"], route_class=KassaRoute)
Limit = Annotated[int, Query(ge=1, le=1000)]

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _ingest_slot(request: Request) -> threading.BoundedSemaphore:
    """At most KASSA_INGEST_CONCURRENCY batches per process write at once; the rest get 429 +
    Retry-After rather than piling up on the database's lock (a reconnect storm drains in
    order instead of timing out)."""
    limit = request.app.state.settings.ingest_concurrency
    with _slots_lock:
        key = id(request.app)
        if key not in _slots:
            _slots[key] = threading.BoundedSemaphore(limit)
        return _slots[key]


@router.post(
    "/api/v1/till/sales/batch",
    responses=responses(400, 401, 403, 413, 415, 422, 429, 503),
)
def upload_sales(
    body: SalesBatch, db: DbDep, device: DeviceDep, request: Request
) -> SalesBatchResult:
    """Upload up to 200 sales of this till. One result per sale, in order: `created`,
    `duplicate` (already here, same payload), `conflict` (same sale_uuid, other payload: the
    original is kept) or `rejected` (errors name the field). Safe to resend any number of times."""
    refuse_foreign_store(db, device, body.store_id)
    slot = _ingest_slot(request)
    if not slot.acquire(timeout=2.0):
        raise ApiError(
            429,
            "busy",
            "the hub is busy ingesting other tills' sales; retry after the Retry-After seconds",
            headers={"Retry-After": "2"},
        )
    try:
        return service.ingest(db, device, body)
    finally:
        slot.release()


@router.get("/api/v1/stores/{store_id}/sales", responses=responses(401, 403, 422))
def list_sales(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    since: UtcTime | None = None,
    until: UtcTime | None = None,
    device_id: IdQuery | None = None,
    after_id: CursorQuery = 0,
    limit: Limit = 100,
) -> list[SaleSummary]:
    """Sales and returns in the order the hub received them (`after_id` pages on), filtered by
    the till's clock (`since` <= created_at < `until`, with a UTC offset) and till."""
    query = select(Sale).where(Sale.store_id == store_id, Sale.id > after_id)
    if since is not None:
        query = query.where(Sale.created_at >= since)
    if until is not None:
        query = query.where(Sale.created_at < until)
    if device_id is not None:
        query = query.where(Sale.device_id == device_id)
    with db.read() as s:
        rows = s.scalars(query.order_by(Sale.id).limit(limit))
        return [SaleSummary.model_validate(r) for r in rows]


@router.get("/api/v1/stores/{store_id}/sales/{sale_uuid}", responses=responses(401, 403, 404, 422))
def get_sale(
    store_id: IdPath, sale_uuid: uuid.UUID, db: DbDep, actor: StoreManagerDep
) -> SaleDetail:
    """One sale with its lines (and the unit cost snapshotted at ingest), payments and returns."""
    with db.read() as s:
        sale = s.scalars(
            select(Sale).where(Sale.store_id == store_id, Sale.sale_uuid == sale_uuid)
        ).one_or_none()
        if sale is None:
            raise not_found("sale", "sale_uuid")
        lines = s.scalars(
            select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(SaleLine.line_no)
        )
        payments = s.scalars(
            select(SalePayment)
            .where(SalePayment.sale_id == sale.id)
            .order_by(SalePayment.payment_no)
        )
        returns = s.scalars(
            select(Sale.sale_uuid)
            .where(Sale.store_id == store_id, Sale.original_sale_uuid == sale.sale_uuid)
            .order_by(Sale.id)
        )
        return SaleDetail.model_validate(
            {
                **SaleSummary.model_validate(sale).model_dump(),
                "prev_hash": sale.prev_hash,
                "hash": sale.hash,
                "fn_number": sale.fn_number,
                "fd_number": sale.fd_number,
                "fpd": sale.fpd,
                "lines": [SaleLineOut.model_validate(x) for x in lines],
                "payments": [SalePaymentOut.model_validate(x) for x in payments],
                "returns": list(returns),
            }
        )


@router.get("/api/v1/stores/{store_id}/sales-quarantine", responses=responses(401, 403, 422))
def list_quarantine(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    before_id: IdQuery | None = None,
    limit: Limit = 100,
) -> list[QuarantinedOut]:
    """Rejected sales and conflicting re-sends, newest first, exactly as the till sent them."""
    query = select(QuarantinedSale).where(QuarantinedSale.store_id == store_id)
    if before_id is not None:
        query = query.where(QuarantinedSale.id < before_id)
    with db.read() as s:
        rows = s.scalars(query.order_by(QuarantinedSale.id.desc()).limit(limit))
        return [
            QuarantinedOut(
                id=r.id,
                device_id=r.device_id,
                sale_uuid=r.sale_uuid,
                till_seq=r.till_seq,
                reason=r.reason,
                errors=json.loads(r.errors),
                payload=json.loads(r.payload),
                received_at=r.received_at,
            )
            for r in rows
        ]


@router.get("/api/v1/stores/{store_id}/tills", responses=responses(401, 403, 422))
def list_till_journals(store_id: IdPath, db: DbDep, actor: StoreManagerDep) -> list[TillJournalOut]:
    """Each till's journal as the hub holds it: last contact, highest seq, missing seq ranges
    ("17-19") and recorded breaks of the hash chain. Nothing here is ever repaired silently."""
    with db.read() as s:
        devices = s.scalars(
            select(Device).where(Device.store_id == store_id).order_by(Device.id)
        ).all()
        states = {
            t.device_id: t
            for t in s.scalars(select(TillState).where(TillState.store_id == store_id))
        }
        issues: dict[int, list[JournalIssueOut]] = {}
        for issue in s.scalars(
            select(JournalIssue).where(JournalIssue.store_id == store_id).order_by(JournalIssue.id)
        ):
            issues.setdefault(issue.device_id, []).append(JournalIssueOut.model_validate(issue))
        out = []
        for device in devices:
            state = states.get(device.id)
            out.append(
                TillJournalOut(
                    device_id=device.id,
                    name=device.name,
                    revoked=device.revoked_at is not None,
                    last_contact_at=state.last_contact_at if state else None,
                    last_sale_at=state.last_sale_at if state else None,
                    max_sale_seq=state.max_sale_seq if state else 0,
                    sales_count=state.sales_count if state else 0,
                    missing=journal.format_ranges(
                        journal.journal_gaps(s, journal.device_line(s, device.id))
                    ),
                    replaces_device_id=device.replaces_device_id,
                    issues=issues.get(device.id, []),
                )
            )
        return out
