"""Pairing a till to a store and revoking it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.db import Database, next_change_seq, utcnow
from hub.devices.models import Device, PairingCode
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.staff import security, throttle
from hub.stores.models import Store

PAIR_FAILURES_PER_IP = 20


def create_pairing_code(
    session: Session,
    *,
    actor: Principal | None,
    store_id: int,
    device_name: str,
    minutes: int,
    replaces_device_id: int | None = None,
) -> tuple[str, PairingCode]:
    store = session.get(Store, store_id)
    if store is None:
        raise not_found("store", "store_id")
    if not store.active:
        raise ApiError(422, "store_inactive", "this store is closed", loc=["path", "store_id"])
    if replaces_device_id is not None:
        _check_replaceable(session, store_id, replaces_device_id)
    code = security.new_pairing_code()
    row = PairingCode(
        code_hash=security.token_hash(security.normalize_pairing_code(code)),
        store_id=store_id,
        device_name=device_name,
        replaces_device_id=replaces_device_id,
        created_by=actor.id if actor and actor.kind == "user" else None,
        expires_at=utcnow() + dt.timedelta(minutes=minutes),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="pairing_code.create",
        entity="pairing_code",
        entity_id=row.id,
        store_id=store_id,
        after={
            "device_name": device_name,
            "expires_at": row.expires_at.isoformat(),
            "replaces_device_id": replaces_device_id,
        },
    )
    return code, row


def _check_replaceable(session: Session, store_id: int, device_id: int) -> None:
    loc = ["body", "replaces_device_id"]
    old = session.get(Device, device_id)
    if old is None or old.store_id != store_id:
        raise ApiError(422, "unknown_device", "no till with this id in this store", loc=loc)
    successor = session.scalars(
        select(Device.id).where(Device.replaces_device_id == device_id)
    ).first()
    if successor is not None:
        raise ApiError(
            422,
            "already_replaced",
            f"till {device_id} was already replaced by till {successor}: re-pair that one",
            loc=loc,
        )


def pair(
    db: Database,
    *,
    code: str,
    version: str | None,
    ip: str | None,
    window_seconds: int,
) -> tuple[str, Device]:
    """Trade a one-time code for a device token bound to the code's store (the token shows once)."""
    limits = {throttle.key("pair-ip", ip): PAIR_FAILURES_PER_IP} if ip else {}
    attempt = throttle.attempt(db, limits, window_seconds=window_seconds, field="code")
    digest = security.token_hash(security.normalize_pairing_code(code))
    now = utcnow()
    with db.write() as s:
        # Claim the code atomically: of two racing requests exactly one updates the row.
        claimed = s.execute(
            update(PairingCode)
            .where(
                PairingCode.code_hash == digest,
                PairingCode.used_at.is_(None),
                PairingCode.expires_at > now,
                PairingCode.store_id.in_(select(Store.id).where(Store.active.is_(True))),
            )
            .values(used_at=now)
            .returning(
                PairingCode.id,
                PairingCode.store_id,
                PairingCode.device_name,
                PairingCode.replaces_device_id,
            )
        ).one_or_none()
        if claimed is not None and claimed.replaces_device_id is not None:
            # The till it replaces stops here (its token is revoked if it was not yet).
            s.execute(
                update(Device)
                .where(Device.id == claimed.replaces_device_id, Device.revoked_at.is_(None))
                .values(revoked_at=now, change_seq=next_change_seq(s))
            )
        if claimed is not None:
            token, token_digest = security.new_token(security.DEVICE_PREFIX)
            device = Device(
                store_id=claimed.store_id,
                name=claimed.device_name,
                token_hash=token_digest,
                last_seen_at=now,
                last_version=version,
                replaces_device_id=claimed.replaces_device_id,
                change_seq=next_change_seq(s),
            )
            s.add(device)
            s.flush()
            audit.record(
                s,
                actor=None,
                actor_label=f"pairing code {claimed.id}",
                action="device.pair",
                entity="device",
                entity_id=device.id,
                store_id=device.store_id,
                after=audit.snapshot(device),
                ip=ip,
            )
    if claimed is not None:
        throttle.succeeded(db, attempt)
        return token, device
    raise ApiError(
        422,
        "bad_code",
        "this pairing code is unknown, used or expired: ask a manager for a new one",
        loc=["body", "code"],
    )


def get_device(session: Session, *, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise not_found("device", "device_id")
    return device


def list_devices(session: Session, *, store_id: int) -> list[Device]:
    return list(
        session.scalars(select(Device).where(Device.store_id == store_id).order_by(Device.id))
    )


def revoke(session: Session, *, actor: Principal, store_id: int, device_id: int) -> Device:
    device = session.get(Device, device_id)
    if device is None or device.store_id != store_id:
        raise not_found("device", "device_id")
    if device.revoked_at is None:
        before = audit.snapshot(device)
        device.revoked_at = utcnow()
        device.change_seq = next_change_seq(session)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="device.revoke",
            entity="device",
            entity_id=device.id,
            store_id=store_id,
            before=before,
            after=audit.snapshot(device),
        )
    return device


def refuse_foreign_store(db: Database, device: Principal, claimed_store_id: int | None) -> None:
    """B7: a till may only send data for the store its token belongs to. A batch naming another
    store is refused with 403 before anything is written, and the attempt is audited."""
    if claimed_store_id is None or claimed_store_id == device.store_id:
        return
    with db.write() as s:
        audit.record(
            s,
            actor=device,
            action="device.foreign_store",
            entity="device",
            entity_id=device.id,
            store_id=device.store_id,
            after={"claimed_store_id": claimed_store_id},
        )
    raise ApiError(
        403,
        "wrong_store",
        f"this till belongs to store {device.store_id}, not store {claimed_store_id}: "
        "nothing was written; check the till's pairing",
        loc=["body", "store_id"],
    )
