"""A hub database at warehouse scale for `bench.warehouse`: a chain's 90 days of trade, in bulk.

`build(directory, shape)` writes a freshly migrated SQLite hub (`hub.db`) holding the base period
and a second migrated file (`increment.db`) holding what the next days add: new rows and the new
versions of rows the hub updates (stock levels, till states, purchase orders as they are received,
supplier terms, changed prices). `apply_increment` copies the second into the first, as if the hub
had been running for those days. Everything is generated with numpy from one seed (the same shape
always gives the same databases) and written with ADBC bulk ingest; nothing goes through the
hub's services, so the generator itself keeps the hub's rules:

- DOMAIN.md amounts: line amount = round_half_up(qty x price / 1000) - discount, VAT from the
  VAT-inclusive amount at the product's rate, sale total = sum of its lines, payments - change =
  total, change only from cash; a return names its sale and returns one of its lines in full
  (a line is returned at most once: never more than was sold, as the hub checks),
  refunded by the original tender.
- The stock ledger: one move per sale or return line of a known product, goods receipts (from
  purchase orders, at a unit cost), write-offs and counts (the delta to the counted quantity);
  the moving-average cost per store and product follows `hub.stock.ledger.new_average` move by
  move in id order, and each sale line keeps the average it found as its cost snapshot; the stock
  level of a store and product is the sum of its moves with the average after the last receipt.
- Change numbers: catalog rows from the `catalog` counter, everything else from `ledger`, in the
  order the rows were written; `change_counter` holds the last number handed out.
- Journals: per till, `till_seq` 1..n without gaps and each `prev_hash` the previous sale's
  `hash` (random digests, not the till's real hash of the payload), carried on by the device that
  replaced a till; shifts hold the hub's cash figures of their sales and events; till states
  their device's last sale, highest numbers and counts; devices their last contact and the
  journal head (`X-Kassa-Journal`) they reported with it, the hub's highest numbers then (what
  the quality gate compares).

`tests/bench/test_warehouse_bench.py` checks every rule above row by row on a small hub,
replaying the stock ledger with the hub's own `new_average`.

The shape (defaults = the issue's benchmark): 5 stores in 5 time zones (Moscow open 24 hours),
4 tills each (one replaced a third of the way through, its journal continued by the new device),
6 cashiers each, a 20,000-product catalog from `kassa.demo_catalog` (its category tree and 4 tax
rates; 5 % of prices changed mid-period, 2 % more in the increment), 30 suppliers delivering every
3, 7 or 14 days after 1-5 days' lead time, 10,000,000 sale lines in ~2.5M receipts (1-12 lines,
mean 4; 1 % returns; 0.02 % unknown barcodes; 3 % of lines discounted), one shift per till and
day with its open / pay-in / collection / close events, and 0.5 % of products never received
(so their cost is unknown and their stock negative, as the hub allows).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kassa import demo_catalog

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
U8 = npt.NDArray[np.uint8]

SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY_US = 24 * HOUR_US
EPOCH = dt.date(1970, 1, 1)
NULL = -(2**62)  # "no value" inside int64 arrays; written as SQL NULL


@dataclass(frozen=True)
class StoreSpec:
    name: str
    address: str
    timezone: str
    opens_hour: int
    closes_hour: int  # 24 = open round the clock
    weight: float  # share of the chain's receipts


STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "Продукты на Тверской", "г. Москва, ул. Тверская, д. 8", "Europe/Moscow", 0, 24, 0.30
    ),
    StoreSpec(
        "Продукты на Малышева",
        "г. Екатеринбург, ул. Малышева, д. 51",
        "Asia/Yekaterinburg",
        8,
        22,
        0.22,
    ),
    StoreSpec(
        "Продукты на Куйбышева", "г. Самара, ул. Куйбышева, д. 90", "Europe/Samara", 8, 22, 0.18
    ),
    StoreSpec(
        "Продукты на Красном",
        "г. Новосибирск, Красный проспект, д. 25",
        "Asia/Novosibirsk",
        8,
        22,
        0.17,
    ),
    StoreSpec(
        "Продукты на Ленинском",
        "г. Калининград, Ленинский проспект, д. 30",
        "Europe/Kaliningrad",
        9,
        21,
        0.13,
    ),
)
# Receipts per hour of the local day (a shop's curve: lunch and after-work peaks, quiet nights).
HOURLY = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 4, 5, 6, 7, 8, 7, 6, 6, 7, 9, 10, 9, 7, 5, 3, 2)
WEEKDAY = (0.92, 0.9, 0.95, 1.0, 1.1, 1.22, 1.12)  # Monday .. Sunday
FIRST_NAMES = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Ирина", "Светлана", "Татьяна")
LAST_NAMES = ("Смирнова", "Иванова", "Кузнецова", "Попова", "Васильева", "Петрова", "Соколова")
SUPPLIER_NAMES = ("Молторг", "ХлебПром", "Агроснаб", "Продсервис", "Дистрибьютор", "Оптторг")
FLOAT_MINOR = 500_000  # every shift opens with 5,000 RUB counted in the drawer


@dataclass(frozen=True)
class Shape:
    lines: int = 10_000_000  # sale lines in the base period (returns included)
    increment_lines: int = 1_250_000  # sale lines the increment adds, over the next days
    days: int = 90  # local days of trade in the base period, ending on `as_of`
    products: int = 20_000
    tills_per_store: int = 4
    cashiers_per_store: int = 6
    suppliers: int = 30
    return_share: float = 0.01  # of receipts
    unknown_share: float = 0.0002  # of sale lines: a barcode the catalog did not know
    discount_share: float = 0.03  # of sale lines
    unsupplied_share: float = 0.005  # of products: never received, so cost unknown
    price_change_share: float = 0.05  # of products: new price half-way through the base period
    increment_price_change_share: float = 0.02  # more new prices at the start of the increment
    as_of: dt.date = dt.date(2026, 11, 26)  # the base period's last day
    seed: int = 20_261_126

    @property
    def increment_days(self) -> int:
        """The increment covers as many days as its lines take at the base period's rate."""
        return max(1, round(self.days * self.increment_lines / self.lines))

    @property
    def increment_as_of(self) -> dt.date:
        return self.as_of + dt.timedelta(days=self.increment_days)

    @property
    def first_day(self) -> dt.date:
        return self.as_of - dt.timedelta(days=self.days - 1)


@dataclass
class Truth:
    """What was written, summed by the generator itself (fct_sale_line semantics: returns negative,
    COGS = round_half_up(qty x cost / 1000) per line, gross profit ex VAT, NULL cost excluded)."""

    sales: int = 0  # receipts (kind sale)
    returns: int = 0
    lines: int = 0
    revenue_minor: int = 0
    vat_minor: int = 0
    cogs_minor: int = 0
    gross_profit_minor: int = 0
    revenue_without_cost_minor: int = 0
    stock_moves: int = 0
    on_hand_milli: int = 0  # sum of every stock level


@dataclass
class Built:
    path: Path
    url: str
    increment_path: Path
    shape: Shape
    base: Truth  # the hub after `build`
    total: Truth  # the hub after `apply_increment`
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written by `build`
    increment_rows: dict[str, int] = field(default_factory=dict)  # rows in increment.db
    generate_seconds: float = 0.0  # numpy: the whole timeline in memory
    write_seconds: float = 0.0  # both files, indexes included
    file_bytes: int = 0

    @property
    def seconds(self) -> float:
        return self.generate_seconds + self.write_seconds

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values()) + sum(self.increment_rows.values())


# --- vectorised text: timestamps, hex, digits -------------------------------------------------


def _strings(chars: U8) -> pa.Array:
    """Rows of a 2-D uint8 array of ASCII as an Arrow string array (zero copy)."""
    count, width = chars.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars)
    return pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def _digits(values: I64, width: int) -> U8:
    """Zero-padded decimal digits of non-negative integers as (n, width) ASCII."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.astype(np.int64).copy()
    for position in range(width - 1, -1, -1):
        out[:, position] = rest % 10 + 48
        rest //= 10
    return out


def timestamps(us: I64) -> pa.Array:
    """Microseconds since the epoch (UTC) as the hub's SQLite text: 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    days = us // DAY_US
    first = int(days.min()) if len(days) else 0
    span = (int(days.max()) if len(days) else 0) - first + 1
    table = np.frombuffer(
        "".join(
            (EPOCH + dt.timedelta(days=first + n)).isoformat() + " " for n in range(span)
        ).encode(),
        dtype=np.uint8,
    ).reshape(span, 11)
    out = np.empty((len(us), 26), dtype=np.uint8)
    out[:, :11] = table[days - first]
    rest = us % DAY_US
    micro = rest % SECOND_US
    seconds_of_day = rest // SECOND_US
    out[:, 11:13] = _digits(seconds_of_day // 3600, 2)
    out[:, 13] = ord(":")
    out[:, 14:16] = _digits(seconds_of_day // 60 % 60, 2)
    out[:, 16] = ord(":")
    out[:, 17:19] = _digits(seconds_of_day % 60, 2)
    out[:, 19] = ord(".")
    out[:, 20:26] = _digits(micro, 6)
    return _strings(out)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_strings(raw: U8) -> pa.Array:
    """(n, k) random bytes as n lower-case hex strings of 2k characters."""
    out = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    out[:, 0::2] = _HEX[raw >> 4]
    out[:, 1::2] = _HEX[raw & 0x0F]
    return _strings(out)


def uuid7_strings(rng: np.random.Generator, at_us: I64) -> pa.Array:
    """UUIDv7 (time-ordered) as the hub stores UUIDs in SQLite: 32 hex digits, no dashes."""
    raw = rng.integers(0, 256, size=(len(at_us), 16), dtype=np.uint8)
    ms = at_us // 1000
    for byte in range(6):
        raw[:, byte] = (ms >> (8 * (5 - byte))) & 0xFF
    raw[:, 6] = 0x70 | (raw[:, 6] & 0x0F)
    raw[:, 8] = 0x80 | (raw[:, 8] & 0x3F)
    return hex_strings(raw)


def ean13(body: U8) -> pa.Array:
    """(n, 12) digit values (0-9) -> EAN-13 strings with their check digit."""
    weights = np.tile(np.array([1, 3], dtype=np.int64), 6)
    check = (10 - (body.astype(np.int64) @ weights) % 10) % 10
    out = np.empty((body.shape[0], 13), dtype=np.uint8)
    out[:, :12] = body + 48
    out[:, 12] = check + 48
    return _strings(out)


def half_up(numerator: I64, denominator: I64 | int) -> I64:
    """round_half_up for non-negative numerators (wire.money's rule, vectorised)."""
    return (2 * numerator + denominator) // (2 * denominator)  # type: ignore[no-any-return]


def vat_of(amount: I64, rate_bp: I64) -> I64:
    """wire.money.vat_from_inclusive, vectorised; rate NULL -> 0."""
    rate = np.where(rate_bp == NULL, 0, rate_bp)
    return np.where(rate_bp == NULL, 0, half_up(amount * rate, 10_000 + rate))  # type: ignore[no-any-return]


def group_starts(keys: I64) -> I64:
    """For keys sorted in groups: the index where each element's group starts."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    new = np.empty(len(keys), dtype=bool)
    new[0] = True
    new[1:] = keys[1:] != keys[:-1]
    return np.maximum.accumulate(np.where(new, np.arange(len(keys)), 0))  # type: ignore[no-any-return]


def rank_in_group(keys: I64) -> I64:
    """0, 1, 2 ... within each run of equal keys (keys sorted in groups)."""
    return np.arange(len(keys)) - group_starts(keys)  # type: ignore[no-any-return]


def _col(values: I64 | Mask) -> pa.Array:
    """int64 column with NULL where the value is the NULL marker."""
    array = np.asarray(values).astype(np.int64, copy=False)
    nulls = array == NULL
    return pa.array(array, mask=nulls if nulls.any() else None, type=pa.int64())


# --- the world: every row of the timeline, in memory -----------------------------------------


class World:
    """The chain's whole timeline (base + increment days), as column arrays."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.rng = np.random.default_rng(shape.seed)
        self.n_days = shape.days + shape.increment_days  # local days 0 .. n_days-1
        self._catalog()
        self._chain()
        self._events()
        self._lines()
        self._returns()
        self._payments()
        self._shifts()
        self._supply()
        self._ledger()
        self._finish_sales()
        self._till_states()

    # -- reference data --------------------------------------------------------------------

    def _catalog(self) -> None:
        shape, rng = self.shape, self.rng
        items = list(demo_catalog.generate(shape.products, seed=shape.seed % 1000))
        n = len(items)
        self.tax_rates = [
            (number, code, name, rate)
            for number, (code, name, rate) in enumerate(demo_catalog.TAX_RATES, start=1)
        ]
        tax_id = {code: number for number, code, _n, _r in self.tax_rates}
        tax_rate = {
            number: (NULL if rate is None else rate) for number, _c, _n, rate in self.tax_rates
        }
        paths = sorted(
            {s.path[:depth] for s in demo_catalog.SECTIONS for depth in range(1, len(s.path) + 1)},
            key=lambda path: (len(path), path),
        )
        self.category_ids = {path: number for number, path in enumerate(paths, start=1)}
        self.categories = paths
        self.items = items
        self.p_kg = np.array([item.unit == "kg" for item in items])
        self.p_tax_id = np.array([tax_id[item.tax_code] for item in items], dtype=np.int64)
        self.p_rate = np.array([tax_rate[t] for t in self.p_tax_id.tolist()], dtype=np.int64)
        self.p_category = np.array([self.category_ids[i.category] for i in items], dtype=np.int64)
        price0 = np.array([item.price_minor for item in items], dtype=np.int64)
        # Prices change: some half-way through the base period, some when the increment starts.
        self.change_day = shape.days // 2
        changed = rng.random(n) < shape.price_change_share
        changed_inc = rng.random(n) < shape.increment_price_change_share
        price1 = np.where(changed, self._new_price(price0), price0)
        price2 = np.where(changed_inc, self._new_price(price1), price1)
        self.p_price = np.stack([price0, price1, price2])  # before / after the base change / inc
        self.p_changed, self.p_changed_inc = changed, changed_inc
        # Popularity: a long tail, a little different per store.
        base = rng.lognormal(0.0, 1.3, n)
        self.popularity = np.stack([base * rng.lognormal(0.0, 0.3, n) for _store in STORES])
        self.popularity /= self.popularity.sum(axis=1, keepdims=True)
        self.p_cost_ratio = rng.uniform(0.55, 0.75, n)  # cost / shelf price
        self.p_names = pa.array([item.name for item in items], type=pa.string())
        self.p_barcodes = pa.array([item.barcodes[0] for item in items], type=pa.string())
        self.p_scale = np.array([int(item.scale_code or 0) for item in items], dtype=np.int64)

    def _new_price(self, price: I64) -> I64:
        raised = price * self.rng.uniform(1.03, 1.15, len(price))
        return np.maximum((raised // 100).astype(np.int64) * 100 + 90, 90)

    def _chain(self) -> None:
        shape = self.shape
        s_count, tills = len(STORES), shape.tills_per_store
        self.offset_us = np.zeros(s_count, dtype=np.int64)
        for number, store in enumerate(STORES):
            zone = ZoneInfo(store.timezone)
            first = dt.datetime.combine(shape.first_day, dt.time(12), tzinfo=zone).utcoffset()
            last = dt.datetime.combine(
                shape.first_day + dt.timedelta(days=self.n_days + 30), dt.time(12), tzinfo=zone
            ).utcoffset()
            if first != last or first is None:
                raise ValueError(f"{store.timezone} changes its UTC offset in the period")
            self.offset_us[number] = int(first.total_seconds()) * SECOND_US
        first_local = (shape.first_day - EPOCH).days * DAY_US
        day = np.arange(-1, self.n_days + 40, dtype=np.int64)  # day -1 = the opening delivery
        # UTC microseconds of each store's local midnight, indexed [store, day + 1].
        self.midnight = first_local + day[None, :] * DAY_US - self.offset_us[:, None]
        self.weekday = np.array([(shape.first_day.weekday() + d) % 7 for d in day.tolist()])
        self.opens_us = np.array([s.opens_hour * HOUR_US for s in STORES], dtype=np.int64)
        self.closes_us = np.array([s.closes_hour * HOUR_US for s in STORES], dtype=np.int64)
        # People: the owner, then per store a manager and the cashiers.
        self.owner_id = 1
        self.manager_of = np.array([2 + s * (1 + shape.cashiers_per_store) for s in range(s_count)])
        self.cashiers_of = np.array(
            [
                [self.manager_of[s] + 1 + c for c in range(shape.cashiers_per_store)]
                for s in range(s_count)
            ],
            dtype=np.int64,
        )
        # Tills: slot = store x tills + till; device = slot + 1, and one more device that replaces
        # the first store's last till a third of the way through (its journal carries on).
        self.n_slots = s_count * tills
        self.replaced_slot = tills - 1
        self.replacement_id = self.n_slots + 1
        self.replaced_day = max(1, shape.days // 3)

    def device_of(self, slot: I64, day: I64) -> I64:
        return np.where(  # type: ignore[no-any-return]
            (slot == self.replaced_slot) & (day >= self.replaced_day), self.replacement_id, slot + 1
        )

    def at(self, store: I64, day: I64, tod_us: I64) -> I64:
        """UTC microseconds of a local time of day on a local day (-1 .. n_days) in a store."""
        return self.midnight[store, day + 1] + tod_us  # type: ignore[no-any-return]

    # -- sales and returns -----------------------------------------------------------------

    def _events(self) -> None:
        """Receipts and returns of both periods: store, till, day, time; sorted by time."""
        shape = self.shape
        parts = [
            self._period_events(0, 0, shape.days, shape.lines),
            self._period_events(1, shape.days, self.n_days, shape.increment_lines),
        ]
        ev = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
        order = np.lexsort((ev["created"], ev["period"]))
        ev = {key: value[order] for key, value in ev.items()}
        if len(ev["created"]) > 1 and not (np.diff(ev["created"]) >= 0).all():
            raise AssertionError("a base receipt is later than an increment receipt")
        self.ev = ev

    def _period_events(self, period: int, day_lo: int, day_hi: int, n_lines: int) -> dict[str, Any]:
        rng, shape = self.rng, self.shape
        n_returns = round(n_lines * shape.return_share / 4)
        wanted = n_lines - n_returns
        draws = np.minimum(1 + rng.poisson(3.0, int(wanted / 4 * 1.2) + 20), 12)
        total = np.cumsum(draws)
        n_sales = int(np.searchsorted(total, wanted)) + 1
        k = draws[:n_sales].astype(np.int64)
        k[-1] -= int(total[n_sales - 1]) - wanted
        n = n_sales + n_returns
        kind = np.concatenate([np.zeros(n_sales, np.int64), np.ones(n_returns, np.int64)])
        k = np.concatenate([k, np.ones(n_returns, np.int64)])
        store = rng.choice(len(STORES), n, p=np.array([s.weight for s in STORES]))
        days = np.arange(day_lo, day_hi)
        weight = np.array([WEEKDAY[self.weekday[d + 1]] for d in days]) * rng.uniform(
            0.9, 1.1, len(days)
        )
        day = days[rng.choice(len(days), n, p=weight / weight.sum())]
        # Time of day: the hourly curve within opening hours, never in the last 3 minutes (so a
        # receipt is received before the local day ends) nor the first minute.
        tod = np.empty(n, dtype=np.int64)
        for number, spec in enumerate(STORES):
            mine = np.flatnonzero(store == number)
            hours = np.arange(spec.opens_hour, spec.closes_hour)
            curve = np.array([HOURLY[h] for h in hours])
            hour = hours[rng.choice(len(hours), len(mine), p=curve / curve.sum())]
            raw = hour * HOUR_US + rng.integers(0, HOUR_US, len(mine))
            tod[mine] = np.clip(
                raw,
                spec.opens_hour * HOUR_US + 60 * SECOND_US,
                spec.closes_hour * HOUR_US - 180 * SECOND_US,
            )
        till = rng.integers(0, shape.tills_per_store, n)
        return {
            "period": np.full(n, period, dtype=np.int8),
            "kind": kind,
            "k": k,
            "store": store.astype(np.int64),
            "day": day.astype(np.int64),
            "slot": (store * shape.tills_per_store + till).astype(np.int64),
            "created": self.at(store, day, tod),
        }

    def _lines(self) -> None:
        rng, shape, ev = self.rng, self.shape, self.ev
        n_ev = len(ev["k"])
        start = np.zeros(n_ev, dtype=np.int64)
        start[1:] = np.cumsum(ev["k"])[:-1]
        self.ev["start"] = start
        event = np.repeat(np.arange(n_ev), ev["k"])
        n = len(event)
        store = ev["store"][event]
        day = ev["day"][event]
        product = np.empty(n, dtype=np.int64)
        for number in range(len(STORES)):
            mine = np.flatnonzero(store == number)
            product[mine] = rng.choice(shape.products, len(mine), p=self.popularity[number])
        unknown = (rng.random(n) < shape.unknown_share) & (ev["kind"][event] == 0)
        kg = self.p_kg[product]
        pieces = rng.choice(
            np.array([1000, 2000, 3000, 4000, 5000, 6000]),
            n,
            p=[0.78, 0.14, 0.04, 0.02, 0.01, 0.01],
        )
        grams = rng.integers(30, 500, n) * 5
        qty = np.where(kg & ~unknown, grams, pieces).astype(np.int64)
        version = np.where(day >= shape.days, 2, np.where(day >= self.change_day, 1, 0))
        price = self.p_price[version, product]
        price = np.where(unknown, rng.integers(50, 500, n) * 100 - 10, price)
        rate = np.where(unknown, 2200, self.p_rate[product])
        gross = half_up(qty * price, 1000)
        pct = rng.choice(np.array([5, 10, 15]), n)
        discount = np.where(rng.random(n) < shape.discount_share, gross * pct // 100, 0)
        amount = gross - discount
        self.ln = {
            "event": event,
            "line_no": np.arange(n) - start[event] + 1,
            "store": store,
            "product": np.where(unknown, NULL, product),
            "unknown": unknown,
            "qty": qty,
            "price": price,
            "discount": discount,
            "amount": amount,
            "rate": rate,
            "vat": vat_of(amount, rate),
            "unknown_code": np.where(unknown, np.arange(n), NULL),  # row of its random barcode
        }
        self.unknown_codes = (
            ean13(
                np.concatenate(
                    [
                        np.tile(np.array([[4, 6, 9]], dtype=np.uint8), (n, 1)),
                        rng.integers(0, 10, (n, 9), dtype=np.uint8),
                    ],
                    axis=1,
                )
            )
            if unknown.any()
            else pa.array([], type=pa.string())
        )
        self.weights = grams

    def _returns(self) -> None:
        """Each return takes one line of an earlier receipt of its store (within 14 days, at
        least 30 minutes before) and returns it in full; with no such receipt it becomes a sale."""
        rng, ev, ln = self.rng, self.ev, self.ln
        kind, created, store = ev["kind"], ev["created"], ev["store"]
        original = np.full(len(kind), NULL, dtype=np.int64)
        for number in range(len(STORES)):
            sales = np.flatnonzero((store == number) & (kind == 0))
            returns = np.flatnonzero((store == number) & (kind == 1))
            times = created[sales]
            lo = np.searchsorted(times, created[returns] - 14 * DAY_US)
            hi = np.searchsorted(times, created[returns] - HOUR_US // 2)
            ok = hi > lo
            pick = lo + (rng.random(len(returns)) * np.maximum(hi - lo, 1)).astype(np.int64)
            original[returns[ok]] = sales[pick[ok]]
            kind[returns[~ok]] = 0  # nothing to return yet: an ordinary one-line sale
        returning = np.flatnonzero(original != NULL)
        source = original[returning]
        from_line = ev["start"][source] + (rng.random(len(source)) * ev["k"][source]).astype(
            np.int64
        )
        # The hub never lets returns exceed what the sale sold: a line is returned once, and a
        # later return that drew the same line becomes an ordinary one-line sale too.
        once = np.zeros(len(from_line), dtype=bool)
        once[np.unique(from_line, return_index=True)[1]] = True
        kind[returning[~once]] = 0
        original[returning[~once]] = NULL
        returning, from_line = returning[once], from_line[once]
        into = ev["start"][returning]
        for key in ("product", "unknown", "qty", "price", "discount", "amount", "rate", "vat"):
            ln[key][into] = ln[key][from_line]
        ln["unknown_code"][into] = ln["unknown_code"][from_line]
        self.weights[into] = self.weights[from_line]
        ev["original"] = original

    def _payments(self) -> None:
        rng, ev, ln = self.rng, self.ev, self.ln
        n = len(ev["k"])
        total = np.add.reduceat(ln["amount"], ev["start"]) if n else np.zeros(0, np.int64)
        vat = np.add.reduceat(ln["vat"], ev["start"]) if n else np.zeros(0, np.int64)
        draw = rng.random(n)
        tender = np.where(draw < 0.55, 1, np.where(draw < 0.95, 0, 2))  # 0 cash, 1 card, 2 mixed
        tender = np.where((tender == 2) & (total < 20_000), 1, tender)
        is_return = ev["kind"] == 1
        # A return is refunded by its sale's tender (card for a mixed one).
        original = ev["original"]
        tender = np.where(
            is_return, np.where(tender[np.where(is_return, original, 0)] == 0, 0, 1), tender
        )
        note = rng.choice(np.array([10_000, 50_000, 100_000, 500_000]), n, p=[0.3, 0.3, 0.3, 0.1])
        tendered = np.where(rng.random(n) < 0.3, total, -(-total // note) * note)
        mixed_cash = total // 2 // 10_000 * 10_000
        cash = np.select(
            [is_return, tender == 0, tender == 2],
            [np.where(tender == 0, total, 0), tendered, mixed_cash],
            0,
        )
        change = np.where((tender == 0) & ~is_return, cash - total, 0)
        ev.update(total=total, vat=vat, tender=tender, cash=cash, change=change)
        # Rows: cash first (payment 1), then card; a mixed sale has both.
        has_cash = (tender == 0) | (tender == 2)
        has_card = (tender == 1) | (tender == 2)
        count = has_cash.astype(np.int64) + has_card
        sale = np.repeat(np.arange(n), count)
        number = rank_in_group(sale) + 1
        is_cash = has_cash[sale] & (number == 1)
        amount = np.where(
            is_cash, cash[sale], total[sale] - np.where(tender[sale] == 2, cash[sale], 0)
        )
        self.pay = {
            "event": sale,
            "payment_no": number,
            "cash": is_cash,
            "amount": amount,
            "approval": np.where(is_cash, NULL, rng.integers(0, 1_000_000, len(sale))),
        }

    # -- shifts ------------------------------------------------------------------------------

    def _shifts(self) -> None:
        """One shift per till and local day; the cashier rotates. Events: open with the float,
        a pay-in on 5 % of shifts, a collection on 30 %, close with the blind count."""
        rng, shape, ev = self.rng, self.shape, self.ev
        tills, days = shape.tills_per_store, self.n_days
        slot = np.repeat(np.arange(self.n_slots), days)
        day = np.tile(np.arange(days), self.n_slots)
        store = slot // tills
        key = slot * days + day
        cashier = self.cashiers_of[store, (day * tills + slot % tills) % shape.cashiers_per_store]
        opens = np.where(
            self.closes_us[store] == DAY_US,
            5 * SECOND_US,
            self.opens_us[store] - 10 * 60 * SECOND_US,
        )
        closes = np.where(  # the round-the-clock store's shift ends just before midnight
            self.closes_us[store] == DAY_US,
            DAY_US - 30 * SECOND_US,
            self.closes_us[store] + 10 * 60 * SECOND_US,
        )
        n = len(slot)
        ev_key = ev["slot"] * days + ev["day"]
        ev["cashier"] = cashier[ev_key]
        sale, ret = ev["kind"] == 0, ev["kind"] == 1

        def per_shift(values: I64, mask: Mask) -> I64:
            return np.bincount(ev_key[mask], weights=values[mask], minlength=n).astype(np.int64)

        net_cash = ev["cash"] - ev["change"]
        cash_sales = per_shift(net_cash, sale)
        cash_refunds = per_shift(ev["cash"], ret)
        pay_in = np.where(rng.random(n) < 0.05, 100_000, 0)
        collect = np.where(rng.random(n) < 0.3, cash_sales // 2 // 100_000 * 100_000, 0)
        expected = FLOAT_MINOR + cash_sales - cash_refunds + pay_in - collect
        off = rng.random(n)
        over_short = np.where(
            off < 0.9,
            0,
            np.where(off < 0.96, -rng.integers(1, 50, n) * 100, rng.integers(1, 20, n) * 100),
        )
        self.sh = {
            "key": key,
            "slot": slot,
            "day": day,
            "store": store,
            "device": self.device_of(slot, day),
            "cashier": cashier,
            "opened": self.at(store, day, opens),
            "closed": self.at(store, day, closes),
            "cash_sales": cash_sales,
            "cash_refunds": cash_refunds,
            "pay_in": pay_in,
            "pay_out": collect,
            "sales_count": np.bincount(ev_key[sale], minlength=n).astype(np.int64),
            "returns_count": np.bincount(ev_key[ret], minlength=n).astype(np.int64),
            "sales_total": per_shift(ev["total"], sale),
            "returns_total": per_shift(ev["total"], ret),
            "expected": expected,
            "counted": expected + over_short,
            "over_short": over_short,
        }
        ev["shift"] = ev_key
        # Events: open, pay-in (2 h after opening), collection (7 h after), close.
        parts = []
        for kind, mask, amount, offset in (
            ("open", np.ones(n, bool), np.full(n, FLOAT_MINOR), 0),
            ("cash_in", pay_in > 0, pay_in, 2 * HOUR_US),
            ("cash_out", collect > 0, collect, 7 * HOUR_US),
            ("close", np.ones(n, bool), expected + over_short, NULL),
        ):
            rows = np.flatnonzero(mask)
            at = self.sh["closed"][rows] if offset == NULL else self.sh["opened"][rows] + offset
            parts.append((kind, rows, amount[rows], at))
        shift = np.concatenate([p[1] for p in parts])
        at = np.concatenate([p[3] for p in parts])
        kinds = np.concatenate([np.full(len(p[1]), number) for number, p in enumerate(parts)])
        amount = np.concatenate([p[2] for p in parts]).astype(np.int64)
        order = np.lexsort((kinds, at))
        self.se = {
            "period": (day[shift[order]] >= shape.days).astype(np.int8),
            "shift": shift[order],
            "kind": kinds[order],
            "amount": amount[order],
            "at": at[order],
            "received": at[order] + rng.integers(2, 25, len(order)) * SECOND_US,
        }

    # -- purchasing and the stock ledger ---------------------------------------------------

    def _supply(self) -> None:
        """Suppliers, their terms, deliveries (purchase orders, receipt documents and moves),
        write-offs and counts; quantities follow the demand each delivery has to cover."""
        rng, shape = self.rng, self.shape
        n_products, j = shape.products, shape.suppliers
        self.s_lead = rng.integers(1, 6, j)
        self.s_review = rng.choice(np.array([3, 7, 7, 7, 14]), j)
        self.s_offset = rng.integers(0, 14, j)
        # Each category mostly from one supplier; 15 % of products have a second (higher id).
        by_category = rng.integers(0, j, len(self.categories) + 1)
        primary = np.where(
            rng.random(n_products) < 0.7,
            by_category[self.p_category],
            rng.integers(0, j, n_products),
        )
        supplied = rng.random(n_products) >= shape.unsupplied_share
        second = np.where(
            rng.random(n_products) < 0.15,
            (primary + 1 + rng.integers(0, j - 1, n_products)) % j,
            -1,
        )
        low = np.where(second >= 0, np.minimum(primary, second), primary)
        high = np.where(second >= 0, np.maximum(primary, second), -1)
        self.p_supplier = np.where(supplied, low, -1)  # deliveries come from the lowest id
        self.p_second = np.where(supplied, high, -1)
        price = self.p_price[0]
        self.p_pack = np.where(
            self.p_kg,
            rng.choice(np.array([1000, 5000]), n_products),
            np.where(
                price < 10_000,
                rng.choice(np.array([12_000, 20_000, 24_000]), n_products),
                rng.choice(np.array([1000, 6000, 10_000]), n_products),
            ),
        )
        self.p_min_order = self.p_pack * rng.integers(0, 3, n_products)
        # Demand per store, product and day (sold quantity, returns not netted), cumulative.
        ln, ev = self.ln, self.ev
        known = ln["product"] != NULL
        sold = known & (ev["kind"][ln["event"]] == 0)
        cells = len(STORES) * n_products * self.n_days
        flat = (ln["store"][sold] * n_products + ln["product"][sold]) * self.n_days + ev["day"][
            ln["event"][sold]
        ]
        demand = np.bincount(flat, weights=ln["qty"][sold], minlength=cells).astype(np.int64)
        demand = demand.reshape(len(STORES), n_products, self.n_days)
        cum = np.zeros((len(STORES), n_products, self.n_days + 1), dtype=np.int64)
        np.cumsum(demand, axis=2, out=cum[:, :, 1:])
        last_day = self.n_days - 1
        recent = cum[:, :, -1] - cum[:, :, max(0, self.n_days - 14)]
        daily = recent / min(14, self.n_days)
        moves: list[dict[str, Any]] = []
        for supplier in range(j):
            products = np.flatnonzero(self.p_supplier == supplier)
            if not len(products):
                continue
            review, lead = int(self.s_review[supplier]), int(self.s_lead[supplier])
            first = int(self.s_offset[supplier]) % review
            days = [-1, *range(first, last_day + lead + review + 1, review)]
            for store in range(len(STORES)):
                for number, day in enumerate(days[:-1]):
                    until = days[number + 1]
                    if day > last_day and day - lead > last_day:
                        break  # not even ordered yet
                    lo, hi = max(day, 0), min(until, self.n_days)
                    need = (
                        cum[store, products, hi] - cum[store, products, lo]
                        if lo < hi
                        else np.zeros(len(products), dtype=np.int64)
                    )
                    if day > last_day:  # a future delivery: ordered on the recent average
                        need = (daily[store, products] * (until - day)).astype(np.int64)
                    factor = rng.uniform(1.0, 1.5 if day < 0 else 1.35, len(products))
                    if day >= 0:
                        factor = rng.uniform(0.85, 1.35, len(products))
                    qty = np.ceil(need * factor / self.p_pack[products]).astype(np.int64)
                    if day < 0:
                        qty = qty + 1  # the opening stock: at least one pack of everything
                    qty = qty * self.p_pack[products]
                    take = qty > 0
                    if not take.any():
                        continue
                    chosen = products[take]
                    version = 2 if day >= shape.days else (1 if day >= self.change_day else 0)
                    cost = np.maximum(
                        (
                            self.p_price[version, chosen]
                            * self.p_cost_ratio[chosen]
                            * rng.uniform(0.96, 1.06, len(chosen))
                        ).astype(np.int64),
                        1,
                    )
                    at = int(self.at(np.array(store), np.array(day), np.array(6 * HOUR_US)))
                    moves.append(
                        {
                            "store": store,
                            "supplier": supplier,
                            "day": day,
                            "at": at,
                            "product": chosen,
                            "qty": qty[take],
                            "cost": cost,
                            "received": day <= last_day,
                            "po": day >= 0,
                        }
                    )
        self.deliveries = moves
        # Write-offs (weekly: spoiled goods, mostly by weight) and counts (monthly).
        self.write_offs: list[dict[str, Any]] = []
        self.counts: list[dict[str, Any]] = []
        weighted = np.flatnonzero(self.p_kg & (self.p_supplier >= 0))
        stocked = np.flatnonzero(self.p_supplier >= 0)
        for store, spec in enumerate(STORES):
            for day in range(self.n_days):
                if (day + store) % 7 == 3 and len(weighted):
                    chosen = rng.choice(weighted, min(len(weighted), 15), replace=False)
                    self.write_offs.append(
                        {
                            "store": store,
                            "day": day,
                            "at": int(
                                self.midnight[store, day + 1]
                                + spec.closes_hour * HOUR_US
                                - 5 * 60 * SECOND_US
                            ),
                            "product": chosen,
                            "qty": -rng.integers(20, 400, len(chosen)) * 5,
                        }
                    )
                if (day + 2 * store) % 30 == 15:
                    chosen = np.sort(rng.choice(stocked, min(len(stocked), 100), replace=False))
                    self.counts.append(
                        {
                            "store": store,
                            "day": day,
                            "at": int(
                                self.midnight[store, day + 1] + 7 * HOUR_US + 30 * 60 * SECOND_US
                            ),
                            "product": chosen,
                            "noise": rng.integers(-3, 2, len(chosen)) * 1000,
                        }
                    )

    def _ledger(self) -> None:
        """Every stock move in id (= time) order; counts, moving-average cost and levels."""
        rng, ev, ln, n_products = self.rng, self.ev, self.ln, self.shape.products
        ev["received"] = ev["created"] + rng.integers(2, 120, len(ev["k"])) * SECOND_US
        known = np.flatnonzero(ln["product"] != NULL)
        line_event = ln["event"][known]
        sources: list[dict[str, Any]] = [
            {
                "store": ln["store"][known],
                "product": ln["product"][known],
                "kind": ev["kind"][line_event],  # 0 sale, 1 return (MOVE_KINDS order)
                "qty": np.where(ev["kind"][line_event] == 0, -ln["qty"][known], ln["qty"][known]),
                "cost": np.full(len(known), NULL),
                "at": ev["received"][line_event],
                "line": known,
                "doc": np.full(len(known), NULL),
                "period": ev["period"][line_event],
            }
        ]
        # Documents: receipts (one per delivery that arrived), write-offs, counts.
        docs: list[tuple[int, int, int, int, int]] = []  # (at, kind, store, source, delivery)
        for number, delivery in enumerate(self.deliveries):
            if delivery["received"]:
                docs.append((delivery["at"], 0, delivery["store"], number, number))
        for number, write_off in enumerate(self.write_offs):
            docs.append((write_off["at"], 1, write_off["store"], number, -1))
        for number, count in enumerate(self.counts):
            docs.append((count["at"], 2, count["store"], number, -1))
        docs.sort()
        self.docs = docs
        for doc_index, (_at, kind, store, source, _d) in enumerate(docs):
            item = (self.deliveries, self.write_offs, self.counts)[kind][source]
            size = len(item["product"])
            sources.append(
                {
                    "store": np.full(size, store),
                    "product": item["product"],
                    "kind": np.full(size, (2, 6, 5)[kind]),
                    "qty": item["qty"] if kind < 2 else np.zeros(size, dtype=np.int64),
                    "cost": item["cost"] if kind == 0 else np.full(size, NULL),
                    "at": np.full(size, item["at"]),
                    "line": np.full(size, NULL),
                    "doc": np.full(size, doc_index),
                    "noise": item.get("noise", np.zeros(size, dtype=np.int64)),
                    "period": np.full(size, int(item["day"] >= self.shape.days)),
                }
            )
        for source in sources:
            source.setdefault("noise", np.zeros(len(source["store"]), dtype=np.int64))
        mv = {key: np.concatenate([s[key] for s in sources]).astype(np.int64) for key in sources[0]}
        by_id = np.lexsort((np.arange(len(mv["at"])), mv["at"]))
        mv = {key: value[by_id] for key, value in mv.items()}
        series = mv["store"] * n_products + mv["product"]
        by_series = np.argsort(series, kind="stable")
        s_series = series[by_series]
        starts = group_starts(s_series)
        qty = mv["qty"][by_series].copy()
        kind = mv["kind"][by_series]

        def running(values: I64) -> I64:
            total = np.cumsum(values)
            return total - (total[starts] - values[starts])  # type: ignore[no-any-return]

        # Counts record the delta to what was counted (never below zero), in time order.
        counted = np.full(len(qty), NULL, dtype=np.int64)
        before = running(qty)
        adjust: dict[int, int] = {}
        noise = mv["noise"][by_series]
        for position in np.flatnonzero(kind == 5).tolist():
            key = int(s_series[position])
            on_hand = int(before[position]) + adjust.get(key, 0)
            value = max(0, on_hand + int(noise[position]))
            qty[position] = value - on_hand
            counted[position] = value
            adjust[key] = adjust.get(key, 0) + value - on_hand
        after = running(qty)
        on_hand_before = after - qty
        # Moving-average cost (hub.stock.ledger.new_average), receipt by receipt per series.
        cost = mv["cost"][by_series]
        is_receipt = kind == 2
        receipts = np.flatnonzero(is_receipt)
        rank = rank_in_group(s_series[receipts])
        avg_now = np.full(len(STORES) * n_products, NULL, dtype=np.int64)
        avg_after = np.full(len(qty), NULL, dtype=np.int64)
        for step in range(int(rank.max()) + 1 if len(rank) else 0):
            at = receipts[rank == step]
            previous = avg_now[s_series[at]]
            held, got, price = on_hand_before[at], qty[at], cost[at]
            restart = (previous == NULL) | (held <= 0) | (got <= 0)
            safe_held = np.where(restart, 1, held)
            blended = half_up(
                safe_held * np.where(restart, 0, previous) + got * price, safe_held + got
            )
            value = np.where(restart, price, blended)
            avg_now[s_series[at]] = value
            avg_after[at] = value
        last = np.maximum.accumulate(np.where(is_receipt, np.arange(len(qty)), -1))
        known_avg = last >= starts
        avg_here = np.where(known_avg, avg_after[np.maximum(last, 0)], NULL)  # after each move
        unit_cost = np.where(is_receipt, cost, avg_here)  # others: valued at the average found
        # Back to id order.
        back = np.empty(len(qty), dtype=np.int64)
        back[by_series] = np.arange(len(qty))
        mv["qty"] = qty[back]
        mv["unit_cost"] = unit_cost[back]
        mv["counted"] = counted[back]
        if len(mv["period"]) > 1 and (np.diff(mv["period"]) < 0).any():
            raise AssertionError("a base stock move is later than an increment move")
        self.mv = mv
        # The cost each sale line snapshotted is its move's.
        line_cost = np.full(len(ln["qty"]), NULL, dtype=np.int64)
        from_line = mv["line"] != NULL
        line_cost[mv["line"][from_line]] = mv["unit_cost"][from_line]
        ln["cost"] = line_cost
        # Stock levels at the end of each period: the last move of each series up to then.
        s_period = mv["period"][by_series]
        nxt_series = np.append(s_series[1:], -1)
        nxt_period = np.append(s_period[1:], 2)
        self.levels = []
        for period in (0, 1):
            within = s_period <= period
            final = within & ((nxt_series != s_series) | (nxt_period > period))
            pos = np.flatnonzero(final)
            touched = (
                np.ones(len(pos), dtype=bool)
                if period == 0
                else np.isin(s_series[pos], s_series[s_period == 1])
            )
            pos = pos[touched]
            self.levels.append(
                {
                    "store": s_series[pos] // n_products,
                    "product": s_series[pos] % n_products,
                    "on_hand": after[pos],
                    "avg": avg_here[pos],
                    "last_move_at": mv["at"][by_series][pos],
                }
            )

    def _finish_sales(self) -> None:
        """Journal numbers, hash chains and fiscal fields per till."""
        rng, ev = self.rng, self.ev
        n = len(ev["k"])
        order = np.lexsort((ev["created"], ev["slot"]))
        till_seq = np.empty(n, dtype=np.int64)
        till_seq[order] = rank_in_group(ev["slot"][order]) + 1
        ev["till_seq"] = till_seq
        ev["device"] = self.device_of(ev["slot"], ev["day"])
        digest = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        previous = np.zeros((n, 32), dtype=np.uint8)
        same = ev["slot"][order][1:] == ev["slot"][order][:-1]
        previous[order[1:][same]] = digest[order[:-1][same]]
        self.hashes = (hex_strings(digest), hex_strings(previous))
        self.payload_hashes = hex_strings(rng.integers(0, 256, (n, 32), dtype=np.uint8))
        self.uuids = uuid7_strings(rng, ev["created"])
        fpd = np.concatenate(
            [np.full((n, 1), 49, np.uint8), _digits(rng.integers(0, 10**9, n), 9)], axis=1
        )
        self.fpd = _strings(fpd)
        shift_order = np.lexsort((self.se["at"], self.sh["slot"][self.se["shift"]]))
        shift_seq = np.empty(len(shift_order), dtype=np.int64)
        shift_seq[shift_order] = rank_in_group(self.sh["slot"][self.se["shift"]][shift_order]) + 1
        self.se["till_seq"] = shift_seq
        self.shift_uuids = uuid7_strings(rng, self.sh["opened"])
        self.event_uuids = uuid7_strings(rng, self.se["at"])
        self.se_payload = hex_strings(rng.integers(0, 256, (len(shift_order), 32), dtype=np.uint8))

    def _till_states(self) -> None:
        ev, se, sh = self.ev, self.se, self.sh
        devices = self.n_slots + 1
        se_device = sh["device"][se["shift"]] - 1
        self.till_states = []
        for period in (0, 1):
            upto, events_upto = ev["period"] <= period, se["period"] <= period
            device, their = ev["device"][upto] - 1, se_device[events_upto]
            last_sale = np.full(devices, NULL)
            np.maximum.at(last_sale, device, ev["received"][upto])
            last_event = np.full(devices, NULL)
            np.maximum.at(last_event, their, se["received"][events_upto])
            max_seq = np.zeros(devices, dtype=np.int64)
            np.maximum.at(max_seq, device, ev["till_seq"][upto])
            max_shift = np.zeros(devices, dtype=np.int64)
            np.maximum.at(max_shift, their, se["till_seq"][events_upto])
            count = np.bincount(device, minlength=devices).astype(np.int64)
            active = (count > 0) | (max_shift > 0)
            if period == 1:  # only the tills that did something in the increment
                newer = np.zeros(devices, dtype=bool)
                newer[ev["device"][ev["period"] == 1] - 1] = True
                newer[se_device[se["period"] == 1]] = True
                active &= newer
            self.till_states.append(
                {
                    "device": np.flatnonzero(active) + 1,
                    "last_contact": np.maximum(last_sale, last_event)[active],
                    "last_sale": last_sale[active],
                    "max_sale_seq": max_seq[active],
                    "max_shift_seq": max_shift[active],
                    "sales_count": count[active],
                }
            )


# --- rows: the world as the hub's tables, per period ----------------------------------------

MOVE_KINDS = pa.array(
    ["sale", "return", "receipt", "transfer_out", "transfer_in", "count", "write_off", "adjustment"]
)
SALE_KINDS = pa.array(["sale", "return"])
EVENT_KINDS = pa.array(["open", "cash_in", "cash_out", "close"])
CREATED_DAYS_BEFORE = 60  # the catalog and the chain exist this long before the first day


class Counters:
    """The hub's change counters: numbers handed out in the order rows are written."""

    def __init__(self, values: dict[str, int]) -> None:
        self.values = dict(values)

    def take(self, name: str, count: int) -> I64:
        first = self.values[name] + 1
        self.values[name] += count
        return np.arange(first, first + count, dtype=np.int64)


def _text(values: list[str | None]) -> pa.Array:
    return pa.array(values, type=pa.string())


def _take(dictionary: pa.Array, index: I64) -> pa.Array:
    nulls = index == NULL
    return dictionary.take(pa.array(np.where(nulls, 0, index), mask=nulls if nulls.any() else None))


def _table(columns: dict[str, Any]) -> pa.Table:
    return pa.table(
        {
            name: value if isinstance(value, pa.Array | pa.ChunkedArray) else _col(value)
            for name, value in columns.items()
        }
    )


def _with_columns(table: pa.Table, columns: dict[str, pa.Array]) -> pa.Table:
    """`table` with `columns` appended or, where it has them, replaced."""
    for name, values in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, values)
        else:
            table = table.append_column(name, values)
    return table


def _date_text(world: World, day: I64) -> pa.Array:
    return _text([(world.shape.first_day + dt.timedelta(days=int(d))).isoformat() for d in day])


class Rows:
    """Builds each period's tables from a World, taking change numbers as it goes."""

    def __init__(self, world: World, counters: Counters) -> None:
        self.w = world
        self.seq = counters
        self.created = int(world.midnight[0, 1]) - CREATED_DAYS_BEFORE * DAY_US

    # -- the base period: every table ------------------------------------------------------

    def base(self) -> Iterator[tuple[str, pa.Table]]:
        yield from self._reference().items()
        yield from self._ledger(0)

    def increment(self) -> Iterator[tuple[str, pa.Table]]:
        w = self.w
        changed = np.flatnonzero(w.p_changed_inc)
        at = int(w.midnight[0, w.shape.days + 1])
        updated = np.full(len(changed), at)
        yield "product", self._products(changed, price=w.p_price[2], updated=updated)
        # The tills that worked in the increment were in touch: their last contact and journal
        # head are newer (contact bumps no change_seq, so the rows keep their numbers).
        active = pa.array(w.till_states[1]["device"] - 1)
        yield "device", _with_columns(self.devices.take(active), self._contact(1))
        yield from self._ledger(1)

    def _contact(self, period: int) -> dict[str, pa.Array]:
        """The last contact up to the end of `period` and the journal head reported then, of
        every device (period 0, in id order) or of those in touch in the increment (period 1, in
        `till_states` order). A till sends `X-Kassa-Journal` (its highest sale and shift-event
        seq) with every request: the hub holds the head of its last upload, as of receiving it."""
        w = self.w
        state = w.till_states[period]
        names = ("last_contact", "max_sale_seq", "max_shift_seq")
        values = {name: state[name] for name in names}
        if period == 0:
            values = {name: np.full(w.n_slots + 1, NULL) for name in names}
            for name in names:
                values[name][state["device"] - 1] = state[name]
        return {
            "last_seen_at": _nullable_times(values["last_contact"]),
            "journal_sale_seq": _col(values["max_sale_seq"]),
            "journal_shift_seq": _col(values["max_shift_seq"]),
            "journal_reported_at": _nullable_times(values["last_contact"]),
        }

    def _reference(self) -> dict[str, pa.Table]:
        w, shape = self.w, self.w.shape
        catalog = "catalog"
        out: dict[str, pa.Table] = {}
        n_tax = len(w.tax_rates)
        out["tax_rate"] = _table(
            {
                "id": np.array([t[0] for t in w.tax_rates]),
                "code": _text([t[1] for t in w.tax_rates]),
                "name": _text([t[2] for t in w.tax_rates]),
                "rate_bp": np.array([NULL if t[3] is None else t[3] for t in w.tax_rates]),
                "change_seq": self.seq.take(catalog, n_tax),
            }
        )
        out["weight_template"] = _table(
            {
                "id": np.array([1]),
                "name": _text(["Весы"]),
                "pattern": _text(["22PPPPPWWWWWC"]),
                "active": np.array([1]),
                "change_seq": self.seq.take(catalog, 1),
            }
        )
        n_stores = len(STORES)
        created = timestamps(np.full(n_stores, self.created))
        out["store"] = _table(
            {
                "id": np.arange(1, n_stores + 1),
                "name": _text([s.name for s in STORES]),
                "address": _text([s.address for s in STORES]),
                "timezone": _text([s.timezone for s in STORES]),
                "currency": _text(["RUB"] * n_stores),
                "language": _text(["ru"] * n_stores),
                "receipt_header": _text([s.name for s in STORES]),
                "receipt_footer": _text(["Спасибо за покупку!"] * n_stores),
                "active": np.ones(n_stores, dtype=np.int64),
                "change_seq": self.seq.take(catalog, n_stores),
                "created_at": created,
                "updated_at": created,
            }
        )
        people: list[tuple[int, str | None, str, str, int]] = [
            (1, "owner@kassa.example", "Владелец Сети", "owner", NULL)
        ]
        for store in range(n_stores):
            people.append(
                (
                    int(w.manager_of[store]),
                    f"manager{store + 1}@kassa.example",
                    f"{FIRST_NAMES[store % 8]} {LAST_NAMES[(store + 3) % 7]}",
                    "manager",
                    store + 1,
                )
            )
            for number, cashier in enumerate(w.cashiers_of[store].tolist()):
                name = f"{FIRST_NAMES[(store + number) % 8]} {LAST_NAMES[(2 * store + number) % 7]}"
                people.append((cashier, None, name, "cashier", store + 1))
        n_people = len(people)
        created = timestamps(np.full(n_people, self.created))
        out["staff_user"] = _table(
            {
                "id": np.array([p[0] for p in people]),
                "email": _text([p[1] for p in people]),
                "name": _text([p[2] for p in people]),
                "role": _text([p[3] for p in people]),
                "store_id": np.array([p[4] for p in people]),
                "password_hash": _text(["bench: no login" if p[1] else None for p in people]),
                "pin_hash": _text([None if p[1] else "bench: no login" for p in people]),
                "max_discount_bp": np.array([1500 if p[3] != "cashier" else 500 for p in people]),
                "can_edit_catalog": np.array([int(p[3] == "owner") for p in people]),
                "active": np.ones(n_people, dtype=np.int64),
                "change_seq": self.seq.take(catalog, n_people),
                "created_at": created,
                "updated_at": created,
            }
        )
        out["category"] = _table(
            {
                "id": np.array([w.category_ids[p] for p in w.categories]),
                "parent_id": np.array(
                    [w.category_ids[p[:-1]] if len(p) > 1 else NULL for p in w.categories]
                ),
                "name": _text([p[-1] for p in w.categories]),
                "active": np.ones(len(w.categories), dtype=np.int64),
                "change_seq": self.seq.take(catalog, len(w.categories)),
            }
        )
        everything = np.arange(shape.products)
        out["product"] = self._products(everything, price=w.p_price[0], updated=None)
        out["barcode"] = _table(
            {
                "code": _text([code for item in w.items for code in item.barcodes]),
                "product_id": np.array(
                    [n + 1 for n, item in enumerate(w.items) for _code in item.barcodes]
                ),
            }
        )
        # Tills: paired before the period; one replaced (revoked, the new one continues it).
        slots = w.n_slots
        paired = np.full(slots + 1, self.created + 30 * DAY_US)
        swap = int(w.midnight[0, w.replaced_day + 1])
        paired[slots] = swap
        revoked = np.full(slots + 1, NULL)
        revoked[w.replaced_slot] = swap
        names = [f"Касса {slot % shape.tills_per_store + 1}" for slot in range(slots)]
        names.append(f"Касса {w.replaced_slot % shape.tills_per_store + 1} (замена)")
        token = w.rng.integers(0, 256, (slots + 1, 32), dtype=np.uint8)
        out["device"] = _table(
            {
                "id": np.arange(1, slots + 2),
                "store_id": np.append(np.arange(slots) // shape.tills_per_store, 0) + 1,
                "name": _text(names),
                "token_hash": hex_strings(token),
                "paired_at": timestamps(paired),
                "revoked_at": _nullable_times(revoked),
                "last_version": _text(["1.4.2"] * (slots + 1)),
                "replaces_device_id": np.append(np.full(slots, NULL), w.replaced_slot + 1),
                "change_seq": np.concatenate(
                    [self.seq.take(catalog, slots), self.seq.take(catalog, 1)]
                ),
            }
        )
        contact = self._contact(0)
        out["device"] = self.devices = _with_columns(out["device"], contact)
        # Prices changed half-way: the product row holds the new price with a later number.
        changed = np.flatnonzero(w.p_changed)
        at = int(w.midnight[0, w.change_day + 1])
        later = self._products(changed, price=w.p_price[1], updated=np.full(len(changed), at))
        keep = ~np.isin(everything, changed)
        out["product"] = pa.concat_tables([out["product"].filter(pa.array(keep)), later]).sort_by(
            "id"
        )
        return out

    def _products(self, index: I64, *, price: I64, updated: I64 | None) -> pa.Table:
        w = self.w
        items = [w.items[i] for i in index.tolist()]
        created = timestamps(np.full(len(index), self.created))
        return _table(
            {
                "id": index + 1,
                "sku": _text([i.sku for i in items]),
                "name": _text([i.name for i in items]),
                "sku_folded": _text([i.sku.casefold() for i in items]),
                "name_folded": _text([i.name.casefold() for i in items]),
                "category_id": w.p_category[index],
                "unit": _text([i.unit for i in items]),
                "price_minor": price[index],
                "tax_rate_id": w.p_tax_id[index],
                "scale_code": _text([i.scale_code for i in items]),
                "active": np.ones(len(index), dtype=np.int64),
                "change_seq": self.seq.take("catalog", len(index)),
                "created_at": created,
                "updated_at": created if updated is None else timestamps(updated),
            }
        )

    # -- the ledger: purchasing, shifts, sales, stock ----------------------------------------

    def _ledger(self, period: int) -> Iterator[tuple[str, pa.Table]]:
        """One table at a time (the big ones are built only when the previous is written)."""
        for rows in (
            self._suppliers,
            self._purchasing,
            self._shifts,
            self._sale_rows,
            self._line_rows,
            self._payment_rows,
            self._move_rows,
            self._level_rows,
            self._till_state,
        ):
            yield from rows(period).items()

    def _suppliers(self, period: int) -> dict[str, pa.Table]:
        w = self.w
        # The last unit cost paid for each product up to the end of the period.
        received = [
            d for d in w.deliveries if d["received"] and (d["day"] >= w.shape.days) <= period
        ]
        product = (
            np.concatenate([d["product"] for d in received]) if received else np.zeros(0, np.int64)
        )
        at = (
            np.concatenate([np.full(len(d["product"]), d["at"]) for d in received])
            if received
            else np.zeros(0, np.int64)
        )
        cost = np.concatenate([d["cost"] for d in received]) if received else np.zeros(0, np.int64)
        order = np.lexsort((at, product))
        last_cost = np.full(w.shape.products, NULL)
        last_cost[product[order]] = cost[order]  # later assignments win: the latest delivery
        pairs = [(int(s), p) for p, s in enumerate(w.p_supplier.tolist()) if s >= 0]
        pairs += [(int(s), p) for p, s in enumerate(w.p_second.tolist()) if s >= 0]
        pairs.sort()
        supplier = np.array([s for s, _p in pairs], dtype=np.int64)
        product = np.array([p for _s, p in pairs], dtype=np.int64)
        primary = w.p_supplier[product] == supplier
        costs = np.where(primary, last_cost[product], NULL)
        out: dict[str, pa.Table] = {}
        if period == 0:
            j = w.shape.suppliers
            created = timestamps(np.full(j, self.created))
            out["supplier"] = _table(
                {
                    "id": np.arange(1, j + 1),
                    "name": _text(
                        [f"ООО «{SUPPLIER_NAMES[n % 6]}-{n // 6 + 1}»" for n in range(j)]
                    ),
                    "contact": _text([f"zakaz{n + 1}@supplier.example" for n in range(j)]),
                    "lead_time_days": w.s_lead,
                    "review_period_days": w.s_review,
                    "active": np.ones(j, dtype=np.int64),
                    "change_seq": self.seq.take("ledger", j),
                    "created_at": created,
                    "updated_at": created,
                }
            )
            self.sp_base_cost = costs
            rows = np.arange(len(pairs))
        else:  # the terms whose last cost changed get a new version
            rows = np.flatnonzero(costs != self.sp_base_cost)
        out["supplier_product"] = _table(
            {
                "id": rows + 1,
                "supplier_id": supplier[rows] + 1,
                "product_id": product[rows] + 1,
                "supplier_sku": _text(
                    [
                        f"{s + 1}-{p + 1:06d}"
                        for s, p in zip(
                            supplier[rows].tolist(), product[rows].tolist(), strict=True
                        )
                    ]
                ),
                "pack_size_milli": w.p_pack[product[rows]],
                "min_order_milli": w.p_min_order[product[rows]],
                "last_cost_minor": costs[rows],
                "change_seq": self.seq.take("ledger", len(rows)),
            }
        )
        return out

    def _purchasing(self, period: int) -> dict[str, pa.Table]:
        """Purchase orders (one per delivery after the opening stock), their lines, and the stock
        documents; an order sent before the period ends but not yet delivered is `sent`."""
        w, shape = self.w, self.w.shape
        last = shape.days - 1 if period == 0 else w.n_days - 1
        if not hasattr(self, "po_of"):
            ordered = [
                (
                    int(
                        w.at(
                            np.array(d["store"]),
                            np.array(d["day"] - int(w.s_lead[d["supplier"]])),
                            np.array(10 * HOUR_US),
                        )
                    ),
                    n,
                )
                for n, d in enumerate(w.deliveries)
                if d["po"]
            ]
            ordered.sort()
            self.po_of = {n: number + 1 for number, (_at, n) in enumerate(ordered)}
            self.po_sent = {n: at for at, n in ordered}
            self.po_line_first: dict[int, int] = {}
            first = 1
            for _at, n in ordered:
                self.po_line_first[n] = first
                first += len(w.deliveries[n]["product"])
        rows: list[tuple[int, int]] = []  # (po id, delivery)
        for n, po in self.po_of.items():
            d = w.deliveries[n]
            sent_day = d["day"] - int(w.s_lead[d["supplier"]])
            if sent_day > last:
                continue
            new = sent_day > shape.days - 1 if period == 1 else True
            arrived_now = period == 1 and shape.days <= d["day"] <= last
            if period == 1 and not (new or arrived_now):
                continue
            rows.append((po, n))
        rows.sort()
        deliveries = [w.deliveries[n] for _po, n in rows]
        received = np.array([d["day"] <= last for d in deliveries], dtype=bool)
        closed = np.array(
            [d["at"] if d["day"] <= last else NULL for d in deliveries], dtype=np.int64
        )
        sent = np.array([self.po_sent[n] for _po, n in rows], dtype=np.int64)
        count = len(rows)
        out: dict[str, pa.Table] = {}
        out["purchase_order"] = _table(
            {
                "id": np.array([po for po, _n in rows], dtype=np.int64),
                "store_id": np.array([d["store"] + 1 for d in deliveries], dtype=np.int64),
                "supplier_id": np.array([d["supplier"] + 1 for d in deliveries], dtype=np.int64),
                "status": _text(["received" if r else "sent" for r in received.tolist()]),
                "source_key": _text([None] * count),
                "note": _text([""] * count),
                "created_by": np.array(
                    [w.manager_of[d["store"]] for d in deliveries], dtype=np.int64
                ),
                "created_at": timestamps(sent - HOUR_US),
                "sent_at": timestamps(sent),
                "expected_at": _date_text(
                    w, np.array([d["day"] for d in deliveries], dtype=np.int64)
                ),
                "closed_at": _nullable_times(closed),
                "change_seq": self.seq.take("ledger", count),
            }
        )
        sizes = np.array([len(d["product"]) for d in deliveries], dtype=np.int64)
        first = np.array([self.po_line_first[n] for _po, n in rows], dtype=np.int64)
        owner = np.repeat(np.arange(count), sizes)
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        qty = np.concatenate([d["qty"] for d in deliveries]) if count else np.zeros(0, np.int64)
        out["purchase_order_line"] = _table(
            {
                "id": first[owner] + within,
                "purchase_order_id": np.array([po for po, _n in rows], dtype=np.int64)[owner],
                "product_id": (
                    np.concatenate([d["product"] for d in deliveries])
                    if count
                    else np.zeros(0, np.int64)
                )
                + 1,
                "qty_ordered_milli": qty,
                "qty_received_milli": np.where(received[owner], qty, 0),
                "unit_cost_minor": np.concatenate([d["cost"] for d in deliveries])
                if count
                else np.zeros(0, np.int64),
                "reason": _text([None] * len(qty)),
                "change_seq": self.seq.take("ledger", len(qty)),
            }
        )
        # Stock documents of the period, in id (= time) order.
        docs = [
            (number, doc)
            for number, doc in enumerate(w.docs)
            if (self._doc_day(doc) >= shape.days) == bool(period)
        ]
        kinds = ("receipt", "write_off", "count")
        items = [(w.deliveries, w.write_offs, w.counts)[doc[1]][doc[3]] for _number, doc in docs]
        out["stock_doc"] = _table(
            {
                "id": np.array([number + 1 for number, _doc in docs], dtype=np.int64),
                "kind": _text([kinds[doc[1]] for _n, doc in docs]),
                "store_id": np.array([doc[2] + 1 for _n, doc in docs], dtype=np.int64),
                "to_store_id": np.full(len(docs), NULL),
                "supplier_id": np.array(
                    [
                        item["supplier"] + 1 if doc[1] == 0 else NULL
                        for (_n, doc), item in zip(docs, items, strict=True)
                    ],
                    dtype=np.int64,
                ),
                "purchase_order_id": np.array(
                    [self.po_of.get(doc[4], NULL) if doc[1] == 0 else NULL for _n, doc in docs],
                    dtype=np.int64,
                ),
                "reason": _text([("", "Порча", "Инвентаризация")[doc[1]] for _n, doc in docs]),
                "note": _text([""] * len(docs)),
                "created_by": np.array([w.manager_of[doc[2]] for _n, doc in docs], dtype=np.int64),
                "created_at": timestamps(np.array([doc[0] for _n, doc in docs], dtype=np.int64)),
                "change_seq": self.seq.take("ledger", len(docs)),
            }
        )
        return out

    def _doc_day(self, doc: tuple[int, int, int, int, int]) -> int:
        w = self.w
        item = (w.deliveries, w.write_offs, w.counts)[doc[1]][doc[3]]
        return int(item["day"])

    def _shifts(self, period: int) -> dict[str, pa.Table]:
        w, sh, se = self.w, self.w.sh, self.w.se
        mine = np.flatnonzero((sh["day"] >= w.shape.days) == bool(period))
        mine = mine[np.argsort(sh["opened"][mine], kind="stable")]
        if not hasattr(self, "shift_id"):
            order = np.lexsort((sh["slot"], sh["opened"]))
            self.shift_id = np.empty(len(order), dtype=np.int64)
            self.shift_id[order] = np.arange(1, len(order) + 1)
        n = len(mine)
        out: dict[str, pa.Table] = {}
        out["shift"] = _table(
            {
                "id": self.shift_id[mine],
                "store_id": sh["store"][mine] + 1,
                "device_id": sh["device"][mine],
                "shift_uuid": w.shift_uuids.take(pa.array(mine)),
                "cashier_id": sh["cashier"][mine],
                "opened_at": timestamps(sh["opened"][mine]),
                "closed_at": timestamps(sh["closed"][mine]),
                "float_minor": np.full(n, FLOAT_MINOR),
                "cash_sales_minor": sh["cash_sales"][mine],
                "cash_refunds_minor": sh["cash_refunds"][mine],
                "pay_ins_minor": sh["pay_in"][mine],
                "pay_outs_minor": sh["pay_out"][mine],
                "sales_count": sh["sales_count"][mine],
                "returns_count": sh["returns_count"][mine],
                "sales_total_minor": sh["sales_total"][mine],
                "returns_total_minor": sh["returns_total"][mine],
                "counted_minor": sh["counted"][mine],
                "expected_minor": sh["expected"][mine],
                "over_short_minor": sh["over_short"][mine],
                "flags": _text([""] * n),
                "change_seq": self.seq.take("ledger", n),
            }
        )
        events = np.flatnonzero(se["period"] == period)  # already in time order
        if not hasattr(self, "event_first"):
            self.event_first = int(np.count_nonzero(se["period"] == 0))
        shift = se["shift"][events]
        reasons = pa.array([None, "Размен", "Инкассация", None], type=pa.string())
        out["shift_event"] = _table(
            {
                "id": events + 1,
                "store_id": sh["store"][shift] + 1,
                "device_id": sh["device"][shift],
                "event_uuid": w.event_uuids.take(pa.array(events)),
                "shift_uuid": w.shift_uuids.take(pa.array(shift)),
                "till_seq": se["till_seq"][events],
                "kind": EVENT_KINDS.take(pa.array(se["kind"][events])),
                "at": timestamps(se["at"][events]),
                "cashier_id": sh["cashier"][shift],
                "amount_minor": se["amount"][events],
                "reason": reasons.take(pa.array(se["kind"][events])),
                "payload_hash": w.se_payload.take(pa.array(events)),
                "received_at": timestamps(se["received"][events]),
                "change_seq": self.seq.take("ledger", len(events)),
            }
        )
        return out

    def _sale_rows(self, period: int) -> dict[str, pa.Table]:
        w, ev, ln = self.w, self.w.ev, self.w.ln
        mine = np.flatnonzero(ev["period"] == period)
        n = len(mine)
        original = ev["original"][mine]
        unknown_any = (
            np.add.reduceat(ln["unknown"].astype(np.int64), ev["start"]) > 0
            if len(ev["k"])
            else np.zeros(0, bool)
        )
        index = pa.array(mine)
        out: dict[str, pa.Table] = {}
        offset_min = (w.offset_us // (60 * SECOND_US))[ev["store"][mine]]
        fn = _text([f"99990789{device:08d}" for device in range(w.n_slots + 2)])
        out["sale"] = _table(
            {
                "id": mine + 1,
                "store_id": ev["store"][mine] + 1,
                "device_id": ev["device"][mine],
                "sale_uuid": w.uuids.take(index),
                "till_seq": ev["till_seq"][mine],
                "kind": SALE_KINDS.take(pa.array(ev["kind"][mine])),
                "original_sale_uuid": _take(w.uuids, original),
                "original_sale_id": np.where(original == NULL, NULL, original + 1),
                "cashier_id": ev["cashier"][mine],
                "shift_uuid": w.shift_uuids.take(pa.array(ev["shift"][mine])),
                "currency": _text(["RUB"]).take(pa.array(np.zeros(n, dtype=np.int64))),
                "total_minor": ev["total"][mine],
                "vat_minor": ev["vat"][mine],
                "change_minor": ev["change"][mine],
                "cash_minor": ev["cash"][mine],
                "created_at": timestamps(ev["created"][mine]),
                "till_utc_offset_min": offset_min,
                "received_at": timestamps(ev["received"][mine]),
                "prev_hash": w.hashes[1].take(index),
                "hash": w.hashes[0].take(index),
                "payload_hash": w.payload_hashes.take(index),
                "fn_number": fn.take(pa.array(ev["device"][mine])),
                "fd_number": ev["till_seq"][mine],
                "fpd": w.fpd.take(index),
                "flags": pa.array(["", "unknown_product"]).take(
                    pa.array(unknown_any[mine].astype(np.int64))
                ),
                "change_seq": self.seq.take("ledger", n),
            }
        )
        return out

    def _line_rows(self, period: int) -> dict[str, pa.Table]:
        w, ev, ln = self.w, self.w.ev, self.w.ln
        out: dict[str, pa.Table] = {}
        lines = np.flatnonzero(ev["period"][ln["event"]] == period)
        product = ln["product"][lines]
        unknown = ln["unknown"][lines]
        kg = np.zeros(len(lines), dtype=bool)
        kg[~unknown] = w.p_kg[product[~unknown]]
        label = np.concatenate(
            [
                np.full((len(lines), 2), 2, dtype=np.uint8),
                _digits(w.p_scale[np.where(unknown, 0, product)], 5) - 48,
                _digits(np.minimum(w.weights[lines], 99_999), 5) - 48,
            ],
            axis=1,
        )
        barcode = pc.if_else(pa.array(kg), ean13(label), _take(w.p_barcodes, product))
        if unknown.any():
            barcode = pc.if_else(
                pa.array(unknown), _take(w.unknown_codes, ln["unknown_code"][lines]), barcode
            )
        name = _take(w.p_names, product).fill_null("Товар по свободной цене")
        out["sale_line"] = _table(
            {
                "id": lines + 1,
                "sale_id": ln["event"][lines] + 1,
                "store_id": ln["store"][lines] + 1,
                "line_no": ln["line_no"][lines],
                "product_id": np.where(product == NULL, NULL, product + 1),
                "unknown_product": unknown.astype(np.int64),
                "barcode": barcode,
                "name": name,
                "qty_milli": ln["qty"][lines],
                "unit_price_minor": ln["price"][lines],
                "discount_minor": ln["discount"][lines],
                "amount_minor": ln["amount"][lines],
                "vat_rate_bp": ln["rate"][lines],
                "vat_minor": ln["vat"][lines],
                "unit_cost_minor": ln["cost"][lines],
                "change_seq": self.seq.take("ledger", len(lines)),
            }
        )
        return out

    def _payment_rows(self, period: int) -> dict[str, pa.Table]:
        ev, pay = self.w.ev, self.w.pay
        out: dict[str, pa.Table] = {}
        rows = np.flatnonzero(ev["period"][pay["event"]] == period)
        approval = pc.utf8_lpad(
            pa.array(pay["approval"][rows], mask=pay["approval"][rows] == NULL).cast(pa.string()),
            6,
            "0",
        )
        out["sale_payment"] = _table(
            {
                "id": rows + 1,
                "sale_id": pay["event"][rows] + 1,
                "store_id": ev["store"][pay["event"][rows]] + 1,
                "payment_no": pay["payment_no"][rows],
                "tender": pa.array(["card", "cash"]).take(
                    pa.array(pay["cash"][rows].astype(np.int64))
                ),
                "amount_minor": pay["amount"][rows],
                "approval_code": approval,
                "change_seq": self.seq.take("ledger", len(rows)),
            }
        )
        return out

    def _move_rows(self, period: int) -> dict[str, pa.Table]:
        mv, ln = self.w.mv, self.w.ln
        rows = np.flatnonzero(mv["period"] == period)
        line = mv["line"][rows]
        from_sale = line != NULL
        safe = np.where(from_sale, line, 0)
        reasons = pa.array(["", "", "", "", "", "Инвентаризация", "Порча", ""])
        out: dict[str, pa.Table] = {}
        out["stock_move"] = _table(
            {
                "id": rows + 1,
                "store_id": mv["store"][rows] + 1,
                "product_id": mv["product"][rows] + 1,
                "kind": MOVE_KINDS.take(pa.array(mv["kind"][rows])),
                "qty_milli": mv["qty"][rows],
                "unit_cost_minor": mv["unit_cost"][rows],
                "sale_id": np.where(from_sale, ln["event"][safe] + 1, NULL),
                "sale_line_no": np.where(from_sale, ln["line_no"][safe], NULL),
                "doc_id": np.where(from_sale, NULL, mv["doc"][rows] + 1),
                "counted_milli": mv["counted"][rows],
                "reason": reasons.take(pa.array(mv["kind"][rows])),
                "at": timestamps(mv["at"][rows]),
                "change_seq": self.seq.take("ledger", len(rows)),
            }
        )
        return out

    def _level_rows(self, period: int) -> dict[str, pa.Table]:
        level = self.w.levels[period]
        out: dict[str, pa.Table] = {}
        out["stock_level"] = _table(
            {
                "store_id": level["store"] + 1,
                "product_id": level["product"] + 1,
                "on_hand_milli": level["on_hand"],
                "avg_cost_minor": level["avg"],
                "last_move_at": timestamps(level["last_move_at"]),
                "change_seq": self.seq.take("ledger", len(level["store"])),
            }
        )
        return out

    def _till_state(self, period: int) -> dict[str, pa.Table]:
        w = self.w
        state = w.till_states[period]
        devices = state["device"]
        store = (
            np.where(devices == w.replacement_id, w.replaced_slot, devices - 1)
            // w.shape.tills_per_store
        )
        return {
            "till_state": _table(
                {
                    "device_id": devices,
                    "store_id": store + 1,
                    "last_contact_at": _nullable_times(state["last_contact"]),
                    "last_sale_at": _nullable_times(state["last_sale"]),
                    "max_sale_seq": state["max_sale_seq"],
                    "max_shift_seq": state["max_shift_seq"],
                    "sales_count": state["sales_count"],
                    "change_seq": self.seq.take("ledger", len(devices)),
                }
            )
        }


def _nullable_times(us: I64) -> pa.Array:
    nulls = us == NULL
    text = timestamps(np.where(nulls, 0, us))
    if not nulls.any():
        return text
    return pc.if_else(pa.array(nulls), pa.scalar(None, pa.string()), text)


# --- truth, writing, the increment --------------------------------------------------------


def truth(world: World, period: int) -> Truth:
    """The generator's own sums up to the end of `period` (0 = base, 1 = with the increment)."""
    ev, ln, mv = world.ev, world.ln, world.mv
    upto = ev["period"][ln["event"]] <= period
    sign = np.where(ev["kind"][ln["event"]] == 1, -1, 1)[upto]
    amount, vat, qty, cost = ln["amount"][upto], ln["vat"][upto], ln["qty"][upto], ln["cost"][upto]
    costed = cost != NULL
    cogs = np.where(costed, half_up(qty * np.where(costed, cost, 0), 1000), 0)
    events = ev["period"] <= period
    return Truth(
        sales=int(np.count_nonzero(events & (ev["kind"] == 0))),
        returns=int(np.count_nonzero(events & (ev["kind"] == 1))),
        lines=int(np.count_nonzero(upto)),
        revenue_minor=int((sign * amount).sum()),
        vat_minor=int((sign * vat).sum()),
        cogs_minor=int((sign * cogs)[costed].sum()),
        gross_profit_minor=int((sign * (amount - vat - cogs))[costed].sum()),
        revenue_without_cost_minor=int((sign * amount)[~costed].sum()),
        stock_moves=int(np.count_nonzero(mv["period"] <= period)),
        on_hand_milli=int(mv["qty"][mv["period"] <= period].sum()),
    )


BIG = 100_000  # tables with more rows than this are loaded without their secondary indexes


def _adbc(path: Path) -> Any:
    import adbc_driver_sqlite.dbapi as adbc

    return adbc.connect(str(path), autocommit=True)


def _run(cursor: Any, sql: str) -> list[Any]:
    cursor.execute(sql)
    try:
        return list(cursor.fetchall())
    except Exception:  # statements without a result set
        return []


def write(path: Path, tables: Iterable[tuple[str, pa.Table]], counters: Counters) -> dict[str, int]:
    """Append `tables` to a migrated hub file with ADBC bulk ingest (no journal while loading;
    a big table's secondary indexes dropped first and rebuilt after), then set the change
    counters to the last numbers `counters` handed out."""
    con = _adbc(path)
    cursor = con.cursor()
    try:
        _run(cursor, "PRAGMA journal_mode=OFF")
        _run(cursor, "PRAGMA synchronous=OFF")
        _run(cursor, "PRAGMA foreign_keys=OFF")
        rows: dict[str, int] = {}
        for name, table in tables:
            indexes = []
            if table.num_rows > BIG:
                query = f"SELECT name, sql FROM sqlite_master WHERE tbl_name = '{name}' "  # noqa: S608
                indexes = _run(cursor, query + "AND type = 'index' AND sql IS NOT NULL")
                for index, _sql in indexes:
                    _run(cursor, f"DROP INDEX {index}")
            if table.num_rows:
                cursor.adbc_ingest(name, table, mode="append")
            for _index, sql in indexes:
                _run(cursor, sql)
            rows[name] = table.num_rows
            del table
        for name, value in counters.values.items():
            _run(
                cursor,
                f"UPDATE change_counter SET value = max(value, {int(value)}) WHERE name = '{name}'",  # noqa: S608
            )
        _run(cursor, "PRAGMA journal_mode=WAL")
        return rows
    finally:
        cursor.close()
        con.close()


def _counters(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as con:
        return {str(n): int(v) for n, v in con.execute("SELECT name, value FROM change_counter")}


def build(directory: Path, shape: Shape | None = None) -> Built:
    """Generate the timeline and write `hub.db` (the base period) and `increment.db`."""
    from hub.migrate import upgrade

    shape = shape or Shape()
    directory.mkdir(parents=True, exist_ok=True)
    path, increment = directory / "hub.db", directory / "increment.db"
    for file in (path, increment):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{file}{suffix}").unlink(missing_ok=True)
    began = time.perf_counter()
    world = World(shape)
    generated = time.perf_counter()
    upgrade(f"sqlite:///{path}")
    upgrade(f"sqlite:///{increment}")
    counters = Counters(_counters(path))
    rows = Rows(world, counters)
    written = write(path, rows.base(), counters)
    increment_rows = write(increment, rows.increment(), counters)
    done = time.perf_counter()
    return Built(
        path=path,
        url=f"sqlite:///{path}",
        increment_path=increment,
        shape=shape,
        base=truth(world, 0),
        total=truth(world, 1),
        rows=written,
        increment_rows=increment_rows,
        generate_seconds=generated - began,
        write_seconds=done - generated,
        file_bytes=path.stat().st_size,
    )


def apply_increment(path: Path, increment: Path) -> float:
    """Copy the increment's rows into the hub (new rows inserted, new versions replacing old
    ones by primary key) and raise its change counters; returns the seconds it took."""
    began = time.perf_counter()
    with sqlite3.connect(path, isolation_level=None) as con:
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("ATTACH DATABASE ? AS inc", (str(increment),))
        tables = [
            name
            for (name,) in con.execute(
                "SELECT name FROM inc.sqlite_master WHERE type = 'table' "
                "AND name NOT IN ('alembic_version', 'change_counter')"
            )
        ]
        con.execute("BEGIN IMMEDIATE")
        for name in tables:
            con.execute(f"INSERT OR REPLACE INTO main.{name} SELECT * FROM inc.{name}")  # noqa: S608
        con.execute(
            "UPDATE main.change_counter SET value = max(value, (SELECT value FROM "
            "inc.change_counter c WHERE c.name = change_counter.name))"
        )
        con.execute("COMMIT")
        con.execute("DETACH DATABASE inc")
    return time.perf_counter() - began
