"""wire.v1.catalog: catalog rows and the delta the hub sends to tills."""

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from wire.v1 import (
    CashierV1,
    CatalogDelta,
    CategoryV1,
    ProductV1,
    StoreV1,
    TaxRateV1,
    WeightTemplateV1,
)

PIN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"


def product(**overrides: Any) -> dict[str, Any]:
    return {
        "id": 42,
        "sku": "МОЛ-001",
        "name": "Молоко «Домик в деревне» 3,2% 1 л",
        "category_id": 3,
        "unit": "piece",
        "price_minor": 8990,
        "tax_rate_id": 2,
        "vat_rate_bp": 1000,
        "barcodes": ["4600605030009", "CODE128-ABC/1"],
        "scale_code": None,
        "active": True,
        **overrides,
    }


def store(**overrides: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "name": "Магазин у дома",
        "address": "г. Москва, ул. Ленина, д. 1",
        "timezone": "Europe/Moscow",
        "currency": "RUB",
        "language": "ru",
        "receipt_header": "Добро пожаловать!",
        "receipt_footer": "",
        **overrides,
    }


def delta(**overrides: Any) -> dict[str, Any]:
    return {
        "cursor": 0,
        "next_cursor": 17,
        "has_more": False,
        "store": store(),
        "tax_rates": [
            {"id": 1, "code": "vat22", "name": "НДС 22%", "rate_bp": 2200},
            {"id": 2, "code": "vat10", "name": "НДС 10%", "rate_bp": 1000},
            {"id": 3, "code": "novat", "name": "без НДС", "rate_bp": None},
        ],
        "categories": [
            {"id": 1, "parent_id": None, "name": "Продукты", "active": True},
            {"id": 3, "parent_id": 1, "name": "Молочные", "active": False},
        ],
        "products": [
            product(),
            product(id=43, sku="SYR-2", unit="kg", barcodes=[], scale_code="123", price_minor=0),
        ],
        "weight_templates": [
            {"id": 1, "name": "Весы в зале", "pattern": "22PPPPPWWWWWC", "active": True}
        ],
        "cashiers": [
            {
                "id": 7,
                "name": "Иванова А.",
                "pin_hash": PIN_HASH,
                "max_discount_bp": 1000,
                "active": True,
            },
            {"id": 8, "name": "Петров", "pin_hash": None, "max_discount_bp": 0, "active": False},
        ],
        **overrides,
    }


def locs(model: type[BaseModel], raw: bytes) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(raw)
    return [(tuple(err["loc"]), err["type"]) for err in caught.value.errors()]


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def test_a_full_delta_parses_and_round_trips() -> None:
    parsed = CatalogDelta.model_validate_json(dumps(delta()))
    assert parsed.products[0].name == "Молоко «Домик в деревне» 3,2% 1 л"
    assert parsed.products[0].barcodes == ("4600605030009", "CODE128-ABC/1")
    assert parsed.tax_rates[2].rate_bp is None
    assert parsed.store is not None
    assert parsed.store.timezone == "Europe/Moscow"
    assert CatalogDelta.model_validate_json(parsed.model_dump_json()) == parsed


def test_an_empty_delta_without_store_parses() -> None:
    empty = delta(
        store=None, tax_rates=[], categories=[], products=[], weight_templates=[], cashiers=[]
    )
    assert CatalogDelta.model_validate_json(dumps(empty)).next_cursor == 17


@pytest.mark.parametrize(
    ("overrides", "loc", "error_type"),
    [
        ({"price_minor": 89.9}, ("price_minor",), "int_type"),
        ({"price_minor": -1}, ("price_minor",), "greater_than_equal"),
        ({"id": True}, ("id",), "int_type"),
        ({"id": 0}, ("id",), "greater_than_equal"),
        ({"active": "true"}, ("active",), "bool_type"),
        ({"active": 1}, ("active",), "bool_type"),
        ({"unit": "pcs"}, ("unit",), "literal_error"),
        ({"sku": "x" * 65}, ("sku",), "string_too_long"),
        ({"sku": ""}, ("sku",), "string_too_short"),
        ({"name": "a\x00"}, ("name",), "text_nul"),
        ({"barcodes": ["4600 605"]}, ("barcodes", 0), "string_pattern_mismatch"),
        ({"barcodes": ["штрихкод"]}, ("barcodes", 0), "string_pattern_mismatch"),
        ({"barcodes": ["1" * 65]}, ("barcodes", 0), "string_pattern_mismatch"),
        ({"scale_code": "12a"}, ("scale_code",), "string_pattern_mismatch"),
        ({"scale_code": "12345678"}, ("scale_code",), "string_pattern_mismatch"),
        ({"vat_rate_bp": 10001}, ("vat_rate_bp",), "less_than_equal"),
        ({"deleted": True}, ("deleted",), "extra_forbidden"),
    ],
)
def test_product_rejections(
    overrides: dict[str, Any], loc: tuple[str | int, ...], error_type: str
) -> None:
    assert locs(ProductV1, dumps(product(**overrides))) == [(loc, error_type)]


def test_product_missing_optional_field_is_refused() -> None:
    payload = product()
    del payload["scale_code"]
    assert locs(ProductV1, dumps(payload)) == [(("scale_code",), "missing")]


@pytest.mark.parametrize(
    ("overrides", "loc", "error_type"),
    [
        ({"timezone": "Moscow"}, ("timezone",), "timezone_unknown"),
        ({"timezone": "America"}, ("timezone",), "timezone_unknown"),
        ({"timezone": "../etc/passwd"}, ("timezone",), "timezone_unknown"),
        ({"timezone": ""}, ("timezone",), "timezone_unknown"),
        ({"currency": "rub"}, ("currency",), "currency_unknown"),
        ({"currency": "RUR"}, ("currency",), "currency_unknown"),
        ({"language": "de"}, ("language",), "literal_error"),
        ({"receipt_footer": "x" * 2001}, ("receipt_footer",), "string_too_long"),
    ],
)
def test_store_rejections(
    overrides: dict[str, Any], loc: tuple[str | int, ...], error_type: str
) -> None:
    assert locs(StoreV1, dumps(store(**overrides))) == [(loc, error_type)]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Almaty", "America/Argentina/Buenos_Aires"])
def test_store_accepts_iana_zones(zone: str) -> None:
    assert StoreV1.model_validate(store(timezone=zone)).timezone == zone


def test_store_keeps_long_text_verbatim() -> None:
    header = "  ООО «Ромашка»\nИНН 7700000000\n'; DROP TABLE stores; --  "
    assert StoreV1.model_validate(store(receipt_header=header)).receipt_header == header


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ({"id": 1, "code": "", "name": "НДС", "rate_bp": 2200}, ("code",)),
        ({"id": 1, "code": "vat", "name": "НДС", "rate_bp": 22.0}, ("rate_bp",)),
        ({"id": 1, "code": "vat", "name": "НДС", "rate_bp": -1}, ("rate_bp",)),
    ],
)
def test_tax_rate_rejections(payload: dict[str, Any], loc: tuple[str, ...]) -> None:
    assert [err[0] for err in locs(TaxRateV1, dumps(payload))] == [loc]


def test_category_parent_must_be_an_id() -> None:
    bad = {"id": 2, "parent_id": 0, "name": "x", "active": True}
    assert locs(CategoryV1, dumps(bad)) == [(("parent_id",), "greater_than_equal")]


def test_weight_template_pattern_is_validated() -> None:
    bad = {"id": 1, "name": "Весы", "pattern": "2PPPPPWWWWWC", "active": True}
    assert locs(WeightTemplateV1, dumps(bad)) == [(("pattern",), "value_error")]
    with pytest.raises(ValidationError, match="must have 13 characters"):
        WeightTemplateV1.model_validate(bad)


@pytest.mark.parametrize(
    "pin_hash", ["1234", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$", "$argon2id$v=19 x"]
)
def test_cashier_pin_hash_must_be_an_argon2_phc_string(pin_hash: str) -> None:
    bad = {"id": 7, "name": "И", "pin_hash": pin_hash, "max_discount_bp": 0, "active": True}
    assert locs(CashierV1, dumps(bad)) == [(("pin_hash",), "string_pattern_mismatch")]


def test_cashier_discount_limit_is_a_rate() -> None:
    bad = {"id": 7, "name": "И", "pin_hash": PIN_HASH, "max_discount_bp": 10001, "active": True}
    assert locs(CashierV1, dumps(bad)) == [(("max_discount_bp",), "less_than_equal")]


def test_delta_cursor_rules() -> None:
    assert locs(CatalogDelta, dumps(delta(cursor=18))) == [(("next_cursor",), "value_error")]
    assert locs(CatalogDelta, dumps(delta(cursor=-1))) == [(("cursor",), "greater_than_equal")]
    raw = dumps(delta()).replace(b'"next_cursor": 17', b'"next_cursor": 9223372036854775808')
    assert locs(CatalogDelta, raw) == [(("next_cursor",), "less_than_equal")]


def test_delta_errors_point_into_nested_rows() -> None:
    payload = delta()
    payload["products"][1]["price_minor"] = 1.5
    payload["cashiers"][0]["pin"] = "1234"
    assert locs(CatalogDelta, dumps(payload)) == [
        (("products", 1, "price_minor"), "int_type"),
        (("cashiers", 0, "pin"), "extra_forbidden"),
    ]
