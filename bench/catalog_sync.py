"""Catalog sync at chain scale: 100,000 products through the till feed, then a 100-change delta.

Issue target: "100,000 products; the full feed from cursor 0, fetched and parsed by a client, in
<= 5 s; a 100-change delta in <= 100 ms".

The hub is the real app served by uvicorn in its own process on 127.0.0.1 (as in a shop); the
client is an `httpx.Client` doing what a till does: follow `next_cursor` while `has_more`,
parsing every page with `wire.v1.CatalogDelta.model_validate_json`.

`python -m bench.catalog_sync` runs it alone; `python -m bench.run` runs it with the others.

The hub under test is built and served by `bench.catalog_hub`; the till's side of the feed is
`bench.feed_client`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import INFO, Metric, Report, mebibytes, seconds, verdict
from bench.catalog_hub import build_hub, change_prices, serve
from bench.feed_client import FEED, Fetch, fetch, till_client
from wire.v1 import CatalogDelta

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = 100_000
CHANGES = 100
GOAL_FULL_S = 5.0
GOAL_DELTA_S = 0.100
MAX_PAGE = 50_000  # the feed's largest `limit`


# --- the till client's memory --------------------------------------------------------------


def _status_kib(field_name: str) -> int:
    """A memory figure of this process from /proc/self/status (Linux), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


def client_memory(base_url: str, token: str) -> dict[str, int]:
    """Peak RSS of a fresh client process that pulls the full feed (Linux)."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.catalog_sync", "--client", base_url],
        env={**os.environ, "KASSA_BENCH_TOKEN": token},
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=600,
    )
    result: dict[str, int] = json.loads(output.stdout)
    return result


def _client_main(base_url: str) -> None:
    with till_client(base_url, os.environ["KASSA_BENCH_TOKEN"]) as client:
        client.get("/healthz").raise_for_status()
        before = _status_kib("VmRSS")
        pulled = fetch(client)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    peak = _status_kib("VmHWM")
    print(
        json.dumps(
            {"rss_before_kib": before, "peak_rss_kib": peak, "products": len(pulled.product_ids)}
        )
    )


# --- baselines -----------------------------------------------------------------------------

_PRODUCTS_SQL = """
SELECT p.id, p.sku, p.name, p.category_id, p.unit, p.price_minor, p.tax_rate_id, t.rate_bp,
       p.scale_code, p.active, p.change_seq
FROM product p JOIN tax_rate t ON t.id = p.tax_rate_id
WHERE p.change_seq > ? ORDER BY p.change_seq
"""
_BARCODES_SQL = """
SELECT b.code, b.product_id FROM barcode b
WHERE b.product_id IN (SELECT id FROM product WHERE change_seq > ?)
ORDER BY b.product_id, b.code
"""


def raw_read(path: Path, cursor: int) -> tuple[float, int]:
    """Seconds to read the feed's product and barcode rows after `cursor` straight from SQLite."""
    connection = sqlite3.connect(path)
    try:
        began = time.perf_counter()
        rows = connection.execute(_PRODUCTS_SQL, (cursor,)).fetchall()
        connection.execute(_BARCODES_SQL, (cursor,)).fetchall()
        return time.perf_counter() - began, len(rows)
    finally:
        connection.close()


def _timed(action: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        out.append(time.perf_counter() - began)
    return out


def _poll(client: httpx.Client, cursor: int, etag: str) -> httpx.Response:
    return client.get(FEED, params={"cursor": cursor}, headers={"If-None-Match": etag})


# --- the benchmark -------------------------------------------------------------------------


@dataclass
class Measured:
    """Everything `measure` saw, for the report and for the smoke test."""

    products: int
    build_seconds: float
    full: list[Fetch]
    full_max_page: list[Fetch]
    raw_full: list[float]
    parse_only: list[float]
    client_rss: dict[str, int]
    changed: set[int]
    delta: list[Fetch]
    raw_delta: list[float]
    health: list[float]
    first_poll_status: int
    polls: list[float]
    poll_statuses: set[int]
    gzip_bytes: int


def measure(
    products: int = PRODUCTS,
    *,
    repeats: int = 3,
    delta_repeats: int = 20,
    changes: int = CHANGES,
    memory: bool = True,
) -> Measured:
    with tempfile.TemporaryDirectory(prefix="kassa-bench-") as tmp:
        hub = build_hub(Path(tmp), products)
        with serve(hub) as base_url, till_client(base_url, hub.token) as client:
            full = [fetch(client, keep=i == 0) for i in range(repeats)]
            bodies, full[0].bodies = full[0].bodies, []
            parse_only = _timed(
                lambda: [CatalogDelta.model_validate_json(b) for b in bodies], repeats
            )
            gzip_bytes = sum(len(gzip.compress(b, compresslevel=6)) for b in bodies)
            bodies.clear()
            full_max_page = [fetch(client, limit=MAX_PAGE) for _ in range(repeats)]
            raw_full = [raw_read(hub.path, 0)[0] for _ in range(repeats)]
            rss = client_memory(base_url, hub.token) if memory else {}

            cursor = full[-1].next_cursor
            changed = change_prices(hub, changes)
            delta = [fetch(client, cursor) for _ in range(delta_repeats)]
            raw_delta = [raw_read(hub.path, cursor)[0] for _ in range(delta_repeats)]
            health = _timed(lambda: client.get("/healthz").raise_for_status(), delta_repeats)

            # A till polls from its last next_cursor with the last ETag it got.
            after = delta[-1]
            first_poll = _poll(client, after.next_cursor, after.etag)
            etag = first_poll.headers.get("ETag", after.etag)
            statuses: set[int] = set()

            def poll() -> None:
                statuses.add(_poll(client, after.next_cursor, etag).status_code)

            polls = _timed(poll, delta_repeats)
    return Measured(
        products=products,
        build_seconds=hub.build_seconds,
        full=full,
        full_max_page=full_max_page,
        raw_full=raw_full,
        parse_only=parse_only,
        client_rss=rss,
        changed=changed,
        delta=delta,
        raw_delta=raw_delta,
        health=health,
        first_poll_status=first_poll.status_code,
        polls=polls,
        poll_statuses=statuses,
        gzip_bytes=gzip_bytes,
    )


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _pages(count: int) -> str:
    return f"{count} page" if count == 1 else f"{count} pages"


def report(m: Measured) -> Report:
    full_s = _median([f.seconds for f in m.full])
    one = m.full[0]
    delta_s = _median([f.seconds for f in m.delta])
    runs = " / ".join(seconds(f.seconds) for f in m.full)
    max_page_s = _median([f.seconds for f in m.full_max_page])
    parse_s = _median([f.parse_seconds for f in m.full])
    metrics = [
        Metric(
            f"Full feed from cursor 0: {m.products:,} products, fetch + parse "
            f"(median of {len(m.full)})",
            f"≤ {GOAL_FULL_S:g} s",
            f"{seconds(full_s)} ({runs}); {_pages(one.pages)} of ≤ 5,000, "
            f"{mebibytes(one.size)} JSON; parsing {seconds(parse_s)}",
            f"{seconds(_median(m.raw_full))} raw SQLite read of the same rows",
            verdict(full_s, GOAL_FULL_S),
        ),
        Metric(
            f"Delta after {len(m.changed)} price changes, fetch + parse (median of {len(m.delta)})",
            f"≤ {GOAL_DELTA_S * 1000:g} ms",
            f"{seconds(delta_s)} (p95 {seconds(_p95([f.seconds for f in m.delta]))}); "
            f"{_pages(m.delta[0].pages)}, {m.delta[0].size / 1024:.0f} KiB",
            f"{seconds(_median(m.raw_delta))} raw SQLite read; "
            f"{seconds(_median(m.health))} `/healthz` round trip",
            verdict(delta_s, GOAL_DELTA_S),
        ),
        Metric(
            f"Poll with ETag, nothing changed: 304 (median of {len(m.polls)})",
            "-",
            f"{seconds(_median(m.polls))}",
            f"{seconds(_median(m.health))} `/healthz` round trip",
            INFO,
        ),
        Metric(
            f"Full feed at the largest page size ({MAX_PAGE:,}), fetch + parse "
            f"(median of {len(m.full_max_page)})",
            "-",
            f"{seconds(max_page_s)}; {_pages(m.full_max_page[0].pages)}",
            f"{seconds(full_s)} at the default 5,000 per page",
            INFO,
        ),
        Metric(
            "Client-side parse alone of the full feed's pages (no network, no hub)",
            "-",
            seconds(_median(m.parse_only)),
            f"{seconds(full_s)} for the whole fetch",
            INFO,
        ),
    ]
    if m.client_rss:
        metrics.append(
            Metric(
                "Peak RSS of a till client process pulling the full feed",
                "-",
                mebibytes(m.client_rss["peak_rss_kib"] * 1024),
                f"{mebibytes(m.client_rss['rss_before_kib'] * 1024)} before the first page",
                INFO,
            )
        )
    metrics.append(
        Metric(
            f"Building the {m.products:,}-product hub (migrate + bulk insert)",
            "-",
            seconds(m.build_seconds),
            "-",
            INFO,
        )
    )
    notes = [
        f"Where the {seconds(full_s)} go: {seconds(parse_s)} is the client parsing pages; the "
        f"other {seconds(full_s - parse_s)} is the hub building and serialising pages "
        "(validated `wire.v1` models per row) plus the transfer over loopback.",
        f"Wire size: the full feed is {mebibytes(one.size)} of JSON, about "
        f"{mebibytes(m.gzip_bytes)} gzipped at level 6; the hub gzips responses (level 1) for "
        "clients that accept it "
        "(httpx does, so the times above include compressing and inflating).",
    ]
    if m.first_poll_status != 304:
        notes.append(
            f"REGRESSION: the first poll from the last `next_cursor` with the last page's ETag "
            f"answered {m.first_poll_status}, not 304."
        )
    return Report(
        title="Catalog sync: 100,000 products to a till",
        what=(
            f"A migrated SQLite hub holds {m.products:,} products (1-2 EAN-13 barcodes each, "
            "realistic Russian names from `kassa.demo_catalog`), their categories, one store, "
            "three cashiers and a paired till. The real hub app runs under uvicorn in its own "
            "process on 127.0.0.1; the benchmark process is the till: an `httpx.Client` "
            "(keep-alive) follows `next_cursor` while `has_more` at the default page size and "
            "parses every page with `wire.v1.CatalogDelta.model_validate_json`. Then "
            f"{len(m.changed)} products get a new price (one `change_seq` each) and the till pulls "
            "the delta from its last cursor. Times are wall-clock for the client."
        ),
        baseline=(
            "Measured in the same run on the same file: the raw SQLite read of exactly the rows "
            "the feed serves (products joined to their tax rate plus their barcodes, `sqlite3`, "
            "no ORM, no JSON, no HTTP) is the floor any feed implementation pays; the `/healthz` "
            "round trip is the floor of one HTTP request through the same server and client."
        ),
        metrics=metrics,
        notes=notes,
    )


def run() -> Report:
    return report(measure())


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        _client_main(sys.argv[2])
        return
    started = dt.datetime.now(dt.UTC)
    print(report(measure()).to_markdown())
    print(f"(started {started:%Y-%m-%d %H:%M} UTC)")


if __name__ == "__main__":
    main()
