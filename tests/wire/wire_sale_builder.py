"""Builders for sale test data: a consistent two-line sale as JSON data, and variations.

Imported by the sale test modules (pytest's default import mode puts this directory on sys.path).
"""

from typing import Any

from wire.canonical import GENESIS_HASH
from wire.v1 import SaleV1, sale_hash

SALE_UUID = "0192f0c1-7a3b-7c2d-8e4f-0123456789ab"
RETURN_UUID = "0192f0c1-7a3b-7c2d-8e4f-0123456789ac"
ZERO_HASH = "0" * 64


def line(line_no: int = 1, **overrides: Any) -> dict[str, Any]:
    """A 1.5 kg line at 123.45 a kg: 18517.5 -> 18518 kopecks, 22 % VAT 3339.31 -> 3339."""
    return {
        "line_no": line_no,
        "product_id": 42,
        "barcode": "4006381333931",
        "name": "Сыр «Российский»",
        "qty_milli": 1500,
        "unit_price_minor": 12345,
        "discount_minor": 0,
        "amount_minor": 18518,
        "vat_rate_bp": 2200,
        "vat_minor": 3339,
        **overrides,
    }


def discounted_line(line_no: int = 2, **overrides: Any) -> dict[str, Any]:
    """2 pieces at 50.00 less 5.00 discount = 95.00; 10 % VAT 8.636 -> 8.64."""
    values: dict[str, Any] = {
        "product_id": 43,
        "name": "Молоко 3,2%",
        "qty_milli": 2000,
        "unit_price_minor": 5000,
        "discount_minor": 500,
        "amount_minor": 9500,
        "vat_rate_bp": 1000,
        "vat_minor": 864,
    }
    return line(line_no, **{**values, **overrides})


def payment(tender: str = "cash", amount_minor: int = 10000, code: str | None = None) -> Any:
    return {"tender": tender, "amount_minor": amount_minor, "approval_code": code}


def sale_payload(
    *,
    lines: list[dict[str, Any]] | None = None,
    payments: list[dict[str, Any]] | None = None,
    total_minor: Any = None,
    change_minor: Any = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A consistent sale as JSON data: total = sum of line amounts, change = paid - total."""
    lines = [line(), discounted_line()] if lines is None else lines
    payments = (
        [payment("card", 20000, "A1B2C3"), payment("cash", 10000)] if payments is None else payments
    )
    total = sum(item["amount_minor"] for item in lines) if total_minor is None else total_minor
    paid = sum(item["amount_minor"] for item in payments)
    change = paid - total if change_minor is None else change_minor
    return {
        "sale_uuid": SALE_UUID,
        "till_seq": 1,
        "prev_hash": GENESIS_HASH,
        "hash": ZERO_HASH,
        "created_at": "2025-01-31T12:00:00+03:00",
        "cashier_id": 7,
        "shift_uuid": "0192f0c1-0000-7000-8000-000000000001",
        "kind": "sale",
        "original_sale_uuid": None,
        "currency": "RUB",
        "lines": lines,
        "payments": payments,
        "change_minor": change,
        "total_minor": total,
        "fn_number": "9999078900012345",
        "fd_number": 1234,
        "fpd": "1234567890",
        **overrides,
    }


def make_sale(**kwargs: Any) -> SaleV1:
    """A validated sale with a correct hash."""
    sale = SaleV1.model_validate(sale_payload(**kwargs))
    return sale.model_copy(update={"hash": sale_hash(sale)})
