"""Write audit entries in the same transaction as the change they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from hub.audit.models import AuditEntry
from hub.principal import Principal

SECRET_COLUMNS = {"password_hash", "pin_hash", "token_hash", "code_hash", "csrf_token"}


def snapshot(obj: Any) -> dict[str, Any]:
    """The column values of an ORM object as JSON-safe data, secrets replaced by a marker."""
    out: dict[str, Any] = {}
    for attr in inspect(obj).mapper.column_attrs:
        value = getattr(obj, attr.key)
        if attr.key in SECRET_COLUMNS:
            value = "<set>" if value else None
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[attr.key] = value
    return out


def actor_columns(
    actor: Principal | None, *, actor_label: str | None = None, ip: str | None = None
) -> dict[str, Any]:
    """Who did it, as every audit entry records it (also for entries inserted in bulk)."""
    return {
        "actor_kind": actor.kind if actor else "system",
        "actor_id": actor.id if actor else None,
        "actor_label": actor_label or (actor.label if actor else "system"),
        "ip": ip or (actor.ip if actor else None),
    }


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    entity: str,
    entity_id: object = None,
    store_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
    actor_label: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        **actor_columns(actor, actor_label=actor_label, ip=ip),
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        store_id=store_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
