"""Fixtures every till test shares: a running decoding TCP printer and a settable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.till_agent.shop import Clock
from till_agent.sim.printer_server import PrinterSim, printer_server


@pytest.fixture
def sim() -> Iterator[PrinterSim]:
    with printer_server() as printer:
        yield printer


@pytest.fixture
def clock() -> Clock:
    return Clock()
