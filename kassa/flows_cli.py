"""`kassa flows ...`: serve the warehouse flows on their schedules, or run one now.

Prefect is imported only inside the commands, after `configure_prefect` has pointed it at var/:
Prefect reads its settings once, at import.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from enum import StrEnum
from typing import Any

import typer

app = typer.Typer(
    help="Warehouse flows (Prefect): serve them on their schedules or run one now.",
    no_args_is_help=True,
)


class FlowName(StrEnum):
    warehouse_refresh = "warehouse-refresh"
    daily_close = "daily-close"


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def _parse_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-27", param_hint="'--date'"
        ) from None


def _settings() -> Any:
    from flows.settings import FlowSettingsError, configure_prefect, load_settings

    try:
        settings = load_settings()
    except FlowSettingsError as exc:
        raise _fail(str(exc), code=2) from None
    configure_prefect(settings)
    return settings


def _check_hub() -> None:
    """A SQLite hub that is not there fails now, not after the Prefect server has started and
    the extract has retried three times."""
    from flows.settings import hub_database_url

    url = hub_database_url()
    if url.startswith("sqlite:///"):
        path = url.split(":///", 1)[1]
        if path and path != ":memory:" and not os.path.exists(path):
            raise _fail(
                f"no hub database at {path}: set KASSA_DATABASE_URL (or run `kassa hub migrate`)",
                code=2,
            )


@app.command()
def serve() -> None:
    """Serve warehouse-refresh and daily-close on their schedules (needs PREFECT_API_URL)."""
    settings = _settings()
    from prefect.settings import PREFECT_API_URL

    from flows.serve import NoPrefectServerError, serve_deployments

    try:
        serve_deployments(settings, PREFECT_API_URL.value(), os.environ["PREFECT_HOME"])
    except NoPrefectServerError as exc:
        raise _fail(str(exc)) from None


@app.command()
def run(
    flow: FlowName = typer.Argument(..., help="The flow to run now."),
    date: str | None = typer.Option(
        None,
        "--date",
        metavar="YYYY-MM-DD",
        help="daily-close: the day to close (default: yesterday in the chain's time zone).",
    ),
) -> None:
    """Run one flow now, wait for it and print what it did; exit 1 when the run failed."""
    as_of = _parse_date(date)
    if as_of is not None and flow is not FlowName.daily_close:
        raise _fail("--date applies to daily-close only", code=2)
    settings = _settings()
    _check_hub()
    started = time.perf_counter()
    if flow is FlowName.warehouse_refresh:
        _run_refresh(started)
    else:
        _run_daily_close(settings, as_of, started)


def _run_refresh(started: float) -> None:
    from flows.flows import warehouse_refresh

    state = warehouse_refresh(return_state=True)
    seconds = time.perf_counter() - started
    if not state.is_completed():
        raise _fail(f"warehouse-refresh FAILED after {seconds:.1f} s: {state.message}")
    typer.echo(f"warehouse-refresh completed in {seconds:.1f} s")
    _echo_refreshed(state.result())


def _run_daily_close(settings: Any, as_of: dt.date | None, started: float) -> None:
    from flows.flows import daily_close
    from flows.tasks import QualityGateFailedError
    from warehouse.pipeline import default_as_of

    day = as_of or default_as_of(settings.chain_timezone)
    state = daily_close(as_of=day, return_state=True)
    seconds = time.perf_counter() - started
    if state.is_completed():
        typer.echo(f"daily-close for {day} completed in {seconds:.1f} s")
        for line in state.result():
            typer.echo(f"  {line}")
        return
    error = state.result(raise_on_failure=False)
    if isinstance(error, QualityGateFailedError):
        for outcome in error.outcomes:
            typer.echo(f"  {outcome.describe()}")
            for reason in _reasons(outcome):
                typer.echo(f"    - {reason}")
        raise _fail(
            f"daily-close for {day} FAILED after {seconds:.1f} s: the quality gate withheld "
            "the report (operations were e-mailed; the verdict is in the file named above)"
        )
    raise _fail(f"daily-close for {day} FAILED after {seconds:.1f} s: {state.message}")


def _reasons(outcome: Any) -> list[str]:
    import json

    if outcome.withheld_file is None:
        return []
    verdict = json.loads(outcome.withheld_file.read_text(encoding="utf-8"))
    return [
        reason
        for check in verdict["checks"]
        if not check["passed"] and check["severity"] == "blocking"
        for reason in check["reasons"]["en"]
    ]


def _counts(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in rows.items())


def _echo_refreshed(refreshed: Any) -> None:
    extracted = refreshed.extracted
    new = {table: count for table, count in extracted.rows.items() if count}
    typer.echo(
        f"  extracted {extracted.total} rows in {extracted.seconds:.1f} s"
        + (f": {_counts(new)}" if new else " (nothing new)")
    )
    built = refreshed.built
    typer.echo(f"  dimensions and facts built in {built.seconds:.1f} s: {_counts(built.rows)}")
