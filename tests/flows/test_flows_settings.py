"""The flows' settings: defaults, the environment, and a bad value named by its variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.settings import FlowSettingsError, configure_prefect, load_settings


def test_defaults(flow_env: Path) -> None:
    settings = load_settings()
    assert settings.warehouse_path == Path("var/warehouse.duckdb")
    assert settings.marts_dir == Path("var/warehouse/marts")
    assert settings.chain_timezone == "Europe/Moscow"
    assert settings.reorder_service_level == 0.95
    assert settings.refresh_minutes == 15
    assert settings.daily_close_cron == "15 6 * * *"
    assert settings.prefect_home == Path("var/prefect")


def test_settings_come_from_the_kassa_environment(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASSA_WAREHOUSE_PATH", "/data/w.duckdb")
    monkeypatch.setenv("KASSA_CHAIN_TIMEZONE", "Asia/Vladivostok")
    monkeypatch.setenv("KASSA_REORDER_SERVICE_LEVEL", "0.9")
    monkeypatch.setenv("KASSA_REFRESH_MINUTES", "5")
    monkeypatch.setenv("KASSA_DAILY_CLOSE_CRON", "30 7 * * 1-5")
    settings = load_settings()
    assert settings.warehouse_path == Path("/data/w.duckdb")
    assert settings.chain_timezone == "Asia/Vladivostok"
    assert settings.reorder_service_level == 0.9
    assert settings.refresh_minutes == 5
    assert settings.daily_close_cron == "30 7 * * 1-5"


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("KASSA_CHAIN_TIMEZONE", "Mars/Olympus", "is not an IANA time zone"),
        ("KASSA_CHAIN_TIMEZONE", "MSK+3", "is not an IANA time zone"),
        ("KASSA_REORDER_SERVICE_LEVEL", "1", "less than 1"),
        ("KASSA_REORDER_SERVICE_LEVEL", "0.5", "greater than 0.5"),
        ("KASSA_REORDER_SERVICE_LEVEL", "95%", "valid number"),
        ("KASSA_REFRESH_MINUTES", "0", "greater than or equal to 1"),
        ("KASSA_DAILY_CLOSE_CRON", "61 6 * * *", "not a valid cron expression"),
        ("KASSA_DAILY_CLOSE_CRON", "daily", "5-field cron expression"),
        ("KASSA_WRITER_LOCK_TIMEOUT_SECONDS", "-1", "greater than 0"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(FlowSettingsError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith("bad flows setting: ")
    assert variable in message and repr(value) in message and says in message


def test_prefect_goes_under_var_without_analytics_and_waits_60_s_for_its_server(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "PREFECT_HOME",
        "PREFECT_SERVER_ANALYTICS_ENABLED",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    applied = configure_prefect(load_settings())
    assert applied == {
        "PREFECT_HOME": str(flow_env / "var" / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "60",
    }
    assert (flow_env / "var" / "prefect").is_dir()
    assert os.environ["PREFECT_HOME"] == str(flow_env / "var" / "prefect")
    # What the operator set wins.
    monkeypatch.setenv("PREFECT_HOME", str(flow_env / "elsewhere"))
    assert configure_prefect(load_settings())["PREFECT_HOME"] == str(flow_env / "elsewhere")
