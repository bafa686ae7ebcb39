"""The demo's printout: what was made, who can sign in, and how to serve the hub."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from kassa.demo_seed import HUB_URL, WEIGHT_PATTERN

if TYPE_CHECKING:
    from kassa.demo import DemoSummary


def print_summary(console: Console, summary: DemoSummary) -> None:
    table = Table(title="Kassa demo chain", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("details")
    table.add_row("stores", str(summary.stores), ", ".join(summary.stores_seen_by_owner))
    table.add_row(
        "tills", str(summary.tills), f"paired with one-time codes -> {summary.tills_json}"
    )
    staff = summary.owners + summary.managers + summary.cashiers
    table.add_row(
        "staff",
        str(staff),
        f"{summary.owners} owner, {summary.managers} managers, {summary.cashiers} cashiers",
    )
    table.add_row("tax rates", str(summary.tax_rates), "НДС 22%, 10%, 0%, без НДС")
    table.add_row("categories", str(summary.categories), f"a tree {summary.category_depth} deep")
    table.add_row(
        "products", str(summary.products), f"{summary.import_created} created by the CSV import"
    )
    table.add_row("barcodes", str(summary.barcodes), "EAN-13, prefixes 460-469")
    table.add_row(
        "weighted goods", str(summary.weighted_products), f"per kg, labels {WEIGHT_PATTERN}"
    )
    table.add_section()
    table.add_row(
        "feed pages",
        str(summary.feed_pages),
        f"{summary.feed_till}: {summary.feed_products} products, "
        f"{summary.feed_categories} categories, {summary.feed_cashiers} cashiers "
        f"in {summary.feed_seconds:.2f} s; ETag poll "
        + ("304 Not Modified" if summary.feed_not_modified else "did NOT answer 304"),
    )
    table.add_row("scale label", "", summary.label_example)
    table.add_row("barcode search", "", summary.barcode_lookup)
    console.print(table)
    _print_trade(console, summary)
    _print_warehouse(console, summary)
    _print_close(console, summary)

    people = Table(title="Sign-ins (also in staff.json, readable only by you)", header_style="bold")
    people.add_column("role")
    people.add_column("name")
    people.add_column("login", no_wrap=True)
    people.add_column("password / PIN", no_wrap=True)
    store = None
    for login in summary.logins:
        if login.store != store and login.store:
            people.add_section()
            people.add_row("", f"[bold]{login.store}[/bold]", "", "")
        store = login.store
        people.add_row(login.role, login.name, login.login, login.secret)
    console.print(people)

    c = summary.close
    serve = (
        f"KASSA_DATABASE_URL={summary.database_url} KASSA_REPORTS_DIR={c.reports_dir} "
        "KASSA_COOKIE_SECURE=false .venv/bin/kassa hub serve"
    )
    lines = [
        f"Catalog import file: {summary.catalog_csv}",
        f"Till tokens:         {summary.tills_json}",
    ]
    for report in c.reports:
        if report.index is not None:
            lines.append(f"Report ({report.scope}):      {report.index}")
        else:
            lines.append(f"Report ({report.scope}):      WITHHELD, see {report.withheld_file}")
    lines.append(f"E-mails:             {c.mail_dir}/*.eml")
    lines.append(f"                     {len(c.mails)} received by the demo's SMTP sink")
    lines.append(f"Done in {summary.seconds:.1f} s.")
    console.print(Panel("\n".join(lines), title="Demo chain ready", expand=False))
    console.print("[bold]Serve this hub:[/bold]")
    console.print(f"  {serve}", soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"then open {HUB_URL}/docs, press Authorize and sign in as "
        f"[bold]{summary.owner_email}[/bold] / [bold]{summary.owner_password}[/bold]",
        soft_wrap=True,
    )
    for report in c.reports:
        where = f"{HUB_URL}/api/v1/reports/{report.scope}/{report.day.isoformat()}"
        console.print(
            f"the {report.scope} report in the hub: GET {where} (its verdict)"
            + (
                f", and in a browser {where}/files/index.html once signed in "
                "(POST /api/v1/auth/login in /docs sets the session cookie)"
                if report.index is not None
                else ""
            ),
            soft_wrap=True,
            markup=False,
            highlight=False,
        )


def _rub(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, kop = divmod(abs(minor), 100)
    return f"{sign}{whole:,}".replace(",", "\u00a0") + f",{kop:02d} ₽"


def _print_trade(console: Console, summary: DemoSummary) -> None:
    t = summary.trade
    table = Table(
        title=f"{t.days} days of trading on the real till agent ({t.http_seconds:.1f} s)",
        show_header=True,
        header_style="bold",
    )
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_column("details")
    table.add_row(
        "receipts",
        str(t.receipts),
        f"{t.lines} lines; {t.returns} returns; hub answered {t.created} created, "
        f"{t.duplicates} duplicate, {t.rejected} rejected",
    )
    table.add_row(
        "tills",
        "",
        f"{t.scanned} codes read through simulated serial scanners (pty); {t.printed} receipts "
        "and Z reports rendered with python-escpos and decoded by simulated TCP printers; one "
        f"till's line was down for two days and it caught up from a queue of {t.max_queue}",
    )
    table.add_row("shifts", str(t.shifts), "opened with a 5 000 ₽ float, closed with a blind count")
    table.add_row("revenue", _rub(t.revenue_minor), f"{_rub(t.revenue_ex_vat_minor)} without VAT")
    profit = t.revenue_ex_vat_minor - t.cogs_minor
    margin = f"{profit * 1000 // max(t.revenue_ex_vat_minor, 1) / 10:.1f} %"
    table.add_row(
        "gross profit",
        _rub(profit),
        f"margin {margin} (ex VAT); cost of goods {_rub(t.cogs_minor)} from the cost snapshots",
    )
    for store, value in t.stock_value_minor.items():
        table.add_row(
            "stock at cost",
            _rub(value),
            f"{store}; {t.negative_lines.get(store, 0)} products below zero",
        )
    table.add_section()
    for note in t.purchase_orders:
        table.add_row("delivery", "", note)
    table.add_row("delivery", "", f"{t.receipts_without_po} goods receipts without an order (+6 %)")
    table.add_row("moving average", "", t.cost_example)
    table.add_row("stock count", "", t.count_note)
    if t.transfer_note:
        table.add_row("transfer", "", t.transfer_note)
    table.add_row("write-off", "", t.write_off_note)
    if t.z_report:
        table.add_row("Z report", "", t.z_report)
    for line in t.over_short:
        table.add_row("over/short", "", line)
    console.print(table)


def _print_warehouse(console: Console, summary: DemoSummary) -> None:
    w = summary.warehouse
    table = Table(title="The warehouse (DuckDB), read back", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_column("details")
    table.add_row(
        "extract",
        str(w.extracted_rows),
        f"rows from 21 hub tables by change sequence in {w.extract_seconds:.1f} s, run by "
        "the warehouse-refresh Prefect flow; "
        f"daily-close's refresh right after added {w.again_rows}",
    )
    table.add_row(
        "facts",
        str(w.fact_rows),
        f"fct_sale_line (returns negative) and the other facts and dimensions, "
        f"built in {w.build_seconds:.2f} s",
    )
    table.add_row(
        "marts",
        str(sum(w.mart_rows.values())),
        f"{len(w.mart_rows)} marts over {w.days} days, as of {w.as_of}, built by the "
        f"daily-close Prefect flow; Parquet copies in {w.marts_dir}",
    )
    margin = w.gross_profit_minor * 1000 // max(w.revenue_ex_vat_minor, 1) / 10
    table.add_row(
        "revenue",
        _rub(w.revenue_minor),
        f"{_rub(w.revenue_ex_vat_minor)} without VAT; gross profit {_rub(w.gross_profit_minor)}, "
        f"margin {margin:.1f} % (cost per line, from the snapshots)",
    )
    for name, revenue, profit in w.per_store:
        table.add_row("store", _rub(revenue), f"{name}: gross profit {_rub(profit)}")
    if w.headline is not None:
        for rank, (name, revenue, profit) in enumerate(w.headline.top_products, 1):
            table.add_row(
                f"top {rank}", _rub(profit), f"{name}: gross profit on {_rub(revenue)} without VAT"
            )
        table.add_row(
            "reorder",
            str(w.headline.reorder_lines),
            f"suggested lines as of {w.headline.as_of}, worth "
            f"{_rub(w.headline.reorder_value_minor)} at the suppliers' last cost (rpt_reorder)",
        )
    table.add_row("file", "", str(w.path))
    console.print(table)


def _print_close(console: Console, summary: DemoSummary) -> None:
    c = summary.close
    table = Table(
        title=f"Closing {c.day}: the daily-close Prefect flow ({c.flow.seconds:.1f} s)",
        show_header=True,
        header_style="bold",
    )
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_column("details", overflow="fold")  # paths and file names whole
    table.add_row(
        "recipients",
        str(len(c.recipients)),
        "; ".join(r.describe() for r in c.recipients)
        + ": added by the owner through POST /api/v1/reports/recipients",
    )
    table.add_row(
        "flows' token",
        "",
        f"service account «{c.service_account}» (what `kassa hub service-token` makes) as "
        f"KASSA_HUB_TOKEN; withheld reports would alert {c.ops_email}",
    )
    for report in c.reports:
        passed = report.verdict == "published"
        table.add_row(
            "quality gate",
            "passed" if passed else "[bold red]WITHHELD[/bold red]",
            f"{report.scope} report for {report.day}: {report.summary}; "
            f"{report.checks} checks, {len(report.failed)} failed",
        )
        for failed in report.failed:
            table.add_row("", "", failed)
        if report.index is not None:
            table.add_row("report", "", str(report.index))
        else:
            table.add_row("verdict", "", f"{report.withheld_file} (nothing published)")
        table.add_row(
            "hub", "", f"GET /api/v1/reports/{report.scope}/{report.day}: {report.hub_answer}"
        )
    for mail in c.mails:
        parts = ["HTML" if mail.html else "text only"]
        if mail.images:
            parts.append(f"{mail.images} inline charts")
        if mail.attachments:
            parts.append(f"{mail.attachments} CSV attached")
        table.add_row(
            "e-mail", "", f"{mail.path.name} to {mail.to}: «{mail.subject}» ({', '.join(parts)})"
        )
    if not c.mails:
        table.add_row("e-mail", "0", f"the sink saved nothing in {c.mail_dir}")
    table.add_row(
        "reorder",
        str(c.drafts),
        f"draft purchase orders ({c.draft_lines} lines, worth {_rub(c.draft_value_minor)}) "
        "made by the flow through the hub's API from the reorder suggestions"
        if c.reports and c.reports[0].verdict == "published"  # the daily report
        else "no draft purchase orders: they are made only when the day's report passed",
    )
    console.print(table)
    if not c.published:
        console.print(
            "[bold red]The quality gate withheld the demo's report.[/bold red] The demo's data "
            "should pass it: the reasons above say what is wrong; operations were alerted.",
            soft_wrap=True,
        )
