"""RELIABILITY.md B1, B4, B9, B10, B11 inside a sales batch: a 422 that names the nested field
(`sales.N.lines.M.qty_milli`), nothing written, never a 5xx."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.sales.models import QuarantinedSale, Sale, TillState
from tests.hub.sales_fixtures import BATCH, body, new_till, seed_shop

NUMERIC = [
    ("total_minor",),
    ("change_minor",),
    ("till_seq",),
    ("cashier_id",),
    ("lines", 0, "qty_milli"),
    ("lines", 0, "unit_price_minor"),
    ("lines", 0, "amount_minor"),
    ("lines", 0, "vat_rate_bp"),
    ("payments", 0, "amount_minor"),
]
LITERALS = ["9223372036854775808", "1e999", "NaN", "Infinity", "0.1", "true", '"5"', "1.0"]
TEXT = [("lines", 0, "name"), ("payments", 0, "tender"), ("currency",)]
BAD_TEXT = ["a\u0000b", "a\ud800b"]


def _written(db) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (Sale, QuarantinedSale, TillState)
        )


def _set(data: dict, path: tuple, value: object) -> None:  # type: ignore[type-arg]
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.fixture
def batch(world, db) -> dict:  # type: ignore[no-untyped-def,type-arg]
    shop = seed_shop(db, world.store_a)
    till = new_till(world)
    return body([till.sale([shop.items()["milk"]]), till.sale([shop.items()["bread"]])])


def test_bad_numbers_name_the_nested_field(client, world, db, batch) -> None:  # type: ignore[no-untyped-def]
    before = _written(db)
    for path in NUMERIC:
        for literal in LITERALS:
            data = json.loads(json.dumps(batch))
            _set(data["sales"][1], path, 12345678)
            raw = json.dumps(data).replace("12345678", literal)
            response = client.post(
                BATCH,
                content=raw.encode(),
                headers={**world.headers("device_a"), "content-type": "application/json"},
            )
            assert response.status_code == 422, (path, literal, response.text)
            fields = [d["field"] for d in response.json()["detail"]]
            want = ".".join(str(p) for p in ("sales", 1, *path))
            assert want in fields, (path, literal, fields)
    assert _written(db) == before


def test_bad_text_and_extra_fields_are_422(client, world, db, batch) -> None:  # type: ignore[no-untyped-def]
    before = _written(db)
    for path in TEXT:
        for bad in BAD_TEXT:
            data = json.loads(json.dumps(batch))
            _set(data["sales"][0], path, bad)
            response = client.post(
                BATCH,
                content=json.dumps(data).encode(),  # ASCII-escaped: \ud800 stays a lone escape
                headers={**world.headers("device_a"), "content-type": "application/json"},
            )
            assert response.status_code in (400, 422), (path, response.text)
            assert response.status_code == 400 or any(
                d["field"].startswith("sales.0") for d in response.json()["detail"]
            )
    data = json.loads(json.dumps(batch))
    data["sales"][0]["payments"][0]["card_number"] = "4111111111111111"
    response = client.post(BATCH, json=data, headers=world.headers("device_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sales.0.payments.0.card_number"
    data = json.loads(json.dumps(batch))
    data["sales"][0]["created_at"] = "2025-01-31T12:00:00"
    response = client.post(BATCH, json=data, headers=world.headers("device_a"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "sales.0.created_at"
    assert _written(db) == before


def test_malformed_and_wrong_type_bodies(client, world, db, batch) -> None:  # type: ignore[no-untyped-def]
    before = _written(db)
    text = json.dumps(batch)
    for raw, ctype, want in [
        (b"{not json", "application/json", 400),
        (text[: len(text) // 2].encode(), "application/json", 400),
        (text.encode(), "text/plain", 415),
        (b'{"sales": []}', "application/json", 422),
        (b'{"sales": {}}', "application/json", 422),
    ]:
        response = client.post(
            BATCH, content=raw, headers={**world.headers("device_a"), "content-type": ctype}
        )
        assert response.status_code == want, (raw[:40], response.text)
    assert client.get(BATCH, headers=world.headers("device_a")).status_code == 405
    assert _written(db) == before
