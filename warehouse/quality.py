"""The quality gate: Great Expectations suites that decide whether a report may be published.

A report goes out only when the data behind it is complete and consistent. `run_gate` checks one
period (a day, or an ISO week) of every store in six suites:

1. completeness: every till active in the period has synced through its end (it reported its
   journal head after the period end, or after closing its last shift, and the hub holds every
   sale up to that head); no unexplained `till_seq` gaps; no hash-chain breaks, hash mismatches or
   forked sequences among the period's sales. Sales the hub rejected (quarantined) are a warning.
2. reconciliation: per store and local day, the warehouse's sales, returns, lines and tenders and
   their money sums equal the hub's (read straight from the hub database).
3. consistency: every sale's total equals its lines and its tenders net of change; quantities on
   the lines are positive; no product is returned beyond what its sale sold.
4. cost coverage: unit cost known for >= 99 % of each store's revenue excluding VAT.
5. referential integrity: every line's product, store, till and cashier is known, or flagged by
   the hub (`unknown_product`, `unknown_cashier`); flagged lines are a warning.
6. freshness: the warehouse was refreshed after the period end and its facts are built from that
   refresh.

Each check is computed as a small frame in DuckDB (or from the hub), then judged by Great
Expectations on a pandas batch (its DuckDB datasource is broken upstream, see FIELD-NOTES);
GX's verdict is the check's verdict. Every check carries its severity, an explanation in Russian
and English, the reasons it failed (naming the till, store, day and figures) and its numbers.
Money stays integer minor units; shares are integer basis points.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.extract import HubConnection, hub_connection

log = logging.getLogger(__name__)

Severity = Literal["blocking", "warning"]
Scope = Literal["daily", "weekly"]
COST_COVERAGE_BP = 9900  # unit cost known for at least 99 % of revenue


# --- what a check says ------------------------------------------------------------------------


@dataclass
class Check:
    id: str
    suite: str
    severity: Severity
    passed: bool
    explanation: dict[str, str]
    reasons: dict[str, list[str]] = field(default_factory=lambda: {"ru": [], "en": []})
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suite": self.suite,
            "severity": self.severity,
            "passed": self.passed,
            "explanation": self.explanation,
            "reasons": self.reasons,
            "numbers": self.numbers,
        }


@dataclass
class Verdict:
    scope: str
    period_start: dt.date
    period_end: dt.date
    checked_at: dt.datetime
    checks: list[Check]
    seconds: float = 0.0

    @property
    def publishable(self) -> bool:
        return all(c.passed for c in self.checks if c.severity == "blocking")

    @property
    def failed_blocking(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "blocking" and not c.passed]

    @property
    def failed_warnings(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "warning" and not c.passed]

    @property
    def fingerprint(self) -> str:
        """Which checks failed: the same failure re-run is one alert, a new one another."""
        failed = sorted(c.id for c in self.checks if not c.passed)
        return "-".join(failed) or "ok"

    def summary(self) -> dict[str, str]:
        blocking, warnings = self.failed_blocking, self.failed_warnings
        if blocking:
            first = {lang: _first_reason(blocking, lang) for lang in ("ru", "en")}
            return {
                "ru": f"отчёт задержан: {first['ru']}"
                + (f" (и ещё проверок: {len(blocking) - 1})" if len(blocking) > 1 else ""),
                "en": f"report withheld: {first['en']}"
                + (f" (and {len(blocking) - 1} more failed checks)" if len(blocking) > 1 else ""),
            }
        if warnings:
            return {
                "ru": f"данные полные; предупреждений: {len(warnings)}",
                "en": f"data complete; {len(warnings)} warning(s)",
            }
        return {"ru": "данные полные и сходятся", "en": "data complete and consistent"}

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "verdict": "published" if self.publishable else "withheld",
            "checked_at": self.checked_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "checks": [c.to_json() for c in self.checks],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2, default=str)


def _first_reason(checks: list[Check], lang: str) -> str:
    for check in checks:
        if check.reasons[lang]:
            return check.reasons[lang][0]
    return checks[0].explanation[lang]


# --- Great Expectations -------------------------------------------------------------------------


class _Judge:
    """One ephemeral GX context for a gate run; each check validates one pandas batch."""

    def __init__(self) -> None:
        import great_expectations as gx  # ~5 s and ~270 MiB: only when a gate runs

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        try:  # no progress bars in flow logs
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # an older or newer GX without the setting: bars are cosmetic
            log.debug("could not switch GX progress bars off", exc_info=True)
        self.source = self.context.data_sources.add_pandas(name="kassa_quality")

    def judge(self, name: str, frame: pa.Table, expectations: list[Any]) -> tuple[bool, list[Any]]:
        gx = self.gx
        asset = self.source.add_dataframe_asset(name=name)
        batch = asset.add_batch_definition_whole_dataframe(name)
        suite = self.context.suites.add(gx.ExpectationSuite(name=name))
        for expectation in expectations:
            suite.add_expectation(expectation)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frame.to_pandas()}, result_format="SUMMARY"
        )
        for r in result.results:
            info = r.exception_info or {}
            if isinstance(info, dict) and info.get("raised_exception"):
                log.error("expectation %s on %s raised: %s", r.expectation_config.type, name, info)
        return bool(result.success), list(result.results)


def _observed(results: list[Any]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        res = r.result or {}
        item: dict[str, Any] = {"expectation": r.expectation_config.type, "success": r.success}
        for key in ("observed_value", "element_count", "unexpected_count"):
            if key in res:
                item[key] = _plain(res[key])
        out.append(item)
    return out


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value


# --- the period -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    store_id: int
    store_name: str
    timezone: str
    start_utc: dt.datetime  # naive UTC, as the warehouse stores timestamps
    end_utc: dt.datetime


def windows(duck: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> list[Window]:
    """Each store's period in UTC: from local midnight of `start` to local midnight after `end`."""
    out = []
    for store_id, name, tz in duck.execute(
        "SELECT store_id, store_name, timezone FROM dim_store ORDER BY store_id"
    ).fetchall():
        zone = ZoneInfo(tz)

        def utc(day: dt.date, zone: ZoneInfo = zone) -> dt.datetime:
            local = dt.datetime.combine(day, dt.time(), tzinfo=zone)
            return local.astimezone(dt.UTC).replace(tzinfo=None)

        out.append(Window(store_id, name, tz, utc(start), utc(end + dt.timedelta(days=1))))
    return out


def _local(moment: dt.datetime | None, tz: str) -> str:
    """A UTC timestamp as the store's local 'dd.mm HH:MM'."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m %H:%M")


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{units:,}.{cents:02d}".replace(",", " ")


# --- reading the hub ----------------------------------------------------------------------------


class HubReader:
    """Read-only queries against the hub's database (SQLite or PostgreSQL) through ADBC."""

    def __init__(self, kind: str, con: HubConnection) -> None:
        self.kind = kind
        self.con = con

    def ts(self, moment: dt.datetime) -> str:
        """A UTC instant as a SQL literal the hub's timestamp columns compare with."""
        text = moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"'{text}'" if self.kind == "sqlite" else f"TIMESTAMPTZ '{text}+00'"

    def table(self, sql: str) -> pa.Table:
        table: pa.Table = self.con.table(sql)
        return table


@contextmanager
def hub_reader(hub_url: str) -> Iterator[HubReader]:
    with hub_connection(hub_url) as (kind, con):
        yield HubReader(kind, con)


def _utc(column: str) -> str:
    """Hub timestamps arrive as text (SQLite) or timestamptz (PostgreSQL), or as a NULL column
    of any type when a query found nothing: naive UTC either way (the warehouse's zone is UTC)."""
    inner = f'CAST(CAST("{column}" AS VARCHAR) AS TIMESTAMPTZ)'
    return f"CAST(timezone('UTC', {inner}) AS TIMESTAMP)"


def _big(column: str) -> str:
    return f'CAST("{column}" AS BIGINT)'


def _text(column: str) -> str:
    return f'CAST("{column}" AS VARCHAR)'


def _hub_table(
    duck: duckdb.DuckDBPyConnection, name: str, tables: list[pa.Table], columns: dict[str, str]
) -> None:
    """Hub rows into a typed temp table: every column cast explicitly, because an empty ADBC
    result (or an all-NULL column) comes back without the column's real type."""
    select = ", ".join(f'{expr} AS "{col}"' for col, expr in columns.items())
    for n, table in enumerate(tables):
        duck.register("_q_arrow", table)
        try:
            if n == 0:
                duck.execute(
                    f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {select} FROM _q_arrow"  # noqa: S608
                )
            else:
                duck.execute(f"INSERT INTO {name} SELECT {select} FROM _q_arrow")  # noqa: S608
        finally:
            duck.unregister("_q_arrow")


def _load_hub(duck: duckdb.DuckDBPyConnection, hub: HubReader, wins: list[Window]) -> None:
    """The hub's side of the period into temp tables: sales, tills, shifts, issues, quarantine."""
    sales = [
        hub.table(
            "SELECT s.store_id, s.id AS sale_id, s.device_id, s.kind, s.created_at, "  # noqa: S608
            "s.total_minor, s.change_minor, "
            "(SELECT count(*) FROM sale_line l WHERE l.sale_id = s.id) AS lines, "
            "(SELECT coalesce(sum(l.amount_minor), 0) FROM sale_line l "
            " WHERE l.sale_id = s.id) AS lines_minor, "
            "(SELECT count(*) FROM sale_payment p WHERE p.sale_id = s.id) AS payments, "
            "(SELECT coalesce(sum(p.amount_minor), 0) FROM sale_payment p "
            " WHERE p.sale_id = s.id) AS paid_minor "
            f"FROM sale s WHERE s.store_id = {int(w.store_id)} "
            f"AND s.created_at >= {hub.ts(w.start_utc)} AND s.created_at < {hub.ts(w.end_utc)}"
        )
        for w in wins
    ]
    money = ("total_minor", "change_minor", "lines", "lines_minor", "payments", "paid_minor")
    _hub_table(
        duck,
        "q_hub_sale",
        sales,
        {
            "store_id": _big("store_id"),
            "sale_id": _big("sale_id"),
            "device_id": _big("device_id"),
            "kind": _text("kind"),
            "created_at": _utc("created_at"),
            **{c: _big(c) for c in money},
        },
    )
    first = min(w.start_utc for w in wins)
    last = max(w.end_utc for w in wins)
    tills = hub.table(
        "SELECT d.id AS device_id, d.store_id, d.name, d.paired_at, d.revoked_at, "
        "d.last_seen_at, d.replaces_device_id, d.journal_sale_seq, d.journal_shift_seq, "
        "d.journal_reported_at, t.last_contact_at, t.max_sale_seq, t.max_shift_seq "
        "FROM device d LEFT JOIN till_state t ON t.device_id = d.id"
    )
    _hub_table(
        duck,
        "q_hub_till",
        [tills],
        {
            "device_id": _big("device_id"),
            "store_id": _big("store_id"),
            "name": _text("name"),
            "paired_at": _utc("paired_at"),
            "revoked_at": _utc("revoked_at"),
            "last_seen_at": _utc("last_seen_at"),
            "replaces_device_id": _big("replaces_device_id"),
            "journal_sale_seq": _big("journal_sale_seq"),
            "journal_shift_seq": _big("journal_shift_seq"),
            "journal_reported_at": _utc("journal_reported_at"),
            "last_contact_at": _utc("last_contact_at"),
            "max_sale_seq": f"coalesce({_big('max_sale_seq')}, 0)",
            "max_shift_seq": f"coalesce({_big('max_shift_seq')}, 0)",
        },
    )
    shifts = hub.table(
        "SELECT device_id, store_id, opened_at, closed_at FROM shift "  # noqa: S608 - dates
        f"WHERE (opened_at IS NULL OR opened_at < {hub.ts(last)}) "
        f"AND (closed_at IS NULL OR closed_at >= {hub.ts(first)})"
    )
    _hub_table(
        duck,
        "q_hub_shift",
        [shifts],
        {
            "device_id": _big("device_id"),
            "store_id": _big("store_id"),
            "opened_at": _utc("opened_at"),
            "closed_at": _utc("closed_at"),
        },
    )
    events = hub.table(
        "SELECT device_id, store_id, kind, at FROM shift_event "  # noqa: S608 - dates
        f"WHERE at >= {hub.ts(first)} AND at < {hub.ts(last)}"
    )
    _hub_table(
        duck,
        "q_hub_event",
        [events],
        {
            "device_id": _big("device_id"),
            "store_id": _big("store_id"),
            "kind": _text("kind"),
            "at": _utc("at"),
        },
    )
    issues = hub.table(
        "SELECT i.store_id, i.device_id, i.kind, i.till_seq, i.detail, s.created_at "
        "FROM till_journal_issue i LEFT JOIN sale s "
        "ON s.store_id = i.store_id AND s.sale_uuid = i.sale_uuid"
    )
    _hub_table(
        duck,
        "q_hub_issue",
        [issues],
        {
            "store_id": _big("store_id"),
            "device_id": _big("device_id"),
            "kind": _text("kind"),
            "till_seq": _big("till_seq"),
            "detail": _text("detail"),
            "created_at": _utc("created_at"),
        },
    )
    quarantine = hub.table(
        "SELECT store_id, device_id, till_seq, reason, received_at FROM sale_quarantine"
    )
    _hub_table(
        duck,
        "q_hub_quarantine",
        [quarantine],
        {
            "store_id": _big("store_id"),
            "device_id": _big("device_id"),
            "till_seq": _big("till_seq"),
            "reason": _text("reason"),
            "received_at": _utc("received_at"),
        },
    )


def _temp(duck: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    duck.register("_q_arrow", table)
    try:
        duck.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _q_arrow")  # noqa: S608
    finally:
        duck.unregister("_q_arrow")


def _windows_table(duck: duckdb.DuckDBPyConnection, wins: list[Window]) -> None:
    _temp(
        duck,
        "q_window",
        pa.table(
            {
                "store_id": pa.array([w.store_id for w in wins], pa.int64()),
                "store_name": pa.array([w.store_name for w in wins], pa.string()),
                "timezone": pa.array([w.timezone for w in wins], pa.string()),
                "start_utc": pa.array([w.start_utc for w in wins], pa.timestamp("us")),
                "end_utc": pa.array([w.end_utc for w in wins], pa.timestamp("us")),
            }
        ),
    )


def _frame(duck: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return duck.sql(sql).to_arrow_table()


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


Mask = Callable[[pa.Table], Any]  # a frame -> one boolean per row (Arrow), true = failing


def _every(table: pa.Table) -> pa.Array:
    return pa.array([True] * table.num_rows, pa.bool_())


def _differ(table: pa.Table, a: str, b: str) -> Any:
    """Row by row `a != b` as Python compares: a NULL differs from a value, not from a NULL."""
    x, y = table[a], table[b]
    return pc.coalesce(pc.not_equal(x, y), pc.not_equal(pc.is_null(x), pc.is_null(y)))


# --- the suites ---------------------------------------------------------------------------------

TEXT: dict[str, dict[str, str]] = {
    "completeness.tills_synced": {
        "ru": "Каждая касса, работавшая в периоде, передала все чеки после его окончания.",
        "en": "Every till active in the period has synced all its sales after the period ended.",
    },
    "completeness.no_seq_gaps": {
        "ru": "В номерах чеков касс нет необъяснённых пропусков.",
        "en": "No unexplained gaps in the tills' receipt numbers (till_seq).",
    },
    "completeness.hash_chain": {
        "ru": "Цепочка хешей журналов касс не нарушена, номера чеков не повторяются.",
        "en": "The tills' journal hash chains are unbroken and no receipt number is reused.",
    },
    "completeness.quarantine": {
        "ru": "Хаб не отклонял чеки касс в периоде (отклонённые не входят в цифры отчёта).",
        "en": "The hub rejected no sales in the period (rejected sales are not in the figures).",
    },
    "reconciliation.store_day": {
        "ru": "Число чеков, строк и оплат и их суммы по магазинам и дням в хранилище равны хабу.",
        "en": "Sales, lines and tenders and their sums per store and day equal the hub's.",
    },
    "consistency.sale_totals": {
        "ru": "Сумма каждого чека равна сумме его строк и оплатам за вычетом сдачи.",
        "en": "Every sale's total equals its lines and its tenders net of change.",
    },
    "consistency.quantities": {
        "ru": "Количества в строках чеков положительные (возврат задаётся видом чека).",
        "en": "Quantities on sale lines are positive (a return is a kind of sale).",
    },
    "consistency.returns": {
        "ru": "Ни один товар не возвращён сверх проданного по чеку.",
        "en": "No product is returned beyond what its sale sold.",
    },
    "cost_coverage.revenue": {
        "ru": "Себестоимость известна не менее чем для 99 % выручки каждого магазина.",
        "en": "Unit cost is known for at least 99 % of each store's revenue.",
    },
    "referential.known": {
        "ru": "Товар, магазин, касса и кассир каждой строки известны или помечены хабом.",
        "en": "Every line's product, store, till and cashier is known or flagged by the hub.",
    },
    "referential.flagged": {
        "ru": "В периоде нет продаж неизвестных товаров и неизвестных кассиров.",
        "en": "No sales of unknown products or by unknown cashiers in the period.",
    },
    "freshness.refreshed": {
        "ru": "Хранилище обновлено после окончания периода, витрины построены по этим данным.",
        "en": "The warehouse was refreshed after the period ended and built from that refresh.",
    },
}


@dataclass
class _Context:
    duck: duckdb.DuckDBPyConnection
    judge: _Judge
    wins: list[Window]
    now: dt.datetime
    cost_coverage_bp: int
    _tills: dict[int, str] | None = None

    def sale(self, row: dict[str, Any], lang: str) -> str:
        """'касса Касса 1, чек № 17' / 'till Касса 1, sale #17' for a row with device and seq."""
        if self._tills is None:
            self._tills = dict(
                self.duck.execute(
                    "SELECT device_id, coalesce(till_name, 'till ' || device_id) FROM dim_till"
                ).fetchall()
            )
        till = self._tills.get(row["device_id"], row["device_id"])
        if lang == "ru":
            return f"касса {till}, чек № {row['till_seq']}"
        return f"till {till}, sale #{row['till_seq']}"

    def check(
        self,
        check_id: str,
        severity: Severity,
        frame: pa.Table | tuple[pa.Table, list[str]],
        expectations: list[Any],
        reasons: Callable[[list[dict[str, Any]]], Reasons],
        failing: Mask,
        numbers: dict[str, Any],
    ) -> Check:
        """Let GX judge `frame` (or the named columns of it); the reasons name the rows
        `failing` picks out of the whole frame (an Arrow mask: only those rows become Python
        objects, so a period of millions of lines costs no Python per line)."""
        full, judged = frame if isinstance(frame, tuple) else (frame, frame.column_names)
        passed, results = self.judge.judge(
            check_id.replace(".", "_"), full.select(judged), expectations
        )
        rows = _rows(full.filter(failing(full)))
        ru, en = reasons(rows) if rows and not passed else ([], [])
        if not passed and not ru:  # GX failed on something the row filter does not show
            ru = ["проверка не прошла: см. числа"]
            en = ["the check failed: see the numbers"]
        numbers = {**numbers, "failing_rows": len(rows), "expectations": _observed(results)}
        suite = check_id.split(".")[0]
        return Check(
            check_id, suite, severity, passed, TEXT[check_id], {"ru": ru, "en": en}, numbers
        )


def _limit(lines: list[str], most: int = 20) -> list[str]:
    return lines if len(lines) <= most else [*lines[:most], f"… (+{len(lines) - most})"]


Reasons = tuple[list[str], list[str]]


def _each(rows: list[dict[str, Any]], say: Callable[[dict[str, Any], str], str]) -> Reasons:
    """One reason per failing row, in Russian and in English (`say(row, "ru" | "en")`)."""
    return _limit([say(r, "ru") for r in rows]), _limit([say(r, "en") for r in rows])


def _qty(milli: int) -> str:
    return f"{milli / 1000:g}"


def _completeness(q: _Context) -> list[Check]:
    gx = q.judge.gx
    # A till is active in a store's period when it sold or had a shift event in it, held a shift
    # open across it, or was in touch with the hub during it; it must then be synced through the
    # period's end: a journal head reported after the end (or after closing its last shift)
    # that the hub holds in full. Tills too old to report a head fall back to an upload after
    # the end.
    tills = _frame(
        q.duck,
        """
        WITH active AS (
            SELECT DISTINCT s.device_id FROM q_hub_sale s
            UNION SELECT DISTINCT e.device_id FROM q_hub_event e JOIN q_window w
                ON w.store_id = e.store_id AND e.at >= w.start_utc AND e.at < w.end_utc
            UNION SELECT DISTINCT h.device_id FROM q_hub_shift h JOIN q_window w
                ON w.store_id = h.store_id AND coalesce(h.opened_at, w.start_utc) < w.end_utc
                AND (h.closed_at IS NULL OR h.closed_at >= w.start_utc)
            UNION SELECT t.device_id FROM q_hub_till t JOIN q_window w ON w.store_id = t.store_id
                WHERE greatest(t.last_seen_at, t.journal_reported_at, t.last_contact_at)
                      >= w.start_utc
                  AND t.paired_at < w.end_utc
        ),
        last_shift AS (
            SELECT device_id, bool_or(closed_at IS NULL) AS shift_open,
                   max(closed_at) AS last_closed_at
            FROM q_hub_shift GROUP BY device_id
        ),
        rejected AS (  -- a quarantined sale is accounted for (listed as a warning)
            SELECT device_id, max(till_seq) AS max_seq FROM q_hub_quarantine GROUP BY device_id
        )
        SELECT t.device_id, t.name AS till_name, w.store_id, w.store_name, w.timezone,
               w.end_utc, t.revoked_at, t.last_contact_at, t.journal_reported_at,
               t.journal_sale_seq, t.journal_shift_seq, t.max_sale_seq, t.max_shift_seq,
               coalesce(ls.shift_open, false) AS shift_open, ls.last_closed_at,
               CASE
                 WHEN t.revoked_at IS NOT NULL AND t.revoked_at < w.end_utc THEN 'revoked'
                 WHEN t.journal_reported_at IS NULL THEN
                   CASE WHEN t.last_contact_at >= w.end_utc THEN 'uploaded_after_end'
                        ELSE 'no_contact_after_end' END
                 WHEN t.journal_sale_seq > greatest(t.max_sale_seq, coalesce(rj.max_seq, 0))
                      OR t.journal_shift_seq > t.max_shift_seq THEN 'unacknowledged'
                 WHEN t.journal_reported_at >= w.end_utc THEN 'reported_after_end'
                 WHEN NOT coalesce(ls.shift_open, false)
                      AND t.journal_reported_at >= ls.last_closed_at THEN 'closed_and_reported'
                 ELSE 'no_contact_after_end'
               END AS state
        FROM q_hub_till t JOIN q_window w ON w.store_id = t.store_id
        LEFT JOIN last_shift ls ON ls.device_id = t.device_id
        LEFT JOIN rejected rj ON rj.device_id = t.device_id
        WHERE t.device_id IN (SELECT device_id FROM active)
        ORDER BY t.device_id
        """,
    )
    ok_states = ["reported_after_end", "closed_and_reported", "uploaded_after_end", "revoked"]
    tills = tills.append_column(
        "synced",
        pa.array([row["state"] in ok_states for row in _rows(tills)], pa.bool_()),
    )

    def till_reasons(rows: list[dict[str, Any]]) -> Reasons:
        ru, en = [], []
        for r in rows:
            seen = max(
                (m for m in (r["journal_reported_at"], r["last_contact_at"]) if m is not None),
                default=None,
            )
            when = _local(seen, r["timezone"])
            name = f"{r['till_name']} ({r['store_name']})"
            if r["state"] == "unacknowledged":
                missing = max(r["journal_sale_seq"] - r["max_sale_seq"], 0)
                ru.append(
                    f"касса {name}: на хабе нет {missing} чеков (последний у кассы "
                    f"№ {r['journal_sale_seq']}, на хабе № {r['max_sale_seq']}; связь {when})"
                )
                en.append(
                    f"till {name}: the hub lacks {missing} sales (till is at "
                    f"#{r['journal_sale_seq']}, hub at #{r['max_sale_seq']}; last contact {when})"
                )
            else:
                ru.append(f"касса {name} не передавала данные с {when}")
                en.append(f"till {name} has not synced since {when}")
        return _limit(ru), _limit(en)

    synced = q.check(
        "completeness.tills_synced",
        "blocking",
        (tills, ["device_id", "store_id", "state", "synced"]),
        [gx.expectations.ExpectColumnValuesToBeInSet(column="synced", value_set=[True])],
        till_reasons,
        lambda t: pc.invert(t["synced"]),
        {
            "active_tills": tills.num_rows,
            "states": {s: sum(1 for r in _rows(tills) if r["state"] == s) for s in ok_states},
        },
    )

    # Gaps in each journal line (a re-paired till continues the journal of the one it replaced),
    # over every sale the warehouse holds, kept when they touch a store's period; a seq the hub
    # quarantined (rejected or conflicting) is explained.
    gaps = _frame(
        q.duck,
        """
        WITH RECURSIVE line(device_id, root) AS (
            SELECT device_id, device_id FROM dim_till WHERE replaces_device_id IS NULL
            UNION ALL
            SELECT t.device_id, l.root FROM dim_till t JOIN line l
                ON t.replaces_device_id = l.device_id
        ),
        seqs AS (
            SELECT l.root, s.store_id, s.till_seq, min(s.sold_at_utc) AS sold_at_utc
            FROM stg_sale s JOIN line l ON l.device_id = s.device_id
            GROUP BY ALL
        ),
        ordered AS (
            SELECT root, store_id, till_seq, sold_at_utc,
                   lag(till_seq, 1, 0) OVER (PARTITION BY root ORDER BY till_seq) AS prev_seq,
                   lag(sold_at_utc) OVER (PARTITION BY root ORDER BY till_seq) AS prev_at
            FROM seqs
        ),
        gap AS (
            SELECT o.root, o.store_id, o.prev_seq + 1 AS first_missing,
                   o.till_seq - 1 AS last_missing, o.prev_at, o.sold_at_utc AS next_at
            FROM ordered o WHERE o.till_seq > o.prev_seq + 1
        )
        SELECT g.root AS device_id, t.till_name, w.store_name, w.timezone, g.first_missing,
               g.last_missing, g.last_missing - g.first_missing + 1 AS missing,
               (SELECT count(DISTINCT q.till_seq) FROM q_hub_quarantine q JOIN line l
                  ON l.device_id = q.device_id
                WHERE l.root = g.root
                  AND q.till_seq BETWEEN g.first_missing AND g.last_missing) AS quarantined,
               g.prev_at, g.next_at
        FROM gap g JOIN q_window w ON w.store_id = g.store_id
        LEFT JOIN dim_till t ON t.device_id = g.root
        WHERE coalesce(g.prev_at, w.start_utc) < w.end_utc AND g.next_at >= w.start_utc
        ORDER BY g.root, g.first_missing
        """,
    )
    gaps = gaps.append_column(
        "unexplained",
        pa.array([r["missing"] - r["quarantined"] for r in _rows(gaps)], pa.int64()),
    )

    def gap_reasons(rows: list[dict[str, Any]]) -> Reasons:
        ru, en = [], []
        for r in rows:
            span = (
                f"{r['first_missing']}"
                if r["first_missing"] == r["last_missing"]
                else f"{r['first_missing']}–{r['last_missing']}"
            )
            name = f"{r['till_name']} ({r['store_name']})"
            when = f"{_local(r['prev_at'], r['timezone'])} – {_local(r['next_at'], r['timezone'])}"
            ru.append(f"касса {name}: нет чеков № {span} ({when})")
            en.append(f"till {name}: sales #{span} are missing ({when})")
        return _limit(ru), _limit(en)

    gap_check = q.check(
        "completeness.no_seq_gaps",
        "blocking",
        (gaps, ["device_id", "first_missing", "last_missing", "unexplained"]),
        [gx.expectations.ExpectColumnValuesToBeBetween(column="unexplained", max_value=0)],
        gap_reasons,
        lambda t: pc.greater(t["unexplained"], 0),
        {
            "gaps": gaps.num_rows,
            "missing_sales": sum(r["unexplained"] for r in _rows(gaps)),
            "quarantined_in_gaps": sum(r["quarantined"] for r in _rows(gaps)),
        },
    )

    issues = _frame(
        q.duck,
        """
        SELECT i.device_id, t.name AS till_name, w.store_name, i.kind, i.till_seq, i.detail
        FROM q_hub_issue i JOIN q_window w ON w.store_id = i.store_id
        LEFT JOIN q_hub_till t ON t.device_id = i.device_id
        WHERE i.created_at >= w.start_utc AND i.created_at < w.end_utc
        ORDER BY i.device_id, i.till_seq
        """,
    )
    kinds_ru = {
        "chain_break": "разрыв цепочки хешей",
        "hash_mismatch": "хеш не совпадает с чеком",
        "seq_reuse": "номер чека использован дважды",
    }

    def issue(r: dict[str, Any], lang: str) -> str:
        what = kinds_ru.get(r["kind"], r["kind"]) if lang == "ru" else r["kind"].replace("_", " ")
        return f"{q.sale(r, lang)} ({r['store_name']}): {what}"

    chain = q.check(
        "completeness.hash_chain",
        "blocking",
        (issues, ["device_id", "kind", "till_seq"]),
        [gx.expectations.ExpectTableRowCountToEqual(value=0)],
        lambda rows: _each(rows, issue),
        _every,
        {"journal_issues": issues.num_rows},
    )

    quarantined = _frame(
        q.duck,
        """
        SELECT q.device_id, t.name AS till_name, w.store_name, q.till_seq, q.reason
        FROM q_hub_quarantine q JOIN q_window w ON w.store_id = q.store_id
        LEFT JOIN q_hub_till t ON t.device_id = q.device_id
        WHERE q.received_at >= w.start_utc AND q.received_at < w.end_utc
        ORDER BY q.device_id, q.till_seq
        """,
    )

    def rejected(r: dict[str, Any], lang: str) -> str:
        if lang == "ru":
            why = "ошибка в чеке" if r["reason"] == "rejected" else "конфликт"
            return f"{q.sale(r, lang)} ({r['store_name']}): отклонён хабом ({why}), см. карантин"
        return f"{q.sale(r, lang)} ({r['store_name']}): {r['reason']}, see the sales quarantine"

    quarantine = q.check(
        "completeness.quarantine",
        "warning",
        (quarantined, ["device_id", "till_seq", "reason"]),
        [gx.expectations.ExpectTableRowCountToEqual(value=0)],
        lambda rows: _each(rows, rejected),
        _every,
        {"quarantined": quarantined.num_rows},
    )
    return [synced, gap_check, chain, quarantine]


_PAIRS = (
    ("sales", "receipts"),
    ("returns", "returns"),
    ("lines", "lines"),
    ("payments", "payments"),
    ("revenue_minor", "revenue"),
    ("net_paid_minor", "net payments"),
    ("totals_minor", "totals"),
)
_PAIRS_RU = {
    "sales": "чеков продажи",
    "returns": "чеков возврата",
    "lines": "строк",
    "payments": "оплат",
    "revenue_minor": "выручка",
    "net_paid_minor": "оплаты за вычетом сдачи",
    "totals_minor": "итоги чеков",
}


def _reconciliation(q: _Context) -> list[Check]:
    gx = q.judge.gx
    frame = _frame(
        q.duck,
        """
        WITH hub AS (
            SELECT h.store_id, CAST(timezone(w.timezone, CAST(h.created_at AS TIMESTAMPTZ))
                                    AS DATE) AS day,
                   count(*) FILTER (WHERE h.kind = 'sale') AS sales,
                   count(*) FILTER (WHERE h.kind = 'return') AS returns,
                   sum(h.lines) AS lines, sum(h.payments) AS payments,
                   sum(CASE WHEN h.kind = 'return' THEN -h.lines_minor ELSE h.lines_minor END)
                       AS revenue_minor,
                   sum(CASE WHEN h.kind = 'return' THEN -(h.paid_minor - h.change_minor)
                            ELSE h.paid_minor - h.change_minor END) AS net_paid_minor,
                   sum(CASE WHEN h.kind = 'return' THEN -h.total_minor ELSE h.total_minor END)
                       AS totals_minor
            FROM q_hub_sale h JOIN q_window w USING (store_id)
            GROUP BY ALL
        ),
        wh_total AS (
            SELECT s.store_id, CAST(timezone(w.timezone, CAST(s.sold_at_utc AS TIMESTAMPTZ))
                                    AS DATE) AS day,
                   sum(CASE WHEN s.kind = 'return' THEN -s.total_minor ELSE s.total_minor END)
                       AS totals_minor
            FROM stg_sale s JOIN q_window w ON w.store_id = s.store_id
            WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
            GROUP BY ALL
        ),
        wh_sale AS (
            SELECT l.store_id, l.sale_date AS day,
                   count(DISTINCT l.sale_id) FILTER (WHERE l.kind = 'sale') AS sales,
                   count(DISTINCT l.sale_id) FILTER (WHERE l.kind = 'return') AS returns,
                   count(*) AS lines, sum(l.revenue_minor) AS revenue_minor
            FROM fct_sale_line l JOIN q_window w ON w.store_id = l.store_id
            WHERE l.sold_at_utc >= w.start_utc AND l.sold_at_utc < w.end_utc
            GROUP BY ALL
        ),
        wh_pay AS (
            SELECT p.store_id, p.sale_date AS day, count(*) AS payments,
                   sum(p.net_minor) AS net_paid_minor
            FROM fct_payment p JOIN q_window w ON w.store_id = p.store_id
            WHERE p.sold_at_utc >= w.start_utc AND p.sold_at_utc < w.end_utc
            GROUP BY ALL
        ),
        keys AS (
            SELECT store_id, day FROM hub UNION SELECT store_id, day FROM wh_sale
            UNION SELECT store_id, day FROM wh_pay UNION SELECT store_id, day FROM wh_total
        )
        SELECT k.store_id, w.store_name, k.day,
               coalesce(h.sales, 0)::BIGINT AS hub_sales,
               coalesce(s.sales, 0)::BIGINT AS wh_sales,
               coalesce(h.returns, 0)::BIGINT AS hub_returns,
               coalesce(s.returns, 0)::BIGINT AS wh_returns,
               coalesce(h.lines, 0)::BIGINT AS hub_lines,
               coalesce(s.lines, 0)::BIGINT AS wh_lines,
               coalesce(h.payments, 0)::BIGINT AS hub_payments,
               coalesce(p.payments, 0)::BIGINT AS wh_payments,
               coalesce(h.revenue_minor, 0)::BIGINT AS hub_revenue_minor,
               coalesce(s.revenue_minor, 0)::BIGINT AS wh_revenue_minor,
               coalesce(h.net_paid_minor, 0)::BIGINT AS hub_net_paid_minor,
               coalesce(p.net_paid_minor, 0)::BIGINT AS wh_net_paid_minor,
               coalesce(h.totals_minor, 0)::BIGINT AS hub_totals_minor,
               coalesce(t.totals_minor, 0)::BIGINT AS wh_totals_minor
        FROM keys k JOIN q_window w USING (store_id)
        LEFT JOIN hub h USING (store_id, day)
        LEFT JOIN wh_sale s USING (store_id, day)
        LEFT JOIN wh_pay p USING (store_id, day)
        LEFT JOIN wh_total t USING (store_id, day)
        ORDER BY k.store_id, k.day
        """,
    )
    expectations = [
        gx.expectations.ExpectColumnPairValuesToBeEqual(
            column_A=f"hub_{name}", column_B=f"wh_{name}"
        )
        for name, _ in _PAIRS
    ]

    def differs(table: pa.Table) -> Any:
        return functools.reduce(pc.or_, (_differ(table, f"hub_{n}", f"wh_{n}") for n, _ in _PAIRS))

    def reasons(rows: list[dict[str, Any]]) -> Reasons:
        ru, en = [], []
        for r in rows:
            for name, label in _PAIRS:
                hub, wh = r[f"hub_{name}"], r[f"wh_{name}"]
                if hub == wh:
                    continue
                money = name.endswith("_minor")
                h, w = (_money(hub), _money(wh)) if money else (str(hub), str(wh))
                day = r["day"].strftime("%d.%m.%Y")
                ru.append(
                    f"{r['store_name']}, {day}: {_PAIRS_RU[name]} на хабе {h}, в хранилище {w}"
                )
                en.append(f"{r['store_name']}, {r['day']}: {label} hub {h}, warehouse {w}")
        return _limit(ru), _limit(en)

    rows = _rows(frame)
    return [
        q.check(
            "reconciliation.store_day",
            "blocking",
            (frame, [c for c in frame.column_names if c != "store_name"]),
            expectations,
            reasons,
            differs,
            {
                "store_days": frame.num_rows,
                "hub_sales": sum(r["hub_sales"] for r in rows),
                "hub_revenue_minor": sum(r["hub_revenue_minor"] for r in rows),
                "warehouse_revenue_minor": sum(r["wh_revenue_minor"] for r in rows),
            },
        )
    ]


def _consistency(q: _Context) -> list[Check]:
    gx = q.judge.gx
    sales = _frame(
        q.duck,
        """
        WITH period_sale AS (
            SELECT s.* FROM stg_sale s JOIN q_window w ON w.store_id = s.store_id
            WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
        ),
        lines AS (
            SELECT l.sale_id, sum(l.amount_minor) AS lines_minor
            FROM stg_sale_line l WHERE l.sale_id IN (SELECT sale_id FROM period_sale)
            GROUP BY ALL
        ),
        paid AS (
            SELECT p.sale_id, sum(p.amount_minor) AS paid_minor
            FROM stg_sale_payment p WHERE p.sale_id IN (SELECT sale_id FROM period_sale)
            GROUP BY ALL
        )
        SELECT s.sale_id, s.store_id, s.device_id, s.till_seq, s.kind, s.total_minor,
               coalesce(l.lines_minor, 0)::BIGINT AS lines_minor,
               (coalesce(p.paid_minor, 0) - s.change_minor)::BIGINT AS net_paid_minor
        FROM period_sale s LEFT JOIN lines l USING (sale_id) LEFT JOIN paid p USING (sale_id)
        ORDER BY s.sale_id
        """,
    )

    def total(r: dict[str, Any], lang: str) -> str:
        figures = (_money(r["total_minor"]), _money(r["lines_minor"]), _money(r["net_paid_minor"]))
        if lang == "ru":
            return "{}: итог {}, строки {}, оплаты без сдачи {}".format(q.sale(r, lang), *figures)
        return "{}: total {}, lines {}, tenders net of change {}".format(q.sale(r, lang), *figures)

    totals = q.check(
        "consistency.sale_totals",
        "blocking",
        sales,
        [
            gx.expectations.ExpectColumnPairValuesToBeEqual(
                column_A="total_minor", column_B="lines_minor"
            ),
            gx.expectations.ExpectColumnPairValuesToBeEqual(
                column_A="total_minor", column_B="net_paid_minor"
            ),
        ],
        lambda rows: _each(rows, total),
        lambda t: pc.or_(
            _differ(t, "total_minor", "lines_minor"), _differ(t, "total_minor", "net_paid_minor")
        ),
        {"sales": sales.num_rows},
    )

    quantities = _frame(
        q.duck,
        """
        SELECT l.sale_line_id, l.sale_id, s.device_id, s.till_seq, l.line_no, l.qty_milli
        FROM stg_sale_line l JOIN stg_sale s USING (sale_id)
        JOIN q_window w ON w.store_id = s.store_id
        WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
        """,
    )

    def quantity(r: dict[str, Any], lang: str) -> str:
        if lang == "ru":
            return f"{q.sale(r, lang)}, строка {r['line_no']}: количество {_qty(r['qty_milli'])}"
        return f"{q.sale(r, lang)}, line {r['line_no']}: quantity {_qty(r['qty_milli'])}"

    qty = q.check(
        "consistency.quantities",
        "blocking",
        (quantities, ["sale_line_id", "qty_milli"]),
        [gx.expectations.ExpectColumnValuesToBeBetween(column="qty_milli", min_value=1)],
        lambda rows: _each(rows, quantity),
        lambda t: pc.less(t["qty_milli"], 1),
        {"lines": quantities.num_rows},
    )

    # Every return of the period against everything sold on its original sale, per product
    # (returns from any time count against the sale, as the hub counts them).
    returns = _frame(
        q.duck,
        """
        WITH period_return AS (
            SELECT s.sale_id, s.original_sale_id FROM stg_sale s
            JOIN q_window w ON w.store_id = s.store_id
            WHERE s.kind = 'return' AND s.original_sale_id IS NOT NULL
              AND s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
        ),
        originals AS (SELECT DISTINCT original_sale_id AS sale_id FROM period_return),
        sold AS (
            SELECT l.sale_id, coalesce(l.product_id, -1) AS product_id,
                   sum(l.qty_milli) AS sold_milli
            FROM stg_sale_line l WHERE l.sale_id IN (SELECT sale_id FROM originals)
            GROUP BY ALL
        ),
        returned AS (
            SELECT s.original_sale_id AS sale_id, coalesce(l.product_id, -1) AS product_id,
                   sum(l.qty_milli) AS returned_milli
            FROM stg_sale s JOIN stg_sale_line l USING (sale_id)
            WHERE s.kind = 'return' AND s.original_sale_id IN (SELECT sale_id FROM originals)
            GROUP BY ALL
        )
        SELECT r.sale_id AS original_sale_id, o.device_id, o.till_seq, r.product_id,
               coalesce(s.sold_milli, 0)::BIGINT AS sold_milli,
               r.returned_milli::BIGINT AS returned_milli
        FROM returned r LEFT JOIN sold s USING (sale_id, product_id)
        JOIN stg_sale o ON o.sale_id = r.sale_id
        ORDER BY r.sale_id, r.product_id
        """,
    )

    def returned(r: dict[str, Any], lang: str) -> str:
        sold, back = _qty(r["sold_milli"]), _qty(r["returned_milli"])
        if lang == "ru":
            return f"{q.sale(r, lang)}, товар {r['product_id']}: продано {sold}, возвращено {back}"
        return f"{q.sale(r, lang)}, product {r['product_id']}: sold {sold}, returned {back}"

    ret = q.check(
        "consistency.returns",
        "blocking",
        (returns, ["original_sale_id", "product_id", "sold_milli", "returned_milli"]),
        [
            gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="sold_milli", column_B="returned_milli", or_equal=True
            )
        ],
        lambda rows: _each(rows, returned),
        lambda t: pc.greater(t["returned_milli"], t["sold_milli"]),
        {"returned_products": returns.num_rows},
    )
    return [totals, qty, ret]


def _cost_coverage(q: _Context) -> list[Check]:
    gx = q.judge.gx
    frame = _frame(
        q.duck,
        """
        SELECT w.store_id, w.store_name,
               coalesce(sum(l.revenue_ex_vat_minor), 0)::BIGINT AS revenue_ex_vat_minor,
               coalesce(sum(l.revenue_ex_vat_minor) FILTER (WHERE l.unit_cost_minor IS NULL), 0)
                   ::BIGINT AS without_cost_minor
        FROM q_window w LEFT JOIN fct_sale_line l ON l.store_id = w.store_id
             AND l.sold_at_utc >= w.start_utc AND l.sold_at_utc < w.end_utc
        GROUP BY ALL HAVING count(l.sale_line_id) > 0
        ORDER BY w.store_id
        """,
    )
    covered = []
    for r in _rows(frame):
        total = abs(r["revenue_ex_vat_minor"])
        missing = abs(r["without_cost_minor"])
        # Integer basis points, floored: 98.99 % never rounds up to the 99 % threshold.
        covered.append(10_000 if total == 0 else max(0, (total - missing) * 10_000 // total))
    frame = frame.append_column("covered_bp", pa.array(covered, pa.int64()))

    def reasons(rows: list[dict[str, Any]]) -> Reasons:
        ru = [
            f"{r['store_name']}: себестоимость известна для {r['covered_bp'] / 100:.2f} % выручки "
            f"(без неё {_money(r['without_cost_minor'])} из {_money(r['revenue_ex_vat_minor'])})"
            for r in rows
        ]
        en = [
            f"{r['store_name']}: unit cost known for {r['covered_bp'] / 100:.2f} % of revenue "
            f"({_money(r['without_cost_minor'])} of {_money(r['revenue_ex_vat_minor'])} without)"
            for r in rows
        ]
        return ru, en

    rows = _rows(frame)
    return [
        q.check(
            "cost_coverage.revenue",
            "blocking",
            (frame, [c for c in frame.column_names if c != "store_name"]),
            [
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="covered_bp", min_value=q.cost_coverage_bp
                )
            ],
            reasons,
            lambda t: pc.less(t["covered_bp"], q.cost_coverage_bp),
            {
                "threshold_bp": q.cost_coverage_bp,
                "revenue_ex_vat_minor": sum(r["revenue_ex_vat_minor"] for r in rows),
                "without_cost_minor": sum(r["without_cost_minor"] for r in rows),
            },
        )
    ]


def _referential(q: _Context) -> list[Check]:
    gx = q.judge.gx
    lines = _frame(
        q.duck,
        """
        SELECT l.sale_line_id, s.sale_id, s.device_id, s.till_seq, l.line_no,
               l.product_id IS NOT NULL AND p.product_id IS NULL AS product_missing,
               l.product_id IS NULL AND NOT coalesce(l.unknown_product, false)
                   AS product_unflagged,
               coalesce(l.unknown_product, false) AS unknown_product,
               st.store_id IS NULL AS store_missing,
               t.device_id IS NULL AS till_missing,
               s.cashier_id IS NOT NULL AND c.cashier_id IS NULL AS cashier_missing,
               contains(coalesce(r.flags, ''), 'unknown_cashier') AS cashier_flagged,
               CASE WHEN s.kind = 'return' THEN -l.amount_minor ELSE l.amount_minor END
                   AS revenue_minor
        FROM stg_sale_line l JOIN stg_sale s USING (sale_id)
        JOIN raw_sale r ON r.id = s.sale_id
        JOIN q_window w ON w.store_id = s.store_id
        LEFT JOIN (SELECT DISTINCT product_id FROM dim_product) p ON p.product_id = l.product_id
        LEFT JOIN dim_store st ON st.store_id = s.store_id
        LEFT JOIN dim_till t ON t.device_id = s.device_id
        LEFT JOIN dim_cashier c ON c.cashier_id = s.cashier_id
        WHERE s.sold_at_utc >= w.start_utc AND s.sold_at_utc < w.end_utc
        """,
    )
    missing = ("product_missing", "product_unflagged", "store_missing", "till_missing")
    unknown = functools.reduce(
        pc.or_,
        [
            *(lines[name] for name in missing),
            pc.and_(lines["cashier_missing"], pc.invert(lines["cashier_flagged"])),
        ],
    )
    lines = lines.append_column("unexplained_reference", unknown)

    def what(r: dict[str, Any], lang: str) -> str:
        parts = [
            name[lang == "en"]
            for key, name in (
                ("product_missing", ("товар", "product")),
                ("product_unflagged", ("товар без пометки", "product not flagged")),
                ("store_missing", ("магазин", "store")),
                ("till_missing", ("касса", "till")),
                ("cashier_missing", ("кассир", "cashier")),
            )
            if r[key]
        ]
        return ", ".join(parts)

    def unknown_ref(r: dict[str, Any], lang: str) -> str:
        if lang == "ru":
            return f"{q.sale(r, lang)}, строка {r['line_no']}: неизвестно — {what(r, lang)}"
        return f"{q.sale(r, lang)}, line {r['line_no']}: unknown {what(r, lang)}"

    known = q.check(
        "referential.known",
        "blocking",
        (lines, ["sale_line_id", "unexplained_reference"]),
        [
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="unexplained_reference", value_set=[False]
            )
        ],
        lambda rows: _each(rows, unknown_ref),
        lambda t: t["unexplained_reference"],
        {"lines": lines.num_rows},
    )

    def flags(t: pa.Table) -> Any:
        return pc.or_(t["unknown_product"], t["cashier_flagged"])

    flagged_lines = int(pc.sum(flags(lines)).as_py() or 0)
    unknown_products = lines.filter(lines["unknown_product"]).num_rows
    unknown_revenue = int(
        pc.sum(lines.filter(lines["unknown_product"])["revenue_minor"]).as_py() or 0
    )
    cashier_sales = lines.filter(lines["cashier_flagged"])["sale_id"]
    unknown_cashier_sales = int(pc.count_distinct(cashier_sales).as_py() or 0)

    def flagged_reasons(_rows: list[dict[str, Any]]) -> Reasons:
        ru, en = [], []
        if unknown_products:
            amount = _money(unknown_revenue)
            ru.append(f"строк с неизвестными товарами: {unknown_products} на {amount}")
            en.append(f"{unknown_products} lines of unknown products, {amount}")
        if unknown_cashier_sales:
            ru.append(f"чеков неизвестных кассиров: {unknown_cashier_sales}")
            en.append(f"{unknown_cashier_sales} sales by unknown cashiers")
        return ru, en

    flagged = q.check(
        "referential.flagged",
        "warning",
        (lines, ["sale_line_id", "unknown_product", "cashier_flagged"]),
        [
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="unknown_product", value_set=[False]
            ),
            gx.expectations.ExpectColumnValuesToBeInSet(
                column="cashier_flagged", value_set=[False]
            ),
        ],
        flagged_reasons,
        flags,
        {
            "unknown_product_lines": unknown_products,
            "unknown_product_revenue_minor": unknown_revenue,
            "unknown_cashier_sales": unknown_cashier_sales,
            "flagged_lines": flagged_lines,
        },
    )
    return [known, flagged]


def _freshness(q: _Context) -> list[Check]:
    gx = q.judge.gx
    frame = _frame(
        q.duck,
        """
        SELECT e.source, e.extracted_at, e.cursor AS extracted_cursor,
               coalesce(b.cursor, -1) AS built_cursor,
               (SELECT max(end_utc) FROM q_window) AS period_end_utc
        FROM _extract_state e LEFT JOIN _build_state b USING (source)
        ORDER BY e.source
        """,
    )
    fresh = [
        r["extracted_at"] >= r["period_end_utc"] and r["built_cursor"] == r["extracted_cursor"]
        for r in _rows(frame)
    ]
    frame = frame.append_column("fresh", pa.array(fresh, pa.bool_()))
    oldest = min((r["extracted_at"] for r in _rows(frame)), default=None)
    period_end = max(w.end_utc for w in q.wins)

    def reasons(rows: list[dict[str, Any]]) -> Reasons:
        stale = sorted({r["source"] for r in rows if r["extracted_at"] < r["period_end_utc"]})
        unbuilt = sorted({r["source"] for r in rows if r["built_cursor"] != r["extracted_cursor"]})
        ru, en = [], []
        if stale:
            when = min(r["extracted_at"] for r in rows).strftime("%d.%m.%Y %H:%M UTC")
            ru.append(f"хранилище обновлялось последний раз {when}, до конца периода")
            en.append(f"the warehouse was last refreshed {when}, before the period ended")
        if unbuilt:
            ru.append(f"витрины не построены по последней выгрузке: {', '.join(unbuilt)}")
            en.append(f"facts not built from the last extract: {', '.join(unbuilt)}")
        return ru, en

    expectations: list[Any] = [
        gx.expectations.ExpectColumnValuesToBeInSet(column="fresh", value_set=[True]),
        gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
    ]
    return [
        q.check(
            "freshness.refreshed",
            "blocking",
            (frame, ["source", "fresh"]),
            expectations,
            reasons,
            lambda t: pc.invert(t["fresh"]),
            {
                "oldest_extract_utc": oldest.isoformat() if oldest else None,
                "period_end_utc": period_end.isoformat(),
            },
        )
    ]


SUITES = (_completeness, _reconciliation, _consistency, _cost_coverage, _referential, _freshness)


def run_gate(
    duck: duckdb.DuckDBPyConnection,
    hub_url: str,
    scope: str,
    start: dt.date,
    end: dt.date,
    *,
    now: dt.datetime | None = None,
    cost_coverage_bp: int = COST_COVERAGE_BP,
) -> Verdict:
    """Run every suite for the period `start`..`end` (local days of each store)."""
    started = time.perf_counter()
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    now = now or dt.datetime.now(dt.UTC)
    wins = windows(duck, start, end)
    if not wins:
        raise ValueError("the warehouse has no stores yet: run warehouse-refresh first")
    _windows_table(duck, wins)
    with hub_reader(hub_url) as hub:
        _load_hub(duck, hub, wins)
    q = _Context(duck, _Judge(), wins, now, cost_coverage_bp)
    checks: list[Check] = []
    for suite in SUITES:
        checks.extend(suite(q))
    return Verdict(scope, start, end, now, checks, time.perf_counter() - started)
