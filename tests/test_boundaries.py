"""A till install must not need the hub's or the analytics' libraries."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ["fastapi", "sqlalchemy", "prefect", "duckdb", "great_expectations", "polars", "alembic"]


@pytest.mark.parametrize(
    "package",
    [
        "wire",
        "wire.v1",
        "till_agent",
        "till_agent.runtime",
        "till_agent.config",
        "till_agent.ui.app",
        "kassa.cli",
    ],
)
def test_importing_loads_no_hub_or_analytics_library(package: str) -> None:
    code = (
        "import json, sys\n"
        f"import {package}\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _closure(lock: dict, roots: list[dict]) -> set[str]:  # type: ignore[type-arg]
    """Every distribution the locked resolution installs for these requirements."""
    packages = {p["name"]: p for p in lock["package"]}
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        req = todo.pop()
        package = packages[req["name"]]
        key = f"{req['name']}[{','.join(sorted(req.get('extra', [])))}]"
        if key in seen:
            continue
        seen.add(key)
        todo.extend(package.get("dependencies", []))
        for extra in req.get("extra", []):
            todo.extend(package.get("optional-dependencies", {}).get(extra, []))
    return {key.split("[")[0] for key in seen}


def test_a_till_install_pulls_no_hub_or_analytics_distribution() -> None:
    """`pip install .[till]` as resolved in uv.lock: the whole dependency closure."""
    import tomllib
    from pathlib import Path

    lock = tomllib.loads(Path("uv.lock").read_text())
    kassa = next(p for p in lock["package"] if p["name"] == "kassa")
    till = _closure(lock, kassa["dependencies"] + kassa["optional-dependencies"]["till"])
    assert {"pyserial", "python-escpos", "textual", "httpx", "pydantic"} <= till
    heavy = {
        "fastapi",
        "starlette",
        "sqlalchemy",
        "alembic",
        "prefect",
        "duckdb",
        "polars",
        "great-expectations",
        "pandas",
        "psycopg",
        "uvicorn",
    }
    assert till & heavy == set()
    hub = _closure(lock, kassa["dependencies"] + kassa["optional-dependencies"]["hub"])
    assert {"fastapi", "sqlalchemy"} <= hub  # the check can see heavy packages when they are there
