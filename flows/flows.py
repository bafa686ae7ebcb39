"""The two flows. Their bodies read the settings and call the tasks in order; no more.

- `warehouse-refresh`: extract the hub into the warehouse and rebuild dimensions and facts.
- `daily-close`: refresh, rebuild the marts for day D (yesterday in the chain's time zone unless
  given), then per report (daily; weekly on Sundays) the quality gate, which publishes and
  e-mails owners, or withholds, records why and e-mails operations; reorder drafts; e-mail.
- `mail-outbox`: send e-mails still waiting in the outbox (SMTP was down).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.logging import get_logger
from prefect.logging.loggers import flow_run_logger

from flows.publishing import scopes_for
from flows.settings import hub_database_url, load_settings
from flows.tasks import (
    WRITER_TAG,
    QualityGateFailedError,
    build_marts,
    deliver_mail,
    draft_purchase_orders,
    publish_report,
    quality_gate,
    refresh_warehouse,
    withhold_report,
)
from warehouse.pipeline import Refreshed, default_as_of

REFRESH = "warehouse-refresh"
DAILY_CLOSE = "daily-close"
MAIL = "mail-outbox"


def report_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """`on_failure` / `on_crashed` hook: say loudly which run failed and why, in its run log.
    (A withheld report has already e-mailed operations by then; Prefect automations can alert
    on any failed run.)"""
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
def daily_close(as_of: dt.date | None = None) -> list[str]:
    """Close day `as_of` (default: yesterday in the chain's time zone): refresh, rebuild the
    marts, then for the daily report (and the weekly one on Sundays) the quality gate, which
    publishes and e-mails owners or withholds and e-mails operations; then reorder drafts (only
    when the day's report passed: drafts from incomplete data would mislead) and the e-mails.
    A withheld report makes the run end Failed."""
    settings = load_settings()
    ensure_writer_limit()
    day = as_of or default_as_of(settings.chain_timezone)
    lock_timeout = settings.writer_lock_timeout_seconds
    hub_db = hub_database_url()
    refresh_warehouse(hub_db, settings.warehouse_path, lock_timeout)
    build_marts(
        settings.warehouse_path,
        day,
        settings.marts_dir,
        settings.reorder_service_level,
        lock_timeout,
    )
    outcomes = []
    for scope in scopes_for(day):
        verdict = quality_gate(settings, hub_db, scope, day)
        if verdict["verdict"] == "published":
            outcomes.append(publish_report(settings, scope, day, verdict))
        else:
            outcomes.append(withhold_report(settings, scope, day, verdict))
    if outcomes[0].published:
        draft_purchase_orders(settings, day)
    deliver_mail()
    withheld = [o for o in outcomes if not o.published]
    if withheld:
        raise QualityGateFailedError(withheld)
    return [o.describe() for o in outcomes]


@flow(name=MAIL, on_failure=[report_failure], on_crashed=[report_failure])
def mail_outbox() -> dict[str, object]:
    """Send the e-mails that wait in the outbox (SMTP was down when they were made)."""
    return deliver_mail()
