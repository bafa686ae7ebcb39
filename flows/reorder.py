"""Reorder suggestions (`rpt_reorder`) become draft purchase orders on the hub.

One draft per store and supplier for the as-of date, made through the hub's API with the key
`reorder:<store>:<supplier>:<as-of>`: the hub keeps one order per key and answers a re-run with
the order it already has (200), so re-running `daily-close` creates nothing twice. An existing
draft is left as it is (a manager may have edited it already). A supplier with more lines than
the hub takes on one order (`MAX_LINES`) gets several drafts, split by product id, the second
keyed `...:part2` and so on.

Each line orders the suggested quantity at the supplier's last cost; without one, at the store's
moving-average cost at the end of the as-of day (`rpt_stock_position`), else at 0 (the hub takes
0; the manager fills the price in). Its `reason` is compact JSON of every input of the formula
and where the cost came from, so a manager sees why this quantity.

A group the hub refuses (e.g. its supplier was deactivated since the marts were built: 422) is
reported with the hub's message and does not stop the others. A refused token or an unreachable
hub stops the run: every group would fail the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from flows.hub_client import (
    FieldError,
    HubAuthError,
    HubClient,
    HubError,
    HubUnavailableError,
)
from warehouse.calc import REORDER_INPUTS

MART = "rpt_reorder"
POSITION = "rpt_stock_position"
MANIFEST = "_manifest.json"
MART_STATE = "_mart_state"
MAX_LINES = 1000  # lines per order the hub takes (hub.stock.schemas.MAX_LINES; a test checks)
MAX_REASON_CHARS = 2000  # hub.text.LongText
MAX_KEY_CHARS = 100  # hub.purchasing.schemas.SourceKey

# Every input of the formula (the mart's own list), then the answer and the day.
REASON_FIELDS = (*REORDER_INPUTS, "suggested_qty_milli", "as_of")
REQUIRED = (
    "store_id",
    "product_id",
    "supplier_id",
    "needs_order",
    "last_cost_minor",
    *REASON_FIELDS,
)
# Where a line's unit cost came from (the reason's `unit_cost_source`).
SUPPLIER_COST = "supplier_last_cost"
AVERAGE_COST = "store_average_cost"
NO_COST = "none"


class MartsNotReadyError(RuntimeError):
    """The marts on hand are not those of the as-of date asked for (not built yet, or a build
    is replacing them right now)."""


# --- reading the suggestions -----------------------------------------------------------------


def load_suggestions(
    source: Path | str | duckdb.DuckDBPyConnection, as_of: dt.date
) -> pl.DataFrame:
    """The `rpt_reorder` rows of `as_of` that order something (`needs_order` and a quantity),
    with `avg_cost_minor` from `rpt_stock_position`, sorted by store, supplier and product.

    `source` is the marts directory (Parquet: no DuckDB lock taken, safe while a flow writes the
    warehouse) or an open DuckDB connection. Raises `MartsNotReadyError` when the marts there are
    of another day."""
    if isinstance(source, duckdb.DuckDBPyConnection):
        frame = _from_duckdb(source, as_of)
    else:
        frame = _from_parquet(Path(source), as_of)
    return _wanted(frame, as_of)


def _from_parquet(directory: Path, as_of: dt.date) -> pl.DataFrame:
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MartsNotReadyError(
            f"no marts in {directory} (no {MANIFEST}): run daily-close for {as_of} first"
        ) from None
    built = str(manifest.get("as_of"))
    if built != as_of.isoformat():
        raise MartsNotReadyError(
            f"the marts in {directory} are for {built}, not {as_of}: run daily-close for {as_of}"
        )
    reorder = _of_day(pl.read_parquet(directory / f"{MART}.parquet"), as_of, directory)
    position_file = directory / f"{POSITION}.parquet"
    if not position_file.exists():
        return reorder.with_columns(pl.lit(None, dtype=pl.Int64).alias("avg_cost_minor"))
    position = _of_day(
        pl.read_parquet(
            position_file, columns=["store_id", "product_id", "as_of", "avg_cost_minor"]
        ),
        as_of,
        directory,
    ).drop("as_of")
    return reorder.join(position, on=["store_id", "product_id"], how="left")


def _of_day(frame: pl.DataFrame, as_of: dt.date, directory: Path) -> pl.DataFrame:
    """The file's rows must all be of `as_of`: a build renames its files one by one."""
    days = set(frame.get_column("as_of").unique().to_list())
    if days - {as_of}:
        raise MartsNotReadyError(
            f"the marts in {directory} are being rebuilt (found rows of "
            f"{', '.join(sorted(str(d) for d in days))}); try again when the build is done"
        )
    return frame


def _from_duckdb(duck: duckdb.DuckDBPyConnection, as_of: dt.date) -> pl.DataFrame:
    built = duck.execute(f"SELECT as_of FROM {MART_STATE}").fetchall()  # noqa: S608
    if not built or built[0][0] != as_of:
        day = built[0][0] if built else "nothing"
        raise MartsNotReadyError(
            f"the warehouse's marts are for {day}, not {as_of}: run daily-close for {as_of}"
        )
    frame: pl.DataFrame = duck.sql(
        f"SELECT r.*, p.avg_cost_minor FROM {MART} r "  # noqa: S608
        f"LEFT JOIN {POSITION} p USING (store_id, product_id, as_of) WHERE r.as_of = ?",
        params=[as_of],
    ).pl()
    return frame


def _wanted(frame: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"the reorder suggestions lack the columns {', '.join(missing)}")
    if "avg_cost_minor" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("avg_cost_minor"))
    return frame.filter(
        (pl.col("as_of") == as_of) & pl.col("needs_order") & (pl.col("suggested_qty_milli") > 0)
    ).sort("store_id", "supplier_id", "product_id")


# --- the drafts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftOrder:
    """A draft the hub holds for one store, supplier and as-of date (or one part of it)."""

    store_id: int
    supplier_id: int
    source_key: str
    order_id: int
    status: str
    lines: int  # as the hub holds them
    total_minor: int  # as the hub holds them
    created: bool  # False: the key had an order already (a re-run)


@dataclass(frozen=True)
class GroupFailure:
    """A store and supplier whose draft the hub refused; `errors` are the hub's field errors."""

    store_id: int
    supplier_id: int
    source_key: str
    lines: int
    status: int | None
    message: str
    errors: tuple[FieldError, ...] = ()


@dataclass
class ReorderResult:
    as_of: dt.date
    created: list[DraftOrder] = field(default_factory=list)
    existing: list[DraftOrder] = field(default_factory=list)
    failed: list[GroupFailure] = field(default_factory=list)
    lines: int = 0  # suggestion lines, every group
    value_minor: int = 0  # their value at the unit costs sent, every group

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def orders(self) -> list[DraftOrder]:
        return [*self.created, *self.existing]

    def summary(self) -> str:
        text = (
            f"reorder drafts for {self.as_of}: {len(self.created)} created, "
            f"{len(self.existing)} already there, {len(self.failed)} refused; "
            f"{self.lines} lines worth {self.value_minor} minor units"
        )
        for failure in self.failed:
            text += (
                f"\n  store {failure.store_id}, supplier {failure.supplier_id} "
                f"({failure.source_key}): {failure.message}"
            )
        return text


def source_key(store_id: int, supplier_id: int, as_of: dt.date, part: int = 1) -> str:
    """`reorder:<store>:<supplier>:<as-of>`, and `...:part<N>` from the second part on."""
    key = f"reorder:{store_id}:{supplier_id}:{as_of.isoformat()}"
    return key if part == 1 else f"{key}:part{part}"


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise TypeError(f"cannot put {value!r} in a reorder reason")


def reason(row: dict[str, Any], cost_source: str) -> str:
    """Compact JSON of every input of the formula (integers stay integers) and the cost's
    source."""
    data = {name: _json_value(row[name]) for name in REASON_FIELDS}
    data["unit_cost_source"] = cost_source
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if len(text) > MAX_REASON_CHARS:  # 17 numbers cannot come near it; say so if they ever do
        raise ValueError(f"a reorder reason of {len(text)} characters is over {MAX_REASON_CHARS}")
    return text


def unit_cost(row: dict[str, Any]) -> tuple[int, str]:
    """The supplier's last cost, else the store's moving-average cost, else 0."""
    if row["last_cost_minor"] is not None:
        return int(row["last_cost_minor"]), SUPPLIER_COST
    if row.get("avg_cost_minor") is not None and row["avg_cost_minor"] >= 0:
        return int(row["avg_cost_minor"]), AVERAGE_COST
    return 0, NO_COST


def _amount(qty_milli: int, unit_cost_minor: int) -> int:
    """round_half_up(qty x cost / 1000), as the hub prices a line (both are >= 0 here)."""
    return (2 * qty_milli * unit_cost_minor + 1000) // 2000


def _line(row: dict[str, Any]) -> tuple[dict[str, Any], int]:
    cost, source = unit_cost(row)
    qty = int(row["suggested_qty_milli"])
    line = {
        "product_id": int(row["product_id"]),
        "qty_ordered_milli": qty,
        "unit_cost_minor": cost,
        "reason": reason(row, source),
    }
    return line, _amount(qty, cost)


def note(as_of: dt.date, part: int = 1, parts: int = 1) -> str:
    text = (
        f"Черновик по расчёту пополнения на {as_of:%d.%m.%Y} / "
        f"Reorder draft for {as_of.isoformat()}"
    )
    if parts > 1:
        text += f" (часть {part} из {parts} / part {part} of {parts})"
    return text


def expected_at(as_of: dt.date, lead_time_days: int) -> dt.date:
    """When the goods come if the draft is sent the day it is made (the day after `as_of`): the
    formula's own assumption (stock position at the end of `as_of`, lead time from then)."""
    return as_of + dt.timedelta(days=1 + lead_time_days)


def _groups(frame: pl.DataFrame) -> Iterable[tuple[tuple[int, int], list[dict[str, Any]]]]:
    current: tuple[int, int] | None = None
    rows: list[dict[str, Any]] = []
    for row in frame.iter_rows(named=True):
        key = (int(row["store_id"]), int(row["supplier_id"]))
        if key != current and rows:
            assert current is not None
            yield current, rows
            rows = []
        current = key
        rows.append(row)
    if rows and current is not None:
        yield current, rows


def draft_orders(
    suggestions: pl.DataFrame,
    as_of: dt.date,
    client: HubClient,
    *,
    max_lines: int = MAX_LINES,
) -> ReorderResult:
    """One draft purchase order per store and supplier (and per `max_lines` lines) for the
    suggestions of `as_of` that order something; idempotent per store, supplier and date.

    Raises `HubAuthError` (the token is refused) and `HubUnavailableError` (the hub does not
    answer; a retry later creates only what is missing); any other refusal is reported per group
    in the result."""
    if not 1 <= max_lines <= MAX_LINES:
        raise ValueError(f"max_lines must be 1..{MAX_LINES}, got {max_lines}")
    result = ReorderResult(as_of)
    for (store_id, supplier_id), rows in _groups(_wanted(suggestions, as_of)):
        priced = [_line(row) for row in rows]
        result.lines += len(priced)
        result.value_minor += sum(amount for _, amount in priced)
        lead = max(int(row["lead_time_days"]) for row in rows)
        parts = [priced[i : i + max_lines] for i in range(0, len(priced), max_lines)]
        for n, part in enumerate(parts, start=1):
            key = source_key(store_id, supplier_id, as_of, n)
            body = {
                "supplier_id": supplier_id,
                "source_key": key,
                "note": note(as_of, n, len(parts)),
                "expected_at": expected_at(as_of, lead).isoformat(),
                "lines": [line for line, _ in part],
            }
            try:
                order, created = client.create_draft_order(store_id, body)
            except (HubAuthError, HubUnavailableError):
                raise
            except HubError as exc:
                result.failed.append(
                    GroupFailure(
                        store_id, supplier_id, key, len(part), exc.status, exc.message, exc.errors
                    )
                )
                continue
            draft = DraftOrder(
                store_id=store_id,
                supplier_id=supplier_id,
                source_key=key,
                order_id=int(order["id"]),
                status=str(order.get("status", "")),
                lines=len(order.get("lines", [])),
                total_minor=int(order.get("total_minor", 0)),
                created=created,
            )
            (result.created if created else result.existing).append(draft)
    return result


__all__ = [
    "MAX_LINES",
    "REASON_FIELDS",
    "DraftOrder",
    "GroupFailure",
    "MartsNotReadyError",
    "ReorderResult",
    "draft_orders",
    "load_suggestions",
    "source_key",
]
