"""What every catalog write shares: PATCH fields, uniqueness conflicts, creating or updating one
row (change number + audit), the audit record.

Every write bumps `change_seq` on each row it changes (tills pull deltas by it) and is audited in
the same transaction. Uniqueness is checked first so the error names the field; the database
constraints are the race-safe net (mapped to 409).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.audit import service as audit
from hub.db import Base, next_change_seq
from hub.errors import ApiError
from hub.principal import Principal

Row = TypeVar("Row", bound=Base)


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


def check_unique(
    session: Session,
    column: InstrumentedAttribute[Any],
    value: Any,
    *,
    what: str,
    exclude_id: int | None = None,
) -> None:
    """409 naming the body field when another `what` (e.g. "a tax rate") has this value."""
    model: Any = column.class_
    query = select(model.id).where(column == value)
    if exclude_id is not None:
        query = query.where(model.id != exclude_id)
    if session.scalars(query).first() is not None:
        raise conflict(column.key, f"{what} with {column.key} {value!r} exists")


def create(session: Session, actor: Principal | None, model: type[Row], **values: Any) -> Row:
    """Insert one row with the next change number, audited as `<table>.create`."""
    row = model(**values, change_seq=next_change_seq(session))
    session.add(row)
    session.flush()
    record(session, actor, "create", row, None)
    return row


def update(
    session: Session,
    actor: Principal | None,
    row: Any,
    values: dict[str, Any],
    *,
    change_seq: int | None = None,
) -> None:
    """Set `values` on `row` with a new change number (the next one unless given), audited as
    `<table>.update` with the row before and after."""
    before = audit.snapshot(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.change_seq = next_change_seq(session) if change_seq is None else change_seq
    session.flush()
    record(session, actor, "update", row, before)


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
