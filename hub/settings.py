"""The hub's one settings object (pydantic-settings, `KASSA_` prefix), validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wire.money import is_currency


class UnsafeSettingsError(RuntimeError):
    """Raised at start-up when production settings are unsafe; the message says which and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KASSA_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    database_url: str = "sqlite:///var/hub.db"
    # The chain's catalog prices are in this currency; every store must trade in it.
    catalog_currency: str = "RUB"
    # Web sessions: `__Host-` cookies require Secure, so plain-http development turns it off.
    cookie_secure: bool = True
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    bearer_token_hours: int = Field(default=12, ge=1, le=24 * 30)
    pairing_code_minutes: int = Field(default=30, ge=1, le=24 * 60)
    login_max_failures: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=60, ge=1)
    feed_page_size: int = Field(default=5000, ge=1, le=50_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    db_pool_size: int = Field(default=10, ge=1)
    # Sales batches written at once per hub process; more wait up to 2 s, then get 429.
    ingest_concurrency: int = Field(default=4, ge=1, le=64)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # Where the flows publish report artifacts (and withheld verdicts); the hub only reads it.
    reports_dir: str = "var/reports"
    # Addresses whose X-Forwarded-For is trusted (your reverse proxy); "*" trusts everyone.
    forwarded_allow_ips: str = "127.0.0.1"

    @field_validator("catalog_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code such as RUB")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def unsafe_reasons(self) -> list[str]:
        """What makes these settings unfit for production, one sentence each."""
        reasons: list[str] = []
        if not self.cookie_secure:
            reasons.append(
                "KASSA_COOKIE_SECURE is false: session cookies would travel over plain HTTP; "
                "serve the hub behind HTTPS and set it to true."
            )
        if self.database_url.startswith("sqlite") and ":memory:" in self.database_url:
            reasons.append(
                "KASSA_DATABASE_URL is an in-memory SQLite database: every sale would be lost "
                "on restart; use a file or PostgreSQL."
            )
        if self.forwarded_allow_ips.strip() == "*":
            reasons.append(
                "KASSA_FORWARDED_ALLOW_IPS is '*': any client could forge its address in "
                "X-Forwarded-For and dodge sign-in throttling; list your proxy's address."
            )
        return reasons

    def check_safe(self) -> None:
        """Refuse to start in production with unsafe settings."""
        if self.env != "production":
            return
        reasons = self.unsafe_reasons()
        if reasons:
            raise UnsafeSettingsError(
                "Refusing to start with unsafe production settings:\n- " + "\n- ".join(reasons)
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
