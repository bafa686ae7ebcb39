from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.devices.models import Device


def _code(client, world, who: str = "manager_a") -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/stores/{world.store_a}/pairing-codes",
        json={"device_name": "Касса 3"},
        headers=world.headers(who),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["code"])


def test_pairing_code_is_one_time_and_binds_the_store(client, world, db) -> None:  # type: ignore[no-untyped-def]
    code = _code(client, world)
    paired = client.post("/api/v1/devices/pair", json={"code": code.lower(), "version": "0.1.0"})
    assert paired.status_code == 201, paired.text
    body = paired.json()
    assert body["store_id"] == world.store_a
    assert body["name"] == "Касса 3"
    assert len(body["token"]) >= 43 + 3
    with db.read() as s:
        assert body["token"] not in s.scalars(select(Device.token_hash)).all()
    me = client.get("/api/v1/till/device", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["last_version"] == "0.1.0"
    again = client.post("/api/v1/devices/pair", json={"code": code})
    assert again.status_code == 422
    assert again.json()["detail"][0]["field"] == "code"


def test_bad_codes_write_nothing_and_get_throttled(client, world, db) -> None:  # type: ignore[no-untyped-def]
    with db.read() as s:
        before = s.scalar(select(func.count()).select_from(Device))
    statuses = [
        client.post("/api/v1/devices/pair", json={"code": "AAAA-BBBB-CCCC"}).status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Device)) == before


def test_revoke_is_immediate_and_listed(client, world) -> None:  # type: ignore[no-untyped-def]
    device_id = world.ids["device_a"]
    assert client.get("/api/v1/till/device", headers=world.headers("device_a")).status_code == 200
    revoked = client.post(
        f"/api/v1/stores/{world.store_a}/devices/{device_id}/revoke",
        headers=world.headers("manager_a"),
    )
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    after = client.get("/api/v1/till/device", headers=world.headers("device_a"))
    assert after.status_code == 401
    assert after.json()["detail"][0]["type"] == "device_revoked"
    listed = client.get(
        f"/api/v1/stores/{world.store_a}/devices", headers=world.headers("manager_a")
    ).json()
    assert {d["id"] for d in listed} == {world.ids["device_a"], world.ids["revoked_device_a"]}


def test_a_device_of_store_a_cannot_be_revoked_through_store_b(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"/api/v1/stores/{world.store_b}/devices/{world.ids['device_a']}/revoke",
        headers=world.headers("owner"),
    )
    assert response.status_code == 404


def test_cli_prints_a_pairing_code(world, settings, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from kassa.cli import app

    monkeypatch.setenv("KASSA_DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(app, ["hub", "pair-code", "--store", str(world.store_a)])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[0]
    assert len(code.replace("-", "")) == 12
    unknown = CliRunner().invoke(app, ["hub", "pair-code", "--store", "999"])
    assert unknown.exit_code == 1


def test_racing_tills_redeem_one_code_exactly_once(client, world, db) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    code = _code(client, world)
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(
                lambda _: client.post("/api/v1/devices/pair", json={"code": code}).status_code,
                range(6),
            )
        )
    assert sorted(statuses) == [201] + [422] * 5
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Device)) == 3  # two from `world` + one


@pytest.mark.parametrize(
    ("value", "head"),
    [
        ("sale=12;shift=3", (12, 3)),
        (" sale = 0 ; shift = 0 ", (0, 0)),
        ("shift=3;sale=12", (12, 3)),
        ("sale=12", None),
        ("sale=-1;shift=0", None),
        ("sale=x;shift=0", None),
        (f"sale={2**63};shift=0", None),
        ("", None),
        (None, None),
        ("sale=1;shift=1;" + "x" * 64, None),
    ],
)
def test_the_journal_head_header_is_read_or_ignored(value: str | None, head: object) -> None:
    from hub.access import journal_head

    assert journal_head(value) == head
