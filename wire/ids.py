"""Identifiers minted on the till and the hub: time-ordered UUIDv7."""

import uuid

import uuid6


def new_uuid7() -> uuid.UUID:
    """A fresh UUIDv7 (time-ordered, monotonic within this process) as a plain `uuid.UUID`."""
    return uuid.UUID(int=uuid6.uuid7().int)
