"""The one `kassa` command. Sub-apps import their packages lazily so a till install never loads
the hub's dependencies."""

from __future__ import annotations

import typer

from kassa import flows_cli, hub_cli, mail_cli, till_cli

app = typer.Typer(
    name="kassa",
    help="Kassa: self-hostable cloud cash register and retail analytics hub.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(hub_cli.app, name="hub")
app.add_typer(till_cli.app, name="till")
app.add_typer(flows_cli.app, name="flows")
app.add_typer(mail_cli.app, name="mail")


@app.command()
def demo(
    data_dir: str = typer.Option("var/demo", help="Where the demo writes its hub database."),
    products: int = typer.Option(2000, min=10, max=200_000, help="How many products to seed."),
) -> None:
    """Seed a demo chain on a fresh SQLite hub and say what was made."""
    from kassa.demo import run_demo

    run_demo(data_dir=data_dir, products=products)


def main() -> None:  # pragma: no cover - console entry point
    app()
