"""Attempt counting in the database (so it holds across workers): 429 with Retry-After.

An attempt is recorded BEFORE the credential is checked, in the same write transaction that
counts the window, and cleared when it succeeds: parallel guesses cannot all slip under the
limit while argon2 runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, func, select, text

from hub.db import Database, utcnow
from hub.errors import ApiError
from hub.staff.models import LoginFailure


class Throttled(ApiError):
    def __init__(self, retry_after: int, field: str) -> None:
        super().__init__(
            429,
            "throttled",
            f"too many failed attempts; wait {retry_after} s and try again",
            loc=["body", field],
            headers={"Retry-After": str(retry_after)},
        )


def key(kind: str, *parts: str) -> str:
    """A fixed-length key: what is counted never overflows the column, whatever was typed."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}:{digest}"


def attempt(db: Database, limits: dict[str, int], *, window_seconds: int, field: str) -> list[int]:
    """Count this attempt against every key, or raise Throttled if any key is at its limit.

    Returns the ids of the recorded rows: pass them to `succeeded` to forgive the attempt.
    """
    now = utcnow()
    since = now - dt.timedelta(seconds=window_seconds)
    with db.write() as s:
        if db.dialect == "postgresql":
            # SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL needs a lock per
            # key so that parallel attempts are counted one after another.
            for k in sorted(limits):
                s.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": _lock_id(k)})
        counts = s.execute(
            select(LoginFailure.key, func.count())
            .where(LoginFailure.key.in_(list(limits)), LoginFailure.at > since)
            .group_by(LoginFailure.key)
        ).all()
        if any(n >= limits[k] for k, n in counts):
            raise Throttled(window_seconds, field)
        rows = [LoginFailure(key=k, at=now) for k in limits]
        s.add_all(rows)
        s.execute(delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(days=1)))
        s.flush()
        return [row.id for row in rows]


def _lock_id(value: str) -> int:
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:8], "big", signed=True)


def succeeded(db: Database, ids: list[int]) -> None:
    if ids:
        with db.write() as s:
            s.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))
