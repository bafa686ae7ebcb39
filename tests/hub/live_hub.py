"""The real hub for the fault tests: `kassa hub serve` (uvicorn) in a child process on a free
port of 127.0.0.1, against the test's own database, that a test can SIGKILL and start again;
and the reconciliation of a till's journal with what the hub holds ("nothing lost, nothing
doubled, nothing altered": RELIABILITY.md).

Port probing, readiness and graceful stop are the catalog benchmark's (bench/catalog_hub.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import IO, Any

from sqlalchemy import func, select

from bench.catalog_hub import ROOT, _free_port, _stop, _wait_ready
from hub.sales.models import Sale, SaleLine, SalePayment
from hub.stock.models import StockLevel
from wire.v1 import SaleV1

# `kassa hub serve` exactly as a shop runs it (the console script is `kassa.cli:main`).
SERVE = "from kassa.cli import main; main()"


class LiveHub:
    """`start()` -> base URL; `kill()` is SIGKILL (no shutdown, no rollback by the hub);
    `start()` again after it. Use as a context manager so no child outlives the test.

    With `standby=True` the next process is spawned as soon as one is up, so a restart does
    not wait ~2-4 s for the hub's imports: it answers only /healthz (which touches no
    database) until it is promoted by `start()`, so its first database connection is still
    made after the kill, as in a cold restart.
    """

    def __init__(self, database_url: str, *, standby: bool = False, **env: str) -> None:
        self.env = {
            **os.environ,
            "KASSA_ENV": "test",
            "KASSA_DATABASE_URL": database_url,
            "KASSA_COOKIE_SECURE": "true",
            **env,
        }
        self.standby = standby
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.logs: list[IO[bytes]] = []
        self.starts = 0
        self._next: tuple[subprocess.Popen[bytes], int, Any] | None = None
        self._files = contextlib.ExitStack()

    def _spawn(self) -> tuple[subprocess.Popen[bytes], int, Any]:
        port = _free_port()
        log: Any = self._files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        self.logs.append(log)
        command = [sys.executable, "-c", SERVE, "hub", "serve", "--port", str(port)]
        process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        return process, port, log

    def start(self) -> str:
        assert self.process is None, "already running"
        for _attempt in range(5):  # another process may grab the port between probe and bind
            process, port, log = self._next or self._spawn()
            self._next = None
            try:
                ready = _wait_ready(f"http://127.0.0.1:{port}", process, log)
            except BaseException:
                _stop(process)
                raise
            if ready:
                self.process = process
                self.base_url = f"http://127.0.0.1:{port}"
                self.starts += 1
                if self.standby:
                    self._next = self._spawn()
                return self.base_url
            _stop(process)
        raise RuntimeError("could not start the hub on a free port")

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish a request, roll back or close sockets."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Graceful stop of the serving process and of the standby, if any."""
        if self._next is not None:
            _stop(self._next[0])
            self._next = None
        if self.process is not None:
            _stop(self.process)
            self.process = None

    def output(self) -> str:
        """Everything every started process wrote (uvicorn's log, tracebacks)."""
        chunks = []
        for log in self.logs:
            log.seek(0)
            chunks.append(log.read().decode(errors="replace"))
        return "\n".join(chunks)

    def __enter__(self) -> LiveHub:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            self.stop()
        finally:
            self._files.close()


# --- reconciliation ----------------------------------------------------------------------


def stock_levels(db: Any, store_id: int, product_ids: Iterable[int]) -> dict[int, int]:
    with db.read() as s:
        return {
            p: s.get(StockLevel, (store_id, p)).on_hand_milli  # type: ignore[union-attr]
            for p in product_ids
        }


def assert_hub_holds_exactly(
    db: Any,
    store_id: int,
    device_id: int,
    expected: Iterable[SaleV1],
    initial_stock: dict[int, int],
) -> None:
    """The hub holds exactly `expected` for this till: one row per sale_uuid, same totals, every
    line and payment of each (nothing half-written), and stock moved by exactly these sales."""
    want = {sale.sale_uuid: sale for sale in expected}
    with db.read() as s:
        where = (Sale.store_id == store_id, Sale.device_id == device_id)
        per_uuid = dict(
            s.execute(
                select(Sale.sale_uuid, func.count()).where(*where).group_by(Sale.sale_uuid)
            ).all()
        )
        doubled = {u: n for u, n in per_uuid.items() if n != 1}
        assert not doubled, f"sales stored more than once: {doubled}"
        missing = set(want) - set(per_uuid)
        extra = set(per_uuid) - set(want)
        assert not missing, f"{len(missing)} sales of the journal are not on the hub: {missing}"
        assert not extra, f"{len(extra)} sales on the hub are not in the journal: {extra}"
        rows = s.execute(select(Sale.id, Sale.sale_uuid, Sale.total_minor).where(*where)).all()
        uuid_of = {r.id: r.sale_uuid for r in rows}
        totals = {r.sale_uuid: r.total_minor for r in rows}
        assert totals == {u: sale.total_minor for u, sale in want.items()}
        assert sum(totals.values()) == sum(sale.total_minor for sale in want.values())
        lines: dict[uuid.UUID, list[tuple[int, int | None, int, int]]] = defaultdict(list)
        for line in s.execute(
            select(
                SaleLine.sale_id,
                SaleLine.line_no,
                SaleLine.product_id,
                SaleLine.qty_milli,
                SaleLine.amount_minor,
            )
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(*where)
        ):
            lines[uuid_of[line.sale_id]].append(
                (line.line_no, line.product_id, line.qty_milli, line.amount_minor)
            )
        assert {u: sorted(v) for u, v in lines.items()} == {
            u: [(x.line_no, x.product_id, x.qty_milli, x.amount_minor) for x in sale.lines]
            for u, sale in want.items()
        }, "a sale's lines on the hub differ from the journal (half-written?)"
        payments = Counter(
            uuid_of[sale_id]
            for sale_id in s.scalars(
                select(SalePayment.sale_id).join(Sale, Sale.id == SalePayment.sale_id).where(*where)
            )
        )
        assert payments == Counter({u: len(sale.payments) for u, sale in want.items()})
    moved: Counter[int] = Counter()
    for sale in want.values():
        sign = -1 if sale.kind == "sale" else 1
        for line in sale.lines:
            if line.product_id in initial_stock:
                moved[line.product_id] += sign * line.qty_milli
    assert stock_levels(db, store_id, initial_stock) == {
        p: initial_stock[p] + moved[p] for p in initial_stock
    }, "stock levels are not the initial stock less what the journal sold"
