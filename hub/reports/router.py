"""Reports API: who gets the owner report e-mails, and the published reports and withheld
verdicts (chain-wide, for owners) read from `KASSA_REPORTS_DIR`."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import FileResponse

from hub.access import DbDep, OwnerDep, OwnerOrServiceDep
from hub.errors import responses
from hub.http import IdPath, KassaRoute
from hub.reports import artifacts, service
from hub.reports.schemas import (
    Date,
    QualityVerdict,
    RecipientCreate,
    RecipientOut,
    RecipientUpdate,
    ReportPeriodOut,
    Scope,
)

router = APIRouter(tags=["reports"], route_class=KassaRoute)

WRITE_ERRORS = responses(400, 401, 403, 404, 409, 413, 415, 422)
READ_ERRORS = responses(401, 403, 404, 422)
RECIPIENTS = "/api/v1/reports/recipients"
REPORTS = "/api/v1/reports"

ScopePath = Annotated[Scope, Path(description="daily or weekly")]
DatePath = Annotated[Date, Path(description="The period's last day, YYYY-MM-DD")]


def _root(request: Request) -> FsPath:
    return FsPath(request.app.state.settings.reports_dir)


# --- recipients ------------------------------------------------------------------------------


@router.get(RECIPIENTS, responses=READ_ERRORS)
def list_recipients(
    db: DbDep, actor: OwnerOrServiceDep, active: bool | None = None
) -> list[RecipientOut]:
    """Who gets the owner report e-mails: `daily` yesterday's, `weekly` the previous ISO week's
    (sent with Monday's daily close). The flows read this with a service token."""
    with db.read() as s:
        return [RecipientOut.model_validate(r) for r in service.list_recipients(s, active=active)]


@router.post(RECIPIENTS, status_code=201, responses=WRITE_ERRORS)
def create_recipient(body: RecipientCreate, db: DbDep, actor: OwnerDep) -> RecipientOut:
    """Add an e-mail address to the owner reports (an address appears once: 409 otherwise)."""
    with db.write() as s:
        return RecipientOut.model_validate(service.create_recipient(s, actor=actor, data=body))


@router.patch(RECIPIENTS + "/{recipient_id}", responses=WRITE_ERRORS)
def update_recipient(
    recipient_id: IdPath, body: RecipientUpdate, db: DbDep, actor: OwnerDep
) -> RecipientOut:
    """Change a recipient: address, name, language, which reports, or pause (`active`)."""
    with db.write() as s:
        return RecipientOut.model_validate(
            service.update_recipient(s, actor=actor, recipient_id=recipient_id, data=body)
        )


@router.delete(
    RECIPIENTS + "/{recipient_id}", status_code=204, responses=responses(401, 403, 404, 422)
)
def delete_recipient(recipient_id: IdPath, db: DbDep, actor: OwnerDep) -> None:
    """Remove a recipient for good (audited); to pause one, set `active` to false instead."""
    with db.write() as s:
        service.delete_recipient(s, actor=actor, recipient_id=recipient_id)


# --- published reports and withheld verdicts -------------------------------------------------


@router.get(REPORTS, responses=responses(401, 403, 422, 503))
def list_reports(
    request: Request,
    actor: OwnerDep,
    scope: Scope | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 60,
) -> list[ReportPeriodOut]:
    """Report periods newest first: published, withheld (with the failed blocking checks'
    reasons in ru and en) or unreadable (with what is wrong)."""
    return artifacts.list_periods(_root(request), scope=scope, limit=limit)


@router.get(REPORTS + "/{scope}/{date}", responses=responses(401, 403, 404, 409, 422))
def get_report(
    scope: ScopePath, date: DatePath, request: Request, actor: OwnerDep
) -> QualityVerdict:
    """The period's quality verdict: `quality.json` when published, else the withheld verdict
    (409 when that file cannot be read)."""
    return artifacts.get_verdict(_root(request), scope=scope, day=date)


@router.get(
    REPORTS + "/{scope}/{date}/files/{file_path:path}",
    response_class=FileResponse,
    responses={
        **responses(401, 403, 404, 422),
        200: {
            "description": "The file: index.html, charts/*.png, csv/*.csv, marts.parquet, "
            "quality.json"
        },
    },
)
def get_report_file(
    scope: ScopePath, date: DatePath, file_path: str, request: Request, actor: OwnerDep
) -> Response:
    """A file of a published report. index.html may style itself inline and show its charts,
    nothing more (its own Content-Security-Policy)."""
    target, media_type = artifacts.published_file(
        _root(request), scope=scope, day=date, path=file_path
    )
    download = target.suffix.lower() in artifacts.DOWNLOADS
    return FileResponse(
        target,
        media_type=media_type,
        filename=target.name if download else None,
        headers={"Content-Security-Policy": artifacts.REPORT_CSP},
    )
