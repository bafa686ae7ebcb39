"""The warehouse writer lock: one writer at a time across threads and processes, a clear error
after the timeout, and no lock left behind by a run that died."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from flows.lock import WarehouseBusyError, lock_path_for, writer_lock

HOLD = """
import sys, time
from flows.lock import writer_lock
with writer_lock(sys.argv[1], timeout_seconds=30):
    print("locked", flush=True)
    time.sleep(60)
"""

WRITE = """
import os, sys, time
import duckdb
from flows.lock import writer_lock
with writer_lock(sys.argv[1], timeout_seconds=30):
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS writers (pid INTEGER)")
    con.execute("INSERT INTO writers VALUES (?)", [os.getpid()])
    time.sleep(0.5)  # keep the file open while the other process wants it
    con.close()
"""


def test_threads_take_turns(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    spans: list[tuple[float, float]] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with writer_lock(warehouse, timeout_seconds=10):
                start = time.monotonic()
                time.sleep(0.3)
                spans.append((start, time.monotonic()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(spans) == 2
    first, second = sorted(spans)
    assert second[0] >= first[1]  # the second began only after the first let go
    assert lock_path_for(warehouse) == tmp_path / "w.duckdb.lock"


def test_a_busy_warehouse_is_named_with_its_holder_and_a_dead_holder_frees_it(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as err, writer_lock(warehouse, timeout_seconds=0.3):
            pass  # pragma: no cover - never reached
        assert 0.3 <= time.monotonic() - started < 5
        message = str(err.value)
        assert f"pid {holder.pid}" in message
        assert "being written by another run" in message
        assert "KASSA_WRITER_LOCK_TIMEOUT_SECONDS" in message
    finally:
        holder.kill()  # dies holding the lock: the kernel releases it
        holder.wait()
    with writer_lock(warehouse, timeout_seconds=2):
        pass


def test_two_processes_writing_the_warehouse_at_once_both_succeed(tmp_path: Path) -> None:
    """Without the lock the second DuckDB writer would fail at once ("Could not set lock")."""
    warehouse = tmp_path / "w.duckdb"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITE, str(warehouse)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for proc in writers:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    con = duckdb.connect(str(warehouse), read_only=True)
    pids = sorted(row[0] for row in con.execute("SELECT pid FROM writers").fetchall())
    con.close()
    assert pids == sorted(proc.pid for proc in writers)
