from __future__ import annotations

import pytest

from hub.settings import Settings, UnsafeSettingsError


def test_production_refuses_insecure_cookies_memory_database_and_open_proxy_trust() -> None:
    settings = Settings(
        env="production",
        database_url="sqlite:///:memory:",
        cookie_secure=False,
        forwarded_allow_ips="*",
    )
    with pytest.raises(UnsafeSettingsError) as err:
        settings.check_safe()
    message = str(err.value)
    assert "KASSA_COOKIE_SECURE" in message
    assert "in-memory" in message
    assert "KASSA_FORWARDED_ALLOW_IPS" in message


def test_safe_production_settings_start() -> None:
    Settings(env="production").check_safe()


def test_development_may_use_plain_http() -> None:
    Settings(cookie_secure=False).check_safe()


def test_an_unknown_catalog_currency_is_refused_at_start() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="catalog_currency"):
        Settings(catalog_currency="rub")


def test_settings_come_from_kassa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("KASSA_FEED_PAGE_SIZE", "123")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@h/db"
    assert settings.feed_page_size == 123
