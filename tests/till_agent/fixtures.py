"""Fixtures the till's tests share (tests/till_agent via its conftest, tests/kassa by import):
a decoding TCP printer, a settable clock, a seeded shop, a live hub, pairing codes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.hub.live_hub import LiveHub
from tests.hub.sales_fixtures import Shop, seed_shop
from tests.till_agent.shop import Clock
from till_agent.sim.printer_server import PrinterSim, printer_server


@pytest.fixture
def sim() -> Iterator[PrinterSim]:
    with printer_server() as printer:
        yield printer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shop(world, db) -> Shop:  # type: ignore[no-untyped-def]
    return seed_shop(db, world.store_a)


@pytest.fixture
def live(db_url, shop) -> Iterator[LiveHub]:  # type: ignore[no-untyped-def]
    """The hub under uvicorn on the test's seeded database; it must log no traceback."""
    with LiveHub(db_url) as hub:
        yield hub
        hub.stop()
        assert "Traceback" not in hub.output(), hub.output()[-4000:]


def pairing_code(
    base_url: str, world: Any, *, device_name: str = "Касса 1", replaces: int | None = None
) -> str:
    """A one-time code for store A, made by its manager through the API."""
    response = httpx.post(
        f"{base_url}/api/v1/stores/{world.store_a}/pairing-codes",
        json={"device_name": device_name, "replaces_device_id": replaces},
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["code"])
