"""Failure counting in the database (so it holds across workers): 429 with Retry-After."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select

from hub.db import Database, utcnow
from hub.errors import ApiError
from hub.staff.models import LoginFailure


class Throttled(ApiError):
    def __init__(self, retry_after: int, field: str) -> None:
        super().__init__(
            429,
            "throttled",
            f"too many failed attempts; wait {retry_after} s and try again",
            field=field,
            loc=["body", field],
            headers={"Retry-After": str(retry_after)},
        )


def check(db: Database, limits: dict[str, int], *, window_seconds: int, field: str) -> None:
    """Raise Throttled when any key has reached its limit of failures inside the window."""
    since = utcnow() - dt.timedelta(seconds=window_seconds)
    with db.read() as s:
        counts = s.execute(
            select(LoginFailure.key, func.count())
            .where(LoginFailure.key.in_(list(limits)), LoginFailure.at > since)
            .group_by(LoginFailure.key)
        ).all()
    if any(n >= limits[key] for key, n in counts):
        raise Throttled(window_seconds, field)


def record_failure(db: Database, keys: list[str]) -> None:
    now = utcnow()
    with db.write() as s:
        s.add_all(LoginFailure(key=k, at=now) for k in keys)
        s.execute(delete(LoginFailure).where(LoginFailure.at < now - dt.timedelta(days=1)))
