"""The tasks through `.fn()` (no Prefect server), their retry and concurrency settings, and the
deployments' schedules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from prefect.logging import disable_run_logger
from prefect.states import Failed
from sqlalchemy import func, select

from flows.hub_client import HubAuthError, HubRejectedError, HubUnavailableError
from flows.lock import WarehouseBusyError, writer_lock
from flows.mail import MailSettingsError
from flows.publishing import Outcome
from flows.settings import load_settings
from flows.tasks import (
    WRITER_TAG,
    QualityGateFailedError,
    build_marts,
    deliver_mail,
    draft_purchase_orders,
    is_transient,
    publish_report,
    quality_gate,
    refresh_warehouse,
    withhold_report,
)
from hub.sales.models import Sale, SaleLine
from warehouse.extract import ExtractError

AS_OF = dt.date(2026, 11, 22)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def _no_run_logger() -> Iterator[None]:
    with disable_run_logger():
        yield


def _hub_count(db: Any, model: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@sqlite_only
def test_refresh_then_marts_through_the_task_functions(
    sales_hub: Any, db_url: str, tmp_path: Path
) -> None:
    warehouse, marts_dir = tmp_path / "w.duckdb", tmp_path / "marts"
    refreshed = refresh_warehouse.fn(db_url, warehouse, 5)
    assert refreshed.extracted.rows["sale"] == _hub_count(sales_hub, Sale)
    assert refreshed.built.rows["fct_sale_line"] == _hub_count(sales_hub, SaleLine)
    assert refreshed_again_adds_nothing(db_url, warehouse)

    marts = build_marts.fn(warehouse, AS_OF, marts_dir, 0.9, 5)
    assert marts.as_of == AS_OF
    assert marts.rows["rpt_daily_sales"] > 0
    assert {path.name for path in marts_dir.glob("*.parquet")} == {
        f"{name}.parquet" for name in (*marts.rows, "_mart_state")
    }


def refreshed_again_adds_nothing(db_url: str, warehouse: Path) -> bool:
    return refresh_warehouse.fn(db_url, warehouse, 5).extracted.total == 0


def test_the_service_level_setting_reaches_the_marts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse import pipeline

    seen: dict[str, Any] = {}

    def fake_build_marts(warehouse: Path, as_of: dt.date, **kwargs: Any) -> Any:
        seen.update(kwargs, warehouse=warehouse, as_of=as_of)
        return pipeline.MartsBuilt(as_of)

    monkeypatch.setattr(pipeline, "build_marts", fake_build_marts)
    build_marts.fn(tmp_path / "w.duckdb", AS_OF, tmp_path / "marts", 0.9, 5)
    assert seen == {
        "warehouse": tmp_path / "w.duckdb",
        "as_of": AS_OF,
        "params": pipeline.MartParams(service_level=0.9),
        "marts_dir": tmp_path / "marts",
    }


def test_a_writer_waits_for_the_lock_and_then_names_the_busy_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    with writer_lock(warehouse, timeout_seconds=1), pytest.raises(WarehouseBusyError):
        refresh_warehouse.fn(f"sqlite:///{tmp_path / 'hub.db'}", warehouse, 0.2)
    with writer_lock(warehouse, timeout_seconds=1), pytest.raises(WarehouseBusyError):
        build_marts.fn(warehouse, AS_OF, tmp_path / "marts", 0.95, 0.2)
    assert not warehouse.exists()  # nothing touched the file while another run held it


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (WarehouseBusyError("busy"), True),
        (ExtractError("cannot open the hub database"), True),
        (OSError("disk"), True),
        (duckdb.IOException("Could not set lock on file"), True),
        (NotImplementedError(), False),
        (ValueError("bad"), False),
        (HubUnavailableError("the hub did not answer"), True),
        (HubAuthError("the hub refused the flows' token"), False),
        (HubRejectedError("422"), False),
        (MailSettingsError("KASSA_SMTP_PORT"), False),
        (QualityGateFailedError([Outcome("daily", AS_OF, False)]), False),
    ],
)
def test_only_errors_that_can_pass_are_retried(error: BaseException, retried: bool) -> None:
    assert is_transient(None, None, Failed(data=error)) is retried


def test_writers_retry_with_backoff_and_share_the_writer_tag() -> None:
    for writer in (refresh_warehouse, build_marts, quality_gate, publish_report):
        assert writer.retries == 3
        assert writer.retry_delay_seconds == [10, 20, 40]
        assert writer.retry_jitter_factor == 0.5
        assert WRITER_TAG in writer.tags
    assert draft_purchase_orders.retries == 3 and WRITER_TAG not in draft_purchase_orders.tags
    for other in (withhold_report, deliver_mail):  # files and the outbox: no warehouse, no retry
        assert other.retries == 0 and WRITER_TAG not in other.tags


def test_deployments_have_explicit_time_zones_and_one_run_at_a_time(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.serve import deployments

    monkeypatch.setenv("KASSA_CHAIN_TIMEZONE", "Asia/Yekaterinburg")
    refresh, close, mail = deployments(load_settings())
    assert (refresh.flow_name, close.flow_name) == ("warehouse-refresh", "daily-close")
    assert mail.flow_name == "mail-outbox" and mail.concurrency_limit == 1
    assert WRITER_TAG not in mail.tags  # sending mail never touches the warehouse
    [every] = [s.schedule for s in refresh.schedules]
    assert every.interval == dt.timedelta(minutes=15)
    assert every.timezone == "Asia/Yekaterinburg"
    assert every.anchor_date.minute == 0 and every.anchor_date.hour == 0
    [daily] = [s.schedule for s in close.schedules]
    assert (daily.cron, daily.timezone) == ("15 6 * * *", "Asia/Yekaterinburg")
    assert refresh.concurrency_limit == close.concurrency_limit == 1
    assert refresh.entrypoint == "flows.flows.warehouse_refresh"
    assert close.entrypoint == "flows.flows.daily_close"


def test_serving_without_a_prefect_server_is_refused_with_what_to_do(flow_env: Path) -> None:
    from flows.serve import NoPrefectServerError, serve_deployments

    with pytest.raises(NoPrefectServerError) as err:
        serve_deployments(load_settings(), None, "var/prefect")
    assert "prefect server start" in str(err.value)
    assert "PREFECT_API_URL=http://127.0.0.1:4200/api" in str(err.value)
