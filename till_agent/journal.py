"""The till's local journal: every sale and shift event, hash-chained, with its outbox.

One SQLite file (stdlib sqlite3; the till needs no ORM). WAL and `synchronous=FULL` on every
connection, explicit `BEGIN IMMEDIATE` for every write. A sale is committed together with its
outbox row in ONE transaction BEFORE anything is printed; "printed" is recorded afterwards in
a second one, so on restart the till knows which committed sales never reached paper.
Any error while committing (disk full shows up as "disk I/O error") means the sale was NOT
recorded: the caller refuses it and prints nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from wire.canonical import GENESIS_HASH
from wire.ids import new_uuid7
from wire.v1 import SaleResult, SaleV1, ShiftEventResult, ShiftEventV1, sale_hash

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sale (
    till_seq INTEGER PRIMARY KEY,
    sale_uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    original_sale_uuid TEXT,
    created_at TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    printed_at TEXT,
    shift_uuid TEXT
);
CREATE INDEX IF NOT EXISTS sale_original ON sale (original_sale_uuid)
    WHERE original_sale_uuid IS NOT NULL;
CREATE TABLE IF NOT EXISTS shift_event (
    till_seq INTEGER PRIMARY KEY,
    event_uuid TEXT NOT NULL UNIQUE,
    shift_uuid TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
-- One row per journal entry to send. state: pending -> sent (created/duplicate) or dead
-- (conflict/rejected: kept for the cashier and the manager, never retried, never deleted).
CREATE TABLE IF NOT EXISTS outbox (
    stream TEXT NOT NULL CHECK (stream IN ('sale', 'shift')),
    till_seq INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    errors TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (stream, till_seq)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (stream, state, till_seq);
-- Which line of the original sale each refunded line gives back (the wire's return lines do
-- not say; two lines of one product may differ in discount).
CREATE TABLE IF NOT EXISTS refund_line (
    sale_uuid TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    original_sale_uuid TEXT NOT NULL,
    original_line_no INTEGER NOT NULL,
    qty_milli INTEGER NOT NULL,
    PRIMARY KEY (sale_uuid, line_no)
);
CREATE INDEX IF NOT EXISTS refund_line_original ON refund_line (original_sale_uuid);
-- Sales put aside to serve the next customer: not sales yet, but kept across restarts.
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cashier_id INTEGER NOT NULL,
    parked_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
"""
# Added after the first journals were written: brought in by `_upgrade`.
SALE_SHIFT_INDEX = "CREATE INDEX IF NOT EXISTS sale_shift ON sale (shift_uuid)"


class JournalError(RuntimeError):
    """The journal could not record something: for a sale, the sale did NOT happen."""


@dataclass(frozen=True)
class QueueStatus:
    pending_sales: int
    pending_events: int
    oldest_unsent_at: str | None
    dead_letters: int
    last_contact_at: str | None
    unprinted: int


@dataclass(frozen=True)
class DeadLetter:
    stream: str
    till_seq: int
    result: str
    errors: list[dict[str, Any]]
    payload: dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Journal:
    """A till's journal file. Safe to share between the cashier UI and the sync thread."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)  # idempotent; runs in its own implicit transaction
        self._upgrade()

    def _upgrade(self) -> None:
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(sale)")}
        if "shift_uuid" not in columns:  # a journal from before shift reports
            with self._write() as db:
                db.execute("ALTER TABLE sale ADD COLUMN shift_uuid TEXT")
                for seq, payload in db.execute("SELECT till_seq, payload FROM sale").fetchall():
                    shift = json.loads(payload).get("shift_uuid")
                    db.execute("UPDATE sale SET shift_uuid = ? WHERE till_seq = ?", (shift, seq))
        self._db.execute(SALE_SHIFT_INDEX)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    # --- meta ------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put(self, key: str, value: str | None) -> None:
        with self._write() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # --- sales -----------------------------------------------------------------------------

    def commit_sale(
        self, draft: dict[str, Any], *, refund_of: Sequence[int] | None = None
    ) -> SaleV1:
        """Journal a sale: mint its sale_uuid (unless given), take the next till_seq, chain it to
        the previous hash, and commit it with its outbox row. For a return, `refund_of` names
        the original line of each of its lines. Raises JournalError (the sale did not happen)
        on any failure, including invalid arithmetic."""
        try:
            with self._write() as db:
                row = db.execute(
                    "SELECT till_seq, hash FROM sale ORDER BY till_seq DESC LIMIT 1"
                ).fetchone()
                seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS_HASH)
                data = {
                    "sale_uuid": str(new_uuid7()),
                    **draft,
                    "till_seq": seq,
                    "prev_hash": prev,
                    "hash": "0" * 64,
                }
                unsigned = SaleV1.model_validate(data)
                sale = unsigned.model_copy(update={"hash": sale_hash(unsigned)})
                db.execute(
                    "INSERT INTO sale (till_seq, sale_uuid, kind, original_sale_uuid, "
                    "created_at, total_minor, hash, payload, shift_uuid) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        str(sale.sale_uuid),
                        sale.kind,
                        str(sale.original_sale_uuid) if sale.original_sale_uuid else None,
                        sale.created_at.isoformat(),
                        sale.total_minor,
                        sale.hash,
                        sale.model_dump_json(),
                        str(sale.shift_uuid) if sale.shift_uuid else None,
                    ),
                )
                db.execute(
                    "INSERT INTO outbox (stream, till_seq, updated_at) VALUES ('sale', ?, ?)",
                    (seq, _now()),
                )
                if refund_of is not None:
                    db.executemany(
                        "INSERT INTO refund_line VALUES (?, ?, ?, ?, ?)",
                        [
                            (
                                str(sale.sale_uuid),
                                line.line_no,
                                str(sale.original_sale_uuid),
                                original,
                                line.qty_milli,
                            )
                            for line, original in zip(sale.lines, refund_of, strict=True)
                        ],
                    )
        except (sqlite3.Error, ValueError) as exc:
            raise JournalError(f"the sale was not recorded: {exc}") from exc
        return sale

    def mark_printed(self, till_seq: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sale SET printed_at = ? WHERE till_seq = ?", (_now(), till_seq))

    def unprinted(self) -> list[SaleV1]:
        """Committed sales that never reached paper (the till died between commit and print)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM sale WHERE printed_at IS NULL ORDER BY till_seq"
            ).fetchall()
        return [SaleV1.model_validate_json(r[0]) for r in rows]

    def sales(self) -> list[SaleV1]:
        with self._lock:
            rows = self._db.execute("SELECT payload FROM sale ORDER BY till_seq").fetchall()
        return [SaleV1.model_validate_json(r[0]) for r in rows]

    def sale(self, sale_uuid: UUID) -> SaleV1 | None:
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM sale WHERE sale_uuid = ?", (str(sale_uuid),)
            ).fetchone()
        return None if row is None else SaleV1.model_validate_json(row[0])

    def sale_by_seq(self, till_seq: int) -> SaleV1 | None:
        """A receipt by its number (the till_seq printed on it)."""
        return self._one("SELECT payload FROM sale WHERE till_seq = ?", (till_seq,), SaleV1)

    def recent_sales(self, limit: int = 50, *, kind: str = "sale") -> list[SaleV1]:
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM sale WHERE kind = ? ORDER BY till_seq DESC LIMIT ?",
                (kind, limit),
            ).fetchall()
        return [SaleV1.model_validate_json(r[0]) for r in rows]

    def returns_of(self, sale_uuid: UUID) -> list[SaleV1]:
        """The refunds this till journaled against a sale."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM sale WHERE original_sale_uuid = ? ORDER BY till_seq",
                (str(sale_uuid),),
            ).fetchall()
        return [SaleV1.model_validate_json(r[0]) for r in rows]

    def refunded_lines(self, sale_uuid: UUID) -> dict[int, int]:
        """original line_no -> quantity this till has refunded of it."""
        with self._lock:
            rows = self._db.execute(
                "SELECT original_line_no, sum(qty_milli) FROM refund_line "
                "WHERE original_sale_uuid = ? GROUP BY original_line_no",
                (str(sale_uuid),),
            ).fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    def sales_of_shift(self, shift_uuid: UUID) -> list[SaleV1]:
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM sale WHERE shift_uuid = ? ORDER BY till_seq",
                (str(shift_uuid),),
            ).fetchall()
        return [SaleV1.model_validate_json(r[0]) for r in rows]

    def _one(self, sql: str, params: tuple[Any, ...], model: Any) -> Any:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return None if row is None else model.model_validate_json(row[0])

    # --- parked sales ----------------------------------------------------------------------

    def park(self, cashier_id: int, payload: dict[str, Any]) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO parked (cashier_id, parked_at, payload) VALUES (?, ?, ?)",
                (cashier_id, _now(), json.dumps(payload, ensure_ascii=False)),
            )
            return int(cursor.lastrowid or 0)

    def parked(self) -> list[tuple[int, int, str, dict[str, Any]]]:
        """(id, cashier_id, parked_at, payload) of every parked sale, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, cashier_id, parked_at, payload FROM parked ORDER BY id"
            ).fetchall()
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def unpark(self, parked_id: int) -> dict[str, Any] | None:
        """Take a parked sale back (it leaves the parked list in the same transaction)."""
        with self._write() as db:
            row = db.execute("SELECT payload FROM parked WHERE id = ?", (parked_id,)).fetchone()
            db.execute("DELETE FROM parked WHERE id = ?", (parked_id,))
        return None if row is None else dict(json.loads(row[0]))

    # --- shift events ----------------------------------------------------------------------

    def commit_shift_event(self, draft: dict[str, Any]) -> ShiftEventV1:
        try:
            with self._write() as db:
                row = db.execute("SELECT max(till_seq) FROM shift_event").fetchone()
                seq = (row[0] or 0) + 1
                event = ShiftEventV1.model_validate(
                    {"event_uuid": str(new_uuid7()), **draft, "till_seq": seq}
                )
                db.execute(
                    "INSERT INTO shift_event (till_seq, event_uuid, shift_uuid, kind, payload) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        seq,
                        str(event.event_uuid),
                        str(event.shift_uuid),
                        event.kind,
                        event.model_dump_json(),
                    ),
                )
                db.execute(
                    "INSERT INTO outbox (stream, till_seq, updated_at) VALUES ('shift', ?, ?)",
                    (seq, _now()),
                )
        except (sqlite3.Error, ValueError) as exc:
            raise JournalError(f"the shift event was not recorded: {exc}") from exc
        return event

    def shift_events(self, shift_uuid: UUID) -> list[ShiftEventV1]:
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM shift_event WHERE shift_uuid = ? ORDER BY till_seq",
                (str(shift_uuid),),
            ).fetchall()
        return [ShiftEventV1.model_validate_json(r[0]) for r in rows]

    def last_shift(self) -> tuple[UUID, bool] | None:
        """The latest shift this till opened and whether it is closed."""
        with self._lock:
            row = self._db.execute(
                "SELECT shift_uuid, EXISTS (SELECT 1 FROM shift_event c WHERE c.kind = 'close' "
                "AND c.shift_uuid = o.shift_uuid) FROM shift_event o WHERE o.kind = 'open' "
                "ORDER BY o.till_seq DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (UUID(row[0]), bool(row[1]))

    # --- outbox ----------------------------------------------------------------------------

    def pending(self, stream: str, limit: int) -> list[Any]:
        """The oldest unsent entries of a stream, in till_seq order."""
        table = "sale" if stream == "sale" else "shift_event"
        model: Any = SaleV1 if stream == "sale" else ShiftEventV1
        with self._lock:
            rows = self._db.execute(
                f"SELECT j.payload FROM outbox o JOIN {table} j ON j.till_seq = o.till_seq "  # noqa: S608 - fixed table names
                "WHERE o.stream = ? AND o.state = 'pending' ORDER BY o.till_seq LIMIT ?",
                (stream, limit),
            ).fetchall()
        return [model.model_validate_json(r[0]) for r in rows]

    def record_results(
        self,
        stream: str,
        sent: Sequence[Any],
        results: Sequence[SaleResult] | Sequence[ShiftEventResult],
    ) -> None:
        """Mark each sent entry by the hub's answer for it: created/duplicate -> sent;
        conflict/rejected -> dead letter with the hub's errors."""
        now = _now()
        with self._write() as db:
            for entry, result in zip(sent, results, strict=True):
                state = "sent" if result.status in ("created", "duplicate") else "dead"
                errors = json.dumps([e.model_dump() for e in result.errors], ensure_ascii=False)
                db.execute(
                    "UPDATE outbox SET state = ?, result = ?, errors = ?, attempts = attempts + 1, "
                    "updated_at = ? WHERE stream = ? AND till_seq = ? AND state = 'pending'",
                    (state, result.status, errors, now, stream, entry.till_seq),
                )

    def results(self, stream: str = "sale") -> dict[str, int]:
        """How the hub answered this till's entries: created, duplicate, conflict, rejected."""
        with self._lock:
            rows = self._db.execute(
                "SELECT result, count(*) FROM outbox WHERE stream = ? AND result IS NOT NULL "
                "GROUP BY result",
                (stream,),
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            rows = self._db.execute(
                "SELECT o.stream, o.till_seq, o.result, o.errors, "
                "coalesce(s.payload, e.payload) FROM outbox o "
                "LEFT JOIN sale s ON o.stream = 'sale' AND s.till_seq = o.till_seq "
                "LEFT JOIN shift_event e ON o.stream = 'shift' AND e.till_seq = o.till_seq "
                "WHERE o.state = 'dead' ORDER BY o.stream, o.till_seq"
            ).fetchall()
        return [
            DeadLetter(r[0], r[1], r[2], json.loads(r[3] or "[]"), json.loads(r[4])) for r in rows
        ]

    def head(self) -> tuple[int, int]:
        """The highest sale and shift-event seq committed: what the hub must hold to be whole."""
        with self._lock:
            sale = self._db.execute("SELECT coalesce(max(till_seq), 0) FROM sale").fetchone()[0]
            shift = self._db.execute(
                "SELECT coalesce(max(till_seq), 0) FROM shift_event"
            ).fetchone()[0]
        return int(sale), int(shift)

    def status(self) -> QueueStatus:
        with self._lock:
            counts = dict(
                self._db.execute(
                    "SELECT stream || ':' || state, count(*) FROM outbox GROUP BY stream, state"
                ).fetchall()
            )
            oldest = self._db.execute(
                "SELECT min(s.created_at) FROM outbox o JOIN sale s ON s.till_seq = o.till_seq "
                "WHERE o.stream = 'sale' AND o.state = 'pending'"
            ).fetchone()[0]
            unprinted = self._db.execute(
                "SELECT count(*) FROM sale WHERE printed_at IS NULL"
            ).fetchone()[0]
        return QueueStatus(
            pending_sales=counts.get("sale:pending", 0),
            pending_events=counts.get("shift:pending", 0),
            oldest_unsent_at=oldest,
            dead_letters=counts.get("sale:dead", 0) + counts.get("shift:dead", 0),
            last_contact_at=self.get("last_contact_at"),
            unprinted=unprinted,
        )


__all__ = ["DeadLetter", "Journal", "JournalError", "QueueStatus"]
