"""A simulated till journal: builds valid, hash-chained `SaleV1` entries with the wire's own
arithmetic, for the demo, the benchmarks and the tests (the real till agent has its own basket).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from wire.canonical import GENESIS_HASH
from wire.ids import new_uuid7
from wire.money import allocate, line_amount_minor, vat_from_inclusive
from wire.v1 import SaleV1, ShiftEventV1, sale_hash


@dataclass(frozen=True)
class Item:
    """What the cashier rings up: a catalog product (or None for an unknown one)."""

    product_id: int | None
    name: str
    qty_milli: int
    unit_price_minor: int
    vat_rate_bp: int | None = 2200
    barcode: str | None = None


@dataclass
class SimTill:
    cashier_id: int
    currency: str = "RUB"
    shift_uuid: UUID | None = None
    seq: int = 0
    shift_seq: int = 0
    prev_hash: str = GENESIS_HASH
    tz: dt.tzinfo = dt.timezone(dt.timedelta(hours=3))
    journal: list[SaleV1] = field(default_factory=list)

    def _now(self, at: dt.datetime | None) -> dt.datetime:
        return (at or dt.datetime.now(dt.UTC)).astimezone(self.tz)

    def _commit(self, data: dict[str, object]) -> SaleV1:
        self.seq += 1
        draft = SaleV1.model_validate(
            {**data, "till_seq": self.seq, "prev_hash": self.prev_hash, "hash": "0" * 64}
        )
        sale = draft.model_copy(update={"hash": sale_hash(draft)})
        self.prev_hash = sale.hash
        self.journal.append(sale)
        return sale

    def sale(
        self,
        items: Sequence[Item],
        *,
        tender: str = "cash",
        receipt_discount_minor: int = 0,
        cash_given_minor: int | None = None,
        at: dt.datetime | None = None,
    ) -> SaleV1:
        """A sale paid by one tender; cash may be given with change (rounded up to 100.00)."""
        gross = [line_amount_minor(i.qty_milli, i.unit_price_minor) for i in items]
        discounts = allocate(receipt_discount_minor, gross)
        lines = []
        for n, (item, g, d) in enumerate(zip(items, gross, discounts, strict=True), start=1):
            amount = g - d
            lines.append(
                {
                    "line_no": n,
                    "product_id": item.product_id,
                    "barcode": item.barcode,
                    "name": item.name,
                    "qty_milli": item.qty_milli,
                    "unit_price_minor": item.unit_price_minor,
                    "discount_minor": d,
                    "amount_minor": amount,
                    "vat_rate_bp": item.vat_rate_bp,
                    "vat_minor": vat_from_inclusive(amount, item.vat_rate_bp),
                }
            )
        total = sum(line["amount_minor"] for line in lines)  # type: ignore[misc]
        paid = total
        if tender == "cash":
            rounded_up = -(-total // 10000) * 10000
            paid = max(cash_given_minor if cash_given_minor is not None else rounded_up, total)
        return self._commit(
            {
                "sale_uuid": str(new_uuid7()),
                "created_at": self._now(at).isoformat(),
                "cashier_id": self.cashier_id,
                "shift_uuid": str(self.shift_uuid) if self.shift_uuid else None,
                "kind": "sale",
                "original_sale_uuid": None,
                "currency": self.currency,
                "lines": lines,
                "payments": [
                    {
                        "tender": tender,
                        "amount_minor": paid,
                        "approval_code": "A1B2C3" if tender == "card" else None,
                    }
                ],
                "change_minor": paid - total,
                "total_minor": total,
                "fn_number": None,
                "fd_number": None,
                "fpd": None,
            }
        )

    def refund(
        self,
        original: SaleV1,
        returned: Sequence[tuple[int, int]],
        *,
        at: dt.datetime | None = None,
    ) -> SaleV1:
        """Return (line_no, qty_milli) pairs of `original`, refunded by its first tender."""
        lines = []
        for n, (line_no, qty) in enumerate(returned, start=1):
            src = original.lines[line_no - 1]
            gross = line_amount_minor(qty, src.unit_price_minor)
            # The line's discount is returned pro rata to the quantity.
            discount = (src.discount_minor * qty) // src.qty_milli
            amount = gross - min(discount, gross)
            lines.append(
                {
                    "line_no": n,
                    "product_id": src.product_id,
                    "barcode": src.barcode,
                    "name": src.name,
                    "qty_milli": qty,
                    "unit_price_minor": src.unit_price_minor,
                    "discount_minor": gross - amount,
                    "amount_minor": amount,
                    "vat_rate_bp": src.vat_rate_bp,
                    "vat_minor": vat_from_inclusive(amount, src.vat_rate_bp),
                }
            )
        total = sum(line["amount_minor"] for line in lines)  # type: ignore[misc]
        tender = original.payments[0].tender
        return self._commit(
            {
                "sale_uuid": str(new_uuid7()),
                "created_at": self._now(at).isoformat(),
                "cashier_id": self.cashier_id,
                "shift_uuid": str(self.shift_uuid) if self.shift_uuid else None,
                "kind": "return",
                "original_sale_uuid": str(original.sale_uuid),
                "currency": self.currency,
                "lines": lines,
                "payments": [
                    {
                        "tender": tender,
                        "amount_minor": total,
                        "approval_code": "R1" if tender == "card" else None,
                    }
                ],
                "change_minor": 0,
                "total_minor": total,
                "fn_number": None,
                "fd_number": None,
                "fpd": None,
            }
        )

    def shift_event(
        self,
        kind: str,
        amount_minor: int,
        *,
        at: dt.datetime | None = None,
        reason: str | None = None,
    ) -> ShiftEventV1:
        """open (starts a new shift), cash_in, cash_out or close of the current shift."""
        if kind == "open":
            self.shift_uuid = new_uuid7()
        assert self.shift_uuid is not None, "open a shift first"
        self.shift_seq += 1
        return ShiftEventV1.model_validate(
            {
                "event_uuid": str(new_uuid7()),
                "shift_uuid": str(self.shift_uuid),
                "till_seq": self.shift_seq,
                "kind": kind,
                "at": self._now(at).isoformat(),
                "cashier_id": self.cashier_id,
                "amount_minor": amount_minor,
                "reason": reason,
            }
        )
