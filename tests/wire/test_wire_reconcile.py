"""wire.v1.sales: reconcile_sale and the hash chain."""

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from wire_sale_builder import (
    RETURN_UUID,
    ZERO_HASH,
    discounted_line,
    line,
    make_sale,
    payment,
    sale_payload,
)

from wire.canonical import GENESIS_HASH
from wire.v1 import ErrorV1, SaleV1, reconcile_sale, sale_hash, verify_hash

# --- reconcile_sale --------------------------------------------------------------------------


def test_a_consistent_sale_reconciles() -> None:
    assert reconcile_sale(make_sale()) == []
    refund = make_sale(
        kind="return",
        original_sale_uuid=RETURN_UUID,
        payments=[payment("card", 20000, "A1B2C3"), payment("cash", 8018)],
    )
    assert reconcile_sale(refund) == []


def test_a_refund_gives_no_change() -> None:
    """A refund pays out exactly what is refunded; change on a return would skew expected cash."""
    refund = make_sale(kind="return", original_sale_uuid=RETURN_UUID)  # paid 30000 for 28018
    assert [(e.field, e.code, e.expected, e.actual) for e in reconcile_sale(refund)] == [
        ("change_minor", "change_on_return", "0", "1982")
    ]


def test_cash_only_and_exact_card_payments_reconcile() -> None:
    assert reconcile_sale(make_sale(payments=[payment("cash", 28018)])) == []
    assert reconcile_sale(make_sale(payments=[payment("card", 28018, "XYZ")])) == []
    assert (
        reconcile_sale(make_sale(payments=[payment("other", 18018), payment("cash", 10001)])) == []
    )


def only_error(sale: SaleV1) -> ErrorV1:
    errors = reconcile_sale(sale)
    assert len(errors) == 1, errors
    return errors[0]


def test_wrong_line_amount() -> None:
    error = only_error(make_sale(lines=[line(), discounted_line(amount_minor=9501)]))
    assert (error.field, error.code, error.expected, error.actual) == (
        "lines.1.amount_minor",
        "amount_mismatch",
        "9500",
        "9501",
    )


def test_line_amount_rounded_the_wrong_way() -> None:
    # 18517.5 rounded half-even or truncated would be 18517
    error = only_error(make_sale(lines=[line(amount_minor=18517), discounted_line()]))
    assert (error.field, error.expected, error.actual) == ("lines.0.amount_minor", "18518", "18517")


def test_wrong_line_vat() -> None:
    error = only_error(make_sale(lines=[line(vat_minor=3340), discounted_line()]))
    assert (error.field, error.code, error.expected, error.actual) == (
        "lines.0.vat_minor",
        "vat_mismatch",
        "3339",
        "3340",
    )


def test_vat_on_a_no_vat_line() -> None:
    error = only_error(make_sale(lines=[line(vat_rate_bp=None, vat_minor=1), discounted_line()]))
    assert (error.field, error.expected, error.actual) == ("lines.0.vat_minor", "0", "1")


def test_discount_larger_than_the_line() -> None:
    big = discounted_line(discount_minor=10001, amount_minor=0, vat_minor=0)
    error = only_error(make_sale(lines=[line(), big], payments=[payment("cash", 20000)]))
    assert (error.field, error.code, error.expected, error.actual) == (
        "lines.1.discount_minor",
        "discount_exceeds_gross",
        "<= 10000",
        "10001",
    )


def test_wrong_total() -> None:
    error = only_error(make_sale(total_minor=28000))
    assert (error.field, error.code, error.expected, error.actual) == (
        "total_minor",
        "total_mismatch",
        "28018",
        "28000",
    )


def test_payments_that_do_not_cover_the_total() -> None:
    error = only_error(make_sale(change_minor=1900))
    assert (error.field, error.code, error.expected, error.actual) == (
        "payments",
        "payments_mismatch",
        "29918",
        "30000",
    )


def test_change_without_cash() -> None:
    error = only_error(make_sale(payments=[payment("card", 30000, "A1")]))
    assert (error.field, error.code, error.expected, error.actual) == (
        "change_minor",
        "change_without_cash",
        "0",
        "1982",
    )


@pytest.mark.parametrize("card", [29518, 28518])
def test_change_not_less_than_the_cash_paid(card: int) -> None:
    # card 29518 + cash 500 -> change 1500 > 500; card 28518 + cash 500 -> change 500 == 500
    error = only_error(make_sale(payments=[payment("card", card, "A1"), payment("cash", 500)]))
    assert (error.field, error.code, error.expected) == (
        "change_minor",
        "change_exceeds_cash",
        "< 500",
    )
    assert error.actual == str(card + 500 - 28018)


def test_errors_accumulate_in_a_stable_order() -> None:
    # paid 30000 - change 29995 = total 5 (consistent), but lines sum to 18519 and the change
    # is more than the 10000 cash paid
    sale = make_sale(
        lines=[line(vat_minor=1), discounted_line(amount_minor=1, vat_minor=0)], total_minor=5
    )
    assert [(error.field, error.code) for error in reconcile_sale(sale)] == [
        ("lines.0.vat_minor", "vat_mismatch"),
        ("lines.1.amount_minor", "amount_mismatch"),
        ("total_minor", "total_mismatch"),
        ("change_minor", "change_exceeds_cash"),
    ]


# --- hash chain ------------------------------------------------------------------------------

# The sale below as canonical JSON without "hash", prefixed by 64 zeros, hashed with sha256sum.
KNOWN_SALE_CANONICAL = (
    '{"cashier_id":7,"change_minor":4010,"created_at":"2025-01-31T12:00:00+03:00",'
    '"currency":"RUB","fd_number":null,"fn_number":null,"fpd":null,"kind":"sale",'
    '"lines":[{"amount_minor":5990,"barcode":"4006381333931","discount_minor":0,"line_no":1,'
    '"name":"Хлеб","product_id":42,"qty_milli":1000,"unit_price_minor":5990,"vat_minor":545,'
    '"vat_rate_bp":1000}],"original_sale_uuid":null,'
    '"payments":[{"amount_minor":10000,"approval_code":null,"tender":"cash"}],'
    '"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000",'
    '"sale_uuid":"0192f0c1-7a3b-7c2d-8e4f-0123456789ab","shift_uuid":null,"till_seq":1,'
    '"total_minor":5990}'
)
KNOWN_SALE_HASH = "7dd31e04d058fc99149f1fa7a674297b8b0f473b37175c64270546a09c63b37a"


def known_sale() -> SaleV1:
    bread = line(
        name="Хлеб",
        qty_milli=1000,
        unit_price_minor=5990,
        amount_minor=5990,
        vat_rate_bp=1000,
        vat_minor=545,
    )
    return SaleV1.model_validate(
        sale_payload(
            lines=[bread],
            payments=[payment("cash", 10000)],
            shift_uuid=None,
            fn_number=None,
            fd_number=None,
            fpd=None,
            hash=KNOWN_SALE_HASH,
        )
    )


def test_sale_hash_known_answer() -> None:
    sale = known_sale()
    assert json.loads(KNOWN_SALE_CANONICAL) == sale.model_dump(mode="json", exclude={"hash"})
    assert sale_hash(sale) == KNOWN_SALE_HASH
    assert verify_hash(sale)
    assert reconcile_sale(sale) == []


def test_hash_survives_the_trip_over_the_wire() -> None:
    sale = make_sale()
    received = SaleV1.model_validate_json(sale.model_dump_json())
    assert received == sale
    assert verify_hash(received)


def test_tampering_breaks_the_hash() -> None:
    sale = make_sale()
    assert verify_hash(sale)
    assert not verify_hash(sale.model_copy(update={"total_minor": sale.total_minor + 1}))
    assert not verify_hash(sale.model_copy(update={"prev_hash": "1" * 64}))
    assert not verify_hash(sale.model_copy(update={"hash": ZERO_HASH}))


def test_sales_chain_through_prev_hash() -> None:
    first = make_sale()
    second = make_sale(till_seq=2, prev_hash=first.hash, sale_uuid=RETURN_UUID)
    assert verify_hash(second)
    assert second.hash != first.hash
    assert sale_hash(second.model_copy(update={"prev_hash": GENESIS_HASH})) != second.hash


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=ZoneInfo("Europe/Moscow")),
        datetime(2025, 1, 31, 9, 0, tzinfo=UTC),
        datetime(2025, 7, 1, 9, 30, tzinfo=ZoneInfo("Asia/Almaty")),
    ],
)
def test_hash_of_a_till_built_sale_verifies_on_the_hub(created_at: datetime) -> None:
    till_side = make_sale(created_at=created_at)
    hub_side = SaleV1.model_validate_json(till_side.model_dump_json())
    assert hub_side.created_at == created_at
    assert verify_hash(hub_side)
