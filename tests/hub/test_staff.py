from __future__ import annotations

from sqlalchemy import func, select

from hub.audit.models import AuditEntry
from hub.staff.models import User
from hub.staff.security import verify_secret


def _count(db, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_manager_creates_a_cashier_with_a_hashed_pin(client, world, db) -> None:  # type: ignore[no-untyped-def]
    body = {
        "name": "Ольга",
        "role": "cashier",
        "store_id": world.store_a,
        "pin": "0042",
        "max_discount_bp": 1000,
    }
    response = client.post("/api/v1/users", json=body, headers=world.headers("manager_a"))
    assert response.status_code == 201, response.text
    out = response.json()
    assert out["has_pin"] is True
    assert "pin" not in out and "pin_hash" not in out
    with db.read() as s:
        user = s.get(User, out["id"])
        assert user is not None and user.pin_hash and user.pin_hash.startswith("$argon2id$")
        assert verify_secret(user.pin_hash, "0042")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user.create")).one()
        assert entry.after is not None and entry.after["pin_hash"] == "<set>"


def test_manager_cannot_create_staff_elsewhere_or_managers(client, world, db) -> None:  # type: ignore[no-untyped-def]
    before = _count(db, User)
    other_store = {"name": "X", "role": "cashier", "store_id": world.store_b, "pin": "1234"}
    manager = {
        "name": "Y",
        "role": "manager",
        "store_id": world.store_a,
        "email": "y@example.com",
        "password": "a long enough password",
    }
    for body in (other_store, manager):
        response = client.post("/api/v1/users", json=body, headers=world.headers("manager_a"))
        assert response.status_code == 403
    assert _count(db, User) == before


def test_owner_creates_a_manager_and_duplicate_email_names_the_field(client, world) -> None:  # type: ignore[no-untyped-def]
    body = {
        "name": "Пётр",
        "role": "manager",
        "store_id": world.store_b,
        "email": "Petr@Example.com",
        "password": "a long enough password",
    }
    first = client.post("/api/v1/users", json=body, headers=world.headers("owner"))
    assert first.status_code == 201
    assert first.json()["email"] == "petr@example.com"
    again = client.post("/api/v1/users", json=body, headers=world.headers("owner"))
    assert again.status_code == 409
    assert again.json()["detail"][0]["field"] == "email"


def test_bad_staff_input_names_the_field(client, world, db) -> None:  # type: ignore[no-untyped-def]
    before = _count(db, User)
    cases = [
        ({"name": "A", "role": "cashier", "store_id": world.store_a, "pin": "12"}, "pin"),
        (
            {
                "name": "A",
                "role": "cashier",
                "store_id": world.store_a,
                "pin": "1234",
                "max_discount_bp": 0.5,
            },
            "max_discount_bp",
        ),
        (
            {
                "name": "A",
                "role": "cashier",
                "store_id": world.store_a,
                "pin": "1234",
                "card_number": "4111111111111111",
            },
            "card_number",
        ),
        ({"name": "A\u0000", "role": "cashier", "store_id": world.store_a, "pin": "1234"}, "name"),
        ({"name": "A", "role": "cashier", "store_id": 2**63, "pin": "1234"}, "store_id"),
        ({"name": "A", "role": "king", "store_id": world.store_a, "pin": "1234"}, "role"),
    ]
    for body, field in cases:
        response = client.post("/api/v1/users", json=body, headers=world.headers("owner"))
        assert response.status_code == 422, (body, response.text)
        assert field in response.text
    assert _count(db, User) == before


def test_manager_lists_only_own_store_cashiers(client, world) -> None:  # type: ignore[no-untyped-def]
    listed = client.get("/api/v1/users", headers=world.headers("manager_a")).json()
    assert [u["name"] for u in listed] == ["Кассир А"]
    everyone = client.get("/api/v1/users", headers=world.headers("owner")).json()
    assert len(everyone) == 4


def test_set_pin_bumps_change_seq(client, world, db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        before = s.get(User, world.ids["cashier_a"]).change_seq  # type: ignore[union-attr]
    response = client.put(
        f"/api/v1/users/{world.ids['cashier_a']}/pin",
        json={"pin": "987654"},
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 200
    with db.read() as s:
        user = s.get(User, world.ids["cashier_a"])
        assert user is not None and user.change_seq > before
        assert verify_secret(user.pin_hash, "987654")


def test_role_rules_name_the_field(client, world) -> None:  # type: ignore[no-untyped-def]
    a = world.store_a
    cases = [
        (
            {
                "name": "К",
                "role": "cashier",
                "store_id": a,
                "pin": "1234",
                "password": "a long enough password",
            },
            "password",
        ),
        ({"name": "К", "role": "cashier", "store_id": a}, "pin"),
        (
            {
                "name": "М",
                "role": "manager",
                "store_id": a,
                "email": "m@example.com",
                "password": "a long enough password",
                "pin": "1234",
            },
            "pin",
        ),
        (
            {"name": "М", "role": "manager", "store_id": a, "password": "a long enough password"},
            "email",
        ),
        (
            {
                "name": "В",
                "role": "owner",
                "store_id": a,
                "email": "o2@example.com",
                "password": "a long enough password",
            },
            "store_id",
        ),
        (
            {
                "name": "М",
                "role": "manager",
                "email": "m@example.com",
                "password": "a long enough password",
            },
            "store_id",
        ),
        (
            {
                "name": "М",
                "role": "manager",
                "store_id": a,
                "email": "m@example.com",
                "password": "short",
            },
            "password",
        ),
    ]
    for body, field in cases:
        response = client.post("/api/v1/users", json=body, headers=world.headers("owner"))
        assert response.status_code == 422, (body, response.text)
        assert response.json()["detail"][0]["field"] == field, response.text


def test_a_manager_cannot_raise_their_own_discount_limit(client, world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/users/{world.ids['manager_a']}"
    response = client.patch(
        url, json={"max_discount_bp": 10000}, headers=world.headers("manager_a")
    )
    assert response.status_code == 403
    assert response.json()["detail"][0]["field"] == "max_discount_bp"
    by_owner = client.patch(url, json={"max_discount_bp": 1500}, headers=world.headers("owner"))
    assert by_owner.status_code == 200
    assert by_owner.json()["max_discount_bp"] == 1500


def test_changing_your_own_password_needs_the_current_one(client, world) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import PASSWORD

    url = f"/api/v1/users/{world.ids['manager_a']}"
    new = {"password": "another long password"}
    refused = client.patch(url, json=new, headers=world.headers("manager_a"))
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "current_password"
    wrong = client.patch(
        url, json={**new, "current_password": "nope"}, headers=world.headers("manager_a")
    )
    assert wrong.status_code == 422
    ok = client.patch(
        url, json={**new, "current_password": PASSWORD}, headers=world.headers("manager_a")
    )
    assert ok.status_code == 200
    # The new password works; the old bearer token was ended with the change.
    assert client.get("/api/v1/auth/me", headers=world.headers("manager_a")).status_code == 401
    signed_in = client.post(
        "/api/v1/auth/token",
        data={"username": "manager.a@example.com", "password": new["password"]},
    )
    assert signed_in.status_code == 200
