"""The flows' settings (pydantic-settings, `KASSA_` prefix) and the Prefect environment they run in.

Nothing here imports Prefect: `configure_prefect` must set Prefect's variables before Prefect is
imported, because Prefect reads them once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "KASSA_"


class FlowSettingsError(ValueError):
    """A flows setting is wrong; the message names the environment variable and what is allowed."""


class FlowSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=None, extra="ignore")

    warehouse_path: Path = Path("var/warehouse.duckdb")
    marts_dir: Path = Path("var/warehouse/marts")
    # The chain's day: daily-close runs at `daily_close_cron` there and closes yesterday there.
    chain_timezone: str = "Europe/Moscow"
    reorder_service_level: float = Field(default=0.95, gt=0.5, lt=1)
    refresh_minutes: int = Field(default=15, ge=1, le=24 * 60)
    daily_close_cron: str = "15 6 * * *"
    prefect_home: Path = Path("var/prefect")
    # How long a writer waits for another run to finish with the DuckDB file before it gives up.
    writer_lock_timeout_seconds: float = Field(default=600, gt=0)
    # Published reports and withheld verdicts (the hub reads the same KASSA_REPORTS_DIR).
    reports_dir: Path = Path("var/reports")
    # The published page's language (e-mails go in each recipient's own language).
    report_language: Literal["ru", "en"] = "ru"
    # Who hears about a withheld report: comma-separated addresses, and in which language.
    ops_email: str = ""
    ops_language: Literal["ru", "en"] = "ru"
    # The gate's cost coverage: unit cost known for at least this share of revenue (basis points).
    cost_coverage_bp: int = Field(default=9900, ge=0, le=10_000)

    @field_validator("ops_email")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for address in _split(value):
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(
                    f"{address!r} is not an e-mail address; write addresses separated by commas"
                )
        return value

    @property
    def ops_addresses(self) -> list[str]:
        return _split(self.ops_email)

    @field_validator("chain_timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; write one such as Europe/Moscow"
            ) from None
        return value

    @field_validator("daily_close_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        import datetime as dt

        from cronsim import CronSim, CronSimError  # Prefect's own cron parser

        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a 5-field cron expression such as '15 6 * * *'")
        try:
            CronSim(value, dt.datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from None
        return value


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings(**overrides: object) -> FlowSettings:
    """The settings from the environment; a bad value raises `FlowSettingsError` naming its
    variable, e.g. `KASSA_CHAIN_TIMEZONE='Mars/Base': ... is not an IANA time zone`."""
    try:
        return FlowSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise FlowSettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        value = repr(error.get("input"))
        name = f"{ENV_PREFIX}{field.upper()}"
        lines.append(f"{name}: {message}" if value in message else f"{name}={value}: {message}")
    return "bad flows setting: " + "; ".join(lines)


def hub_database_url() -> str:
    """The hub database the warehouse extracts from (`KASSA_DATABASE_URL`, the hub's setting)."""
    from hub.settings import Settings

    return Settings().database_url


# Prefect's start-up of its temporary server takes 8-16 s on 2 cores; its default wait is 20 s.
SERVER_STARTUP_TIMEOUT_SECONDS = 60


def configure_prefect(settings: FlowSettings) -> dict[str, str]:
    """Point Prefect at the project's var/ (never ~/.prefect), turn its analytics off and give its
    temporary server time to start. Variables already set in the environment win. Call before
    Prefect is imported; returns what is in effect."""
    wanted = {
        "PREFECT_HOME": str(settings.prefect_home.resolve()),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(SERVER_STARTUP_TIMEOUT_SECONDS),
    }
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    return {name: os.environ[name] for name in wanted}
