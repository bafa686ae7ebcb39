"""The demo's close of day: the real `daily-close` Prefect flow closes yesterday, as in a shop.

Set up as an owner would: the owner subscribes two people to the report e-mails through the
hub's API (herself in Russian, daily and weekly; a partner in English, daily), the hub's
`issue_service_token` (what `kassa hub service-token` runs) gives the flows their token, and a
local SMTP sink (`flows.mail_sink`) stands in for the mail server, saving every message it
receives as an .eml file in `<demo>/mail/`. The hub is served over HTTP meanwhile: the flows
read the recipients and write the reorder drafts through its API.

Then, in one Prefect session (`demo_warehouse.refresh_and_close`): `warehouse-refresh`, and
`daily-close` for yesterday in the chain's time zone: refresh, marts, the quality gate, the
published report under `<demo>/reports/`, the reorder draft purchase orders and the e-mails.
Afterwards the owner reads the verdict back from the hub's reports API, and the saved
messages are parsed for the printout.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from flows.mail_sink import saved_messages, start_sink
from flows.publishing import scopes_for
from hub.db import Database
from hub.purchasing.models import PurchaseOrder, PurchaseOrderLine
from hub.settings import Settings
from kassa import demo_warehouse
from kassa.demo_proof import serving
from kassa.demo_seed import OWNER_EMAIL, Login
from kassa.demo_trade import Api
from kassa.demo_warehouse import Closed, WarehouseSummary
from warehouse.pipeline import default_as_of
from wire.money import round_half_up

RECIPIENTS_API = "/api/v1/reports/recipients"
REPORTS_API = "/api/v1/reports"
SERVICE_ACCOUNT = "kassa flows"
OPS_EMAIL = "ops@demo.kassa"
SENDER = "Kassa demo <reports@demo.kassa>"
TIMEZONE = "Europe/Moscow"  # the demo stores' zone: the chain's day


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    language: str
    daily: bool
    weekly: bool

    def describe(self) -> str:
        reports = "+".join(s for s, on in (("daily", self.daily), ("weekly", self.weekly)) if on)
        return f"{self.name} <{self.email}> ({self.language}, {reports})"


RECIPIENTS = (
    Recipient(OWNER_EMAIL, "Владелец сети", "ru", daily=True, weekly=True),
    Recipient("partner@demo.kassa", "Alex Morgan", "en", daily=True, weekly=False),
)


@dataclass
class Report:
    """One report of the day as the gate left it, and as the hub's API shows it."""

    scope: str
    day: dt.date
    verdict: str  # "published" or "withheld"
    summary: str  # the verdict's summary, in English
    checks: int = 0
    failed: list[str] = field(default_factory=list)  # "id (blocking): reason" per failed check
    directory: Path | None = None  # the published report
    withheld_file: Path | None = None
    hub_answer: str = ""  # what GET /api/v1/reports/<scope>/<date> answered the owner

    @property
    def index(self) -> Path | None:
        return self.directory / "index.html" if self.directory else None


@dataclass
class Mail:
    """One message the SMTP sink saved."""

    path: Path
    to: str
    subject: str
    html: bool
    images: int  # inline pictures (the charts)
    attachments: int  # the CSV tables


@dataclass
class CloseSummary:
    day: dt.date
    reports_dir: Path
    mail_dir: Path
    outbox: Path
    recipients: list[Recipient]
    ops_email: str
    service_account: str
    flow: Closed
    reports: list[Report] = field(default_factory=list)
    mails: list[Mail] = field(default_factory=list)
    drafts: int = 0
    draft_lines: int = 0
    draft_value_minor: int = 0
    seconds: float = 0.0

    @property
    def published(self) -> bool:
        return all(r.verdict == "published" for r in self.reports)


def close(
    settings: Settings,
    db: Database,
    owner: Login,
    *,
    root: Path,
    hub_db_url: str,
    warehouse_path: Path,
    day: dt.date | None = None,
    timezone: str = TIMEZONE,
) -> tuple[WarehouseSummary, CloseSummary]:
    """Subscribe the recipients, give the flows a token, start the sink, run warehouse-refresh
    and daily-close for `day` (default: yesterday in the chain's time zone), then read back
    what they made."""
    import httpx

    from hub.app import create_app

    started = time.perf_counter()
    day = day or default_as_of(timezone)
    reports_dir = Path(settings.reports_dir).resolve()
    mail_dir = root / "mail"
    outbox = mail_dir / "outbox.db"  # beside the .eml files; the sink saves only *.eml
    with (
        serving(create_app(settings, db)) as base_url,
        httpx.Client(base_url=base_url, timeout=60) as client,
    ):
        api = Api(client)
        owner_h = api.sign_in(owner)
        for recipient in RECIPIENTS:
            api.call(
                "POST",
                RECIPIENTS_API,
                owner_h,
                json={
                    "email": recipient.email,
                    "name": recipient.name,
                    "language": recipient.language,
                    "daily": recipient.daily,
                    "weekly": recipient.weekly,
                },
            )
        token = service_token(db)
        sink, port = start_sink(mail_dir)
        try:
            warehouse, closed = demo_warehouse.refresh_and_close(
                hub_db_url,
                warehouse_path,
                day=day,
                timezone=timezone,
                environment={
                    "KASSA_REPORTS_DIR": str(reports_dir),
                    "KASSA_HUB_URL": base_url,
                    "KASSA_HUB_TOKEN": token,
                    "KASSA_OPS_EMAIL": OPS_EMAIL,
                    "KASSA_SMTP_HOST": "127.0.0.1",
                    "KASSA_SMTP_PORT": str(port),
                    "KASSA_SMTP_SECURITY": "none",
                    "KASSA_SMTP_FROM": SENDER,
                    "KASSA_MAIL_OUTBOX": str(outbox),
                    # The sink takes no login: one set in this shell must not be tried on it.
                    "KASSA_SMTP_USERNAME": None,
                    "KASSA_SMTP_PASSWORD": None,
                },
            )
        finally:
            sink.stop()
        reports = [_report(api, owner_h, reports_dir, scope, day) for scope in scopes_for(day)]
    summary = CloseSummary(
        day=day,
        reports_dir=reports_dir,
        mail_dir=mail_dir,
        outbox=outbox,
        recipients=list(RECIPIENTS),
        ops_email=OPS_EMAIL,
        service_account=SERVICE_ACCOUNT,
        flow=closed,
        reports=reports,
        mails=[read_mail(path) for path in saved_messages(mail_dir)],
    )
    summary.drafts, summary.draft_lines, summary.draft_value_minor = _drafts(db, day)
    summary.seconds = time.perf_counter() - started
    return warehouse, summary


def service_token(db: Database) -> str:
    """The flows' API token, as `kassa hub service-token --name "kassa flows"` makes it."""
    from hub.staff.schemas import ServiceTokenCreate
    from hub.staff.service import issue_service_token

    with db.write() as s:
        token, _user, _created = issue_service_token(
            s, data=ServiceTokenCreate(name=SERVICE_ACCOUNT)
        )
    return token


def _report(
    api: Api, headers: dict[str, str], reports_dir: Path, scope: str, day: dt.date
) -> Report:
    """The period's verdict file (quality.json when published, else the withheld verdict) and
    what the hub's reports API says of it."""
    directory = reports_dir / scope / day.isoformat()
    withheld = reports_dir / scope / f"{day.isoformat()}.withheld.json"
    path = directory / "quality.json" if directory.is_dir() else withheld
    if not path.exists():
        return Report(scope, day, "missing", f"neither {directory} nor {withheld} exists")
    verdict = json.loads(path.read_text(encoding="utf-8"))
    failed = [
        f"{c['id']} ({c['severity']}): " + ("; ".join(c["reasons"]["en"]) or "see its numbers")
        for c in verdict["checks"]
        if not c["passed"]
    ]
    answer = api.call("GET", f"{REPORTS_API}/{scope}/{day.isoformat()}", headers)
    page = api.client.get(
        f"{REPORTS_API}/{scope}/{day.isoformat()}/files/index.html", headers=headers
    )
    return Report(
        scope=scope,
        day=day,
        verdict=verdict["verdict"],
        summary=verdict.get("summary", {}).get("en", ""),
        checks=len(verdict["checks"]),
        failed=failed,
        directory=directory if directory.is_dir() else None,
        withheld_file=withheld if withheld.exists() else None,
        hub_answer=f"verdict {answer['verdict']!r}; files/index.html answered "
        f"{page.status_code} ({page.headers.get('content-type', '').split(';')[0]})",
    )


def read_mail(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = list(message.walk())
    return Mail(
        path=path,
        to=str(message["To"]),
        subject=str(message["Subject"]),
        html=message.get_body(("html",)) is not None,
        images=sum(
            1
            for p in parts
            if p.get_content_maintype() == "image" and p.get_content_disposition() != "attachment"
        ),
        attachments=sum(1 for _ in message.iter_attachments()),
    )


def _drafts(db: Database, day: dt.date) -> tuple[int, int, int]:
    """The draft purchase orders daily-close made from the day's reorder suggestions: orders,
    lines and their value at the ordered cost (keys `reorder:<store>:<supplier>:<day>`)."""
    key = PurchaseOrder.source_key.like(f"reorder:%:{day.isoformat()}%")
    with db.read() as s:
        orders = int(s.scalar(select(func.count()).select_from(PurchaseOrder).where(key)) or 0)
        lines, value = s.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(
                        PurchaseOrderLine.qty_ordered_milli * PurchaseOrderLine.unit_cost_minor
                    ),
                    0,
                ),
            )
            .select_from(PurchaseOrderLine)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .where(key)
        ).one()
    return orders, int(lines), round_half_up(int(value), 1000)
