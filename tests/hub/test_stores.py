from __future__ import annotations

import json

from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.stores.models import Store


def _stores(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Store)))


def test_owner_creates_a_store_and_it_is_audited(client, world, db) -> None:  # type: ignore[no-untyped-def]
    body = {
        "name": "Магазин «Берёзка»",
        "address": "г. Казань, ул. Баумана, 5",
        "timezone": "Europe/Moscow",
        "currency": "RUB",
        "language": "ru",
        "receipt_header": "Спасибо за покупку!",
        "receipt_footer": "ИНН 1234567890",
    }
    response = client.post("/api/v1/stores", json=body, headers=world.headers("owner"))
    assert response.status_code == 201, response.text
    out = response.json()
    assert {k: out[k] for k in body} == body
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "store.create")).one()
        assert entry.actor_id == world.ids["owner"]
        assert entry.after is not None and entry.after["name"] == body["name"]


def test_bad_store_input_names_the_field_and_writes_nothing(client, world, db) -> None:  # type: ignore[no-untyped-def]
    before = _stores(db)
    good = {"name": "Новый", "timezone": "Asia/Yekaterinburg"}
    cases = [
        ({**good, "timezone": "Mars/Olympus"}, "timezone"),
        ({**good, "currency": "XYZ"}, "currency"),
        ({**good, "currency": "USD"}, "currency"),  # not the chain's catalog currency
        ({**good, "language": "de"}, "language"),
        ({**good, "name": ""}, "name"),
        ({**good, "name": "x" * 201}, "name"),
        ({**good, "name": "bad\ud800"}, "name"),
        ({**good, "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        response = client.post(
            "/api/v1/stores",
            content=json.dumps(body),
            headers={**world.headers("owner"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["field"].endswith(field), response.text
    dup = client.post(
        "/api/v1/stores", json={**good, "name": "магазин а"}, headers=world.headers("owner")
    )
    assert dup.status_code == 409
    assert dup.json()["detail"][0]["field"] == "name"
    assert _stores(db) == before


def test_sql_ish_names_are_stored_verbatim(client, world) -> None:  # type: ignore[no-untyped-def]
    name = "Robert'); DROP TABLE store;-- 100% _x_"
    response = client.post(
        "/api/v1/stores", json={"name": name, "timezone": "UTC"}, headers=world.headers("owner")
    )
    assert response.status_code == 201
    got = client.get(f"/api/v1/stores/{response.json()['id']}", headers=world.headers("owner"))
    assert got.json()["name"] == name


def test_manager_updates_own_store_only(client, world) -> None:  # type: ignore[no-untyped-def]
    own = client.patch(
        f"/api/v1/stores/{world.store_a}",
        json={"receipt_footer": "Ждём снова"},
        headers=world.headers("manager_a"),
    )
    assert own.status_code == 200
    assert own.json()["receipt_footer"] == "Ждём снова"
    other = client.patch(
        f"/api/v1/stores/{world.store_b}",
        json={"receipt_footer": "x"},
        headers=world.headers("manager_a"),
    )
    assert other.status_code == 403
    listed = client.get("/api/v1/stores", headers=world.headers("manager_a")).json()
    assert [s["id"] for s in listed] == [world.store_a]
    assert len(client.get("/api/v1/stores", headers=world.headers("owner")).json()) == 2


def test_null_for_a_required_setting_is_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.patch(
        f"/api/v1/stores/{world.store_a}", json={"name": None}, headers=world.headers("owner")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "name"


def test_only_owners_close_a_store_and_a_closed_store_pairs_no_till(client, world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/stores/{world.store_a}"
    code = client.post(f"{url}/pairing-codes", json={}, headers=world.headers("manager_a"))
    assert code.status_code == 201
    by_manager = client.patch(url, json={"active": False}, headers=world.headers("manager_a"))
    assert by_manager.status_code == 403
    by_owner = client.patch(url, json={"active": False}, headers=world.headers("owner"))
    assert by_owner.status_code == 200
    paired = client.post("/api/v1/devices/pair", json={"code": code.json()["code"]})
    assert paired.status_code == 422


def test_control_characters_never_reach_a_receipt(client, world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/stores/{world.store_a}"
    for body, field in [
        ({"receipt_header": "Привет\x1b@"}, "receipt_header"),
        ({"name": "Магазин\nБ"}, "name"),
        ({"receipt_footer": "tab\there"}, "receipt_footer"),
    ]:
        response = client.patch(url, json=body, headers=world.headers("owner"))
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["field"] == field
    multi = client.patch(
        url, json={"receipt_footer": "Спасибо!\nЖдём снова"}, headers=world.headers("owner")
    )
    assert multi.status_code == 200
