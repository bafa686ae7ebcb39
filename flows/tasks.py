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

from flows.lock import writer_lock
from warehouse import pipeline
from warehouse.pipeline import MartParams, MartsBuilt, Refreshed

WRITER_TAG = "kassa-warehouse-writer"
GATE_ISSUE = "issue 6"


class QualityGateNotBuiltError(RuntimeError):
    """The quality gate does not exist yet, so daily-close fails closed: nothing is published."""

    def __init__(
        self, as_of: dt.date, marts_dir: Path, refreshed: Refreshed, marts: MartsBuilt
    ) -> None:
        super().__init__(
            f"quality gate not built yet ({GATE_ISSUE}): nothing is published for "
            f"{as_of.isoformat()}; the marts were rebuilt and are in {marts_dir}"
        )
        self.as_of = as_of
        self.marts_dir = marts_dir
        self.refreshed = refreshed
        self.marts = marts


# Errors a retry cannot fix: fail at once instead of waiting through the backoff.
NOT_TRANSIENT: tuple[type[BaseException], ...] = (
    QualityGateNotBuiltError,
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


@task(name="quality-gate", cache_policy=NO_CACHE, retries=0)
def quality_gate(as_of: dt.date, marts_dir: Path, refreshed: Refreshed, marts: MartsBuilt) -> None:
    """Fails closed until the quality suite lands: never a pass it has not earned. (It always
    raises; typed `None` because Prefect's task typing takes `NoReturn` for a coroutine.)"""
    raise QualityGateNotBuiltError(as_of, marts_dir, refreshed, marts)
