from __future__ import annotations

import pytest
from pydantic import SecretStr

from hub.settings import Settings, UnsafeSettingsError


def test_production_refuses_the_development_secret_and_says_why() -> None:
    settings = Settings(env="production", database_url="sqlite:///x.db")
    with pytest.raises(UnsafeSettingsError) as err:
        settings.check_safe()
    assert "KASSA_SECRET_KEY" in str(err.value)


def test_production_refuses_insecure_cookies_and_memory_database() -> None:
    settings = Settings(
        env="production",
        database_url="sqlite:///:memory:",
        secret_key=SecretStr("x" * 40),
        cookie_secure=False,
    )
    with pytest.raises(UnsafeSettingsError) as err:
        settings.check_safe()
    assert "KASSA_COOKIE_SECURE" in str(err.value)
    assert "in-memory" in str(err.value)


def test_safe_production_settings_start() -> None:
    Settings(env="production", secret_key=SecretStr("s" * 48)).check_safe()


def test_development_defaults_start() -> None:
    Settings().check_safe()


def test_settings_come_from_kassa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("KASSA_FEED_PAGE_SIZE", "123")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@h/db"
    assert settings.feed_page_size == 123
