"""What `daily-close` does after the marts, as plain functions the tasks call (and tests drive).

- `run_gate`: the quality suites (`warehouse.quality`) for one report's period.
- `publish_report`: a passed gate publishes `<reports_dir>/<scope>/<date>/` once (atomically, by
  `warehouse.report.publish`) and puts one owner e-mail per subscribed recipient in the outbox,
  each in the recipient's language, keyed `report:<scope>:<date>:<address>`.
- `withhold_report`: a failed gate publishes nothing; it writes the withheld verdict to
  `<reports_dir>/<scope>/<date>.withheld.json` (what the hub's back office shows) and puts one
  alert per operations address in the outbox, keyed by the set of failed checks: the same failure
  re-run is not mailed twice, a different one is.
- `deliver`: sends what the outbox holds and is due; SMTP being down leaves it there for later.

The outbox (`flows.mail.Outbox`) is what makes "exactly one e-mail per report, period and
recipient" hold across retries and re-runs: a key is enqueued once, whatever happens after.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import Any

from flows.mail import MailSettings, Outbox, build_message, outbox_key, parse_address
from warehouse.extract import open_warehouse
from warehouse.quality import run_gate as run_quality_gate
from warehouse.report import (
    charts,
    csv_files,
    gather,
    publish,
    render_html,
    render_text,
    report_period,
    subject,
)

log = logging.getLogger(__name__)

WITHHELD_SUFFIX = ".withheld.json"
LANGUAGES = ("ru", "en")


def scopes_for(day: dt.date) -> list[str]:
    """The reports that close with day D: the daily one, and the weekly one when D is a Sunday
    (the end of an ISO week)."""
    return ["daily", "weekly"] if day.isoweekday() == 7 else ["daily"]


def run_gate(
    warehouse_path: Path, hub_db_url: str, scope: str, day: dt.date, *, cost_coverage_bp: int
) -> dict[str, Any]:
    """The verdict (quality.json's content) for the `scope` report that ends on `day`."""
    period = report_period(scope, day)
    duck = open_warehouse(warehouse_path)
    try:
        verdict = run_quality_gate(
            duck, hub_db_url, scope, period.start, period.end, cost_coverage_bp=cost_coverage_bp
        )
    finally:
        duck.close()
    return verdict.to_json()


@dataclass
class Outcome:
    scope: str
    day: dt.date
    published: bool
    directory: Path | None = None  # the published report
    already_published: bool = False
    withheld_file: Path | None = None
    enqueued: list[str] = field(default_factory=list)  # outbox keys new in this run
    recipients: int = 0
    summary: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        if self.published:
            state = "already published" if self.already_published else "published"
            return (
                f"{self.scope} report for {self.day}: {state} at {self.directory}; "
                f"{len(self.enqueued)} new e-mail(s) for {self.recipients} recipient(s)"
            )
        return (
            f"{self.scope} report for {self.day} WITHHELD ({self.summary.get('en', '')}); "
            f"verdict in {self.withheld_file}; {len(self.enqueued)} new alert e-mail(s)"
        )


def _subscribed(recipients: Iterable[dict[str, Any]], scope: str) -> list[dict[str, Any]]:
    return [r for r in recipients if r.get("active", True) and r.get(scope)]


def publish_report(
    *,
    warehouse_path: Path,
    reports_dir: Path,
    scope: str,
    day: dt.date,
    verdict: dict[str, Any],
    recipients: Iterable[dict[str, Any]],
    mail: MailSettings,
    page_language: str = "ru",
) -> Outcome:
    """Publish the report once and queue the owners' e-mails (see the module docstring)."""
    period = report_period(scope, day)
    wanted = _subscribed(recipients, scope)
    outbox = Outbox(mail.outbox)
    duck = open_warehouse(warehouse_path)
    try:
        data = gather(duck, period)
        published = publish(reports_dir, data, verdict, duck=duck, language=page_language)
    finally:
        duck.close()
    outcome = Outcome(
        scope,
        day,
        True,
        published.directory,
        published.already_published,
        recipients=len(wanted),
        summary=verdict.get("summary", {}),
    )
    rendered: dict[str, tuple[str, str, str, dict[str, bytes], dict[str, bytes]]] = {}
    for recipient in wanted:
        address = str(recipient["email"])
        key = outbox_key("report", scope, period.end, recipient=address)
        language = recipient.get("language") if recipient.get("language") in LANGUAGES else "ru"
        if language not in rendered:
            pictures = charts(data, language)
            page = render_html(data, verdict, language, image_src=lambda name: f"cid:{name}")
            text = render_text(data, language, quality=verdict)
            rendered[language] = (
                subject(data, language),
                text,
                page,
                pictures,
                csv_files(data, language),
            )
        title, text, page, pictures, tables = rendered[language]
        attached, left = fit_attachments(tables)
        text += left_out_note(left, language, published.directory)
        message = build_message(
            key=key,
            sender=mail.sender,
            to=_to(recipient),
            subject=title,
            text=text,
            html=page,
            language=language,  # type: ignore[arg-type]
            images=pictures,
            attachments=attached,
        )
        if outbox.enqueue(key, message, kind="report"):
            outcome.enqueued.append(key)
    return outcome


# Many mail services refuse messages over 25 MB (and base64 adds a third): the CSV files go
# along up to this much, smallest first; the rest stay in the published report's csv/ folder.
ATTACHMENTS_BUDGET = 8 * 1024 * 1024
_LEFT_OUT = {
    "ru": "\nНе вложены (слишком большие для письма): {names}. Они в опубликованном отчёте: "
    "{where}/csv/\n",
    "en": "\nNot attached (too large for an e-mail): {names}. They are in the published report: "
    "{where}/csv/\n",
}


def left_out_note(left: list[str], language: str, report: Path) -> str:
    """The plain-text line naming the CSV files not attached and where they are ("" if none)."""
    if not left:
        return ""
    return _LEFT_OUT[language].format(names=", ".join(left), where=report.as_posix())


def fit_attachments(
    tables: dict[str, bytes], budget: int = ATTACHMENTS_BUDGET
) -> tuple[dict[str, bytes], list[str]]:
    """The CSV files that fit in `budget` bytes together, smallest first, and the names of the
    rest (in the report's own order)."""
    attached: dict[str, bytes] = {}
    used = 0
    for name, content in sorted(tables.items(), key=lambda item: (len(item[1]), item[0])):
        if used + len(content) <= budget:
            attached[name] = content
            used += len(content)
    return {n: tables[n] for n in tables if n in attached}, [n for n in tables if n not in attached]


def _to(recipient: dict[str, Any]) -> str:
    name = str(recipient.get("name") or "").strip()
    address = str(recipient["email"])
    if not name:
        return address
    return str(Address(display_name=name, addr_spec=str(parse_address(address).addr_spec)))


def withheld_path(reports_dir: Path, scope: str, day: dt.date) -> Path:
    return Path(reports_dir) / scope / f"{day.isoformat()}{WITHHELD_SUFFIX}"


def write_withheld(reports_dir: Path, scope: str, day: dt.date, verdict: dict[str, Any]) -> Path:
    """The withheld verdict, written whole or not at all (temp file, fsync, rename)."""
    path = withheld_path(reports_dir, scope, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(verdict, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


def fingerprint(verdict: dict[str, Any]) -> str:
    """Which checks failed, short: one alert per distinct failure of a period."""
    failed = sorted(c["id"] for c in verdict["checks"] if not c["passed"])
    return hashlib.sha256("|".join(failed).encode()).hexdigest()[:12]


def withhold_report(
    *,
    reports_dir: Path,
    scope: str,
    day: dt.date,
    verdict: dict[str, Any],
    ops_addresses: list[str],
    ops_language: str,
    mail: MailSettings,
    hub_hint: str = "",
) -> Outcome:
    """Write the withheld verdict and queue the operations alert (see the module docstring)."""
    path = write_withheld(reports_dir, scope, day, verdict)
    outcome = Outcome(scope, day, False, withheld_file=path, summary=verdict.get("summary", {}))
    if not ops_addresses:
        log.warning(
            "the %s report for %s is withheld and no operations address is set "
            "(KASSA_OPS_EMAIL): nobody is e-mailed; the verdict is in %s",
            scope,
            day,
            path,
        )
        return outcome
    outbox = Outbox(mail.outbox)
    language = ops_language if ops_language in LANGUAGES else "ru"
    title, text, page = alert(verdict, language, hub_hint=hub_hint)
    for address in ops_addresses:
        key = outbox_key("alert", scope, day, fingerprint(verdict), recipient=address)
        message = build_message(
            key=key,
            sender=mail.sender,
            to=address,
            subject=title,
            text=text,
            html=page,
            language=language,  # type: ignore[arg-type]
        )
        if outbox.enqueue(key, message, kind="alert"):
            outcome.enqueued.append(key)
    return outcome


_ALERT = {
    "ru": {
        "daily": "дневной",
        "weekly": "недельный",
        "subject": "Kassa: {scope} отчёт за {period} задержан — {first}",
        "intro": "Отчёт не опубликован: проверки качества данных не пройдены.",
        "failed": "Не пройдены (блокируют публикацию)",
        "warnings": "Предупреждения",
        "numbers": "Числа",
        "then": "Исправьте данные (или дождитесь синхронизации касс) и перезапустите "
        "daily-close: отчёт будет опубликован один раз.",
    },
    "en": {
        "daily": "daily",
        "weekly": "weekly",
        "subject": "Kassa: {scope} report for {period} withheld — {first}",
        "intro": "The report was not published: data-quality checks failed.",
        "failed": "Failed (blocking publication)",
        "warnings": "Warnings",
        "numbers": "Numbers",
        "then": "Fix the data (or let the tills sync) and re-run daily-close: the report is "
        "published once.",
    },
}


def _period_text(verdict: dict[str, Any], language: str) -> str:
    start = dt.date.fromisoformat(verdict["period_start"])
    end = dt.date.fromisoformat(verdict["period_end"])
    fmt = "%d.%m.%Y" if language == "ru" else "%Y-%m-%d"
    if start == end:
        return end.strftime(fmt)
    return f"{start.strftime(fmt)} – {end.strftime(fmt)}"


def alert(verdict: dict[str, Any], language: str, *, hub_hint: str = "") -> tuple[str, str, str]:
    """Subject, plain text and HTML of the operations alert: every failed check with its
    reasons and numbers."""
    t = _ALERT[language]
    failed = [c for c in verdict["checks"] if not c["passed"] and c["severity"] == "blocking"]
    warnings = [c for c in verdict["checks"] if not c["passed"] and c["severity"] == "warning"]
    first = next(
        (r for c in failed for r in c["reasons"][language]),
        failed[0]["explanation"][language] if failed else "",
    )
    period = _period_text(verdict, language)
    title = t["subject"].format(scope=t[verdict["scope"]], period=period, first=first)
    if len(title) > 200:
        title = title[:199] + "…"

    def block(checks: list[dict[str, Any]], heading: str) -> tuple[list[str], list[str]]:
        text, page = [f"{heading}:"], [f"<h2>{html.escape(heading)}</h2>"]
        for c in checks:
            text.append(f"- {c['explanation'][language]} [{c['id']}]")
            text += [f"    {r}" for r in c["reasons"][language]]
            numbers = {k: v for k, v in c["numbers"].items() if k != "expectations"}
            text.append(f"    {t['numbers']}: {json.dumps(numbers, ensure_ascii=False)}")
            page.append(
                f"<h3>{html.escape(c['explanation'][language])} <code>{html.escape(c['id'])}"
                "</code></h3><ul>"
                + "".join(f"<li>{html.escape(r)}</li>" for r in c["reasons"][language])
                + f"</ul><p><small>{html.escape(t['numbers'])}: <code>"
                + html.escape(json.dumps(numbers, ensure_ascii=False))
                + "</code></small></p>"
            )
        return text, page

    text = [title, "", t["intro"], ""]
    page = [
        "<!doctype html><html><head><meta charset='utf-8'><style>body{font-family:sans-serif;"
        "color:#222}h3{margin-bottom:2px}code{color:#555}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(t['intro'])}</p>",
    ]
    for checks, heading in ((failed, t["failed"]), (warnings, t["warnings"])):
        if checks:
            more_text, more_page = block(checks, heading)
            text += [*more_text, ""]
            page += more_page
    text.append(t["then"])
    page.append(f"<p>{html.escape(t['then'])}</p>")
    if hub_hint:
        text.append(hub_hint)
        page.append(f"<p>{html.escape(hub_hint)}</p>")
    page.append("</body></html>")
    return title, "\n".join(text) + "\n", "".join(page)


def deliver(mail: MailSettings) -> dict[str, Any]:
    """Send what is due; SMTP down leaves it queued (the next run or `kassa mail send` retries)."""
    outbox_path = Path(mail.outbox)
    if not outbox_path.exists():
        return {"sent": 0, "deferred": {}, "failed": {}}
    report = Outbox(outbox_path).deliver(mail)
    return {"sent": len(report.sent), "deferred": report.deferred, "failed": report.failed}
