"""Report recipients: who gets the owner report e-mails (daily, weekly), set by an owner."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.audit import service as audit
from hub.errors import ApiError, not_found
from hub.principal import Principal
from hub.reports.models import ReportRecipient
from hub.reports.schemas import RecipientCreate, RecipientUpdate


def _email_taken(session: Session, email: str, exclude_id: int | None = None) -> bool:
    query = select(ReportRecipient.id).where(ReportRecipient.email == email)
    if exclude_id is not None:
        query = query.where(ReportRecipient.id != exclude_id)
    return session.scalars(query).first() is not None


def _duplicate_email() -> ApiError:
    return ApiError(
        409,
        "duplicate",
        "this e-mail already receives reports: change that recipient instead",
        loc=["body", "email"],
    )


def list_recipients(session: Session, *, active: bool | None = None) -> list[ReportRecipient]:
    query = select(ReportRecipient).order_by(ReportRecipient.email, ReportRecipient.id)
    if active is not None:
        query = query.where(ReportRecipient.active.is_(active))
    return list(session.scalars(query))


def get_recipient(session: Session, recipient_id: int) -> ReportRecipient:
    recipient = session.get(ReportRecipient, recipient_id)
    if recipient is None:
        raise not_found("report recipient", "recipient_id")
    return recipient


def create_recipient(
    session: Session, *, actor: Principal, data: RecipientCreate
) -> ReportRecipient:
    if _email_taken(session, data.email):
        raise _duplicate_email()
    recipient = ReportRecipient(**data.model_dump())
    session.add(recipient)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="report_recipient.create",
        entity="report_recipient",
        entity_id=recipient.id,
        after=audit.snapshot(recipient),
    )
    return recipient


def update_recipient(
    session: Session, *, actor: Principal, recipient_id: int, data: RecipientUpdate
) -> ReportRecipient:
    recipient = get_recipient(session, recipient_id)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise ApiError(422, "null", f"{key} cannot be null", loc=["body", key])
    if "email" in changes and _email_taken(session, changes["email"], exclude_id=recipient_id):
        raise _duplicate_email()
    before = audit.snapshot(recipient)
    for key, value in changes.items():
        setattr(recipient, key, value)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="report_recipient.update",
        entity="report_recipient",
        entity_id=recipient.id,
        before=before,
        after=audit.snapshot(recipient),
    )
    return recipient


def delete_recipient(session: Session, *, actor: Principal, recipient_id: int) -> None:
    """Removes the address for good (the audit log keeps what it was); to pause a recipient
    instead, set `active` to false."""
    recipient = get_recipient(session, recipient_id)
    before = audit.snapshot(recipient)
    session.delete(recipient)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="report_recipient.delete",
        entity="report_recipient",
        entity_id=recipient_id,
        before=before,
    )
