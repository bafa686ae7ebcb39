"""One writer at a time on the warehouse file, across threads and processes, with or without a
Prefect server: an exclusive `flock` on `<warehouse>.lock`, taken around every task that writes.

DuckDB lets one process write a file at a time; a second process that opens it fails at once
("Could not set lock on file"). The lock makes the second writer wait its turn instead, for up to
a timeout, and then fail with a message that says who holds it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.1


class WarehouseBusyError(TimeoutError):
    """Another run kept the warehouse's writer lock for longer than the timeout."""


def lock_path_for(warehouse_path: str | Path) -> Path:
    path = Path(warehouse_path)
    return path.with_name(path.name + ".lock")


@contextmanager
def writer_lock(warehouse_path: str | Path, timeout_seconds: float) -> Iterator[Path]:
    """Hold the warehouse's writer lock for the block; wait up to `timeout_seconds` for it.

    The lock file stays (deleting it would let two writers lock two different files); the kernel
    releases the lock when its holder closes it or dies, so a crashed run never leaves it held.
    """
    lock_path = lock_path_for(warehouse_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"the warehouse {warehouse_path} is being written by another run "
                        f"({_holder(lock_path)}); gave up after {timeout_seconds:g} s waiting "
                        f"for {lock_path}. Wait for that run to finish, or raise "
                        "KASSA_WRITER_LOCK_TIMEOUT_SECONDS"
                    ) from None
                time.sleep(POLL_SECONDS)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {now}\n".encode(), 0)
        yield lock_path
    finally:
        os.close(fd)  # releases the lock


def _holder(lock_path: Path) -> str:
    try:
        text = lock_path.read_text().strip()
    except OSError:
        text = ""
    return text or "holder unknown"
