"""Run every benchmark in bench/ and write docs/BENCHMARKS.md: `make bench`.

.venv/bin/python -m bench.run                 # all benchmarks -> docs/BENCHMARKS.md
.venv/bin/python -m bench.run --only catalog_sync --output /tmp/b.md
KASSA_BENCH_POSTGRES_URL=postgresql://USER:PASS@127.0.0.1/DB .venv/bin/python -m bench.run
                                              # ingest on PostgreSQL too (own schemas only)
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import bench
from bench import Report

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "BENCHMARKS.md"
NOT_BENCHMARKS = {"run", "catalog_hub", "feed_client", "warehouse_hub", "warehouse_jobs"}  # helpers


def modules() -> list[str]:
    """Every benchmark module in bench/: each exposes `run() -> Report`."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name not in NOT_BENCHMARKS and not info.name.startswith("_")
    )


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _load() -> tuple[float, ...]:
    try:
        return os.getloadavg()
    except OSError:
        return ()


def machine() -> list[tuple[str, str]]:
    memory = _proc_field("/proc/meminfo", "MemTotal")
    memory_gib = f"{int(memory.split()[0]) / 2**20:.1f} GiB" if memory else "unknown"
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    return [
        ("CPU", _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("cores", str(os.cpu_count())),
        ("RAM", memory_gib),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("load average at start (1 / 5 / 15 min)", " / ".join(f"{x:.2f}" for x in _load())),
        ("commit", (commit or "unknown") + dirty),
        ("date", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def render(reports: list[tuple[Report, float]], facts: list[tuple[str, str]]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`.venv/bin/python -m bench.run`); do not edit by hand. "
        "Benchmarks are not timed tests: the suite only smoke-tests their code paths "
        "(`tests/bench/`). Every figure below was measured in one run on this machine, "
        "baselines included.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in facts),
        "",
    ]
    for report, took in reports:
        lines += [report.to_markdown(), f"_Benchmark wall time: {took:.0f} s._", ""]
    lines += [
        "## How to run",
        "",
        "```",
        "make bench                                   # every benchmark, rewrites this file",
        ".venv/bin/python -m bench.run --only catalog_sync --output /tmp/bench.md",
        ".venv/bin/python -m bench.catalog_sync       # one benchmark, Markdown to stdout",
        ".venv/bin/python -m bench.ingest --sqlite-only --receipts 5000",
        "```",
        "",
        "The sales-ingest benchmark measures PostgreSQL too when `KASSA_BENCH_POSTGRES_URL` (or "
        "`KASSA_TEST_POSTGRES_URL`) names a database: it works only in its own schemas "
        "(`kassa_bench_ingest*`), created and dropped by the run; without one its PostgreSQL "
        "rows are missing and the section says so.",
        "",
        "Close other heavy programs first: the hub and the client share the machine's cores. "
        "A benchmark module in `bench/` exposes `run() -> bench.Report`; `bench/run.py` finds it "
        "by itself.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this module (repeatable)")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="Markdown file to write")
    args = parser.parse_args(argv)
    names = args.only or modules()
    unknown = sorted(set(names) - set(modules()))
    if unknown:
        parser.error(f"no benchmark module {', '.join(unknown)}; there are {', '.join(modules())}")
    facts = machine()
    reports = []
    for name in names:
        print(f"running bench.{name} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        report: Report = importlib.import_module(f"bench.{name}").run()
        took = time.perf_counter() - began
        reports.append((report, took))
        for metric in report.metrics:
            print(f"  {metric.verdict:>4}  {metric.name}: {metric.measured}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(reports, facts), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0 if all(report.passed for report, _ in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
