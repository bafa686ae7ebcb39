"""`kassa flows ...` refuses bad input before Prefect starts: a clear message, exit 2, no
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kassa.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command", [["flows"], ["flows", "serve"], ["flows", "run"]], ids=lambda c: " ".join(c)
)
def test_every_flows_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


@pytest.mark.parametrize("bad", ["bad", "2026-13-01", "2026-02-30", "27.11.2026", "20261127"])
def test_a_bad_date_is_refused_with_the_format(flow_env: Path, bad: str) -> None:
    result = runner.invoke(
        app, ["flows", "run", "daily-close", "--date", bad], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "Invalid value for '--date'" in result.output
    assert f"'{bad}' is not a date; write YYYY-MM-DD, e.g. 2026-11-27" in result.output
    assert "Traceback" not in result.output
    assert not (flow_env / "var").exists()  # refused before anything started


def test_date_is_for_daily_close_only(flow_env: Path) -> None:
    result = runner.invoke(app, ["flows", "run", "warehouse-refresh", "--date", "2026-11-27"])
    assert result.exit_code == 2
    assert "--date applies to daily-close only" in result.output


def test_an_unknown_flow_is_refused(flow_env: Path) -> None:
    result = runner.invoke(app, ["flows", "run", "publish"])
    assert result.exit_code == 2
    assert "warehouse-refresh" in result.output and "daily-close" in result.output


def test_a_bad_setting_is_named_before_prefect_starts(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASSA_CHAIN_TIMEZONE", "Moscow")
    result = runner.invoke(app, ["flows", "run", "daily-close"])
    assert result.exit_code == 2
    assert "KASSA_CHAIN_TIMEZONE: 'Moscow' is not an IANA time zone" in result.output
    assert "Traceback" not in result.output


def test_a_missing_hub_database_is_named_before_prefect_starts(
    flow_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KASSA_DATABASE_URL", f"sqlite:///{flow_env / 'nowhere.db'}")
    result = runner.invoke(app, ["flows", "run", "warehouse-refresh"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert f"no hub database at {flow_env / 'nowhere.db'}: set KASSA_DATABASE_URL" in result.output
