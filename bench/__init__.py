"""Benchmarks (not timed tests): `make bench` runs every module here and writes docs/BENCHMARKS.md.

A benchmark module exposes `run() -> Report`. Every report states what it measured, the goal
from the issue, a baseline measured in the same run, and a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASS = "pass"  # noqa: S105 - a verdict, not a password
FAIL = "FAIL"
INFO = "info"


@dataclass(frozen=True)
class Metric:
    name: str
    goal: str  # "≤ 5 s", or "-" when the issue sets none
    measured: str
    baseline: str
    verdict: str  # pass | FAIL | info


@dataclass
class Report:
    title: str
    what: str  # one paragraph: the scenario
    baseline: str  # one paragraph: what the baseline is and why
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(m.verdict != FAIL for m in self.metrics)

    def to_markdown(self) -> str:
        lines = [f"## {self.title}", "", self.what, "", f"**Baseline.** {self.baseline}", ""]
        lines += ["| metric | goal | measured | baseline | verdict |", "|---|---|---|---|---|"]
        for m in self.metrics:
            cells = (m.name, m.goal, m.measured, m.baseline, f"**{m.verdict}**")
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines) + "\n"


def verdict(value: float, limit: float) -> str:
    return PASS if value <= limit else FAIL


def seconds(value: float) -> str:
    """3.214 -> '3.21 s'; 0.0123 -> '12.3 ms'; 0.00042 -> '0.42 ms'."""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 0.01:
        return f"{value * 1000:.1f} ms"
    return f"{value * 1000:.2f} ms"


def mebibytes(count: float) -> str:
    return f"{count / 2**20:.1f} MiB"
