"""`kassa hub ...` on a fresh SQLite file, as an administrator would run it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.migrate import head_revision
from kassa.cli import app

runner = CliRunner()


@pytest.fixture
def hub_env(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("KASSA_DATABASE_URL", url)
    monkeypatch.delenv("KASSA_OWNER_PASSWORD", raising=False)
    result = runner.invoke(app, ["hub", "migrate"])
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output
    return url


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["hub"],
        ["hub", "serve"],
        ["hub", "migrate"],
        ["hub", "create-owner"],
        ["hub", "create-store"],
        ["hub", "pair-code"],
        ["hub", "service-token"],
        ["demo"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_first_steps(hub_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from hub.db import Database
    from hub.staff.models import User
    from hub.staff.security import verify_secret

    monkeypatch.setenv("KASSA_OWNER_PASSWORD", "a strong owner password")
    owner = runner.invoke(app, ["hub", "create-owner", "--email", "Boss@Example.com"])
    assert owner.exit_code == 0, owner.output
    again = runner.invoke(app, ["hub", "create-owner", "--email", "boss@example.com"])
    assert again.exit_code == 1
    assert "email" in again.output

    store = runner.invoke(
        app, ["hub", "create-store", "--name", "Продукты", "--timezone", "Europe/Moscow"]
    )
    assert store.exit_code == 0, store.output
    store_id = int(store.stdout.strip())
    bad_tz = runner.invoke(app, ["hub", "create-store", "--name", "X", "--timezone", "Moscow"])
    assert bad_tz.exit_code == 1
    assert "timezone" in bad_tz.output

    code = runner.invoke(app, ["hub", "pair-code", "--store", str(store_id)])
    assert code.exit_code == 0, code.output

    db = Database(hub_env)
    with db.read() as s:
        user = s.scalars(select(User)).one()
        assert user.email == "boss@example.com"
        assert user.role == "owner"
        assert verify_secret(user.password_hash, "a strong owner password")
    db.dispose()


def test_short_owner_password_is_refused(hub_env) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        app, ["hub", "create-owner", "--email", "a@example.com", "--password", "short"]
    )
    assert result.exit_code == 1
    assert "password" in result.output


def test_serve_refuses_unsafe_production_settings(hub_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KASSA_ENV", "production")
    monkeypatch.setenv("KASSA_COOKIE_SECURE", "false")
    result = runner.invoke(app, ["hub", "serve"])
    assert result.exit_code == 1
    assert "KASSA_COOKIE_SECURE" in result.output
