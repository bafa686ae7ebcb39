"""The two flows. Their bodies read the settings and call the tasks in order; no more.

- `warehouse-refresh`: extract the hub into the warehouse and rebuild dimensions and facts.
- `daily-close`: refresh, rebuild the marts for day D (yesterday in the chain's time zone unless
  given), then the quality gate; publishing comes after the gate. Until the gate exists (issue 6)
  the gate fails closed, so a daily-close run ends Failed and publishes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.logging import get_logger
from prefect.logging.loggers import flow_run_logger

from flows.settings import hub_database_url, load_settings
from flows.tasks import WRITER_TAG, build_marts, quality_gate, refresh_warehouse
from warehouse.pipeline import Refreshed, default_as_of

REFRESH = "warehouse-refresh"
DAILY_CLOSE = "daily-close"


def report_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """`on_failure` / `on_crashed` hook: say loudly which run failed and why, in its run log.
    (E-mail to operations comes with issue 6.)"""
    flow_run_logger(flow_run, flow).error(
        "%s run %r FAILED: %s (its task runs show what was done before the failure)",
        flow.name,
        flow_run.name,
        state.message or state.name,
    )


def ensure_writer_limit() -> None:
    """Make the Prefect server hold warehouse writers to one at a time (a tag concurrency limit
    of 1 on `WRITER_TAG`; creating it again is harmless). Best effort: the file lock still
    serialises writers when this fails."""
    try:
        with get_client(sync_client=True) as client:
            client.create_concurrency_limit(tag=WRITER_TAG, concurrency_limit=1)
    except Exception as exc:  # the file lock is the guarantee; this is the server's view of it
        get_logger("kassa.flows").warning(
            "could not set the Prefect concurrency limit %r to 1 (%s); the warehouse file lock "
            "still keeps writers to one at a time",
            WRITER_TAG,
            exc,
        )


@flow(name=REFRESH, on_failure=[report_failure], on_crashed=[report_failure])
def warehouse_refresh() -> Refreshed:
    """Extract what is new in the hub into the warehouse; rebuild dimensions and facts."""
    settings = load_settings()
    ensure_writer_limit()
    return refresh_warehouse(
        hub_database_url(), settings.warehouse_path, settings.writer_lock_timeout_seconds
    )


@flow(name=DAILY_CLOSE, on_failure=[report_failure], on_crashed=[report_failure])
def daily_close(as_of: dt.date | None = None) -> None:
    """Close day `as_of` (default: yesterday in the chain's time zone): refresh, rebuild the
    marts, then the quality gate. The gate fails closed until issue 6: the run ends Failed at the
    gate, with the gate's message, and nothing is published."""
    settings = load_settings()
    ensure_writer_limit()
    day = as_of or default_as_of(settings.chain_timezone)
    lock_timeout = settings.writer_lock_timeout_seconds
    refreshed = refresh_warehouse(hub_database_url(), settings.warehouse_path, lock_timeout)
    marts = build_marts(
        settings.warehouse_path,
        day,
        settings.marts_dir,
        settings.reorder_service_level,
        lock_timeout,
    )
    quality_gate(day, settings.marts_dir, refreshed, marts)
