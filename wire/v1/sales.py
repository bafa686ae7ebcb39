"""Sales as the till journals and uploads them, the arithmetic both sides check, the hash."""

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from wire.canonical import journal_hash
from wire.money import line_amount_minor, vat_from_inclusive
from wire.types import (
    INT64_MAX,
    AmountMinor,
    AwareTime,
    Barcode,
    Currency,
    Hash64,
    Id,
    PositiveAmountMinor,
    RateBp,
    ShortText,
    SignedAmountMinor,
    SignedQtyMilli,
    TillSeq,
    WireModel,
    at_most_items,
)
from wire.v1.results import ErrorV1, ResultStatus

MAX_LINES = 500
MAX_PAYMENTS = 20
MAX_SALES_PER_BATCH = 200

LineNo = Annotated[int, Field(strict=True, ge=1, le=MAX_LINES)]
ApprovalCode = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9]{1,12}$")]
FnNumber = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{16}$")]
Fpd = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{1,10}$")]
FdNumber = Annotated[int, Field(strict=True, ge=1, le=INT64_MAX)]
Tender = Literal["cash", "card", "other"]


class SaleLineV1(WireModel):
    """One receipt line; `amount_minor` is after the line's share of any discount, VAT included."""

    line_no: LineNo
    product_id: Id | None
    barcode: Barcode | None
    name: ShortText
    # Signed in the schema so that a zero or negative value is a per-sale `rejected` naming
    # the field (RELIABILITY.md B3), not a 422 for the whole batch; reconcile_sale refuses it.
    qty_milli: SignedQtyMilli
    unit_price_minor: SignedAmountMinor
    discount_minor: AmountMinor
    amount_minor: AmountMinor
    vat_rate_bp: RateBp | None
    vat_minor: AmountMinor


class PaymentV1(WireModel):
    """One tender; card payments carry the terminal's approval code, never a card number."""

    tender: Tender
    amount_minor: PositiveAmountMinor
    approval_code: ApprovalCode | None


class SaleV1(WireModel):
    """A sale or a return, one entry of the till's hash-chained journal."""

    sale_uuid: UUID
    till_seq: TillSeq
    prev_hash: Hash64
    hash: Hash64
    created_at: AwareTime
    cashier_id: Id
    shift_uuid: UUID | None
    kind: Literal["sale", "return"]
    original_sale_uuid: UUID | None
    currency: Currency
    lines: Annotated[
        tuple[SaleLineV1, ...],
        Field(min_length=1, max_length=MAX_LINES),
        at_most_items(MAX_LINES),
    ]
    payments: Annotated[
        tuple[PaymentV1, ...],
        Field(min_length=1, max_length=MAX_PAYMENTS),
        at_most_items(MAX_PAYMENTS),
    ]
    change_minor: AmountMinor
    total_minor: AmountMinor
    fn_number: FnNumber | None
    fd_number: FdNumber | None
    fpd: Fpd | None

    @field_validator("original_sale_uuid")
    @classmethod
    def _original_matches_kind(cls, original: UUID | None, info: ValidationInfo) -> UUID | None:
        kind = info.data.get("kind")
        if kind == "return" and original is None:
            raise ValueError("a return must name the original sale (original_sale_uuid)")
        if kind == "sale" and original is not None:
            raise ValueError("a sale must not name an original sale; only returns do")
        return original

    @field_validator("lines")
    @classmethod
    def _lines_numbered_in_order(cls, lines: tuple[SaleLineV1, ...]) -> tuple[SaleLineV1, ...]:
        for index, line in enumerate(lines):
            if line.line_no != index + 1:
                raise ValueError(
                    f"line_no must run 1..{len(lines)} in order; "
                    f"lines.{index} has line_no {line.line_no}, expected {index + 1}"
                )
        return lines


class SalesBatch(WireModel):
    # Optional: the store the till believes it belongs to. The hub takes the store from the
    # device token and refuses a batch naming another store (403, audited).
    store_id: Id | None = None
    # The till's clock when it sent the batch: the hub compares it with its own to flag a skewed
    # till clock, so that sales made offline days ago are not mistaken for a wrong clock.
    sent_at: AwareTime | None = None
    sales: Annotated[
        tuple[SaleV1, ...],
        Field(min_length=1, max_length=MAX_SALES_PER_BATCH),
        at_most_items(MAX_SALES_PER_BATCH),
    ]


class SaleResult(WireModel):
    sale_uuid: UUID
    status: ResultStatus
    errors: tuple[ErrorV1, ...] = ()
    flags: tuple[str, ...] = ()


class SalesBatchResult(WireModel):
    results: tuple[SaleResult, ...]


def _mismatch(field: str, code: str, message: str, expected: int, actual: int) -> ErrorV1:
    return ErrorV1(
        field=field, code=code, message=message, expected=str(expected), actual=str(actual)
    )


def _line_errors(index: int, line: SaleLineV1) -> list[ErrorV1]:
    errors: list[ErrorV1] = []
    path = f"lines.{index}"
    for field, value in (
        ("qty_milli", line.qty_milli),
        ("unit_price_minor", line.unit_price_minor),
    ):
        if value <= 0:
            errors.append(
                ErrorV1(
                    field=f"{path}.{field}",
                    code="not_positive",
                    message=f"{field} must be positive; a refund is a sale of kind 'return'",
                    expected="> 0",
                    actual=str(value),
                )
            )
    if errors:
        return errors  # the amount checks below would only repeat the same mistake
    gross = line_amount_minor(line.qty_milli, line.unit_price_minor)
    if line.discount_minor > gross:
        errors.append(
            ErrorV1(
                field=f"{path}.discount_minor",
                code="discount_exceeds_gross",
                message="line discount is larger than quantity times unit price",
                expected=f"<= {gross}",
                actual=str(line.discount_minor),
            )
        )
    elif line.amount_minor != gross - line.discount_minor:
        errors.append(
            _mismatch(
                f"{path}.amount_minor",
                "amount_mismatch",
                "line amount is not round_half_up(qty_milli * unit_price_minor / 1000) - discount",
                gross - line.discount_minor,
                line.amount_minor,
            )
        )
    vat = vat_from_inclusive(line.amount_minor, line.vat_rate_bp)
    if line.vat_minor != vat:
        errors.append(
            _mismatch(
                f"{path}.vat_minor",
                "vat_mismatch",
                "line VAT is not the VAT contained in the line amount at its rate",
                vat,
                line.vat_minor,
            )
        )
    return errors


def reconcile_sale(sale: SaleV1) -> list[ErrorV1]:
    """Check a sale's arithmetic; empty when it adds up. Each error is checked on the sent values,
    so one wrong number yields one error rather than a cascade."""
    errors: list[ErrorV1] = []
    for index, line in enumerate(sale.lines):
        errors.extend(_line_errors(index, line))

    lines_total = sum(line.amount_minor for line in sale.lines)
    if sale.total_minor != lines_total:
        errors.append(
            _mismatch(
                "total_minor",
                "total_mismatch",
                "total is not the sum of line amounts",
                lines_total,
                sale.total_minor,
            )
        )

    paid = sum(payment.amount_minor for payment in sale.payments)
    if paid - sale.change_minor != sale.total_minor:
        errors.append(
            _mismatch(
                "payments",
                "payments_mismatch",
                "payments minus change do not equal the total",
                sale.total_minor + sale.change_minor,
                paid,
            )
        )

    cash = sum(p.amount_minor for p in sale.payments if p.tender == "cash")
    if sale.kind == "return" and sale.change_minor:
        errors.append(
            _mismatch(
                "change_minor",
                "change_on_return",
                "a refund pays out exactly the refunded amount: no change",
                0,
                sale.change_minor,
            )
        )
    elif sale.change_minor and not cash:
        errors.append(
            _mismatch(
                "change_minor",
                "change_without_cash",
                "change can only be given from a cash payment",
                0,
                sale.change_minor,
            )
        )
    elif sale.change_minor and sale.change_minor >= cash:
        errors.append(
            ErrorV1(
                field="change_minor",
                code="change_exceeds_cash",
                message="change must be less than the cash paid",
                expected=f"< {cash}",
                actual=str(sale.change_minor),
            )
        )
    return errors


def sale_hash(sale: SaleV1) -> str:
    """journal_hash(sale.prev_hash, the sale as JSON-mode data without its own `hash`)."""
    return journal_hash(sale.prev_hash, sale.model_dump(mode="json", exclude={"hash"}))


@dataclass(frozen=True, slots=True)
class SaleDigest:
    """What a receiver needs to know about a sale's bytes, from ONE canonical serialisation."""

    expected_hash: str  # what `hash` should be: sale_hash(sale)
    payload_hash: str  # identifies the whole payload, `hash` included (dedupe: same or not)
    body: bytes  # canonical JSON of the sale without `hash`


def sale_digest(sale: SaleV1) -> SaleDigest:
    """sale_hash and a payload hash together, serialising the sale once.

    A validated SaleV1 dumps to plain JSON data (no floats), so the canonical text is json.dumps
    with sorted keys, exactly as canonical_json writes it. The payload hash covers the body and
    the sent `hash`: two payloads with equal payload hashes are the same sale, byte for byte.
    """
    data = sale.model_dump(mode="json", exclude={"hash"})
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    expected = hashlib.sha256(sale.prev_hash.encode("ascii") + body).hexdigest()
    payload = hashlib.sha256(b"kassa.sale.v1\n" + sale.hash.encode("ascii") + b"\n" + body)
    return SaleDigest(expected, payload.hexdigest(), body)


def verify_hash(sale: SaleV1) -> bool:
    """True when `sale.hash` is the hash of its content chained to `sale.prev_hash`."""
    return hmac.compare_digest(sale_hash(sale), sale.hash)
