"""Sign-in, sessions, tokens, throttling (RELIABILITY.md "Access")."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.staff.models import AccessToken
from tests.conftest import PASSWORD


def _login(client, username: str, password: str, path: str = "/api/v1/auth/token"):  # type: ignore[no-untyped-def]
    return client.post(path, data={"username": username, "password": password})


def test_password_flow_returns_a_working_bearer_token(client, world) -> None:  # type: ignore[no-untyped-def]
    response = _login(client, "Owner@Example.com", PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 43  # 256 bits, urlsafe base64
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "owner@example.com"
    assert me.json()["role"] == "owner"


def test_sign_in_and_sign_out_are_audited(client, world, db) -> None:  # type: ignore[no-untyped-def]
    from hub.audit.models import AuditEntry

    token = _login(client, "owner@example.com", PASSWORD).json()["access_token"]
    client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    with db.read() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor_id) for e in entries] == [
        ("auth.sign_in.bearer", world.ids["owner"]),
        ("auth.sign_out", world.ids["owner"]),
    ]
    assert entries[0].ip == "testclient"
    assert token not in str(entries[0].after)


def test_unknown_user_and_wrong_password_answer_identically(client, world) -> None:  # type: ignore[no-untyped-def]
    wrong = _login(client, "owner@example.com", "not the password")
    unknown = _login(client, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_tokens_are_stored_hashed(client, world, db) -> None:  # type: ignore[no-untyped-def]
    token = _login(client, "owner@example.com", PASSWORD).json()["access_token"]
    with db.read() as s:
        stored = s.scalars(select(AccessToken.token_hash)).all()
    assert token not in stored
    assert all(len(h) == 64 for h in stored)


def test_eleventh_failure_in_a_minute_is_throttled_even_with_the_right_password(
    client, world
) -> None:  # type: ignore[no-untyped-def]
    for _ in range(10):
        assert _login(client, "manager.a@example.com", "wrong password").status_code == 401
    response = _login(client, "manager.a@example.com", PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    # Another account is not locked by this one's failures.
    assert _login(client, "owner@example.com", PASSWORD).status_code == 200


def test_web_session_cookie_and_csrf(client, world) -> None:  # type: ignore[no-untyped-def]
    response = _login(client, "manager.a@example.com", PASSWORD, "/api/v1/auth/login")
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-kassa_session=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/"):
        assert attribute.lower() in cookie.lower()
    csrf = response.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").status_code == 200
    # A cookie-authenticated write without the CSRF header is refused...
    body = {"name": "Новый кассир", "role": "cashier", "store_id": world.store_a, "pin": "1111"}
    assert client.post("/api/v1/users", json=body).status_code == 403
    # ...and accepted with it.
    created = client.post("/api/v1/users", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_logout_revokes_the_bearer_token(client, world) -> None:  # type: ignore[no-untyped-def]
    headers = world.headers("cashier_a")
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_personal_api_tokens_show_once_and_revoke(client, world, db) -> None:  # type: ignore[no-untyped-def]
    headers = world.headers("manager_a")
    created = client.post("/api/v1/auth/api-tokens", json={"name": "1С выгрузка"}, headers=headers)
    assert created.status_code == 201
    token = created.json()["token"]
    api_headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 200
    listed = client.get("/api/v1/auth/api-tokens", headers=headers).json()
    assert [t["name"] for t in listed] == ["1С выгрузка"]
    assert "token" not in listed[0]
    revoked = client.delete(f"/api/v1/auth/api-tokens/{listed[0]['id']}", headers=headers)
    assert revoked.status_code == 200
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 401
    # Nobody else can revoke it.
    other = client.delete(
        f"/api/v1/auth/api-tokens/{listed[0]['id']}", headers=world.headers("owner")
    )
    assert other.status_code == 404


def test_disabling_a_user_ends_their_tokens(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.patch(
        f"/api/v1/users/{world.ids['cashier_a']}",
        json={"active": False},
        headers=world.headers("manager_a"),
    )
    assert response.status_code == 200
    assert client.get("/api/v1/auth/me", headers=world.headers("cashier_a")).status_code == 401


def test_no_default_accounts(db) -> None:  # type: ignore[no-untyped-def]
    from hub.staff.models import User

    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_cashiers_cannot_sign_in_to_the_hub_with_a_password(client, world) -> None:  # type: ignore[no-untyped-def]
    response = _login(client, "cashier.a@example.com", PASSWORD)
    assert response.status_code == 401
    assert response.json() == _login(client, "nobody@example.com", PASSWORD).json()


def test_sign_in_forms_refuse_what_the_database_cannot_store(client, world) -> None:  # type: ignore[no-untyped-def]
    for path in ("/api/v1/auth/token", "/api/v1/auth/login"):
        for username, password in [
            ("owner\x00@example.com", PASSWORD),
            ("o" * 300 + "@example.com", PASSWORD),
            ("owner@example.com", "p\x00w"),
            ("owner@example.com", "x" * 201),
        ]:
            response = _login(client, username, password, path)
            assert response.status_code == 422, (path, response.text)
            assert response.json()["detail"][0]["field"] in ("username", "password")


def test_the_plain_dev_cookie_is_ignored_when_cookies_are_secure(client, world) -> None:  # type: ignore[no-untyped-def]
    response = _login(client, "owner@example.com", PASSWORD, "/api/v1/auth/login")
    token = response.cookies.get("__Host-kassa_session") or client.cookies.get(
        "__Host-kassa_session"
    )
    assert token
    client.cookies.clear()
    client.cookies.set("kassa_session", token)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_token_use_is_recorded(client, world, db) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/v1/auth/me", headers=world.headers("owner")).status_code == 200
    with db.read() as s:
        used = s.scalars(
            select(AccessToken.last_used_at).where(AccessToken.user_id == world.ids["owner"])
        ).all()
    assert [u is not None for u in used] == [True]


def test_parallel_guesses_cannot_slip_under_the_limit(client, world) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(lambda _: _login(client, "owner@example.com", "wrong").status_code, range(16))
        )
    assert statuses.count(401) <= 10
    assert statuses.count(429) >= 6
