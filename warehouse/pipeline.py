"""The warehouse's two jobs, as the flows (and the demo and the benchmark) call them.

- `refresh`: extract the hub incrementally, then rebuild staging, dimensions and facts.
- `build_marts`: rebuild the marts for one as-of date and write them as Parquet.

Each opens the DuckDB file itself, writes in transactions and closes it, so a caller holds the
file's single writer lock only while a job runs.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from warehouse.extract import Extracted, extract, open_warehouse
from warehouse.marts import MartParams, MartsBuilt, build_marts_in
from warehouse.transform import Built, build


@dataclass(frozen=True)
class Refreshed:
    extracted: Extracted
    built: Built
    seconds: float


def refresh(hub_url: str, warehouse_path: str | Path) -> Refreshed:
    """Bring the raw layer up to the hub and rebuild dimensions and facts."""
    started = time.perf_counter()
    duck = open_warehouse(warehouse_path)
    try:
        extracted = extract(hub_url, duck)
        built = build(duck)
    finally:
        duck.close()
    return Refreshed(extracted, built, time.perf_counter() - started)


def build_marts(
    warehouse_path: str | Path,
    as_of: dt.date,
    *,
    params: MartParams | None = None,
    marts_dir: str | Path | None = None,
) -> MartsBuilt:
    """Rebuild every mart for `as_of` and, when `marts_dir` is given, write each as Parquet there
    (atomically: readers see the old file or the new one)."""
    duck = open_warehouse(warehouse_path)
    try:
        return build_marts_in(
            duck, as_of, params or MartParams(), Path(marts_dir) if marts_dir else None
        )
    finally:
        duck.close()


def default_as_of(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The last complete day in the chain's time zone: yesterday there."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


__all__ = ["MartParams", "MartsBuilt", "Refreshed", "build_marts", "default_as_of", "refresh"]
