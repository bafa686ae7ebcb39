"""Thin Prefect tasks around `warehouse.pipeline`.

Every task that writes the DuckDB file carries the `WRITER_TAG` tag (a Prefect tag concurrency
limit of 1 when a server has it, see `flows.flows.ensure_writer_limit`) and holds the file lock
of `flows.lock` while it writes, so two runs never meet on the file's writer lock.

Writers retry three times with exponential backoff (10, 20, 40 s, with jitter) on errors that can
pass (the hub unreachable, the file busy); errors that cannot (a bug, a missing step, a failed
gate) fail at once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from flows import publishing, reorder
from flows.hub_client import NOT_TRANSIENT_ERRORS, HubClient, HubError
from flows.lock import writer_lock
from flows.mail import MailSettingsError, load_mail_settings
from flows.publishing import Outcome
from flows.settings import FlowSettings
from warehouse import pipeline
from warehouse.pipeline import MartParams, MartsBuilt, Refreshed

WRITER_TAG = "kassa-warehouse-writer"


class QualityGateFailedError(RuntimeError):
    """A report was withheld: the run ends Failed (red in the Prefect UI) after the verdict was
    written and operations were e-mailed."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__("; ".join(o.describe() for o in outcomes))
        self.outcomes = outcomes


# Errors a retry cannot fix: fail at once instead of waiting through the backoff.
NOT_TRANSIENT: tuple[type[BaseException], ...] = (
    QualityGateFailedError,
    *NOT_TRANSIENT_ERRORS,  # the hub refused the token or the request: a retry cannot help
    MailSettingsError,
    NotImplementedError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    AssertionError,
    ImportError,
)


def is_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry unless the failure is one a retry cannot fix."""
    error = state.data
    return not isinstance(error, NOT_TRANSIENT)


RETRIES = 3
RETRY_BACKOFF = exponential_backoff(backoff_factor=10)  # 10, 20, 40 s
# Every task that writes the warehouse: one at a time (the tag's limit), retried with backoff.
WRITER: dict[str, Any] = {
    "tags": [WRITER_TAG],
    "cache_policy": NO_CACHE,
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_BACKOFF,
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": is_transient,
}


@task(
    name="refresh-warehouse",
    **WRITER,
)
def refresh_warehouse(hub_url: str, warehouse_path: Path, lock_timeout_seconds: float) -> Refreshed:
    """Extract what is new in the hub and rebuild dimensions and facts."""
    logger = get_run_logger()
    with writer_lock(warehouse_path, lock_timeout_seconds):
        refreshed = pipeline.refresh(hub_url, warehouse_path)
    logger.info(
        "extracted %d rows, rebuilt %d dimension and fact tables in %.1f s",
        refreshed.extracted.total,
        len(refreshed.built.rows),
        refreshed.seconds,
    )
    return refreshed


@task(
    name="build-marts",
    **WRITER,
)
def build_marts(
    warehouse_path: Path,
    as_of: dt.date,
    marts_dir: Path,
    service_level: float,
    lock_timeout_seconds: float,
) -> MartsBuilt:
    """Rebuild every mart for `as_of` in the warehouse and as Parquet in `marts_dir`."""
    logger = get_run_logger()
    params = MartParams(service_level=service_level)
    with writer_lock(warehouse_path, lock_timeout_seconds):
        marts = pipeline.build_marts(warehouse_path, as_of, params=params, marts_dir=marts_dir)
    logger.info("rebuilt %d marts for %s in %.1f s", len(marts.rows), as_of, marts.seconds)
    return marts


@task(name="quality-gate", **WRITER)
def quality_gate(
    settings: FlowSettings, hub_db_url: str, scope: str, day: dt.date
) -> dict[str, Any]:
    """Run the quality suites for the `scope` report ending on `day`; the verdict as JSON."""
    logger = get_run_logger()
    with writer_lock(settings.warehouse_path, settings.writer_lock_timeout_seconds):
        verdict = publishing.run_gate(
            settings.warehouse_path,
            hub_db_url,
            scope,
            day,
            cost_coverage_bp=settings.cost_coverage_bp,
        )
    failed = [c["id"] for c in verdict["checks"] if not c["passed"]]
    logger.info(
        "quality gate for the %s report of %s: %s (%s) in %.1f s",
        scope,
        day,
        verdict["verdict"],
        ", ".join(failed) or "every check passed",
        verdict["seconds"],
    )
    return verdict


@task(name="publish-report", **WRITER)
def publish_report(
    settings: FlowSettings, scope: str, day: dt.date, verdict: dict[str, Any]
) -> Outcome:
    """Publish the report once and queue the owners' e-mails. The recipients come from the hub;
    when it cannot be asked the report is still published, and the task fails afterwards so a
    retry (or re-run) queues the e-mails."""
    logger = get_run_logger()
    recipients: list[dict[str, Any]] = []
    hub_error: HubError | None = None
    try:
        with HubClient.from_settings() as hub:
            recipients = hub.list_recipients()
    except HubError as exc:
        hub_error = exc
    with writer_lock(settings.warehouse_path, settings.writer_lock_timeout_seconds):
        outcome = publishing.publish_report(
            warehouse_path=settings.warehouse_path,
            reports_dir=settings.reports_dir,
            scope=scope,
            day=day,
            verdict=verdict,
            recipients=recipients,
            mail=load_mail_settings(),
            page_language=settings.report_language,
        )
    logger.info(outcome.describe())
    if hub_error is not None:
        raise hub_error
    return outcome


@task(name="withhold-report", cache_policy=NO_CACHE)
def withhold_report(
    settings: FlowSettings, scope: str, day: dt.date, verdict: dict[str, Any]
) -> Outcome:
    """Write the withheld verdict and queue the operations alert."""
    outcome = publishing.withhold_report(
        reports_dir=settings.reports_dir,
        scope=scope,
        day=day,
        verdict=verdict,
        ops_addresses=settings.ops_addresses,
        ops_language=settings.ops_language,
        mail=load_mail_settings(),
    )
    get_run_logger().error(outcome.describe())
    return outcome


@task(
    name="draft-purchase-orders",
    cache_policy=NO_CACHE,
    retries=RETRIES,
    retry_delay_seconds=RETRY_BACKOFF,
    retry_jitter_factor=0.5,
    retry_condition_fn=is_transient,
)
def draft_purchase_orders(settings: FlowSettings, day: dt.date) -> dict[str, Any]:
    """Reorder suggestions of `day` become draft purchase orders on the hub (once per store,
    supplier and day, however often this runs)."""
    logger = get_run_logger()
    suggestions = reorder.load_suggestions(settings.marts_dir, day)
    with HubClient.from_settings() as hub:
        result = reorder.draft_orders(suggestions, day, hub)
    logger.info(result.summary())
    if result.failed:
        for failure in result.failed:
            logger.warning("draft purchase order not made: %s", failure)
    return {
        "created": len(result.created),
        "existing": len(result.existing),
        "failed": len(result.failed),
        "lines": result.lines,
        "value_minor": result.value_minor,
    }


@task(name="deliver-mail", cache_policy=NO_CACHE)
def deliver_mail() -> dict[str, Any]:
    """Send what the outbox holds and is due. SMTP down is not a failure of the run: the e-mails
    stay queued and go with the next run (or `kassa mail send`)."""
    logger = get_run_logger()
    delivered = publishing.deliver(load_mail_settings())
    if delivered["deferred"]:
        logger.warning(
            "%d e-mail(s) wait for SMTP: %s",
            len(delivered["deferred"]),
            "; ".join(sorted(set(delivered["deferred"].values())))[:500],
        )
    if delivered["failed"]:
        logger.error("e-mail(s) refused for good: %s", delivered["failed"])
    logger.info("%d e-mail(s) sent", delivered["sent"])
    return delivered
