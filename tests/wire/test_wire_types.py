"""wire.types: the strict field types and the WireModel base, on a small model of their own."""

import pytest
from pydantic import ValidationError

from wire.types import (
    AmountMinor,
    Barcode,
    Currency,
    Hash64,
    Id,
    LongText,
    QtyMilli,
    RateBp,
    Seq,
    ShortText,
    WireModel,
)


class Sample(WireModel):
    amount: AmountMinor = 0
    qty: QtyMilli = 1000
    rate: RateBp | None = None
    id: Id = 1
    seq: Seq = 0
    short: ShortText = "x"
    long: LongText = ""
    currency: Currency = "RUB"
    digest: Hash64 = "0" * 64
    barcode: Barcode = "4006381333931"


def rejected(raw: bytes) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate_json(raw)
    return [(tuple(err["loc"]), err["type"]) for err in caught.value.errors()]


def test_defaults_are_valid() -> None:
    assert Sample().currency == "RUB"


@pytest.mark.parametrize(
    ("raw", "loc", "error_type"),
    [
        (b'{"amount": 0.1}', ("amount",), "int_type"),
        (b'{"amount": 1.0}', ("amount",), "int_type"),
        (b'{"amount": 1e999}', ("amount",), "int_type"),
        (b'{"amount": NaN}', ("amount",), "int_type"),
        (b'{"amount": Infinity}', ("amount",), "int_type"),
        (b'{"amount": false}', ("amount",), "int_type"),
        (b'{"amount": "5"}', ("amount",), "int_type"),
        (b'{"amount": -1}', ("amount",), "greater_than_equal"),
        (b'{"amount": 1000000000000}', ("amount",), "less_than_equal"),
        (b'{"qty": 0}', ("qty",), "greater_than_equal"),
        (b'{"rate": 10001}', ("rate",), "less_than_equal"),
        (b'{"rate": 22.0}', ("rate",), "int_type"),
        (b'{"id": 9223372036854775808}', ("id",), "less_than_equal"),
        (b'{"seq": 9223372036854775808}', ("seq",), "less_than_equal"),
        (b'{"seq": -1}', ("seq",), "greater_than_equal"),
        (b'{"short": ""}', ("short",), "string_too_short"),
        (b'{"short": 5}', ("short",), "string_type"),
        (b'{"short": "\\u0000"}', ("short",), "text_nul"),
        (b'{"long": "ok\\u0000"}', ("long",), "text_nul"),
        (b'{"currency": "usd"}', ("currency",), "currency_unknown"),
        (b'{"digest": "' + b"F" * 64 + b'"}', ("digest",), "string_pattern_mismatch"),
        (b'{"digest": "' + b"0" * 64 + b'\\n"}', ("digest",), "string_pattern_mismatch"),
        (b'{"barcode": ""}', ("barcode",), "string_pattern_mismatch"),
        (b'{"barcode": "a b"}', ("barcode",), "string_pattern_mismatch"),
        (b'{"barcode": "abc\\t"}', ("barcode",), "string_pattern_mismatch"),
        (b'{"extra": 1}', ("extra",), "extra_forbidden"),
    ],
)
def test_rejections(raw: bytes, loc: tuple[str | int, ...], error_type: str) -> None:
    assert rejected(raw) == [(loc, error_type)]


def test_largest_values_are_accepted() -> None:
    raw = b'{"amount": 999999999999, "qty": 99999999, "rate": 10000, "id": 9223372036854775807}'
    sample = Sample.model_validate_json(raw)
    assert (sample.amount, sample.qty, sample.rate, sample.id) == (
        999_999_999_999,
        99_999_999,
        10_000,
        2**63 - 1,
    )


@pytest.mark.parametrize("value", [True, 1.0, "5", None])
def test_python_input_is_strict(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"amount": value})
    assert caught.value.errors()[0]["loc"] == ("amount",)


def test_surrogates_are_refused_from_python_too() -> None:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate({"short": "a\udfff"})
    assert caught.value.errors()[0]["loc"] == ("short",)


@pytest.mark.parametrize(
    "text", ["  пробелы сохраняются  ", "🙂", "50% _скидка_", '"quoted"', "'; DROP TABLE x; --"]
)
def test_text_is_verbatim(text: str) -> None:
    assert Sample.model_validate({"short": text, "long": text}).short == text


def test_short_text_length_counts_characters_not_bytes() -> None:
    assert Sample.model_validate({"short": "я" * 200}).short == "я" * 200
    with pytest.raises(ValidationError):
        Sample.model_validate({"short": "я" * 201})


def test_models_are_frozen() -> None:
    sample = Sample()
    with pytest.raises(ValidationError):
        sample.amount = 5  # type: ignore[misc]
