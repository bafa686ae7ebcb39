"""The till's screen (Textual): `TillApp` over a `Till` or a running `Agent`; `run_app` runs it."""

from till_agent.ui.app import TillApp, run_app

__all__ = ["TillApp", "run_app"]
