"""Sales ingest: batches of 50 receipts x 5 lines from concurrent tills into a live hub.

Issue target: "HTTP batches of 50 receipts x 5 lines against a live hub on SQLite and on
PostgreSQL: receipts/s and p99 batch latency, next to a raw SQLAlchemy Core executemany of the
same rows measured in the same run. Goal: >= 2,000 receipts/s and >= 0.5x the raw rate."

Per database: a freshly migrated hub with 2,000 products in stock (received at a cost), one store,
three cashiers and a paired till per client. The real hub app runs under uvicorn in its own
process on 127.0.0.1; this process plays the tills: one thread and one keep-alive `httpx.Client`
per till, each with its own device token and its own hash-chained journal (`kassa.till_sim`),
posting its batches one after the other to `POST /api/v1/till/sales/batch`. The sales are
generated and serialised before the clock starts (once, the same for both databases); 429/503 are
retried after Retry-After (and counted). After the concurrent run one more till posts alone (the
uncontended rate and latency). Then every sale is checked by SQL to be on the hub exactly once
(uuids, counts, sums, no flags): a benchmark that loses or doubles data raises `BenchError`
instead of reporting.

Baseline, in the same run, into a fresh database of the same kind: the same sale, sale_line and
sale_payment rows (same columns) as SQLAlchemy Core executemany inserts, 50 receipts per
transaction, one connection, through the hub's own engine settings (WAL, synchronous=FULL,
BEGIN IMMEDIATE on SQLite).

Where a batch's time goes: the hub's `service.ingest` timed in this process on a third fresh
database (parse, checks, write transaction), plus cProfile shares; the report states it when a
goal is missed.

PostgreSQL runs only when KASSA_BENCH_POSTGRES_URL (or KASSA_TEST_POSTGRES_URL) names a database;
the benchmark works in its own schemas there (`kassa_bench_ingest`, `kassa_bench_ingest_raw`,
`kassa_bench_ingest_profile`), which it drops before and after, and never touches any other
schema. (On SQLite the three databases are files in a temporary directory.)

`python -m bench.ingest` runs it alone (`--receipts`, `--tills`, `--sqlite-only`); `python -m
bench.run` runs it with the others.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import json
import os
import pstats
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx

from bench import FAIL, INFO, PASS, Metric, Report, seconds
from bench.catalog_hub import Populated, populate, serve_url
from kassa.till_sim import Item, SimTill
from wire.v1 import SalesBatch, SaleV1, sale_digest

BATCH_PATH = "/api/v1/till/sales/batch"
RECEIPTS = 20_000  # per database
BATCH = 50  # receipts per batch
LINES = 5  # lines per receipt
TILLS = 8  # concurrent tills, each its own device and journal
PRODUCTS = 2_000
STOCK_MILLI = 100_000_000  # 100,000 units (or kg) of every product received
GOAL_RATE = 2_000.0  # receipts/s
GOAL_RATIO = 0.5  # of the raw Core insert rate
WARMUP_BATCHES = 2  # from an extra till, before the clock starts (statement caches, pools)
SOLO_RECEIPTS = 5_000  # then one more till alone: what a single till gets with no contention
PROFILE_BATCHES = 42  # the in-process breakdown: 2 warm-up, 20 timed, 20 profiled
MAX_RETRIES = 100  # per batch: past that the hub is not draining and the run is void
POSTGRES_ENV = ("KASSA_BENCH_POSTGRES_URL", "KASSA_TEST_POSTGRES_URL")
SCHEMA_HUB = "kassa_bench_ingest"
SCHEMA_RAW = "kassa_bench_ingest_raw"
SCHEMA_PROFILE = "kassa_bench_ingest_profile"


class BenchError(RuntimeError):
    """The hub lost, doubled or refused sales: the run's figures mean nothing."""


# --- the workload: generated once, before any clock, reused for every database -------------


@dataclass(frozen=True)
class CatalogRow:
    id: int
    name: str
    unit: str
    price_minor: int
    rate_bp: int | None


@dataclass
class Journal:
    """One till's sales, in journal order, and the request bodies that carry them."""

    sales: list[SaleV1]
    bodies: list[bytes]


@dataclass
class Workload:
    tills: list[Journal]
    warmup: Journal
    solo: Journal
    batch: int
    lines: int
    cashier_ids: list[int]
    product_ids: list[int]

    def all_sales(self) -> Iterator[SaleV1]:
        yield from self.warmup.sales
        for journal in self.tills:
            yield from journal.sales
        yield from self.solo.sales

    @property
    def timed_receipts(self) -> int:
        return sum(len(j.sales) for j in self.tills)

    @property
    def timed_batches(self) -> int:
        return sum(len(j.bodies) for j in self.tills)


def read_catalog(url: str) -> list[CatalogRow]:
    from sqlalchemy import select

    from hub.catalog.models import Product, TaxRate
    from hub.db import Database

    db = Database(url)
    try:
        with db.read() as s:
            rows = s.execute(
                select(Product.id, Product.name, Product.unit, Product.price_minor, TaxRate.rate_bp)
                .join(TaxRate, TaxRate.id == Product.tax_rate_id)
                .order_by(Product.id)
            ).all()
    finally:
        db.dispose()
    return [CatalogRow(*row) for row in rows]


def _journal(
    rng: random.Random,
    catalog: list[CatalogRow],
    cashier_id: int,
    batches: int,
    batch: int,
    lines: int,
) -> Journal:
    till = SimTill(cashier_id=cashier_id)
    sales: list[SaleV1] = []
    bodies: list[bytes] = []
    for _ in range(batches):
        chunk = []
        for _receipt in range(batch):
            items = []
            for product in rng.sample(catalog, lines):
                if product.unit == "kg":
                    qty = rng.choice((250, 500, 750, 1250))  # grams on the scale
                else:
                    qty = 1000 * rng.choice((1, 1, 1, 2, 3))
                items.append(
                    Item(product.id, product.name, qty, product.price_minor, product.rate_bp)
                )
            chunk.append(till.sale(items, tender=rng.choice(("cash", "card"))))
        sales += chunk
        bodies.append(
            json.dumps(
                {"sales": [sale.model_dump(mode="json") for sale in chunk]}, ensure_ascii=False
            ).encode("utf-8")
        )
    return Journal(sales, bodies)


def make_workload(
    catalog: list[CatalogRow],
    cashier_ids: list[int],
    *,
    receipts: int = RECEIPTS,
    tills: int = TILLS,
    batch: int = BATCH,
    lines: int = LINES,
    warmup_batches: int = WARMUP_BATCHES,
    solo_receipts: int = SOLO_RECEIPTS,
    seed: int = 2024,
) -> Workload:
    """`receipts` sales (rounded up to whole batches per till) from `tills` tills, plus an extra
    till's warm-up batches and another till's solo run; every sale rings up `lines` distinct
    products."""
    rng = random.Random(seed)
    per_till = -(-receipts // (tills * batch))
    journals = [
        _journal(rng, catalog, cashier_ids[n % len(cashier_ids)], per_till, batch, lines)
        for n in range(tills)
    ]
    warmup = _journal(rng, catalog, cashier_ids[0], warmup_batches, batch, lines)
    solo = _journal(rng, catalog, cashier_ids[0], -(-solo_receipts // batch), batch, lines)
    return Workload(journals, warmup, solo, batch, lines, cashier_ids, [c.id for c in catalog])


# --- databases ----------------------------------------------------------------------------


@dataclass
class Target:
    """One kind of database: where the hub and the raw baseline each get a fresh database."""

    name: str  # SQLite | PostgreSQL
    fresh: Callable[[str], str]  # role -> URL of a freshly migrated, empty database
    cleanup: Callable[[], None]
    version: str
    # (URL, role) -> URL of an exact copy (SQLite: a file copy); None: build each one anew
    copy: Callable[[str, str], str] | None = None


def sqlite_target(directory: Path) -> Target:
    import sqlite3

    from hub.migrate import upgrade

    def path_of(role: str) -> Path:
        return directory / f"{role}.db"

    def fresh(role: str) -> str:
        url = f"sqlite:///{path_of(role)}"
        upgrade(url)
        return url

    def copy(url: str, role: str) -> str:
        source = sqlite3.connect(url.removeprefix("sqlite:///"))
        target = sqlite3.connect(path_of(role))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return f"sqlite:///{path_of(role)}"

    return Target("SQLite", fresh, lambda: None, f"SQLite {sqlite3.sqlite_version}", copy)


def postgres_url() -> str | None:
    for name in POSTGRES_ENV:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _in_schema(url: str, schema: str) -> str:
    from sqlalchemy.engine import make_url

    from hub.db import normalize_url

    parsed = make_url(normalize_url(url)).update_query_dict({"options": f"-csearch_path={schema}"})
    return parsed.render_as_string(hide_password=False)


def postgres_target(url: str) -> Target:
    """The database at `url`, used only through the benchmark's own schemas."""
    from sqlalchemy import create_engine, text

    from hub.db import normalize_url
    from hub.migrate import upgrade

    roles = {"hub": SCHEMA_HUB, "raw": SCHEMA_RAW, "profile": SCHEMA_PROFILE}
    engine = create_engine(normalize_url(url))
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()

    def drop(schemas: list[str]) -> None:
        engine = create_engine(normalize_url(url))
        try:
            with engine.begin() as conn:
                for schema in schemas:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            engine.dispose()

    def fresh(role: str) -> str:
        schema = roles[role]
        drop([schema])
        engine = create_engine(normalize_url(url))
        try:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        finally:
            engine.dispose()
        scoped = _in_schema(url, schema)
        upgrade(scoped)
        return scoped

    return Target(
        "PostgreSQL",
        fresh,
        lambda: drop(list(roles.values())),
        f"PostgreSQL {str(version).split()[0]}",
    )


def receive_stock(url: str, store_id: int, product_ids: list[int], cost_of: dict[int, int]) -> None:
    """One goods receipt of STOCK_MILLI of every product at its cost, through the stock ledger."""
    from hub.db import LEDGER_SEQ, Database, next_change_seq
    from hub.stock import ledger
    from hub.stock.models import StockDoc

    db = Database(url)
    try:
        with db.write() as s:
            doc = StockDoc(
                kind="receipt", store_id=store_id, change_seq=next_change_seq(s, 1, LEDGER_SEQ)
            )
            s.add(doc)
            s.flush()
            ledger.post(
                s,
                store_id,
                [
                    ledger.Move(
                        pid, "receipt", STOCK_MILLI, unit_cost_minor=cost_of[pid], doc_id=doc.id
                    )
                    for pid in product_ids
                ],
            )
    finally:
        db.dispose()


def _cost(price_minor: int) -> int:
    return max(1, price_minor * 7 // 10)  # bought at 70 % of the shelf price


def build(target: Target, role: str, products: int, devices: int) -> tuple[str, Populated]:
    url = target.fresh(role)
    made = populate(url, products, devices=devices)
    catalog = read_catalog(url)
    receive_stock(
        url, made.store_id, made.product_ids, {c.id: _cost(c.price_minor) for c in catalog}
    )
    return url, made


# --- the tills ------------------------------------------------------------------------------


@dataclass
class TillRun:
    latencies: list[float] = field(default_factory=list)
    retries: Counter[int] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def post_batches(
    client: httpx.Client, bodies: list[bytes], start: threading.Barrier | None = None
) -> TillRun:
    """Send one till's batches in order; each is retried on 429/503 until the hub takes it."""
    run = TillRun()
    if start is not None:
        start.wait()
    for body in bodies:
        began = time.perf_counter()
        for _attempt in range(MAX_RETRIES + 1):
            response = client.post(BATCH_PATH, content=body)
            if response.status_code not in (429, 503):
                break
            run.retries[response.status_code] += 1
            time.sleep(_retry_after(response))
        else:
            raise BenchError(f"a batch was refused {MAX_RETRIES} times with 429/503")
        run.latencies.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise BenchError(f"the hub answered {response.status_code}: {response.text[:1000]}")
        run.statuses.update(r["status"] for r in response.json()["results"])
    return run


@contextlib.contextmanager
def till_clients(base_url: str, tokens: list[str]) -> Iterator[list[httpx.Client]]:
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(
                httpx.Client(
                    base_url=base_url,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "X-Kassa-Version": "bench",
                    },
                    timeout=120,
                )
            )
            for token in tokens
        ]
        for client in clients:  # connect before the clock starts
            client.get("/healthz").raise_for_status()
        yield clients


@dataclass
class HttpRun:
    seconds: float
    latencies: list[float]
    retries: Counter[int]
    statuses: Counter[str]
    solo: TillRun
    solo_seconds: float


def drive(base_url: str, tokens: list[str], workload: Workload) -> HttpRun:
    """Warm up from an extra till, then all tills at once (wall time from the common start to the
    last answer), then one more till alone. Tokens: the tills', then the warm-up's, the solo's."""
    tills = len(workload.tills)
    with till_clients(base_url, tokens[: tills + 2]) as clients:
        warm = post_batches(clients[tills], workload.warmup.bodies)
        start = threading.Barrier(tills + 1)
        with ThreadPoolExecutor(max_workers=tills) as pool:
            futures = [
                pool.submit(post_batches, client, journal.bodies, start)
                for client, journal in zip(clients, workload.tills, strict=False)
            ]
            start.wait()
            began = time.perf_counter()
            runs = [f.result() for f in futures]
            took = time.perf_counter() - began
        began = time.perf_counter()
        solo = post_batches(clients[tills + 1], workload.solo.bodies)
        solo_took = time.perf_counter() - began
    statuses = warm.statuses + solo.statuses
    retries = warm.retries + solo.retries
    for run in runs:
        statuses.update(run.statuses)
        retries.update(run.retries)
    latencies = [x for run in runs for x in run.latencies]
    return HttpRun(took, latencies, retries, statuses, solo, solo_took)


# --- exactly once, checked by SQL -----------------------------------------------------------


@dataclass
class Verified:
    sales: int
    total_minor: int
    lines: int
    payments: int
    stock_moves: int


def verify(url: str, store_id: int, sales: list[SaleV1], *, hub: bool) -> Verified:
    """Every sale on the database exactly once with its lines and payments; raises BenchError.

    On the hub also: no flags, no journal issue, nothing quarantined, one stock move per line.
    """
    from sqlalchemy import func, select

    from hub.db import Database
    from hub.sales.models import JournalIssue, QuarantinedSale, Sale, SaleLine, SalePayment
    from hub.stock.models import StockMove

    expected_total = sum(s.total_minor for s in sales)
    expected_lines = sum(len(s.lines) for s in sales)
    expected_amount = sum(line.amount_minor for s in sales for line in s.lines)
    expected_payments = sum(len(s.payments) for s in sales)
    db = Database(url)
    problems: list[str] = []
    try:
        with db.read() as s:
            count, distinct, total = s.execute(
                select(
                    func.count(),
                    func.count(func.distinct(Sale.sale_uuid)),
                    func.coalesce(func.sum(Sale.total_minor), 0),
                ).where(Sale.store_id == store_id)
            ).one()
            on_hub = set(s.scalars(select(Sale.sale_uuid).where(Sale.store_id == store_id)))
            lines, amount = s.execute(
                select(func.count(), func.coalesce(func.sum(SaleLine.amount_minor), 0)).where(
                    SaleLine.store_id == store_id
                )
            ).one()
            payments = s.scalar(
                select(func.count())
                .select_from(SalePayment)
                .where(SalePayment.store_id == store_id)
            )
            moves = s.scalar(
                select(func.count()).select_from(StockMove).where(StockMove.sale_id.is_not(None))
            )
            flagged = s.scalar(select(func.count()).select_from(Sale).where(Sale.flags != ""))
            issues = s.scalar(select(func.count()).select_from(JournalIssue))
            quarantined = s.scalar(select(func.count()).select_from(QuarantinedSale))
    finally:
        db.dispose()
    sent = {s.sale_uuid for s in sales}
    if count != len(sales) or distinct != len(sales):
        problems.append(f"{count} sale rows ({distinct} distinct uuids) for {len(sales)} sent")
    if on_hub != sent:
        problems.append(
            f"{len(sent - on_hub)} sent sales missing, {len(on_hub - sent)} never sent present"
        )
    if total != expected_total:
        problems.append(f"sum of totals {total} != {expected_total} sent")
    if lines != expected_lines or amount != expected_amount:
        problems.append(
            f"{lines} lines summing {amount}; sent {expected_lines} / {expected_amount}"
        )
    if payments != expected_payments:
        problems.append(f"{payments} payments for {expected_payments} sent")
    if hub:
        if moves != expected_lines:
            problems.append(f"{moves} sale stock moves for {expected_lines} lines")
        if flagged or issues or quarantined:
            problems.append(
                f"{flagged} flagged sales, {issues} journal issues, {quarantined} quarantined"
            )
    if problems:
        raise BenchError(f"{url}: " + "; ".join(problems))
    return Verified(count, total, lines, payments or 0, moves or 0)


# --- the baseline: raw Core executemany of the same rows ------------------------------------


def _payload_hash(sale: SaleV1) -> str:
    return sale_digest(sale).payload_hash


@dataclass
class RawBatch:
    sales: list[dict[str, Any]]
    lines: list[list[dict[str, Any]]]  # per sale; sale_id filled in at insert time
    payments: list[list[dict[str, Any]]]


def raw_rows(
    workload: Workload, store_id: int, device_ids: list[int], cost_of: dict[int, int]
) -> list[RawBatch]:
    """The rows the hub writes to sale, sale_line and sale_payment for the timed sales (every
    column, change_seq numbered in advance), grouped as the tills batch them."""
    received = dt.datetime.now(dt.UTC)
    seq = 1_000_000
    batches: list[RawBatch] = []
    for journal, device_id in zip(workload.tills, device_ids, strict=False):
        for start in range(0, len(journal.sales), workload.batch):
            batch = RawBatch([], [], [])
            for sale in journal.sales[start : start + workload.batch]:
                seq += 1
                offset = sale.created_at.utcoffset() or dt.timedelta(0)
                batch.sales.append(
                    {
                        "store_id": store_id,
                        "device_id": device_id,
                        "sale_uuid": sale.sale_uuid,
                        "till_seq": sale.till_seq,
                        "kind": sale.kind,
                        "original_sale_uuid": sale.original_sale_uuid,
                        "original_sale_id": None,
                        "cashier_id": sale.cashier_id,
                        "shift_uuid": sale.shift_uuid,
                        "currency": sale.currency,
                        "total_minor": sale.total_minor,
                        "vat_minor": sum(line.vat_minor for line in sale.lines),
                        "change_minor": sale.change_minor,
                        "cash_minor": sum(
                            p.amount_minor for p in sale.payments if p.tender == "cash"
                        ),
                        "created_at": sale.created_at,
                        "till_utc_offset_min": int(offset.total_seconds() // 60),
                        "received_at": received,
                        "prev_hash": sale.prev_hash,
                        "hash": sale.hash,
                        "payload_hash": _payload_hash(sale),
                        "fn_number": sale.fn_number,
                        "fd_number": sale.fd_number,
                        "fpd": sale.fpd,
                        "flags": "",
                        "change_seq": seq,
                    }
                )
                lines = []
                for line in sale.lines:
                    seq += 1
                    lines.append(
                        {
                            "sale_id": None,
                            "store_id": store_id,
                            "line_no": line.line_no,
                            "product_id": line.product_id,
                            "unknown_product": False,
                            "barcode": line.barcode,
                            "name": line.name,
                            "qty_milli": line.qty_milli,
                            "unit_price_minor": line.unit_price_minor,
                            "discount_minor": line.discount_minor,
                            "amount_minor": line.amount_minor,
                            "vat_rate_bp": line.vat_rate_bp,
                            "vat_minor": line.vat_minor,
                            "unit_cost_minor": cost_of.get(line.product_id or 0),
                            "change_seq": seq,
                        }
                    )
                payments = []
                for number, payment in enumerate(sale.payments, start=1):
                    seq += 1
                    payments.append(
                        {
                            "sale_id": None,
                            "store_id": store_id,
                            "payment_no": number,
                            "tender": payment.tender,
                            "amount_minor": payment.amount_minor,
                            "approval_code": payment.approval_code,
                            "change_seq": seq,
                        }
                    )
                batch.lines.append(lines)
                batch.payments.append(payments)
            batches.append(batch)
    return batches


def raw_insert(url: str, batches: list[RawBatch]) -> float:
    """Seconds to insert `batches`, one transaction each, with Core executemany."""
    from sqlalchemy import Table, insert

    from hub.db import Database
    from hub.sales.models import Sale, SaleLine, SalePayment

    # Core tables, not the ORM's bulk path
    sale, sale_line, sale_payment = (
        cast(Table, model.__table__) for model in (Sale, SaleLine, SalePayment)
    )
    add_sales = insert(sale).returning(sale.c.id, sort_by_parameter_order=True)
    db = Database(url)
    engine = db.engine.execution_options(kassa_write=True)  # BEGIN IMMEDIATE on SQLite
    try:
        with engine.connect() as conn:
            began = time.perf_counter()
            for batch in batches:
                with conn.begin():
                    ids = conn.execute(add_sales, batch.sales).scalars().all()
                    lines, payments = [], []
                    for sale_id, sale_lines, sale_payments in zip(
                        ids, batch.lines, batch.payments, strict=True
                    ):
                        for row in sale_lines:
                            row["sale_id"] = sale_id
                        for row in sale_payments:
                            row["sale_id"] = sale_id
                        lines += sale_lines
                        payments += sale_payments
                    conn.execute(insert(sale_line), lines)
                    conn.execute(insert(sale_payment), payments)
            return time.perf_counter() - began
    finally:
        db.dispose()


# --- where a batch's time goes (in-process, one writer) -------------------------------------


@dataclass
class Breakdown:
    """Mean milliseconds per batch of BATCH receipts, measured in this process on a fresh hub."""

    batches: int
    parse_ms: float  # SalesBatch.model_validate_json of the request body
    checks_ms: float  # the pure-Python checks: canonical JSON + sha256, arithmetic, sale hash
    ingest_ms: float  # service.ingest: the checks plus the one write transaction
    top: list[tuple[str, float]]  # hub functions by share of service.ingest (cProfile)

    @property
    def write_ms(self) -> float:
        return max(0.0, self.ingest_ms - self.checks_ms)

    @property
    def service_ms(self) -> float:
        return self.parse_ms + self.ingest_ms


def _hub_function(filename: str, function: str) -> str | None:
    if "/hub/" not in filename or function.startswith("<"):
        return None
    module = filename.split("/hub/", 1)[1].removesuffix(".py").replace("/", ".")
    return f"hub.{module}.{function}"


def breakdown(url: str, made: Populated, journal: Journal, *, warmup: int = 2) -> Breakdown:
    """Time the hub's service on `journal`'s batches in this process, one after the other: the
    first `warmup` untimed, then half timed, then half under cProfile (for the shares only)."""
    from hub.db import Database, utcnow
    from hub.principal import Principal
    from hub.sales import service

    device = Principal("device", made.device_ids[0], None, made.store_id, "bench", "device")
    db = Database(url)
    bodies = journal.bodies
    timed = (len(bodies) - warmup) // 2
    parse = checks = ingest = 0.0
    profile = cProfile.Profile()
    try:
        for number, body in enumerate(bodies):
            began = time.perf_counter()
            batch = SalesBatch.model_validate_json(body)
            parsed = time.perf_counter()
            now = utcnow()
            for sale in batch.sales:
                service.prepare(sale, now)
            checked = time.perf_counter()
            if number < warmup + timed:
                result = service.ingest(db, device, batch)
            else:
                result = profile.runcall(service.ingest, db, device, batch)
            done = time.perf_counter()
            if warmup <= number < warmup + timed:
                parse += parsed - began
                checks += checked - parsed
                ingest += done - checked
            if {r.status for r in result.results} != {"created"}:
                raise BenchError(f"in-process ingest: {Counter(r.status for r in result.results)}")
    finally:
        db.dispose()
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    whole = max((row[3] for (_f, _l, name), row in stats.items() if name == "ingest"), default=0.0)
    top = []
    for (filename, _line, function), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
        name = _hub_function(filename, function)
        if name and function not in ("ingest", "_ingest", "write") and whole:
            top.append((name, cumulative / whole))
    top.sort(key=lambda item: -item[1])
    return Breakdown(
        timed,
        parse / timed * 1000,
        checks / timed * 1000,
        ingest / timed * 1000,
        top[:6],
    )


# --- one database ---------------------------------------------------------------------------


@dataclass
class Measured:
    database: str  # "SQLite 3.40.1"
    name: str  # SQLite | PostgreSQL
    receipts: int
    batches: int
    tills: int
    batch: int
    lines: int
    http: HttpRun
    verified: Verified
    raw_seconds: float
    raw_receipts: int
    build_seconds: float
    breakdown: Breakdown | None

    @property
    def rate(self) -> float:
        return self.receipts / self.http.seconds

    @property
    def raw_rate(self) -> float:
        return self.raw_receipts / self.raw_seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.raw_rate

    @property
    def solo_receipts(self) -> int:
        return len(self.http.solo.latencies) * self.batch


def measure_target(
    target: Target,
    *,
    receipts: int = RECEIPTS,
    tills: int = TILLS,
    batch: int = BATCH,
    lines: int = LINES,
    products: int = PRODUCTS,
    solo_receipts: int = SOLO_RECEIPTS,
    workload: Workload | None = None,
    profile_batches: int = PROFILE_BATCHES,
) -> tuple[Measured, Workload]:
    began = time.perf_counter()
    hub_url, made = build(target, "hub", products, tills + 2)
    build_seconds = time.perf_counter() - began
    # SQLite: the raw baseline and the breakdown get copies of the hub as built, before any sale.
    pristine = target.copy(hub_url, "pristine") if target.copy else None

    def another(role: str) -> tuple[str, Populated]:
        if target.copy and pristine:
            return target.copy(pristine, role), made
        return build(target, role, products, tills + 2)

    catalog = read_catalog(hub_url)
    if workload is None:
        workload = make_workload(
            catalog,
            made.cashier_ids,
            receipts=receipts,
            tills=tills,
            batch=batch,
            lines=lines,
            solo_receipts=solo_receipts,
        )
    elif (workload.cashier_ids, workload.product_ids) != (made.cashier_ids, made.product_ids):
        raise BenchError(f"{target.name}: cashier or product ids differ from the first database")
    with serve_url(hub_url) as base_url:
        http = drive(base_url, made.tokens, workload)
    sent = list(workload.all_sales())
    if http.statuses != Counter({"created": len(sent)}):
        raise BenchError(f"{target.name}: the hub answered {dict(http.statuses)} for {len(sent)}")
    verified = verify(hub_url, made.store_id, sent, hub=True)

    raw_url, raw_made = another("raw")
    cost_of = {c.id: _cost(c.price_minor) for c in catalog}
    rows = raw_rows(workload, raw_made.store_id, raw_made.device_ids, cost_of)
    raw_seconds = raw_insert(raw_url, rows)
    timed = [s for j in workload.tills for s in j.sales]
    verify(raw_url, raw_made.store_id, timed, hub=False)

    found = None
    if profile_batches:
        profile_url, profile_made = another("profile")
        extra = make_workload(
            catalog,
            profile_made.cashier_ids,
            receipts=profile_batches * batch,
            tills=1,
            batch=batch,
            lines=lines,
            warmup_batches=0,
            solo_receipts=0,
            seed=99,
        )
        found = breakdown(profile_url, profile_made, extra.tills[0])
    return (
        Measured(
            database=target.version,
            name=target.name,
            receipts=workload.timed_receipts,
            batches=workload.timed_batches,
            tills=len(workload.tills),
            batch=workload.batch,
            lines=workload.lines,
            http=http,
            verified=verified,
            raw_seconds=raw_seconds,
            raw_receipts=len(timed),
            build_seconds=build_seconds,
            breakdown=found,
        ),
        workload,
    )


def measure(
    *,
    receipts: int = RECEIPTS,
    tills: int = TILLS,
    batch: int = BATCH,
    lines: int = LINES,
    products: int = PRODUCTS,
    solo_receipts: int = SOLO_RECEIPTS,
    postgres: str | None = None,
    profile_batches: int = PROFILE_BATCHES,
) -> list[Measured]:
    """SQLite always; PostgreSQL when `postgres` names a database. The same sales for both."""
    results: list[Measured] = []
    workload = None
    with tempfile.TemporaryDirectory(prefix="kassa-bench-ingest-") as tmp:
        targets = [sqlite_target(Path(tmp))]
        if postgres:
            targets.append(postgres_target(postgres))
        for target in targets:
            try:
                measured, workload = measure_target(
                    target,
                    receipts=receipts,
                    tills=tills,
                    batch=batch,
                    lines=lines,
                    products=products,
                    solo_receipts=solo_receipts,
                    workload=workload,
                    profile_batches=profile_batches,
                )
            finally:
                target.cleanup()
            results.append(measured)
    return results


# --- the report -----------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def _rate(value: float) -> str:
    return f"{value:,.0f} receipts/s"


def _retries(retries: Counter[int]) -> str:
    if not retries:
        return "no 429/503"
    return ", ".join(f"{n} x {code}" for code, n in sorted(retries.items())) + " (retried)"


def _limits(m: Measured, cores: int | None) -> str:
    b = m.breakdown
    if b is None:
        return f"{m.name}: below the goal; no breakdown was measured."
    per_batch = m.http.seconds / m.batches * 1000
    top = ", ".join(f"`{name}` {share:.0%}" for name, share in b.top[:5])
    return (
        f"What limits {m.name}: at the measured rate the hub spends {per_batch:.1f} ms of wall "
        f"time per batch of {m.batch}. Timed in-process on a fresh hub, one batch after another, "
        f"no HTTP (mean of {b.batches}): parsing and validating the body {b.parse_ms:.1f} ms, the "
        f"pure-Python checks (canonical JSON + sha256 of every sale, arithmetic, sale hash) "
        f"{b.checks_ms:.1f} ms, the write transaction {b.write_ms:.1f} ms. Batches are written "
        "one at a time (each holds the ledger counter for its whole transaction, on SQLite the "
        f"database's write lock too), so the write alone caps ingest at "
        f"{_rate(m.batch / b.write_ms * 1000) if b.write_ms else '-'}; and one hub process runs "
        f"its Python on one core at a time (GIL), so {b.service_ms:.1f} ms per batch caps it at "
        f"{_rate(m.batch / b.service_ms * 1000)} even with free HTTP. The remaining "
        f"{max(0.0, per_batch - b.service_ms):.1f} ms per batch are HTTP, auth, the framework, "
        f"the threadpool, waiting for the write lock, and the {cores or '?'} cores shared with "
        f"the {m.tills} till clients. Shares of `service.ingest` under cProfile: {top}."
    )


def report(results: list[Measured], *, postgres_note: str | None = None) -> Report:
    metrics: list[Metric] = []
    notes: list[str] = []
    cores = os.cpu_count()
    for m in results:
        ok_rate = m.rate >= GOAL_RATE
        ok_ratio = m.ratio >= GOAL_RATIO
        latencies = m.http.latencies
        metrics += [
            Metric(
                f"{m.name}: HTTP ingest, {m.receipts:,} receipts in {m.batches} batches of "
                f"{m.batch} x {m.lines} lines, {m.tills} tills at once",
                f"≥ {GOAL_RATE:,.0f} receipts/s",
                f"{_rate(m.rate)} ({seconds(m.http.seconds)}); {_retries(m.http.retries)}",
                f"{_rate(m.raw_rate)} raw Core executemany ({seconds(m.raw_seconds)})",
                PASS if ok_rate else FAIL,
            ),
            Metric(
                f"{m.name}: HTTP rate / raw Core insert rate",
                f"≥ {GOAL_RATIO:g}x",
                f"{m.ratio:.2f}x",
                f"{_rate(m.raw_rate)}",
                PASS if ok_ratio else FAIL,
            ),
            Metric(
                f"{m.name}: batch latency as a till sees it (incl. retries)",
                "-",
                f"p50 {seconds(percentile(latencies, 0.50))}, "
                f"p99 {seconds(percentile(latencies, 0.99))}, "
                f"max {seconds(max(latencies))}",
                f"{seconds(statistics.mean(latencies))} mean",
                INFO,
            ),
        ]
        if m.http.solo.latencies:
            solo = m.http.solo.latencies
            metrics.append(
                Metric(
                    f"{m.name}: one till alone, {m.solo_receipts:,} receipts back to back "
                    "(after the run)",
                    "-",
                    f"{_rate(m.solo_receipts / m.http.solo_seconds)}; p50 "
                    f"{seconds(percentile(solo, 0.50))}, p99 {seconds(percentile(solo, 0.99))}",
                    f"{_rate(m.rate)} with {m.tills} tills at once",
                    INFO,
                )
            )
        if m.breakdown is not None:
            b = m.breakdown
            metrics.append(
                Metric(
                    f"{m.name}: one batch in-process, no HTTP (mean of {b.batches})",
                    "-",
                    f"{b.service_ms:.1f} ms: parse {b.parse_ms:.1f} ms, checks "
                    f"{b.checks_ms:.1f} ms, write transaction {b.write_ms:.1f} ms",
                    f"{m.batch / b.service_ms * 1000:,.0f} receipts/s if HTTP were free",
                    INFO,
                )
            )
        notes.append(
            f"{m.name} ({m.database}): verified by SQL after the run: {m.verified.sales:,} sales "
            f"(timed, warm-up and solo), each uuid exactly once, totals summing to "
            f"{m.verified.total_minor:,} minor units as sent, {m.verified.lines:,} lines, "
            f"{m.verified.payments:,} payments, {m.verified.stock_moves:,} stock moves, no flags, "
            "no journal issues, nothing quarantined. The raw baseline was checked the same way."
        )
        if not (ok_rate and ok_ratio):
            notes.append(_limits(m, cores))
    if postgres_note:
        notes.append(postgres_note)
    first = results[0]
    return Report(
        title="Sales ingest: batches of 50 receipts from concurrent tills",
        what=(
            f"Per database, a freshly migrated hub holds {PRODUCTS:,} products with stock "
            "received at a cost (a goods receipt through the stock ledger), one store, three "
            f"cashiers and {first.tills + 2} paired tills. The real hub app runs under uvicorn "
            "(one process, default settings) on 127.0.0.1; the benchmark process plays "
            f"{first.tills} tills at once: one thread and one keep-alive `httpx.Client` each, "
            "its own device token and its own hash-chained journal (`kassa.till_sim`), posting "
            f"its batches of {first.batch} receipts x {first.lines} lines one after the other to "
            "`POST /api/v1/till/sales/batch`. Sales are generated and serialised before the "
            "clock starts; an extra till sends two untimed warm-up batches first. receipts/s is "
            "timed receipts over the wall time from the common start to the last answer; 429 and "
            "503 are retried after Retry-After and counted. After the run one more till sends "
            f"{first.solo_receipts:,} receipts alone, for the rate and latency without "
            "contention. Every sale is then checked by SQL to be on the hub exactly once: a run "
            "that loses or doubles data fails, it does not report."
        ),
        baseline=(
            "Measured in the same run, into a fresh database of the same kind with the same "
            "store, tills and catalog: the same rows the hub writes to `sale`, `sale_line` and "
            "`sale_payment` (every column, built beforehand) as SQLAlchemy Core executemany "
            f"inserts, {first.batch} receipts per transaction, one connection, through the hub's "
            "own engine (on SQLite WAL, synchronous=FULL, BEGIN IMMEDIATE). It is the floor of "
            "writing a sale at all; the hub also parses and checks every sale, writes a stock "
            "move per line, updates stock levels, the till's state and the change counter."
        ),
        metrics=metrics,
        notes=notes,
    )


def postgres_skipped_note() -> str:
    return (
        "PostgreSQL: not measured in this run: set KASSA_BENCH_POSTGRES_URL (or "
        "KASSA_TEST_POSTGRES_URL) to a database the benchmark may create schemas in "
        f"(it uses only `{SCHEMA_HUB}`, `{SCHEMA_RAW}` and `{SCHEMA_PROFILE}`, dropped "
        "afterwards)."
    )


def run() -> Report:
    url = postgres_url()
    results = measure(postgres=url)
    return report(results, postgres_note=None if url else postgres_skipped_note())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=RECEIPTS, help="per database")
    parser.add_argument("--tills", type=int, default=TILLS)
    parser.add_argument("--sqlite-only", action="store_true", help="ignore the PostgreSQL URL")
    args = parser.parse_args(argv)
    url = None if args.sqlite_only else postgres_url()
    started = dt.datetime.now(dt.UTC)
    results = measure(receipts=args.receipts, tills=args.tills, postgres=url)
    built = report(results, postgres_note=None if url else postgres_skipped_note())
    print(built.to_markdown())
    print(f"(started {started:%Y-%m-%d %H:%M} UTC)")
    return 0 if built.passed else 1


if __name__ == "__main__":
    sys.exit(main())
