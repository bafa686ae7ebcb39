"""Whole flow runs on one temporary Prefect server for the session (`prefect_server`): the
refresh fills the warehouse; daily-close rebuilds the marts and then fails closed at the quality
gate, publishing nothing, and `kassa flows run daily-close` says so and exits 1."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.sales.models import Sale, SaleLine

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _hub_count(db: Any, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@sqlite_only
def test_warehouse_refresh_flow_fills_the_warehouse(
    prefect_server: None, flow_env: Path, sales_hub: Any
) -> None:
    from prefect.client.orchestration import get_client

    from flows.flows import warehouse_refresh
    from flows.tasks import WRITER_TAG

    state = warehouse_refresh(return_state=True)
    assert state.is_completed(), state.message
    refreshed = state.result()
    sales, lines = _hub_count(sales_hub, Sale), _hub_count(sales_hub, SaleLine)
    assert refreshed.extracted.rows["sale"] == sales
    con = duckdb.connect(str(flow_env / "var" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM raw_sale").fetchall() == [(sales,)]
        assert con.execute("SELECT count(*) FROM fct_sale_line").fetchall() == [(lines,)]
    finally:
        con.close()
    with get_client(sync_client=True) as client:  # the server holds writers to one at a time
        assert client.read_concurrency_limit_by_tag(WRITER_TAG).concurrency_limit == 1


@sqlite_only
def test_daily_close_fails_closed_at_the_gate_and_publishes_nothing(
    prefect_server: None, flow_env: Path, sales_hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from kassa.cli import app

    result = CliRunner().invoke(app, ["flows", "run", "daily-close", "--date", "2026-11-22"])
    gate = (
        "quality gate not built yet (issue 6): nothing is published for 2026-11-22; "
        "the marts were rebuilt and are in var/warehouse/marts"
    )
    assert result.exit_code == 1, result.output
    assert "daily-close for 2026-11-22 FAILED at the quality gate after" in result.output
    assert gate in " ".join(result.output.split())
    assert f"sale {_hub_count(sales_hub, Sale)}, " in result.output  # rows extracted per table
    assert "marts rebuilt for 2026-11-22" in result.output

    marts = flow_env / "var" / "warehouse" / "marts"
    assert (marts / "rpt_daily_sales.parquet").is_file()  # rebuilt ...
    assert not (flow_env / "var" / "reports").exists()  # ... and nothing published
    written = {p.name for p in (flow_env / "var").iterdir()} - {"prefect"}
    assert written == {"warehouse", "warehouse.duckdb", "warehouse.duckdb.lock"}

    with get_client(sync_client=True) as client:  # the run is Failed in Prefect too
        [run] = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["daily-close"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    assert run.state is not None and run.state.is_failed()
    assert gate in (run.state.message or "")
    assert run.parameters == {"as_of": dt.date(2026, 11, 22).isoformat()}
    hook = [
        r.getMessage()
        for r in caplog.records
        if "run " in r.getMessage() and "FAILED" in r.getMessage()
    ]
    assert len(hook) == 1 and hook[0].startswith("daily-close run ") and gate in hook[0]
