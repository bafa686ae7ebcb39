"""The tills' shift-event upload, and what managers read of shifts and cash."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from hub.access import DbDep, DeviceDep, StoreManagerDep
from hub.db import utcnow
from hub.errors import responses
from hub.http import IdPath, KassaRoute, UtcTime
from hub.shifts import reports, upload
from hub.shifts.schemas import OverShortReport, ShiftOut, ShiftReport, ShiftStatus
from wire.v1.shifts import ShiftEventsBatch, ShiftEventsBatchResult

router = APIRouter(tags=["shifts"], route_class=KassaRoute)
READ_ERRORS = responses(401, 403, 404, 422)


When = UtcTime
From = Annotated[When | None, Query(alias="from", description="included, with a UTC offset")]
To = Annotated[When | None, Query(alias="to", description="excluded, with a UTC offset")]


@router.post("/api/v1/till/shifts/batch", responses=responses(400, 401, 403, 413, 415, 422, 503))
def upload_shift_events(
    body: ShiftEventsBatch, db: DbDep, device: DeviceDep
) -> ShiftEventsBatchResult:
    """Upload up to 200 shift events of this till. One result per event, in order: `created`,
    `duplicate` (already here, same payload), `conflict` (same event_uuid, other payload: the
    original is kept) or `rejected` (errors name the field). Safe to resend any number of times."""
    return upload.ingest_batch(db, device=device, batch=body)


@router.get("/api/v1/stores/{store_id}/shifts", responses=READ_ERRORS)
def list_shifts(
    store_id: IdPath,
    db: DbDep,
    actor: StoreManagerDep,
    status: ShiftStatus | None = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ShiftOut]:
    """The store's shifts, newest first; `from`/`to` bound the opening time. An open shift older
    than 24 h carries the flag `open_over_24h`."""
    with db.read() as s:
        return reports.list_shifts(
            s, store_id=store_id, status=status, start=start, end=end, limit=limit, now=utcnow()
        )


@router.get("/api/v1/stores/{store_id}/shifts/{shift_uuid}/z-report", responses=READ_ERRORS)
def shift_report(
    store_id: IdPath,
    shift_uuid: Annotated[UUID, Path()],
    db: DbDep,
    actor: StoreManagerDep,
) -> ShiftReport:
    """The Z report of a closed shift, or the X report (`report: "X"`) of one still open:
    cash figures, over/short, totals by tender and VAT rate, and the cash events."""
    with db.read() as s:
        return reports.shift_report(s, store_id=store_id, shift_uuid=shift_uuid, now=utcnow())


@router.get("/api/v1/stores/{store_id}/cash/over-short", responses=READ_ERRORS)
def cash_over_short(
    store_id: IdPath, db: DbDep, actor: StoreManagerDep, start: From = None, end: To = None
) -> OverShortReport:
    """Cash over/short of the shifts closed in [from, to), per cashier and per shift."""
    with db.read() as s:
        return reports.over_short(s, store_id=store_id, start=start, end=end)
