"""A sale on its way in: its digest, its checks and what the hub decided about it."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass, field

from wire.canonical import canonical_json
from wire.v1 import ErrorV1, SaleV1, sale_digest
from wire.v1.sales import reconcile_sale

CLOCK_SKEW = dt.timedelta(hours=24)
FLAG_CLOCK_SKEW = "clock_skew"
FLAG_UNKNOWN_PRODUCT = "unknown_product"
FLAG_UNKNOWN_CASHIER = "unknown_cashier"
FLAG_RETURN_PENDING = "return_pending"  # its original sale has not reached the hub yet
FLAG_RETURN_EXCEEDS = "return_exceeds_sale"  # found when a late original arrived
FLAG_HASH_MISMATCH = "hash_mismatch"
FLAG_CHAIN_BREAK = "chain_break"
FLAG_SEQ_REUSE = "seq_reuse"
FLAG_FOREIGN_SHIFT = "foreign_shift"  # names a shift another till of the store runs


@dataclass
class Item:
    """One sale of a batch on its way in."""

    sale: SaleV1
    payload_hash: str
    errors: list[ErrorV1] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    status: str | None = None
    sale_id: int | None = None

    def payload(self) -> str:
        """The sale exactly as received, as canonical JSON (kept for the quarantine)."""
        return canonical_json(self.sale.model_dump(mode="json")).decode("utf-8")


def skewed(sale: SaleV1, sent_at: dt.datetime | None, now: dt.datetime) -> bool:
    """The till's clock is off by more than 24 h: judged by the batch's `sent_at` when the till
    gives it (a sale made offline days ago is not a wrong clock), else by the sale's own time.
    A sale dated after the batch was sent is wrong either way."""
    if sent_at is None:
        return abs(sale.created_at - now) > CLOCK_SKEW
    return abs(sent_at - now) > CLOCK_SKEW or sale.created_at - sent_at > CLOCK_SKEW


def in_utc_range(value: dt.datetime) -> bool:
    """Whether a time with an offset is also a UTC time the database can store (0001-01-01
    +03:00 is not)."""
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


def prepare(sale: SaleV1, now: dt.datetime, sent_at: dt.datetime | None = None) -> Item:
    digest = sale_digest(sale)
    item = Item(sale, digest.payload_hash, reconcile_sale(sale))
    if not in_utc_range(sale.created_at):
        item.errors.append(
            ErrorV1(
                field="created_at",
                code="out_of_range",
                message="created_at cannot be represented in UTC: check the till's clock",
                actual=sale.created_at.isoformat(),
            )
        )
    elif skewed(sale, sent_at, now):
        item.flags.add(FLAG_CLOCK_SKEW)
    if not hmac.compare_digest(digest.expected_hash, sale.hash):
        item.flags.add(FLAG_HASH_MISMATCH)
    return item
