"""Driving the till screen in tests: wait for a condition, type text, read what is shown."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, OptionList, Static

from till_agent.ui.app import TillApp


class KeyClock:
    """A fake clock for key timestamps: every reading moves it on by `step` seconds, so typed
    keys look `step` apart whatever Pilot's real pace is."""

    def __init__(self, step: float = 0.2) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


async def until(
    pilot: Pilot[None], condition: Callable[[], object], what: str = "", timeout: float = 8.0
) -> None:
    """Let the app run until `condition()` holds (a worker finished, a screen appeared)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


def widget_text(widget: Widget) -> str:
    if isinstance(widget, DataTable):
        return "\n".join(
            " | ".join(str(cell) for cell in widget.get_row_at(i)) for i in range(widget.row_count)
        )
    if isinstance(widget, OptionList):
        return "\n".join(
            str(widget.get_option_at_index(i).prompt) for i in range(widget.option_count)
        )
    if isinstance(widget, Input):
        return widget.value
    if isinstance(widget, Button):
        return str(widget.label)
    if isinstance(widget, Static):
        return str(widget.content)
    return ""


def screen_text(screen: Screen[Any]) -> str:
    """Everything the screen shows as text, widget by widget."""
    parts = [widget_text(w) for w in screen.query("*") if w.display]
    return "\n".join(p for p in parts if p)


def shown(app: TillApp, selector: str) -> str:
    return widget_text(app.screen.query_one(selector))
