"""Report artifacts as the flows write them (the layout and verdict schema are a contract)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

INDEX_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><style>body{font-family:sans-serif}"
    "</style></head><body><h1>Отчёт</h1><img src='charts/revenue.png'></body></html>"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def check(
    check_id: str,
    *,
    passed: bool = True,
    severity: str = "blocking",
    reasons: tuple[list[str], list[str]] = ([], []),
) -> dict[str, Any]:
    return {
        "id": check_id,
        "suite": check_id.split(".")[0],
        "severity": severity,
        "passed": passed,
        "explanation": {"ru": f"проверка {check_id}", "en": f"check {check_id}"},
        "reasons": {"ru": reasons[0], "en": reasons[1]},
        "numbers": {"tills": 3},
    }


def verdict(
    scope: str, day: str, status: str, checks: list[dict[str, Any]], *, start: str | None = None
) -> dict[str, Any]:
    return {
        "scope": scope,
        "period_start": start or day,
        "period_end": day,
        "verdict": status,
        "checked_at": "2026-11-28T03:15:00Z",
        "summary": {"ru": f"отчёт {status}", "en": f"report {status}"},
        "checks": checks,
    }


TILL_3_LATE = check(
    "completeness.till_synced",
    passed=False,
    reasons=(
        ["касса 3 не синхронизировалась с 18:40"],
        ["till 3 has not synced since 18:40"],
    ),
)


def publish(
    root: Path, scope: str, day: str, *, checks: list[dict[str, Any]] | None = None
) -> Path:
    """A published report directory, as the flows leave it after their atomic rename."""
    folder = root / scope / day
    (folder / "charts").mkdir(parents=True)
    (folder / "csv").mkdir()
    body = verdict(scope, day, "published", checks or [check("completeness.till_synced")])
    (folder / "quality.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    (folder / "index.html").write_text(INDEX_HTML, encoding="utf-8")
    (folder / "charts" / "revenue.png").write_bytes(PNG)
    (folder / "csv" / "sales.csv").write_text("store,revenue\nА,100\n", encoding="utf-8")
    (folder / "marts.parquet").write_bytes(b"PAR1\x00\x00PAR1")
    return folder


def withhold(root: Path, scope: str, day: str, checks: list[dict[str, Any]] | None = None) -> Path:
    path = root / scope / f"{day}.withheld.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = verdict(scope, day, "withheld", checks or [TILL_3_LATE])
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path
