"""Published reports and withheld verdicts, read from the directory the flows write.

The layout is a contract with the flows (`KASSA_REPORTS_DIR`):

- `<root>/<scope>/<YYYY-MM-DD>/` a published report (scope `daily` or `weekly`, the date is the
  period's last day): `quality.json`, `index.html`, `charts/*.png`, `marts.parquet`,
  `csv/*.csv`. The flows create it by renaming a finished temporary directory, so entries whose
  name starts with `.` are unfinished and ignored.
- `<root>/<scope>/<YYYY-MM-DD>.withheld.json` the verdict of a withheld period. It stays after
  a later successful publication (history): a period is published if its directory exists.

Nothing here trusts the files: a corrupt verdict is listed as `unreadable` with what is wrong,
and a file is served only if it resolves, symlinks followed, to a regular file inside its
published directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from hub.errors import ApiError
from hub.reports.schemas import (
    LocalizedList,
    QualityVerdict,
    ReportPeriodOut,
    Scope,
)

SCOPES: tuple[str, ...] = get_args(Scope)
VERDICT_FILE = "quality.json"
WITHHELD_SUFFIX = ".withheld.json"
MAX_VERDICT_BYTES = 8 * 1024 * 1024
MAX_PATH_CHARS = 512
# What a published report holds, by suffix; nothing else is served.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".png": "image/png",
    ".csv": "text/csv; charset=utf-8",
    ".parquet": "application/vnd.apache.parquet",
    ".json": "application/json",
}
DOWNLOADS = {".csv", ".parquet"}  # served as attachments
# Report pages style themselves inline and show their charts; nothing else may load or run.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class UnreadableError(Exception):
    """A verdict file that is missing, too big, not JSON, not the schema, or contradicts its
    place; the message says which file and what is wrong."""


def _day(name: str) -> dt.date | None:
    if len(name) != 10:
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def _unavailable(root: Path, exc: OSError) -> ApiError:
    return ApiError(
        503,
        "reports_unavailable",
        f"the hub cannot read the reports directory {root} ({exc.strerror or exc}): "
        "check KASSA_REPORTS_DIR and its permissions",
    )


def _is_real_dir(path: Path) -> bool:
    """A directory that is not a symlink (published reports are renamed into place)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _is_real_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _scan(root: Path, scope: str) -> dict[dt.date, tuple[bool, bool]]:
    """date -> (published, withheld) for one scope."""
    found: dict[dt.date, tuple[bool, bool]] = {}
    folder = root / scope
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    except NotADirectoryError:
        return found
    except OSError as exc:
        raise _unavailable(root, exc) from None
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        try:
            if entry.is_dir(follow_symlinks=False) and (day := _day(name)) is not None:
                found[day] = (True, found.get(day, (False, False))[1])
            elif (
                name.endswith(WITHHELD_SUFFIX)
                and entry.is_file(follow_symlinks=False)
                and (day := _day(name.removesuffix(WITHHELD_SUFFIX))) is not None
            ):
                found[day] = (found.get(day, (False, False))[0], True)
        except OSError:
            continue
    return found


def read_verdict(path: Path, *, scope: str, day: dt.date, expected: str) -> QualityVerdict:
    """The verdict in `path`, checked against the period it was found for and its status
    there (`published` when its directory exists, else `withheld`)."""
    where = f"{path.name} of the {scope} report {day.isoformat()}"
    if not _is_real_file(path):
        raise UnreadableError(f"{where} is missing")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_VERDICT_BYTES + 1)
    except OSError as exc:
        raise UnreadableError(f"{where} cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_VERDICT_BYTES:
        raise UnreadableError(f"{where} is larger than {MAX_VERDICT_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnreadableError(f"{where} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UnreadableError(
            f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    try:
        verdict = QualityVerdict.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "the document"
        raise UnreadableError(
            f"{where} does not follow the verdict schema ({exc.error_count()} errors; "
            f"first at {field}: {first['msg']})"
        ) from None
    if verdict.scope != scope or verdict.period_end != day:
        raise UnreadableError(
            f"{where} describes the {verdict.scope} report {verdict.period_end.isoformat()}, "
            "not this one"
        )
    if verdict.verdict != expected:
        raise UnreadableError(f"{where} says {verdict.verdict}, but the report is {expected}")
    return verdict


def _index_url(scope: str, day: dt.date) -> str:
    return f"/api/v1/reports/{scope}/{day.isoformat()}/files/index.html"


def _period(root: Path, scope: str, day: dt.date, published: bool) -> ReportPeriodOut:
    folder = root / scope
    if published:
        path, expected = folder / day.isoformat() / VERDICT_FILE, "published"
    else:
        path, expected = folder / f"{day.isoformat()}{WITHHELD_SUFFIX}", "withheld"
    base = {
        "scope": scope,
        "date": day,
        "index_url": _index_url(scope, day) if published else None,
    }
    try:
        verdict = read_verdict(path, scope=scope, day=day, expected=expected)
    except UnreadableError as exc:
        return ReportPeriodOut(
            **base,
            status="unreadable",
            period_start=None,
            period_end=None,
            checked_at=None,
            summary=None,
            reasons=LocalizedList(),
            failed_checks=[],
            warnings=[],
            problem=f"{exc}: re-run the quality gate for this period, or ask who runs the flows",
        )
    failed = [c for c in verdict.checks if not c.passed]
    blocking = [c for c in failed if c.severity == "blocking"] if not published else []
    return ReportPeriodOut(
        **base,
        status=expected,
        period_start=verdict.period_start,
        period_end=verdict.period_end,
        checked_at=verdict.checked_at,
        summary=verdict.summary,
        reasons=LocalizedList(
            ru=[r for c in blocking for r in c.reasons.ru],
            en=[r for c in blocking for r in c.reasons.en],
        ),
        failed_checks=[c.id for c in blocking],
        warnings=[c.id for c in failed if c.severity == "warning"],
        problem=None,
    )


def list_periods(root: Path, *, scope: str | None, limit: int) -> list[ReportPeriodOut]:
    """Report periods newest first (by the period's last day; daily before weekly)."""
    found: list[tuple[dt.date, int, str, bool]] = []
    for index, name in enumerate(SCOPES):
        if scope is not None and name != scope:
            continue
        for day, (published, _withheld) in _scan(root, name).items():
            found.append((day, index, name, published))
    found.sort(key=lambda item: (-item[0].toordinal(), item[1]))
    return [_period(root, name, day, published) for day, _i, name, published in found[:limit]]


def get_verdict(root: Path, *, scope: str, day: dt.date) -> QualityVerdict:
    """The verdict of one period: quality.json when published, else the withheld verdict."""
    folder = root / scope
    if _is_real_dir(folder / day.isoformat()):
        path, expected = folder / day.isoformat() / VERDICT_FILE, "published"
    else:
        path, expected = folder / f"{day.isoformat()}{WITHHELD_SUFFIX}", "withheld"
        if not _is_real_file(path):
            raise ApiError(
                404,
                "not_found",
                f"no {scope} report for {day.isoformat()}: it has not been checked yet",
                loc=["path", "date"],
            )
    try:
        return read_verdict(path, scope=scope, day=day, expected=expected)
    except UnreadableError as exc:
        raise ApiError(
            409,
            "report_unreadable",
            f"{exc}: re-run the quality gate for this period, or ask who runs the flows",
            loc=["path", "date"],
        ) from None


def _no_file() -> ApiError:
    return ApiError(
        404, "not_found", "no such file in this published report", loc=["path", "file_path"]
    )


def published_file(root: Path, *, scope: str, day: dt.date, path: str) -> tuple[Path, str]:
    """The file at `path` (relative, `/`-separated) in the published report, and its type.

    Refused (404): absolute paths, backslashes, empty, `.` or `..` parts and hidden names,
    suffixes a report does not hold, and anything that resolves (symlinks followed) outside
    the report's directory or to something that is not a regular file.
    """
    parts = path.split("/")
    if (
        not path
        or len(path) > MAX_PATH_CHARS
        or "\\" in path
        or "\x00" in path
        or any(not part or part.startswith(".") for part in parts)
    ):
        raise _no_file()
    suffix = Path(parts[-1]).suffix.lower()
    if suffix not in MEDIA_TYPES:
        raise _no_file()
    folder = root / scope / day.isoformat()
    if not _is_real_dir(folder):
        raise ApiError(
            404,
            "not_found",
            f"the {scope} report for {day.isoformat()} is not published",
            loc=["path", "date"],
        )
    try:
        base = folder.resolve(strict=True)
        target = (base / Path(*parts)).resolve(strict=True)
    except (OSError, RuntimeError):
        raise _no_file() from None
    if not target.is_relative_to(base) or target == base or not _is_real_file(target):
        raise _no_file()
    return target, MEDIA_TYPES[suffix]
