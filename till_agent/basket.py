"""Basket maths: pure functions of what the cashier rang up, on `wire.money` only.

Line amount = round_half_up(qty x price / 1000) - line discount; a receipt discount is spread
over the lines by the largest remainder so the lines always sum to the total; VAT per line from
the VAT-inclusive amount; change only from cash. What `draft()` returns is exactly what the hub
checks with `wire.v1.reconcile_sale`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from till_agent.messages import TillError
from wire.money import allocate, line_amount_minor, round_half_up, vat_breakdown, vat_from_inclusive


class BasketError(TillError, ValueError):
    """Something the cashier must correct (a code from `till_agent.messages`)."""


@dataclass(frozen=True)
class Line:
    product_id: int | None
    name: str
    qty_milli: int
    unit_price_minor: int
    vat_rate_bp: int | None
    barcode: str | None = None
    discount_minor: int = 0  # the line's own discount

    @property
    def gross_minor(self) -> int:
        return line_amount_minor(self.qty_milli, self.unit_price_minor)


@dataclass(frozen=True)
class Payment:
    tender: str  # cash | card | other
    amount_minor: int
    approval_code: str | None = None


@dataclass(frozen=True)
class Totals:
    amounts: list[int]  # per line, after both discounts, VAT included
    discounts: list[int]  # per line: own discount + its share of the receipt discount
    vat: list[int]
    total_minor: int
    vat_by_rate: dict[int | None, tuple[int, int]]


@dataclass
class Basket:
    max_discount_bp: int = 0  # the cashier's limit, in basis points of the gross
    lines: list[Line] = field(default_factory=list)
    receipt_discount_minor: int = 0

    def add(self, line: Line) -> None:
        if line.qty_milli <= 0 or line.unit_price_minor <= 0:
            raise BasketError("qty_not_positive")
        for n, existing in enumerate(self.lines):
            same = existing.product_id is not None and existing.product_id == line.product_id
            if (
                same
                and existing.unit_price_minor == line.unit_price_minor
                and not (existing.discount_minor or line.discount_minor)
            ):
                self.lines[n] = replace(existing, qty_milli=existing.qty_milli + line.qty_milli)
                return
        self.lines.append(line)

    def set_qty(self, index: int, qty_milli: int) -> None:
        if qty_milli <= 0:
            raise BasketError("qty_zero")
        line = self._at(index)
        self.lines[index] = replace(line, qty_milli=qty_milli, discount_minor=0)
        self.receipt_discount_minor = 0  # given on the old amounts: the cashier gives it again

    def void(self, index: int) -> Line:
        self._at(index)
        self.receipt_discount_minor = 0  # given on the old amounts: the cashier gives it again
        return self.lines.pop(index)

    def _at(self, index: int) -> Line:
        if not 0 <= index < len(self.lines):
            raise BasketError("no_line", line=index + 1)
        return self.lines[index]

    def _check_limit(self, discount: int, gross: int) -> None:
        allowed = round_half_up(gross * self.max_discount_bp, 10_000)
        if discount > allowed:
            raise BasketError("discount_limit", allowed=allowed)

    def discount_line(self, index: int, discount_minor: int) -> None:
        line = self._at(index)
        if discount_minor < 0:
            raise BasketError("discount_negative")
        self._check_limit(discount_minor, line.gross_minor)
        # ... and all discounts together stay within the limit of the whole receipt.
        others = sum(x.discount_minor for n, x in enumerate(self.lines) if n != index)
        gross = sum(x.gross_minor for x in self.lines)
        self._check_limit(others + discount_minor + self.receipt_discount_minor, gross)
        self.lines[index] = replace(line, discount_minor=discount_minor)

    def discount_receipt(self, discount_minor: int) -> None:
        if discount_minor < 0:
            raise BasketError("discount_negative")
        gross = sum(line.gross_minor for line in self.lines)
        own = sum(line.discount_minor for line in self.lines)
        self._check_limit(discount_minor + own, gross)
        self.receipt_discount_minor = discount_minor

    def totals(self) -> Totals:
        after_own = [line.gross_minor - line.discount_minor for line in self.lines]
        shares = allocate(self.receipt_discount_minor, after_own) if self.lines else []
        amounts = [a - s for a, s in zip(after_own, shares, strict=True)]
        vat = [
            vat_from_inclusive(a, line.vat_rate_bp)
            for a, line in zip(amounts, self.lines, strict=True)
        ]
        return Totals(
            amounts=amounts,
            discounts=[line.discount_minor + s for line, s in zip(self.lines, shares, strict=True)],
            vat=vat,
            total_minor=sum(amounts),
            vat_by_rate=vat_breakdown(
                (line.vat_rate_bp, a) for line, a in zip(self.lines, amounts, strict=True)
            ),
        )

    def draft(
        self,
        payments: list[Payment],
        *,
        cashier_id: int,
        shift_uuid: UUID | None,
        currency: str,
        created_at: dt.datetime,
        kind: str = "sale",
        original_sale_uuid: UUID | None = None,
    ) -> dict[str, Any]:
        """The sale for the journal (which adds sale_uuid, till_seq and the hash chain)."""
        if not self.lines:
            raise BasketError("basket_empty")
        totals = self.totals()
        paid = sum(p.amount_minor for p in payments)
        cash = sum(p.amount_minor for p in payments if p.tender == "cash")
        change = paid - totals.total_minor
        if change < 0:
            raise BasketError("underpaid", missing=-change)
        if change and (kind == "return" or change >= cash):
            raise BasketError("change_not_cash")
        return {
            "created_at": created_at.isoformat(),
            "cashier_id": cashier_id,
            "shift_uuid": str(shift_uuid) if shift_uuid else None,
            "kind": kind,
            "original_sale_uuid": str(original_sale_uuid) if original_sale_uuid else None,
            "currency": currency,
            "lines": [
                {
                    "line_no": n,
                    "product_id": line.product_id,
                    "barcode": line.barcode,
                    "name": line.name,
                    "qty_milli": line.qty_milli,
                    "unit_price_minor": line.unit_price_minor,
                    "discount_minor": discount,
                    "amount_minor": amount,
                    "vat_rate_bp": line.vat_rate_bp,
                    "vat_minor": vat,
                }
                for n, (line, amount, discount, vat) in enumerate(
                    zip(self.lines, totals.amounts, totals.discounts, totals.vat, strict=True),
                    start=1,
                )
            ],
            "payments": [
                {
                    "tender": p.tender,
                    "amount_minor": p.amount_minor,
                    "approval_code": p.approval_code,
                }
                for p in payments
            ],
            "change_minor": change,
            "total_minor": totals.total_minor,
            "fn_number": None,
            "fd_number": None,
            "fpd": None,
        }
