"""Fixtures for the flow tests.

Prefect reads its settings at import, so PREFECT_HOME points at a temporary folder before any
test imports it (nothing is written to ~/.prefect). Only flow runs need a Prefect server, and
starting one costs 8-16 s: the flow tests share ONE `prefect_test_harness` for the session, and
the tasks are tested through `.fn()` without a server.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="kassa-test-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")

FLOW_SETTINGS = (
    "KASSA_WAREHOUSE_PATH",
    "KASSA_MARTS_DIR",
    "KASSA_CHAIN_TIMEZONE",
    "KASSA_REORDER_SERVICE_LEVEL",
    "KASSA_REFRESH_MINUTES",
    "KASSA_DAILY_CLOSE_CRON",
    "KASSA_PREFECT_HOME",
    "KASSA_WRITER_LOCK_TIMEOUT_SECONDS",
)


@pytest.fixture
def flow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Default flows settings, with the working directory (and so var/) in a temporary folder."""
    for name in FLOW_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sales_hub(
    client: Any, world: Any, db: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """A hub with three days of sales and a return (tests/warehouse's `_trade`); the flows find
    it through KASSA_DATABASE_URL. Request it with
    `@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)`: PostgreSQL is covered by
    tests/warehouse."""
    from tests.warehouse.test_extract import _trade

    _trade(client, world, db)
    monkeypatch.setenv("KASSA_DATABASE_URL", db_url)
    return db


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect server for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
