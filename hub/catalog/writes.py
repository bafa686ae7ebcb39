"""What every catalog write shares: PATCH fields, uniqueness conflicts, the audit record.

Every write bumps `change_seq` on each row it changes (tills pull deltas by it) and is audited in
the same transaction. Uniqueness is checked first so the error names the field; the database
constraints are the race-safe net (mapped to 409).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from hub.access import Principal
from hub.audit import service as audit
from hub.errors import ApiError


def changes(data: BaseModel, *, nullable: Iterable[str] = ()) -> dict[str, Any]:
    """The fields a PATCH sent; null only where it means something (e.g. no category)."""
    sent = data.model_dump(exclude_unset=True)
    for key, value in sent.items():
        if value is None and key not in nullable:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    return sent


def conflict(field: str | list[str | int], message: str) -> ApiError:
    """A 409 located at the body field (or list item) that is already taken."""
    loc = ["body", field] if isinstance(field, str) else ["body", *field]
    return ApiError(409, "duplicate", message, loc=loc)


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    obj: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None = None,
) -> None:
    """Audit one row's change as `<table>.<action>`; `after` defaults to the row's snapshot."""
    entity = obj.__tablename__
    audit.record(
        session,
        actor=actor,
        action=f"{entity}.{action}",
        entity=entity,
        entity_id=obj.id,
        before=before,
        after=after if after is not None else audit.snapshot(obj),
    )
