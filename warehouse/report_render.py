"""The owner report as HTML (Jinja2, autoescaped), plain text and an e-mail subject.

One page serves the published `index.html` (`image_src=lambda n: f"charts/{n}"`) and the e-mail
body (`image_src=lambda n: f"cid:{n}"`): inline CSS in a <style> block, tables for layout, no
scripts, no external links.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from warehouse.report_charts import CHART_SIZE, chart_names
from warehouse.report_data import ReportData, ratio_bp
from warehouse.report_format import Formatter

TEMPLATES = Path(__file__).with_name("templates")
TABLE_ROWS = 30  # longer tables are cut in the page and given whole in the CSV files
_ENV: jinja2.Environment | None = None
_ENV_LOCK = threading.Lock()


def _environment() -> jinja2.Environment:
    global _ENV
    with _ENV_LOCK:
        if _ENV is None:
            _ENV = jinja2.Environment(
                loader=jinja2.FileSystemLoader(TEMPLATES),
                autoescape=True,
                undefined=jinja2.StrictUndefined,
                auto_reload=False,
            )
        return _ENV


# --- the data-quality badge ----------------------------------------------------------------


@dataclass(frozen=True)
class FailedCheck:
    id: str
    severity: str
    explanation: str
    reasons: list[str]


@dataclass(frozen=True)
class Badge:
    """What the quality gate said, in one language: `ok` (every check passed), `warning` (only
    warnings failed), `withheld` (a blocking check failed) or `unknown` (no checks given)."""

    state: str
    title: str
    summary: str
    checked_at: str
    failed: list[FailedCheck] = field(default_factory=list)


def _pick(texts: Any, language: str) -> Any:
    """The `language` entry of a {"ru": ..., "en": ...} dict, else English, else any."""
    if not isinstance(texts, dict):
        return texts if texts is not None else ""
    for key in (language, "en", "ru"):
        if texts.get(key):
            return texts[key]
    return next(iter(texts.values()), "")


def _moment(value: Any, fmt: Formatter) -> str:
    """An ISO timestamp as "24.11.2026 03:20 UTC" (as given when it is not one)."""
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value or "")
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{fmt.datetime(moment)} UTC"


def badge(quality: dict[str, Any] | None, fmt: Formatter) -> Badge:
    if not quality:
        return Badge("unknown", fmt.t("quality_unknown"), "", "")
    checks = list(quality.get("checks") or [])
    failed = [c for c in checks if not c.get("passed")]
    blocking = [c for c in failed if c.get("severity") == "blocking"]
    if quality.get("verdict") == "withheld" or blocking:
        state = "withheld"
    elif failed:
        state = "warning"
    else:
        state = "ok"
    summary = str(_pick(quality.get("summary"), fmt.language))
    if state == "ok" and not summary:
        summary = fmt.t("quality_ok_detail", n=len(checks))
    return Badge(
        state,
        fmt.t(f"quality_{state}"),
        summary,
        _moment(quality.get("checked_at"), fmt),
        [
            FailedCheck(
                str(c.get("id", "")),
                str(c.get("severity", "")),
                str(_pick(c.get("explanation"), fmt.language) or c.get("id", "")),
                [str(r) for r in _pick(c.get("reasons"), fmt.language) or []],
            )
            for c in sorted(failed, key=lambda c: c.get("severity") != "blocking")
        ],
    )


# --- HTML and text ---------------------------------------------------------------------------


def notes(data: ReportData, fmt: Formatter) -> list[str]:
    """The footnotes: what the figures mean, and what is missing from them."""
    found = [fmt.t("note_revenue"), fmt.t("note_receipts")]
    found.append(fmt.t("note_days", date=fmt.date(data.period.end)))
    if data.total.revenue_without_cost_minor:
        found.append(fmt.t("note_cost", value=fmt.money(data.total.revenue_without_cost_minor)))
    if data.unknown_products.revenue_minor:
        found.append(fmt.t("note_unknown", value=fmt.money(data.unknown_products.revenue_minor)))
    found += [fmt.t("note_rounding"), fmt.t("note_names")]
    return found


def abc_matrix(data: ReportData) -> dict[str, tuple[int, int]]:
    """Products and revenue excluding VAT per ABC/XYZ class pair, e.g. "AX": (3, 123450)."""
    cells = {a + x: (0, 0) for a in "ABC" for x in "XYZ"}
    for row in data.abc_xyz:
        count, revenue = cells.get(row.abc_class + row.xyz_class, (0, 0))
        cells[row.abc_class + row.xyz_class] = (count + 1, revenue + row.revenue_ex_vat_minor)
    return cells


def render_html(
    data: ReportData,
    quality: dict[str, Any] | None,
    language: str = "ru",
    *,
    image_src: Callable[[str], str],
    file_href: Callable[[str], str] | None = None,
    files: Sequence[str] = (),
) -> str:
    """The report page. `image_src` names each chart's source (a path next to the page or a
    `cid:` for e-mail); `files` (with `file_href`) are listed as downloads on the page."""
    fmt = Formatter(language, data.currency)
    template = _environment().get_template("report.html.j2")
    return template.render(
        data=data,
        f=fmt,
        title=fmt.title(data.period.scope, data.period.start, data.period.end),
        badge=badge(quality, fmt),
        chart_names=chart_names(data),
        chart_size=CHART_SIZE,
        image_src=image_src,
        files=list(files) if file_href else [],
        file_href=file_href or (lambda name: name),
        limit=TABLE_ROWS,
        matrix=abc_matrix(data),
        share_bp=lambda part: ratio_bp(part, data.total.revenue_minor),
        notes=notes(data, fmt),
    )


def subject(data: ReportData, language: str = "ru") -> str:
    """The e-mail subject: "Kassa: отчёт за 27.11.2026 — выручка 123 456,00 ₽"."""
    fmt = Formatter(language, data.currency)
    revenue = fmt.money(data.total.revenue_minor)
    if data.weekly:
        return fmt.t(
            "subject_weekly",
            start=fmt.date(data.period.start),
            end=fmt.date(data.period.end),
            revenue=revenue,
        )
    return fmt.t("subject_daily", date=fmt.date(data.period.end), revenue=revenue)


def render_text(
    data: ReportData, language: str = "ru", *, quality: dict[str, Any] | None = None
) -> str:
    """The plain-text alternative: the headline figures, by store, reorder and cash."""
    fmt = Formatter(language, data.currency)
    t = data.total
    title = fmt.title(data.period.scope, data.period.start, data.period.end)
    lines = [f"Kassa — {title}", ""]
    if quality is not None:
        lines += [f"{fmt.t('plain_data')}: {badge(quality, fmt).title}", ""]
    if not data.has_sales:
        lines += [fmt.t("no_sales"), ""]
    lines += [
        f"{fmt.t('revenue')} ({fmt.t('revenue_note')}): {fmt.money(t.revenue_minor)}",
        f"{fmt.t('receipts')}: {fmt.count(t.receipts)}; {fmt.t('returns')}: "
        f"{fmt.count(t.returns)} ({fmt.money(t.returns_revenue_minor)})",
        f"{fmt.t('average_ticket')}: {fmt.money(t.average_ticket_minor)}",
        f"{fmt.t('gross_profit')} ({fmt.t('ex_vat')}): {fmt.money(t.gross_profit_minor)}",
        f"{fmt.t('margin')} ({fmt.t('ex_vat')}): {fmt.pct(t.margin_bp)}",
    ]
    if data.has_sales and len(data.stores) > 1:
        lines += ["", f"{fmt.t('plain_stores')}:"]
        lines += [
            f"  {s.store_name}: {fmt.money(s.sales.revenue_minor)}, "
            f"{fmt.t('gross_profit').lower()} {fmt.money(s.sales.gross_profit_minor)}, "
            f"{fmt.t('margin').lower()} {fmt.pct(s.sales.margin_bp)}"
            for s in data.stores
        ]
    lines.append("")
    if data.reorder:
        lines.append(
            fmt.t("plain_reorder", n=len(data.reorder), value=fmt.money(data.reorder_value_minor))
        )
    if data.shifts:
        lines.append(
            fmt.t("plain_cash", n=len(data.shifts), value=fmt.money(data.over_short_minor))
        )
    return "\n".join(lines).rstrip() + "\n"


__all__ = [
    "TABLE_ROWS",
    "Badge",
    "FailedCheck",
    "abc_matrix",
    "badge",
    "notes",
    "render_html",
    "render_text",
    "subject",
]
