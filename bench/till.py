"""The till agent at chain scale: catalog load, scan to basket, durable sale commit.

Issue targets: "initial catalog load of 100,000 products <= 5 s; scan -> basket update p99
<= 5 ms; a sale committed durably (WAL, synchronous=FULL) p99 <= 10 ms".

1. A fresh `till_agent.catalog.CatalogCache` pulls the full catalog from a live hub (the real
   app under uvicorn in its own process on 127.0.0.1, built by `bench.catalog_hub`). Baseline:
   the same feed fetched and parsed by `bench.feed_client.fetch`, writing nothing, so the
   difference is the cache's own writing.
2. With that cache: `cache.scan(code)`, `basket.add(Line(...))`, `basket.totals()` per scan for
   random catalog barcodes and scale labels, the basket started afresh every 30 scans like
   receipts. Baseline: the bare SQLite primary-key lookup of the same code in the same file.
3. `till_agent.journal.Journal.commit_sale` of 5-line drafts from `Basket.draft`. Baseline: a
   bare `sqlite3` BEGIN IMMEDIATE / INSERT / COMMIT of the same payload, WAL and
   synchronous=FULL, in the same directory, interleaved commit by commit.

`python -m bench.till` runs it alone; `python -m bench.run` runs it with the others.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import random
import re
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import INFO, Metric, Report, mebibytes, seconds, verdict
from bench.catalog_hub import build_hub, serve
from bench.catalog_sync import MAX_PAGE
from bench.feed_client import FEED, fetch, till_client
from till_agent.basket import Basket, Line, Payment
from till_agent.catalog import CatalogCache, Found
from till_agent.journal import Journal
from wire.barcodes import ean_check_digit
from wire.v1 import CatalogDelta

PRODUCTS = 100_000
LOAD_REPEATS = 3
SCANS = 20_000
SCALE_SHARE = 0.10  # of scans that are scale labels, when the catalog has weighted goods
RECEIPT_SCANS = 30  # a new basket every 30 scans
WARMUP_SCANS = 200  # not recorded: statement cache and the file's pages after the load
PROFILE_SCANS = 5_000
COMMITS = 2_000
WARMUP_COMMITS = 20  # not recorded
PROFILE_COMMITS = 300
SALE_LINES = 5
GOAL_LOAD_S = 5.0
GOAL_SCAN_S = 0.005
GOAL_COMMIT_S = 0.010
SEED = 20_240_601


class BenchError(RuntimeError):
    """The benchmark itself went wrong (a scan found nothing, a pull came back short)."""


# --- helpers --------------------------------------------------------------------------------


def percentile(values: list[int], fraction: float) -> int:
    """Nearest-rank percentile: the smallest value with at least `fraction` of them at or below."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def _s(ns: float) -> float:
    return ns / 1e9


def duration(ns: float) -> str:
    """Like bench.seconds, with microseconds below 0.1 ms: 3_200 -> '3.2 µs'."""
    return f"{ns / 1000:.1f} µs" if ns < 100_000 else seconds(_s(ns))


def _spread(values: list[int]) -> str:
    """'p50 0.12 ms, p99 0.40 ms, max 3.10 ms' of nanosecond samples."""
    return (
        f"p50 {duration(percentile(values, 0.50))}, p99 {duration(percentile(values, 0.99))}, "
        f"max {duration(max(values))}"
    )


def top_calls(profile: cProfile.Profile, count: int = 5) -> list[tuple[str, float, float]]:
    """The `count` functions with the most own time: (name, own seconds, share of the total)."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = [
        (_label(filename, name), tottime, tottime / total if total else 0.0)
        for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:count]


def _label(filename: str, name: str) -> str:
    """'catalog.py scan'; a C method '<method 'execute' of 'sqlite3.Connection' objects>' as
    'sqlite3.Connection.execute'."""
    method = re.fullmatch(r"<method '(\w+)' of '([\w.]+)' objects>", name)
    if method:
        return f"{method[2]}.{method[1]}"
    return name if filename == "~" else f"{Path(filename).name} {name}"


def cumulative(
    profile: cProfile.Profile, wanted: list[tuple[str, str]]
) -> list[tuple[str, float, float]]:
    """Inclusive time of the named functions ((file name, function)), as shares of the total."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    found = dict.fromkeys(wanted, 0.0)
    for (filename, _line, name), (_cc, _nc, _tt, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = (Path(filename).name, name)
        if key in found:
            found[key] += cumtime
    return [
        (_label(file, name), cum, cum / total if total else 0.0)
        for (file, name), cum in found.items()
    ]


EXECUTE = ("~", "<method 'execute' of 'sqlite3.Connection' objects>")
EXECUTEMANY = ("~", "<method 'executemany' of 'sqlite3.Connection' objects>")
APPLY_PARTS = [("main.py", "model_dump_json"), EXECUTE, EXECUTEMANY]
SCAN_PARTS = [
    ("catalog.py", "scan"),
    EXECUTE,
    ("main.py", "model_validate_json"),
    ("barcodes.py", "decode_weighted"),
    ("basket.py", "add"),
    ("basket.py", "totals"),
]
COMMIT_PARTS = [
    EXECUTE,
    ("main.py", "model_validate"),
    ("sales.py", "sale_hash"),
    ("main.py", "model_dump_json"),
]


def _profiled(action: Callable[[], object]) -> cProfile.Profile:
    profile = cProfile.Profile()
    profile.enable()
    try:
        action()
    finally:
        profile.disable()
    return profile


def _describe(calls: list[tuple[str, float, float]]) -> str:
    return "; ".join(f"`{name}` {share:.0%}" for name, _own, share in calls)


def breakdown(profile: cProfile.Profile, parts: list[tuple[str, str]]) -> str:
    """'inclusive: `a` 60%, `b` 30%; own time: `c` 40%, ...' for a report note."""
    return (
        f"inclusive {_describe(cumulative(profile, parts))}; "
        f"most own time {_describe(top_calls(profile, 4))}"
    )


# --- 1. catalog load ------------------------------------------------------------------------


@dataclass
class Pull:
    seconds: float
    apply_seconds: float  # inside CatalogCache.apply: the cache's own writing
    pages: int
    products: int
    file_bytes: int


def timed_pull(
    client: httpx.Client, token: str, path: Path, *, limit: int | None = None
) -> tuple[Pull, CatalogCache]:
    """A fresh cache at `path` pulls the whole feed; CatalogCache.apply is timed on the side."""
    cache = CatalogCache(path)
    applying = [0]
    apply = cache.apply

    def timed_apply(delta: CatalogDelta, etag: str | None) -> None:
        began = time.perf_counter_ns()
        apply(delta, etag)
        applying[0] += time.perf_counter_ns() - began

    cache.apply = timed_apply  # type: ignore[method-assign]
    began = time.perf_counter_ns()
    pages = cache.pull(client, token, limit=limit)
    took = time.perf_counter_ns() - began
    cache.apply = apply  # type: ignore[method-assign]
    size = sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))
    return Pull(_s(took), _s(applying[0]), pages, cache.count(), size), cache


def profile_apply(bodies: list[bytes], path: Path) -> cProfile.Profile:
    """Where CatalogCache.apply spends its time: the kept feed pages applied to a fresh cache
    under cProfile, no network."""
    cache = CatalogCache(path)
    try:
        deltas = [CatalogDelta.model_validate_json(body) for body in bodies]

        def apply_all() -> None:
            for delta in deltas:
                cache.apply(delta, None)

        return _profiled(apply_all)
    finally:
        cache.close()


# --- 2. scan -> basket ----------------------------------------------------------------------


def scale_label(scale_code: int, grams: int) -> str:
    """A label of the demo hub's template 22PPPPPWWWWWC: scale code, weight in grams."""
    body = f"22{scale_code:05d}{grams:05d}"
    return body + str(ean_check_digit(body))


def scan_codes(cache_path: Path, count: int, rng: random.Random) -> tuple[list[str], int]:
    """`count` codes to scan: random catalog barcodes (with repeats, as in a shop) and, when
    the catalog has weighted goods and a template, about SCALE_SHARE scale labels."""
    db = sqlite3.connect(cache_path)
    try:
        barcodes = [r[0] for r in db.execute("SELECT code FROM barcode WHERE code NOT LIKE '2%'")]
        templates = db.execute(
            "SELECT count(*) FROM template WHERE active = 1 AND pattern = '22PPPPPWWWWWC'"
        ).fetchone()[0]
        scales = [
            r[0]
            for r in db.execute(
                "SELECT scale_code FROM product WHERE scale_code IS NOT NULL AND active = 1"
            )
        ]
    finally:
        db.close()
    labels = round(count * SCALE_SHARE) if templates and scales else 0
    codes = rng.choices(barcodes, k=count - labels)
    codes += [scale_label(rng.choice(scales), rng.randint(50, 2_500)) for _ in range(labels)]
    rng.shuffle(codes)
    return codes, labels


def ring_up(found: Found, code: str) -> Line:
    p = found.product
    return Line(p.id, p.name, found.qty_milli, found.unit_price_minor, p.vat_rate_bp, code)


@dataclass
class Scans:
    total: list[int]  # ns: scan + add + totals
    scan: list[int]  # ns: cache.scan alone
    is_label: list[bool]


def timed_scans(cache: CatalogCache, codes: list[str]) -> Scans:
    """Scan every code into a basket started afresh every RECEIPT_SCANS scans."""
    out = Scans([], [], [])
    clock = time.perf_counter_ns
    basket = Basket()
    for number, code in enumerate(codes):
        if number % RECEIPT_SCANS == 0:
            basket = Basket()
        began = clock()
        found = cache.scan(code)
        scanned = clock()
        if found is None:
            raise BenchError(f"the cache found nothing for {code!r}")
        basket.add(ring_up(found, code))
        basket.totals()
        done = clock()
        out.total.append(done - began)
        out.scan.append(scanned - began)
        out.is_label.append(code.startswith("22"))
    return out


def scan_loop(cache: CatalogCache, codes: list[str]) -> None:
    """The timed loop's work without the clock: for the profile."""
    basket = Basket()
    for number, code in enumerate(codes):
        if number % RECEIPT_SCANS == 0:
            basket = Basket()
        found = cache.scan(code)
        assert found is not None
        basket.add(ring_up(found, code))
        basket.totals()


def bare_lookups(cache_path: Path, codes: list[str], sql: str) -> list[int]:
    """ns per `sql` with one code, fetchone, on a separate connection to the cache file."""
    db = sqlite3.connect(cache_path)
    clock = time.perf_counter_ns
    out = []
    try:
        for code in codes[:WARMUP_SCANS]:
            db.execute(sql, (code,)).fetchone()
        for code in codes:
            began = clock()
            db.execute(sql, (code,)).fetchone()
            out.append(clock() - began)
    finally:
        db.close()
    return out


PK_LOOKUP = "SELECT product_id FROM barcode WHERE code = ?"
SCAN_SQL = (  # what CatalogCache.scan runs for a catalog barcode, without decoding the payload
    "SELECT p.payload FROM barcode b JOIN product p ON p.id = b.product_id "
    "WHERE b.code = ? AND p.active = 1"
)


# --- 3. durable sale commit -----------------------------------------------------------------


def sale_drafts(
    cache: CatalogCache, codes: list[str], count: int, rng: random.Random
) -> list[dict[str, Any]]:
    """`count` drafts of SALE_LINES distinct products each, paid by card or by cash with change."""
    shift = uuid.uuid4()
    drafts = []
    for _ in range(count):
        basket = Basket()
        while len(basket.lines) < SALE_LINES:
            code = rng.choice(codes)
            found = cache.scan(code)
            if found is None:
                raise BenchError(f"the cache found nothing for {code!r}")
            basket.add(ring_up(found, code))
        total = basket.totals().total_minor
        if rng.random() < 0.5:
            payments = [Payment("card", total, "123456")]
        else:
            payments = [Payment("cash", -(-total // 50_000) * 50_000)]  # next 500 RUB note
        drafts.append(
            basket.draft(
                payments,
                cashier_id=1,
                shift_uuid=shift,
                currency="RUB",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    return drafts


BARE_SCHEMA = "CREATE TABLE IF NOT EXISTS sale (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"


def bare_connection(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(BARE_SCHEMA)
    return db


@dataclass
class Commits:
    journal: list[int]  # ns per Journal.commit_sale
    bare: list[int]  # ns per bare BEGIN IMMEDIATE / INSERT / COMMIT of the same payload
    payload_bytes: list[int]


def timed_commits(directory: Path, drafts: list[dict[str, Any]]) -> Commits:
    """Each draft through Journal.commit_sale, then its stored payload through the bare
    connection: interleaved, so both see the same disk. The first WARMUP_COMMITS are dropped."""
    journal = Journal(directory / "journal.db")
    bare = bare_connection(directory / "bare.db")
    out = Commits([], [], [])
    clock = time.perf_counter_ns
    try:
        for number, draft in enumerate(drafts):
            began = clock()
            sale = journal.commit_sale(draft)
            committed = clock() - began
            payload = sale.model_dump_json()
            began = clock()
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO sale (payload) VALUES (?)", (payload,))
            bare.execute("COMMIT")
            bare_took = clock() - began
            if number >= WARMUP_COMMITS:
                out.journal.append(committed)
                out.bare.append(bare_took)
                out.payload_bytes.append(len(payload.encode()))
    finally:
        journal.close()
        bare.close()
    return out


def profile_commits(directory: Path, drafts: list[dict[str, Any]]) -> cProfile.Profile:
    journal = Journal(directory / "journal-profiled.db")
    try:
        return _profiled(lambda: [journal.commit_sale(draft) for draft in drafts])
    finally:
        journal.close()


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class Measured:
    """Everything `measure` saw, for the report and for the smoke test."""

    products: int
    build_seconds: float
    pulls: list[Pull]
    big_pull: Pull  # at the feed's largest page size
    big_fetch: float
    fetches: list[float]  # seconds: fetch + parse, no cache
    fetch_parse: list[float]  # seconds of those spent parsing
    apply_profile: cProfile.Profile
    scans: Scans
    labels: int
    pk_lookups: list[int]
    scan_sql: list[int]
    scan_profile: cProfile.Profile
    commits: Commits
    commit_profile: cProfile.Profile
    profiled_scans: int
    profiled_commits: int


def measure(
    products: int = PRODUCTS,
    *,
    load_repeats: int = LOAD_REPEATS,
    scans: int = SCANS,
    commits: int = COMMITS,
    profile_scans: int = PROFILE_SCANS,
    profile_commits_count: int = PROFILE_COMMITS,
    seed: int = SEED,
) -> Measured:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="kassa-bench-till-") as tmp:
        directory = Path(tmp)
        hub = build_hub(directory, products)
        pulls: list[Pull] = []
        fetches: list[float] = []
        fetch_parse: list[float] = []
        bodies: list[bytes] = []
        cache: CatalogCache | None = None
        with serve(hub) as base_url, till_client(base_url, hub.token) as client:
            # Not timed: the hub's first feed page (its imports, pools and the file's pages).
            client.get(FEED, params={"cursor": 0}).raise_for_status()
            for number in range(load_repeats):
                fetched = fetch(client, keep=number == 0)
                if number == 0:
                    bodies = fetched.bodies
                if sorted(fetched.product_ids) != hub.product_ids:
                    raise BenchError("the feed did not deliver every product exactly once")
                fetches.append(fetched.seconds)
                fetch_parse.append(fetched.parse_seconds)
                pulled, opened = timed_pull(client, hub.token, directory / f"cache-{number}.db")
                if pulled.products != products:
                    raise BenchError(f"the cache holds {pulled.products} products, not {products}")
                pulls.append(pulled)
                if cache is None:
                    cache = opened
                else:
                    opened.close()
            big_fetch = fetch(client, limit=MAX_PAGE)
            big_pull, opened = timed_pull(
                client, hub.token, directory / "cache-max-page.db", limit=MAX_PAGE
            )
            opened.close()
        assert cache is not None
        cache_path = directory / "cache-0.db"
        apply_profile = profile_apply(bodies, directory / "cache-profiled.db")
        bodies.clear()

        try:
            codes, labels = scan_codes(cache_path, scans, rng)
            warmup, _ = scan_codes(cache_path, WARMUP_SCANS, rng)
            timed_scans(cache, warmup)
            scanned = timed_scans(cache, codes)
            pk_lookups = bare_lookups(cache_path, codes, PK_LOOKUP)
            catalog_codes = [c for c in codes if not c.startswith("22")]
            scan_sql = bare_lookups(cache_path, catalog_codes, SCAN_SQL)
            profiled = codes[:profile_scans]
            scan_profile = _profiled(lambda: scan_loop(cache, profiled))

            drafts = sale_drafts(cache, catalog_codes, WARMUP_COMMITS + commits, rng)
            committed = timed_commits(directory, drafts)
            commit_profile = profile_commits(
                directory, sale_drafts(cache, catalog_codes, profile_commits_count, rng)
            )
        finally:
            cache.close()
    return Measured(
        products=products,
        build_seconds=hub.build_seconds,
        pulls=pulls,
        big_pull=big_pull,
        big_fetch=big_fetch.seconds,
        fetches=fetches,
        fetch_parse=fetch_parse,
        apply_profile=apply_profile,
        scans=scanned,
        labels=labels,
        pk_lookups=pk_lookups,
        scan_sql=scan_sql,
        scan_profile=scan_profile,
        commits=committed,
        commit_profile=commit_profile,
        profiled_scans=len(profiled),
        profiled_commits=profile_commits_count,
    )


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def _runs(values: list[float]) -> str:
    return " / ".join(seconds(v) for v in values)


def report(m: Measured) -> Report:
    load_s = statistics.median(p.seconds for p in m.pulls)
    apply_s = statistics.median(p.apply_seconds for p in m.pulls)
    fetch_s = statistics.median(m.fetches)
    parse_s = statistics.median(m.fetch_parse)
    first = m.pulls[0]
    s = m.scans
    scan_p99 = _s(percentile(s.total, 0.99))
    labels = [t for t, is_label in zip(s.total, s.is_label, strict=True) if is_label]
    eans = [t for t, is_label in zip(s.total, s.is_label, strict=True) if not is_label]
    c = m.commits
    commit_p99 = _s(percentile(c.journal, 0.99))
    journal_rate = len(c.journal) / _s(sum(c.journal))
    bare_rate = len(c.bare) / _s(sum(c.bare))
    metrics = [
        Metric(
            f"Initial catalog load: {m.products:,} products from the live hub into a fresh "
            f"`CatalogCache` with `pull` (median of {len(m.pulls)})",
            f"≤ {GOAL_LOAD_S:g} s",
            f"{seconds(load_s)} ({_runs([p.seconds for p in m.pulls])}); {_pages(first.pages)}; "
            f"{seconds(apply_s)} of it in `CatalogCache.apply` (writing); cache file "
            f"{mebibytes(first.file_bytes)}",
            f"{seconds(fetch_s)} ({_runs(m.fetches)}) the same feed fetched + parsed, no cache "
            f"(`bench.feed_client.fetch`)",
            verdict(load_s, GOAL_LOAD_S),
        ),
        Metric(
            f"Scan → basket update: `cache.scan` + `basket.add(Line(...))` + `basket.totals()`, "
            f"{len(s.total):,} scans ({m.labels:,} scale labels), a new basket every "
            f"{RECEIPT_SCANS} scans",
            f"p99 ≤ {GOAL_SCAN_S * 1000:g} ms",
            _spread(s.total),
            f"{_spread(m.pk_lookups)}: bare SQLite primary-key lookup of the same codes",
            verdict(scan_p99, GOAL_SCAN_S),
        ),
        Metric(
            f"Durable sale commit: `Journal.commit_sale` of a {SALE_LINES}-line draft from "
            f"`Basket.draft` ({len(c.journal):,} commits, WAL + synchronous=FULL)",
            f"p99 ≤ {GOAL_COMMIT_S * 1000:g} ms",
            f"{_spread(c.journal)}; {journal_rate:,.0f} sales/s",
            f"{_spread(c.bare)}; {bare_rate:,.0f} commits/s: bare `sqlite3` BEGIN IMMEDIATE / "
            f"INSERT / COMMIT of the same payload (median {statistics.median(c.payload_bytes):,.0f}"
            " bytes), same settings, interleaved",
            verdict(commit_p99, GOAL_COMMIT_S),
        ),
        Metric(
            f"Initial catalog load at the feed's largest page size ({MAX_PAGE:,}; one run)",
            "-",
            f"{seconds(m.big_pull.seconds)}; {_pages(m.big_pull.pages)}; "
            f"{seconds(m.big_pull.apply_seconds)} in `CatalogCache.apply`",
            f"{seconds(m.big_fetch)} fetched + parsed, no cache",
            INFO,
        ),
        Metric(
            "`cache.scan` alone (no basket), same scans",
            "-",
            _spread(s.scan),
            f"{_spread(m.scan_sql)}: `scan`'s own SQL (join, payload fetched, not decoded), "
            "catalog barcodes only",
            INFO,
        ),
        Metric(
            "Scan → basket update by kind of code",
            "-",
            f"scale labels: {_spread(labels)}" if labels else "no scale labels in this catalog",
            f"catalog EAN-13: {_spread(eans)}",
            INFO,
        ),
        Metric(
            f"Building the {m.products:,}-product hub (migrate + bulk insert)",
            "-",
            seconds(m.build_seconds),
            "-",
            INFO,
        ),
    ]
    notes = [
        f"Where the load's {seconds(load_s)} go: about {seconds(fetch_s)} is what the feed costs "
        f"a client that keeps nothing (hub pages, loopback transfer, {seconds(parse_s)} of "
        f"client-side parsing); {seconds(apply_s)} is `CatalogCache.apply` writing the pages "
        f"(one transaction per page). Profile of `apply` alone (pages already parsed): "
        f"{breakdown(m.apply_profile, APPLY_PARTS)}.",
        f"Profile of {m.profiled_scans:,} scans → basket: "
        f"{breakdown(m.scan_profile, SCAN_PARTS)}. cProfile inflates the many small Python "
        f"calls of the basket maths; untraced, `cache.scan` is p50 "
        f"{duration(percentile(s.scan, 0.5))} of the p50 {duration(percentile(s.total, 0.5))} "
        "per scan.",
        f"Profile of {m.profiled_commits:,} `commit_sale` calls: "
        f"{breakdown(m.commit_profile, COMMIT_PARTS)}.",
        f"Warm-up not recorded: the hub's first feed page, {WARMUP_SCANS} scans, "
        f"{WARMUP_COMMITS} commits. Scans draw "
        "catalog barcodes with repeats (as in a shop); scale labels use the hub's template "
        "22PPPPPWWWWWC with 50-2,500 g.",
    ]
    return Report(
        title="Till agent: catalog load, scan to basket, durable sale commit",
        what=(
            f"A migrated SQLite hub holds {m.products:,} products (1-2 EAN-13 each, weighted goods "
            "with a scale code, from `kassa.demo_catalog`) and serves them with the real hub app "
            "under uvicorn in its own process on 127.0.0.1. The benchmark process is the till: a "
            "fresh `till_agent.catalog.CatalogCache` (SQLite, WAL, synchronous=FULL) pulls the "
            "whole catalog over the feed; then random catalog barcodes and scale labels are "
            "scanned through that cache into a `till_agent.basket.Basket`; then 5-line sales "
            "drafted by `Basket.draft` are committed by `till_agent.journal.Journal.commit_sale`. "
            "Times are `time.perf_counter_ns` wall clock per operation, in one process, files in "
            "a temporary directory on the machine's disk."
        ),
        baseline=(
            "Measured in the same run, next to each goal: for the load, the same feed fetched and "
            "parsed by a client that writes nothing (`bench.feed_client.fetch`), so the "
            "difference is the cache's own writing; for scans, the bare SQLite primary-key lookup "
            "of each scanned code in the same cache file (the floor of any lookup); for commits, "
            "a bare `sqlite3` insert + commit of the same payload with the same WAL + "
            "synchronous=FULL settings, alternating with the journal commit by commit (the floor "
            "of a durable write on this disk)."
        ),
        metrics=metrics,
        notes=notes,
    )


def run() -> Report:
    return report(measure())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=PRODUCTS)
    parser.add_argument("--scans", type=int, default=SCANS)
    parser.add_argument("--commits", type=int, default=COMMITS)
    parser.add_argument("--load-repeats", type=int, default=LOAD_REPEATS)
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    measured = measure(
        args.products, load_repeats=args.load_repeats, scans=args.scans, commits=args.commits
    )
    print(report(measured).to_markdown())
    print(f"(started {started:%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
