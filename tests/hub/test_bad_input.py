"""RELIABILITY.md "Bad input" B1, B2, B4, B9, B10, B12 on this issue's JSON endpoints (B8 and
B13 are in test_stores.py and tests/hub/catalog/):
a 4xx naming the problem, nothing written, never a 5xx."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.catalog.models import Product
from hub.devices.models import PairingCode
from hub.staff.models import User
from hub.stores.models import Store
from kassa.till_sim import Item, SimTill

# (method, path template, who, a valid body, the numeric field to attack)
ENDPOINTS = [
    (
        "POST",
        "/api/v1/stores",
        "owner",
        {"name": "Новый", "timezone": "UTC", "receipt_header": "Добро пожаловать"},
        None,
    ),
    ("PATCH", "/api/v1/stores/{a}", "owner", {"name": "Другое имя"}, None),
    (
        "POST",
        "/api/v1/users",
        "owner",
        {"name": "Кассир", "role": "cashier", "store_id": "{a}", "pin": "1234"},
        "max_discount_bp",
    ),
    ("PATCH", "/api/v1/users/{c}", "owner", {"name": "Кассир А"}, "max_discount_bp"),
    ("PUT", "/api/v1/users/{c}/pin", "manager_a", {"pin": "9876"}, None),
    ("POST", "/api/v1/stores/{a}/pairing-codes", "manager_a", {"device_name": "Касса"}, None),
    ("POST", "/api/v1/devices/pair", "anonymous", {"code": "AAAA-BBBB-CCCC"}, None),
    ("POST", "/api/v1/auth/api-tokens", "manager_a", {"name": "1С"}, "days"),
    (
        "POST",
        "/api/v1/catalog/tax-rates",
        "owner",
        {"code": "vat10", "name": "НДС 10%", "rate_bp": 1000},
        "rate_bp",
    ),
    ("POST", "/api/v1/catalog/categories", "owner", {"name": "Сыры"}, "parent_id"),
    (
        "POST",
        "/api/v1/catalog/weight-templates",
        "owner",
        {"name": "Весы", "pattern": "21PPPPPWWWWWC"},
        None,
    ),
    (
        "POST",
        "/api/v1/catalog/products",
        "owner",
        {"sku": "X1", "name": "Хлеб", "unit": "piece", "price_minor": 5000, "tax_rate_id": "{t}"},
        "price_minor",
    ),
    (
        "POST",
        "/api/v1/suppliers",
        "owner",
        {"name": "ООО «Хлебозавод»", "contact": "+7 900 000-00-00", "lead_time_days": 2},
        "lead_time_days",
    ),
    (
        "POST",
        "/api/v1/stores/{a}/transfers",
        "manager_a",
        {"note": "в магазин Б", "to_store_id": 2, "lines": [{"product_id": 1, "qty_milli": 1000}]},
        "to_store_id",
    ),
    (
        "POST",
        "/api/v1/till/sales/batch",
        "device_a",
        {
            "store_id": "{a}",
            "sales": [
                SimTill(cashier_id=1).sale([Item(None, "Товар", 1000, 100)]).model_dump(mode="json")
            ],
        },
        "store_id",
    ),
    (
        "POST",
        "/api/v1/till/shifts/batch",
        "device_a",
        {
            "store_id": "{a}",
            "events": [
                {
                    "event_uuid": "5e1f0000-0000-4000-8000-000000000001",
                    "shift_uuid": "5e1f0000-0000-4000-8000-0000000000aa",
                    "till_seq": 1,
                    "kind": "open",
                    "at": "2025-03-03T08:00:00+03:00",
                    "cashier_id": 1,
                    "amount_minor": 500000,
                    "reason": None,
                }
            ],
        },
        "store_id",
    ),
]


def _counts(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)))
            for m in (Store, User, PairingCode, Product, AuditEntry)
        )


@pytest.fixture
def tax_rate(db) -> int:  # type: ignore[no-untyped-def]
    from hub.catalog.models import TaxRate
    from hub.db import next_change_seq

    with db.write() as s:
        rate = TaxRate(code="vat22", name="НДС 22%", rate_bp=2200, change_seq=next_change_seq(s))
        s.add(rate)
        s.flush()
        return rate.id


def _fill(value, world, tax_rate):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return {k: _fill(v, world, tax_rate) for k, v in value.items()}
    if value == "{a}":
        return world.store_a
    if value == "{c}":
        return world.ids["cashier_a"]
    if value == "{t}":
        return tax_rate
    return value


def _raw_cases(body: dict, numeric: str | None) -> list[tuple[str, bytes, str, set[int]]]:  # type: ignore[type-arg]
    text = json.dumps(body, ensure_ascii=False)
    first_key = next(iter(body))
    cases = [
        ("malformed JSON", b"{not json", "application/json", {400}),
        ("truncated JSON", text[: len(text) // 2].encode(), "application/json", {400}),
        (
            "invalid UTF-8",
            text.replace(first_key, first_key).encode()[:-1] + b'\xff"}',
            "application/json",
            {400, 422},
        ),
        (
            "unexpected field",
            json.dumps({**body, "card_number": "4111111111111111"}).encode(),
            "application/json",
            {422},
        ),
        ("wrong content type", text.encode(), "text/plain", {415}),
        ("form instead of JSON", b"name=x", "application/x-www-form-urlencoded", {415}),
        (
            "over 1 MiB",
            b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}',
            "application/json",
            {413},
        ),
    ]
    for key in (k for k, v in body.items() if isinstance(v, str)):
        for label, bad in [("NUL", "a\u0000b"), ("surrogate", "a\ud800b"), ("ESC", "a\u001bb")]:
            raw = json.dumps({**body, key: bad}).encode()
            cases.append((f"{key} with {label}", raw, "application/json", {422}))
    if numeric:
        for label, literal in [
            ("2^63", str(2**63)),
            ("1e999", "1e999"),
            ("NaN", "NaN"),
            ("Infinity", "Infinity"),
            ("0.1", "0.1"),
            ("true", "true"),
            ("string", '"5"'),
            ("negative", "-1"),
        ]:
            raw = json.dumps({**body, numeric: 12345}).replace("12345", literal)
            cases.append((f"{numeric}={label}", raw.encode(), "application/json", {422}))
    return cases


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "numeric"),
    ENDPOINTS,
    ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS],
)
def test_bad_bodies_are_refused_and_write_nothing(  # type: ignore[no-untyped-def]
    client, world, db, tax_rate, method, path, who, body, numeric
) -> None:
    url = path.replace("{a}", str(world.store_a)).replace("{c}", str(world.ids["cashier_a"]))
    body = _fill(body, world, tax_rate)
    before = _counts(db)
    for label, raw, content_type, expected in _raw_cases(body, numeric):
        response = client.request(
            method,
            url,
            content=raw,
            headers={**world.headers(who), "Content-Type": content_type},
        )
        assert response.status_code in expected, (label, response.status_code, response.text)
        detail = response.json()["detail"]
        assert detail and all({"loc", "field", "type", "msg"} <= set(d) for d in detail), label
        if label == "unexpected field":
            assert detail[0]["field"] == "card_number"
        if numeric and label.startswith(numeric):
            assert detail[0]["field"] == numeric, (label, detail)
        if " with " in label and "surrogate" not in label:
            # (an escaped lone surrogate makes pydantic refuse the whole JSON document)
            assert detail[0]["field"] == label.split(" with ")[0], (label, detail)
        assert _counts(db) == before, label


def test_wrong_method_is_405(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/api/v1/stores", json={}, headers=world.headers("owner"))
    assert response.status_code == 405
    assert response.json()["detail"][0]["type"] == "method_not_allowed"


def test_streamed_body_over_the_limit_is_413(client, world, db) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    before = _counts(db)
    response = client.post(
        "/api/v1/stores",
        content=chunks(),
        headers={**world.headers("owner"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert _counts(db) == before
