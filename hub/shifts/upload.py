"""The till's shift-event upload.

A batch is one transaction that takes the `ledger` counter first, so concurrent writers queue
(PostgreSQL row lock, SQLite `BEGIN IMMEDIATE`); each event is written in its own SAVEPOINT so
one item never blocks another, and a unique-constraint race is answered like a resend. The
shifts the batch touched are recomputed (`hub.shifts.service.recompute`) before it commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.db import LEDGER_SEQ, Database, hold_ledger, next_change_seq, utcnow
from hub.devices import service as devices
from hub.principal import Principal
from hub.sales.journal import touch_till
from hub.shifts.models import ShiftEvent
from hub.shifts.service import event_owners, recompute
from wire.canonical import canonical_json
from wire.v1.results import ErrorV1
from wire.v1.shifts import ShiftEventResult, ShiftEventsBatch, ShiftEventsBatchResult, ShiftEventV1

ONCE_PER_SHIFT = ("open", "close")
HELD = ("created", "duplicate")


def payload_hash(event: ShiftEventV1) -> str:
    """sha256 of the event's canonical JSON: a resend is the same event iff the hashes match."""
    return hashlib.sha256(canonical_json(event.model_dump(mode="json"))).hexdigest()


@dataclass(frozen=True, slots=True)
class _Mark:
    event_uuid: UUID
    at: dt.datetime


@dataclass(slots=True)
class _Known:
    """What the database (and the batch so far) holds of the events and shifts a batch names."""

    events: dict[UUID, ShiftEvent] = field(default_factory=dict)
    owners: dict[UUID, int] = field(default_factory=dict)  # shift_uuid -> device_id
    marks: dict[tuple[UUID, str], _Mark] = field(default_factory=dict)  # (shift, open|close)

    def hold(self, row: ShiftEvent) -> None:
        self.events[row.event_uuid] = row
        self.owners.setdefault(row.shift_uuid, row.device_id)
        if row.kind in ONCE_PER_SHIFT:
            self.marks.setdefault((row.shift_uuid, row.kind), _Mark(row.event_uuid, row.at))


def ingest_batch(
    db: Database, *, device: Principal, batch: ShiftEventsBatch
) -> ShiftEventsBatchResult:
    """Store a till's shift events; one result per event, in order. Safe to resend."""
    devices.refuse_foreign_store(db, device, batch.store_id)
    store_id = device.store_id
    if store_id is None:  # a device principal always has its store
        raise ValueError("device without a store")
    now = utcnow()
    with db.write() as s:
        # Take the counter first (concurrent batches queue) with a block of numbers that the
        # per-event savepoints below draw from.
        hold_ledger(s)
        next_change_seq(s, 1, LEDGER_SEQ)  # reserve the block outside the savepoints
        known = _load_known(s, store_id, batch.events)
        results = [_ingest_one(s, device, store_id, event, known) for event in batch.events]
        pairs = list(zip(batch.events, results, strict=True))
        held = [e.till_seq for e, r in pairs if r.status in HELD]
        touch_till(
            s, device_id=device.id, store_id=store_id, now=now, shift_seq=max(held, default=0)
        )
        recompute(s, store_id, device.id, {e.shift_uuid for e, r in pairs if r.status == "created"})
    return ShiftEventsBatchResult(results=tuple(results))


def _load_known(s: Session, store_id: int, events: Sequence[ShiftEventV1]) -> _Known:
    known = _Known()
    event_uuids = {e.event_uuid for e in events}
    shift_uuids = {e.shift_uuid for e in events}
    for row in s.scalars(
        select(ShiftEvent).where(
            ShiftEvent.store_id == store_id, ShiftEvent.event_uuid.in_(event_uuids)
        )
    ):
        known.events[row.event_uuid] = row
    for row in s.scalars(
        select(ShiftEvent).where(
            ShiftEvent.store_id == store_id,
            ShiftEvent.shift_uuid.in_(shift_uuids),
            ShiftEvent.kind.in_(ONCE_PER_SHIFT),
        )
    ):
        known.hold(row)
    # Events decide whose shift it is; a shift only named by sales so far has no owner yet.
    known.owners.update(event_owners(s, store_id, shift_uuids))
    return known


def _ingest_one(
    s: Session, device: Principal, store_id: int, event: ShiftEventV1, known: _Known
) -> ShiftEventResult:
    digest = payload_hash(event)
    existing = known.events.get(event.event_uuid)
    if existing is not None:
        return _replay(s, device, store_id, event, digest, existing)
    errors = _problems(event, device_id=device.id, known=known)
    if errors:
        return ShiftEventResult(event_uuid=event.event_uuid, status="rejected", errors=errors)
    row = ShiftEvent(
        store_id=store_id,
        device_id=device.id,
        event_uuid=event.event_uuid,
        shift_uuid=event.shift_uuid,
        till_seq=event.till_seq,
        kind=event.kind,
        at=event.at,
        cashier_id=event.cashier_id,
        amount_minor=event.amount_minor,
        reason=event.reason,
        payload_hash=digest,
    )
    try:
        with s.begin_nested():
            row.change_seq = next_change_seq(s, 1, LEDGER_SEQ)
            s.add(row)
            s.flush()
    except IntegrityError:
        # Another writer stored this event_uuid first: answer as for a resend.
        existing = s.scalars(
            select(ShiftEvent).where(
                ShiftEvent.store_id == store_id, ShiftEvent.event_uuid == event.event_uuid
            )
        ).one_or_none()
        if existing is None:
            raise
        known.events[existing.event_uuid] = existing
        return _replay(s, device, store_id, event, digest, existing)
    known.hold(row)
    return ShiftEventResult(event_uuid=event.event_uuid, status="created")


def _replay(
    s: Session,
    device: Principal,
    store_id: int,
    event: ShiftEventV1,
    digest: str,
    existing: ShiftEvent,
) -> ShiftEventResult:
    """A resend: `duplicate` if the payload matches, else `conflict` (original kept, audited)."""
    if existing.payload_hash == digest:
        return ShiftEventResult(event_uuid=event.event_uuid, status="duplicate")
    audit.record(
        s,
        actor=device,
        action="shift_event.conflict",
        entity="shift_event",
        entity_id=existing.id,
        store_id=store_id,
        before={
            "payload_hash": existing.payload_hash,
            "shift_uuid": str(existing.shift_uuid),
            "till_seq": existing.till_seq,
            "kind": existing.kind,
            "at": existing.at.isoformat(),
            "cashier_id": existing.cashier_id,
            "amount_minor": existing.amount_minor,
        },
        after={"payload_hash": digest, "payload": event.model_dump(mode="json")},
    )
    s.flush()  # outside any later item's SAVEPOINT, so its rollback cannot take this entry
    return ShiftEventResult(
        event_uuid=event.event_uuid,
        status="conflict",
        errors=(
            ErrorV1(
                field="event_uuid",
                code="payload_mismatch",
                message="the hub already holds this event with other content; the original is "
                "kept: move this one aside for a manager to look at",
                expected=existing.payload_hash,
                actual=digest,
            ),
        ),
    )


def _problems(event: ShiftEventV1, *, device_id: int, known: _Known) -> tuple[ErrorV1, ...]:
    """Why an event new to the hub cannot be accepted (empty if it can)."""
    errors: list[ErrorV1] = []
    try:
        event.at.astimezone(dt.UTC)
    except OverflowError:
        return (
            ErrorV1(
                field="at",
                code="out_of_range",
                message="this time cannot be stored: check the till's clock",
                expected="a time between the years 1 and 9999 UTC",
                actual=event.at.isoformat(),
            ),
        )
    if event.kind in ("cash_in", "cash_out") and event.amount_minor == 0:
        errors.append(
            ErrorV1(
                field="amount_minor",
                code="zero_amount",
                message=f"a {event.kind} moves money: send the amount moved",
                expected=">= 1",
                actual="0",
            )
        )
    owner = known.owners.get(event.shift_uuid)
    if owner is not None and owner != device_id:
        errors.append(
            ErrorV1(
                field="shift_uuid",
                code="foreign_shift",
                message="this shift belongs to another till: a till sends only its own shifts",
                expected=f"a shift of device {device_id}",
                actual=f"a shift of device {owner}",
            )
        )
    if event.kind in ONCE_PER_SHIFT:
        mark = known.marks.get((event.shift_uuid, event.kind))
        if mark is not None:
            errors.append(
                ErrorV1(
                    field="kind",
                    code={"open": "already_opened", "close": "already_closed"}[event.kind],
                    message=f"this shift already has its {event.kind} event ({mark.event_uuid}); "
                    f"a shift has one {event.kind}",
                    expected=f"no other {event.kind} for shift {event.shift_uuid}",
                    actual=f"{event.kind} {mark.event_uuid} already held",
                )
            )
    opened = known.marks.get((event.shift_uuid, "open"))
    closed = known.marks.get((event.shift_uuid, "close"))
    if event.kind == "close" and opened is not None and event.at < opened.at:
        errors.append(
            ErrorV1(
                field="at",
                code="close_before_open",
                message="a shift cannot close before it opened: check the till's clock",
                expected=f">= {opened.at.isoformat()}",
                actual=event.at.isoformat(),
            )
        )
    if event.kind == "open" and closed is not None and event.at > closed.at:
        errors.append(
            ErrorV1(
                field="at",
                code="open_after_close",
                message="a shift cannot open after it closed: check the till's clock",
                expected=f"<= {closed.at.isoformat()}",
                actual=event.at.isoformat(),
            )
        )
    return tuple(errors)
