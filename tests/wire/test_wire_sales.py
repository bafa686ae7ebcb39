"""wire.v1.sales: the sale schema and what it refuses."""

import json
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError
from wire_sale_builder import (
    RETURN_UUID,
    SALE_UUID,
    discounted_line,
    line,
    make_sale,
    payment,
    sale_payload,
)

from wire.v1 import ErrorV1, SaleResult, SalesBatch, SalesBatchResult, SaleV1, reconcile_sale


def raw_json(payload: Any, path: tuple[str | int, ...], raw_value: str) -> bytes:
    """JSON bytes of `payload` with the value at `path` replaced by raw JSON text."""
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "__RAW__"
    return json.dumps(payload, ensure_ascii=False).replace('"__RAW__"', raw_value).encode()


def errors_of(raw: bytes) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        SaleV1.model_validate_json(raw)
    return [(tuple(err["loc"]), err["type"]) for err in caught.value.errors()]


# --- schema: accepted ------------------------------------------------------------------------


def test_a_consistent_sale_parses_from_json_bytes() -> None:
    sale = SaleV1.model_validate_json(json.dumps(sale_payload()).encode())
    assert sale.total_minor == 28018
    assert sale.change_minor == 1982
    assert sale.lines[0].name == "Сыр «Российский»"
    assert sale.created_at.utcoffset() is not None


@pytest.mark.parametrize(
    "name",
    [
        "Хлеб «Бородинский» 🍞",
        "'; DROP TABLE sales; --",
        'Водка "Столичная" 0,5 л',
        "100% сок_апельсин",
        "O'Brien \\ back\\slash",
        "x",
    ],
)
def test_text_is_kept_verbatim(name: str) -> None:
    raw = json.dumps(sale_payload(lines=[line(name=name)]), ensure_ascii=False).encode()
    assert SaleV1.model_validate_json(raw).lines[0].name == name


def test_a_return_names_its_original_sale() -> None:
    sale = SaleV1.model_validate(sale_payload(kind="return", original_sale_uuid=RETURN_UUID))
    assert str(sale.original_sale_uuid) == RETURN_UUID


def test_no_vat_and_no_fiscal_data_are_allowed() -> None:
    cheap = line(vat_rate_bp=None, vat_minor=0)
    sale = SaleV1.model_validate(
        sale_payload(lines=[cheap], fn_number=None, fd_number=None, fpd=None)
    )
    assert sale.lines[0].vat_rate_bp is None


# --- schema: refused -------------------------------------------------------------------------

BAD_INTEGERS = ["0.1", "1.0", "1e999", "NaN", "Infinity", "-Infinity", "true", '"5"', "null"]


@pytest.mark.parametrize("raw_value", BAD_INTEGERS)
@pytest.mark.parametrize(
    "path",
    [
        ("lines", 0, "qty_milli"),
        ("lines", 0, "unit_price_minor"),
        ("payments", 1, "amount_minor"),
        ("total_minor",),
        ("cashier_id",),
        ("till_seq",),
    ],
)
def test_integers_are_strict(path: tuple[str | int, ...], raw_value: str) -> None:
    errors = errors_of(raw_json(sale_payload(), path, raw_value))
    assert [loc for loc, _ in errors] == [path]


@pytest.mark.parametrize(
    ("path", "raw_value", "error_type"),
    [
        (("cashier_id",), str(2**63), "less_than_equal"),
        (("till_seq",), "0", "greater_than_equal"),
        (("total_minor",), "-1", "greater_than_equal"),
        (("total_minor",), "1000000000000", "less_than_equal"),
        (("lines", 0, "qty_milli"), "-100000000", "greater_than_equal"),
        (("lines", 0, "qty_milli"), "100000000", "less_than_equal"),
        (("lines", 0, "unit_price_minor"), "-1000000000000", "greater_than_equal"),
        (("lines", 0, "vat_rate_bp"), "10001", "less_than_equal"),
        (("lines", 0, "line_no"), "501", "less_than_equal"),
        (("fd_number",), "0", "greater_than_equal"),
    ],
)
def test_integer_bounds(path: tuple[str | int, ...], raw_value: str, error_type: str) -> None:
    assert errors_of(raw_json(sale_payload(), path, raw_value)) == [(path, error_type)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("qty_milli", 0), ("qty_milli", -1000), ("unit_price_minor", 0), ("unit_price_minor", -5)],
)
def test_non_positive_quantity_or_price_parses_but_never_reconciles(field: str, value: int) -> None:
    """B3: such a line is the sale's own problem (`rejected`, field named), not the batch's."""
    payload = sale_payload()
    payload["lines"][0][field] = value
    errors = reconcile_sale(SaleV1.model_validate(payload))
    assert next((e.field, e.code, e.expected, e.actual) for e in errors) == (
        f"lines.0.{field}",
        "not_positive",
        "> 0",
        str(value),
    )
    assert not any(e.field.startswith("lines.0.") and e.code != "not_positive" for e in errors)


@pytest.mark.parametrize(
    ("path", "raw_value", "error_type"),
    [
        (("created_at",), '"2025-01-31T12:00:00"', "timezone_aware"),
        (("created_at",), "1738314000", "datetime_iso_required"),
        (("created_at",), '"1738314000"', "datetime_iso_required"),
        (("lines", 0, "name"), '"a\\u0000b"', "text_nul"),
        (("lines", 0, "name"), '""', "string_too_short"),
        (("lines", 0, "name"), '"' + "я" * 201 + '"', "string_too_long"),
        (("lines", 0, "barcode"), '"4006 381"', "string_pattern_mismatch"),
        (("payments", 0, "approval_code"), '"4111111111111111"', "string_pattern_mismatch"),
        (("payments", 0, "approval_code"), '"12-34"', "string_pattern_mismatch"),
        (("payments", 0, "tender"), '"crypto"', "literal_error"),
        (("currency",), '"RUR"', "currency_unknown"),
        (("prev_hash",), '"' + "A" * 64 + '"', "string_pattern_mismatch"),
        (("hash",), '"' + "0" * 63 + '"', "string_pattern_mismatch"),
        (("fn_number",), '"123456789012345"', "string_pattern_mismatch"),
        (("fpd",), '"12345678901"', "string_pattern_mismatch"),
        (("sale_uuid",), '"not-a-uuid"', "uuid_parsing"),
        (("kind",), '"refund"', "literal_error"),
        (("lines",), "[]", "too_short"),
        (("payments",), "[]", "too_short"),
    ],
)
def test_field_rejections(path: tuple[str | int, ...], raw_value: str, error_type: str) -> None:
    assert errors_of(raw_json(sale_payload(), path, raw_value)) == [(path, error_type)]


def test_unknown_fields_are_refused() -> None:
    payload = sale_payload()
    payload["payments"][0]["card_number"] = "4111111111111111"
    assert errors_of(json.dumps(payload).encode()) == [
        (("payments", 0, "card_number"), "extra_forbidden")
    ]


def test_missing_nullable_fields_are_refused() -> None:
    payload = sale_payload()
    del payload["original_sale_uuid"]
    assert errors_of(json.dumps(payload).encode()) == [(("original_sale_uuid",), "missing")]


def test_lone_surrogate_is_refused() -> None:
    raw = raw_json(sale_payload(), ("lines", 0, "name"), '"a\\ud800"')
    # pydantic's JSON parser refuses the whole document; were it to accept the string, the
    # ShortText validator would refuse it at the field.
    assert errors_of(raw)[0] in {((), "json_invalid"), (("lines", 0, "name"), "text_surrogate")}
    with pytest.raises(ValidationError) as caught:
        SaleV1.model_validate(sale_payload(lines=[line(name="a\ud800")]))
    assert caught.value.errors()[0]["loc"] == ("lines", 0, "name")


def test_501_lines_are_refused() -> None:
    lines = [
        line(n, qty_milli=1000, unit_price_minor=1, amount_minor=1, vat_minor=0)
        for n in range(1, 502)
    ]
    assert errors_of(json.dumps(sale_payload(lines=lines)).encode()) == [(("lines",), "too_long")]


def test_500_lines_are_fine() -> None:
    lines = [
        line(n, qty_milli=1000, unit_price_minor=1, amount_minor=1, vat_minor=0)
        for n in range(1, 501)
    ]
    assert len(SaleV1.model_validate(sale_payload(lines=lines)).lines) == 500


def test_21_payments_are_refused() -> None:
    payments = [payment("card", 1000, "OK1")] * 21
    assert errors_of(json.dumps(sale_payload(payments=payments, change_minor=0)).encode()) == [
        (("payments",), "too_long")
    ]


def test_line_numbers_must_run_in_order() -> None:
    lines = [line(1), discounted_line(3)]
    assert errors_of(json.dumps(sale_payload(lines=lines)).encode()) == [
        (("lines",), "value_error")
    ]
    swapped = [discounted_line(2), line(1)]
    assert errors_of(json.dumps(sale_payload(lines=swapped)).encode()) == [
        (("lines",), "value_error")
    ]


def test_return_without_original_is_refused() -> None:
    raw = json.dumps(sale_payload(kind="return")).encode()
    assert errors_of(raw) == [(("original_sale_uuid",), "value_error")]


def test_sale_with_original_is_refused() -> None:
    raw = json.dumps(sale_payload(original_sale_uuid=RETURN_UUID)).encode()
    assert errors_of(raw) == [(("original_sale_uuid",), "value_error")]


def test_python_input_is_strict_too() -> None:
    for bad in (True, 1.0, "5", 28018.0):
        with pytest.raises(ValidationError) as caught:
            SaleV1.model_validate(sale_payload(total_minor=bad, change_minor=1982))
        assert [err["loc"] for err in caught.value.errors()] == [("total_minor",)]


def test_sales_are_frozen() -> None:
    sale = make_sale()
    with pytest.raises(ValidationError):
        sale.total_minor = 1  # type: ignore[misc]


def test_batch_sizes() -> None:
    sale = sale_payload()
    assert len(SalesBatch.model_validate({"sales": [sale] * 200}).sales) == 200
    for count in (0, 201):
        with pytest.raises(ValidationError) as caught:
            SalesBatch.model_validate({"sales": [sale] * count})
        assert caught.value.errors()[0]["loc"] == ("sales",)


def test_batch_result_round_trips() -> None:
    result = SalesBatchResult(
        results=(
            SaleResult(sale_uuid=UUID(SALE_UUID), status="created"),
            SaleResult(
                sale_uuid=UUID(RETURN_UUID),
                status="rejected",
                errors=(ErrorV1(field="total_minor", code="total_mismatch", message="m"),),
                flags=("negative_stock",),
            ),
        )
    )
    assert SalesBatchResult.model_validate_json(result.model_dump_json()) == result
    with pytest.raises(ValidationError):
        SaleResult.model_validate({"sale_uuid": SALE_UUID, "status": "ok"})


def test_sale_digest_agrees_with_the_journal_hash_and_tells_payloads_apart() -> None:
    from wire.canonical import canonical_json
    from wire.v1 import sale_digest, sale_hash

    sale = make_sale()
    digest = sale_digest(sale)
    assert digest.expected_hash == sale_hash(sale)
    assert digest.body == canonical_json(sale.model_dump(mode="json", exclude={"hash"}))
    other_hash = sale.model_copy(update={"hash": "f" * 64})
    other_total = SaleV1.model_validate({**sale.model_dump(mode="json"), "cashier_id": 8})
    digests = {sale_digest(x).payload_hash for x in (sale, other_hash, other_total)}
    assert len(digests) == 3
    assert sale_digest(SaleV1.model_validate_json(sale.model_dump_json())) == digest
