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

    serve = (
        f"KASSA_DATABASE_URL={summary.database_url} KASSA_COOKIE_SECURE=false "
        ".venv/bin/kassa hub serve"
    )
    console.print(
        Panel(
            f"Catalog import file: {summary.catalog_csv}\n"
            f"Till tokens:         {summary.tills_json}\n"
            f"Done in {summary.seconds:.1f} s.",
            title="Demo chain ready",
            expand=False,
        )
    )
    console.print("[bold]Serve this hub:[/bold]")
    console.print(f"  {serve}", soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"then open {HUB_URL}/docs, press Authorize and sign in as "
        f"[bold]{summary.owner_email}[/bold] / [bold]{summary.owner_password}[/bold]",
        soft_wrap=True,
    )
