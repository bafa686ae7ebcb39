"""A till install must not need the hub's or the analytics' libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["fastapi", "sqlalchemy", "prefect", "duckdb", "great_expectations", "polars", "alembic"]


@pytest.mark.parametrize("package", ["wire", "wire.v1", "till_agent"])
def test_importing_loads_no_hub_or_analytics_library(package: str) -> None:
    code = (
        "import json, sys\n"
        f"import {package}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_till_extra_pulls_no_hub_or_analytics_distribution() -> None:
    """The `till` extra's dependency closure in pyproject names none of the heavy packages."""
    import tomllib
    from pathlib import Path

    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    till = " ".join(project["dependencies"] + project["optional-dependencies"]["till"]).lower()
    for name in ["fastapi", "sqlalchemy", "prefect", "duckdb", "great-expectations", "polars"]:
        assert name not in till
