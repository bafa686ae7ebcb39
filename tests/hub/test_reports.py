"""Issue 6, the hub's side: report recipients (owners set them), published reports and withheld
verdicts read from KASSA_REPORTS_DIR, and service accounts for the flows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.errors import ApiError
from hub.reports import artifacts
from tests.hub.report_files import TILL_3_LATE, check, publish, verdict, withhold

RECIPIENTS = "/api/v1/reports/recipients"
REPORTS = "/api/v1/reports"
runner = CliRunner()


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    (item,) = response.json()["detail"]
    return item  # type: ignore[no-any-return]


@pytest.fixture
def reports_root(settings) -> Path:  # type: ignore[no-untyped-def]
    root = Path(settings.reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- recipients ------------------------------------------------------------------------------


def test_owner_manages_recipients_and_every_write_is_audited(client, world, db) -> None:  # type: ignore[no-untyped-def]
    from hub.audit.models import AuditEntry

    owner = world.headers("owner")
    created = client.post(
        RECIPIENTS, json={"email": "  Anna.Petrova@Example.COM ", "name": "Анна"}, headers=owner
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "anna.petrova@example.com"
    assert (body["language"], body["daily"], body["weekly"], body["active"]) == (
        "ru",
        True,
        True,
        True,
    )
    second = client.post(
        RECIPIENTS,
        json={"email": "cfo@example.com", "name": "CFO", "language": "en", "daily": False},
        headers=owner,
    )
    assert second.status_code == 201

    changed = client.patch(
        f"{RECIPIENTS}/{body['id']}", json={"weekly": False, "language": "en"}, headers=owner
    )
    assert changed.status_code == 200
    assert (changed.json()["weekly"], changed.json()["language"]) == (False, "en")

    listed = client.get(RECIPIENTS, headers=owner).json()
    assert [r["email"] for r in listed] == ["anna.petrova@example.com", "cfo@example.com"]
    client.patch(f"{RECIPIENTS}/{second.json()['id']}", json={"active": False}, headers=owner)
    active = client.get(RECIPIENTS, params={"active": "true"}, headers=owner).json()
    assert [r["email"] for r in active] == ["anna.petrova@example.com"]

    gone = client.delete(f"{RECIPIENTS}/{body['id']}", headers=owner)
    assert gone.status_code == 204
    again = client.delete(f"{RECIPIENTS}/{body['id']}", headers=owner)
    assert again.status_code == 404
    assert _error(again)["field"] == "recipient_id"

    with db.read() as s:
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "report_recipient")
            .order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == [
        "report_recipient.create",
        "report_recipient.create",
        "report_recipient.update",
        "report_recipient.update",
        "report_recipient.delete",
    ]
    assert {e.actor_label for e in entries} == {"owner@example.com"}
    assert entries[-1].before["email"] == "anna.petrova@example.com"  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({"email": "not-an-address", "name": "X"}, "email", "email"),
        ({"email": "a@localhost", "name": "X"}, "email", "email"),
        ({"email": "a b@example.com", "name": "X"}, "email", "email"),
        ({"email": "a@example.com", "name": "X", "language": "de"}, "language", "literal_error"),
        ({"email": "a@example.com", "name": "X", "nickname": "x"}, "nickname", "extra_forbidden"),
        ({"email": "a@example.com", "name": "X", "daily": "yes"}, "daily", "bool_type"),
        ({"email": "a@example.com"}, "name", "missing"),
        ({"email": "a@example.com", "name": "A\x00"}, "name", "text_control"),
    ],
)
def test_bad_recipients_are_422_naming_the_field(client, world, body, field, kind) -> None:  # type: ignore[no-untyped-def]
    response = client.post(RECIPIENTS, json=body, headers=world.headers("owner"))
    assert response.status_code == 422, response.text
    error = _error(response)
    assert (error["field"], error["type"]) == (field, kind)
    assert client.get(RECIPIENTS, headers=world.headers("owner")).json() == []


def test_duplicate_email_is_409_naming_email(client, world) -> None:  # type: ignore[no-untyped-def]
    owner = world.headers("owner")
    first = client.post(RECIPIENTS, json={"email": "a@example.com", "name": "A"}, headers=owner)
    other = client.post(RECIPIENTS, json={"email": "b@example.com", "name": "B"}, headers=owner)
    dup = client.post(RECIPIENTS, json={"email": "A@EXAMPLE.com", "name": "A2"}, headers=owner)
    assert dup.status_code == 409
    assert (_error(dup)["field"], _error(dup)["type"]) == ("email", "duplicate")
    moved = client.patch(
        f"{RECIPIENTS}/{other.json()['id']}", json={"email": "a@example.com"}, headers=owner
    )
    assert moved.status_code == 409
    assert _error(moved)["field"] == "email"
    same = client.patch(
        f"{RECIPIENTS}/{first.json()['id']}", json={"email": "a@example.com"}, headers=owner
    )
    assert same.status_code == 200
    null = client.patch(f"{RECIPIENTS}/{first.json()['id']}", json={"name": None}, headers=owner)
    assert (null.status_code, _error(null)["field"]) == (422, "name")


def test_recipients_are_for_owners_and_readable_by_a_service_account(client, world, db) -> None:  # type: ignore[no-untyped-def]
    token = _service_token(db)
    service = {"Authorization": f"Bearer {token}"}
    body = {"email": "a@example.com", "name": "A"}
    for who in ("manager_a", "cashier_a"):
        assert client.get(RECIPIENTS, headers=world.headers(who)).status_code == 403
        assert client.post(RECIPIENTS, json=body, headers=world.headers(who)).status_code == 403
    assert client.post(RECIPIENTS, json=body, headers=service).status_code == 403
    client.post(RECIPIENTS, json=body, headers=world.headers("owner"))
    listed = client.get(RECIPIENTS, headers=service)
    assert listed.status_code == 200
    assert [r["email"] for r in listed.json()] == ["a@example.com"]
    recipient_id = listed.json()[0]["id"]
    assert client.patch(f"{RECIPIENTS}/{recipient_id}", json={}, headers=service).status_code == 403
    assert client.delete(f"{RECIPIENTS}/{recipient_id}", headers=service).status_code == 403


# --- published reports and withheld verdicts -------------------------------------------------


def test_reports_list_published_withheld_and_unreadable_newest_first(
    client, world, reports_root
) -> None:  # type: ignore[no-untyped-def]
    publish(
        reports_root,
        "daily",
        "2026-11-24",
        checks=[check("freshness.sales", passed=False, severity="warning")],
    )
    withhold(reports_root, "daily", "2026-11-25")
    # Withheld first, published after a re-run: the verdict file stays as history.
    withhold(reports_root, "daily", "2026-11-26")
    publish(reports_root, "daily", "2026-11-26")
    withhold(reports_root, "daily", "2026-11-27")
    (reports_root / "daily" / "2026-11-28.withheld.json").write_text("{not json", "utf-8")
    publish(reports_root, "weekly", "2026-11-22").joinpath("quality.json").write_text(
        json.dumps({"scope": "weekly", "verdict": "published"}), "utf-8"
    )
    # Ignored: the flows' temporary directory, stray names, a file named like a day.
    (reports_root / "daily" / ".2026-11-29.tmp-123").mkdir()
    (reports_root / "daily" / "notes").mkdir()
    (reports_root / "daily" / "2026-11-30").write_text("not a directory", "utf-8")
    (reports_root / "daily" / "2026-02-30").mkdir()
    (reports_root / "monthly" / "2026-11-30").mkdir(parents=True)

    response = client.get(REPORTS, headers=world.headers("owner"))
    assert response.status_code == 200, response.text
    periods = response.json()
    assert [(p["scope"], p["date"], p["status"]) for p in periods] == [
        ("daily", "2026-11-28", "unreadable"),
        ("daily", "2026-11-27", "withheld"),
        ("daily", "2026-11-26", "published"),
        ("daily", "2026-11-25", "withheld"),
        ("daily", "2026-11-24", "published"),
        ("weekly", "2026-11-22", "unreadable"),
    ]
    corrupt, withheld, republished, _, with_warning, weekly = periods
    assert withheld["reasons"] == {
        "ru": ["касса 3 не синхронизировалась с 18:40"],
        "en": ["till 3 has not synced since 18:40"],
    }
    assert withheld["failed_checks"] == ["completeness.till_synced"]
    assert withheld["summary"] == {"ru": "отчёт withheld", "en": "report withheld"}
    assert withheld["index_url"] is None
    assert withheld["checked_at"] == "2026-11-28T03:15:00Z"
    assert republished["reasons"] == {"ru": [], "en": []}
    assert republished["index_url"] == f"{REPORTS}/daily/2026-11-26/files/index.html"
    assert with_warning["warnings"] == ["freshness.sales"]
    assert "not valid JSON" in corrupt["problem"]
    assert "2026-11-28.withheld.json" in corrupt["problem"]
    assert "does not follow the verdict schema" in weekly["problem"]
    assert weekly["index_url"] == f"{REPORTS}/weekly/2026-11-22/files/index.html"

    weekly_only = client.get(REPORTS, params={"scope": "weekly"}, headers=world.headers("owner"))
    assert [p["date"] for p in weekly_only.json()] == ["2026-11-22"]
    two = client.get(REPORTS, params={"limit": 2}, headers=world.headers("owner"))
    assert [p["date"] for p in two.json()] == ["2026-11-28", "2026-11-27"]
    bad = client.get(REPORTS, params={"scope": "monthly"}, headers=world.headers("owner"))
    assert (bad.status_code, _error(bad)["field"]) == (422, "scope")


def test_unreadable_verdicts_say_what_is_wrong(client, world, reports_root) -> None:  # type: ignore[no-untyped-def]
    # A published directory without its quality.json, a verdict for another day, a verdict
    # that contradicts its place, and one that is not UTF-8.
    (reports_root / "daily" / "2026-11-20").mkdir(parents=True)
    withhold(reports_root, "daily", "2026-11-21").write_text(
        json.dumps(verdict("daily", "2026-11-01", "withheld", [TILL_3_LATE])), "utf-8"
    )
    publish(reports_root, "daily", "2026-11-22").joinpath("quality.json").write_text(
        json.dumps(verdict("daily", "2026-11-22", "withheld", [TILL_3_LATE])), "utf-8"
    )
    (reports_root / "daily" / "2026-11-23.withheld.json").write_bytes(b"\xff\xfe{}")
    periods = client.get(REPORTS, headers=world.headers("owner")).json()
    problems = {p["date"]: p["problem"] for p in periods}
    assert {p["status"] for p in periods} == {"unreadable"}
    assert "quality.json of the daily report 2026-11-20 is missing" in problems["2026-11-20"]
    assert "describes the daily report 2026-11-01" in problems["2026-11-21"]
    assert "says withheld, but the report is published" in problems["2026-11-22"]
    assert "not UTF-8" in problems["2026-11-23"]

    one = client.get(f"{REPORTS}/daily/2026-11-23", headers=world.headers("owner"))
    assert one.status_code == 409
    assert (_error(one)["type"], _error(one)["field"]) == ("report_unreadable", "date")


def test_no_reports_directory_is_an_empty_list(client, world) -> None:  # type: ignore[no-untyped-def]
    response = client.get(REPORTS, headers=world.headers("owner"))
    assert (response.status_code, response.json()) == (200, [])


def test_one_period_returns_its_verdict(client, world, reports_root) -> None:  # type: ignore[no-untyped-def]
    withhold(reports_root, "daily", "2026-11-26")
    publish(reports_root, "daily", "2026-11-26")
    withhold(reports_root, "weekly", "2026-11-22", [TILL_3_LATE, {**check("x.y"), "extra": 1}])
    owner = world.headers("owner")

    published = client.get(f"{REPORTS}/daily/2026-11-26", headers=owner)
    assert published.status_code == 200
    assert published.json()["verdict"] == "published"
    assert published.json()["checks"][0]["numbers"] == {"tills": 3}

    withheld = client.get(f"{REPORTS}/weekly/2026-11-22", headers=owner).json()
    assert withheld["verdict"] == "withheld"
    assert withheld["checks"][0]["reasons"]["en"] == ["till 3 has not synced since 18:40"]
    assert withheld["checks"][1]["extra"] == 1  # fields the hub does not know are passed on

    missing = client.get(f"{REPORTS}/daily/2026-11-25", headers=owner)
    assert (missing.status_code, _error(missing)["field"]) == (404, "date")
    for url, field in [
        (f"{REPORTS}/monthly/2026-11-26", "scope"),
        (f"{REPORTS}/daily/2026-02-30", "date"),
        (f"{REPORTS}/daily/1764201600", "date"),
        (f"{REPORTS}/daily/26-11-2026", "date"),
    ]:
        bad = client.get(url, headers=owner)
        assert (bad.status_code, bad.json()["detail"][0]["field"]) == (422, field), url
    assert (
        client.get(f"{REPORTS}/daily/2026-11-26", headers=world.headers("manager_a")).status_code
        == 403
    )


def test_published_files_are_served_with_a_csp_for_inline_styles(
    client, world, reports_root
) -> None:  # type: ignore[no-untyped-def]
    publish(reports_root, "daily", "2026-11-26")
    owner = world.headers("owner")
    base = f"{REPORTS}/daily/2026-11-26/files"

    page = client.get(f"{base}/index.html", headers=owner)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<style>" in page.text
    # Exactly one policy, and it lets the page style itself and show its charts, nothing more.
    assert page.headers.get_list("content-security-policy") == [artifacts.REPORT_CSP]
    assert "style-src 'unsafe-inline'" in artifacts.REPORT_CSP
    assert "img-src 'self'" in artifacts.REPORT_CSP
    assert "script-src" not in artifacts.REPORT_CSP  # default-src 'none' covers scripts
    assert page.headers["x-content-type-options"] == "nosniff"

    chart = client.get(f"{base}/charts/revenue.png", headers=owner)
    assert (chart.status_code, chart.headers["content-type"]) == (200, "image/png")
    csv = client.get(f"{base}/csv/sales.csv", headers=owner)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.headers["content-disposition"].startswith("attachment")
    marts = client.get(f"{base}/marts.parquet", headers=owner)
    assert (marts.status_code, marts.content[:4]) == (200, b"PAR1")
    assert client.get(f"{base}/quality.json", headers=owner).json()["verdict"] == "published"

    # Everything else keeps the hub's strict policy.
    listing = client.get(REPORTS, headers=owner)
    assert "style-src 'self';" in listing.headers["content-security-policy"]
    assert client.get(f"{base}/index.html", headers=world.headers("manager_a")).status_code == 403


def test_file_paths_cannot_leave_the_published_directory(
    client, world, reports_root, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    folder = publish(reports_root, "daily", "2026-11-26")
    withhold(reports_root, "daily", "2026-11-27")
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n", "utf-8")
    (reports_root / "daily" / "2026-11-25.csv").write_text("sibling", "utf-8")
    (folder / "charts" / "evil.csv").symlink_to(secret)
    (folder / "csv" / "inside.csv").symlink_to(folder / "csv" / "sales.csv")
    (folder / "run.sh").write_text("echo", "utf-8")
    (folder / ".hidden.csv").write_text("x", "utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.html").write_text("<p>outside</p>", "utf-8")
    (reports_root / "daily" / "2026-11-24").symlink_to(outside)
    owner = world.headers("owner")
    base = f"{REPORTS}/daily/2026-11-26/files"

    refused = [
        f"{base}/%2e%2e/2026-11-25.csv",
        f"{base}/%2e%2e/%2e%2e/%2e%2e/secret.csv",
        f"{base}/..%2F2026-11-25.csv",
        f"{base}/csv/%2e%2e/%2e%2e/2026-11-25.csv",
        f"{base}/%2F{secret.as_posix().lstrip('/')}",
        f"{base}//{secret.as_posix().lstrip('/')}",
        f"{base}/charts/evil.csv",  # a symlink out of the report
        f"{base}/charts",  # a directory
        f"{base}/",
        f"{base}/run.sh",  # not something a report holds
        f"{base}/.hidden.csv",
        f"{base}/csv%5Csales.csv",
        f"{base}/csv/%00sales.csv",
        f"{base}/nothing.png",
        f"{REPORTS}/daily/2026-11-27/files/index.html",  # withheld: nothing published
        f"{REPORTS}/daily/2026-11-24/files/index.html",  # a symlinked period directory
    ]
    for url in refused:
        response = client.get(url, headers=owner)
        assert response.status_code == 404, (url, response.status_code, response.text)
        assert _error(response)["field"] in ("file_path", "date"), url
        assert "hunter2" not in response.text and "outside" not in response.text
    inside = client.get(f"{base}/csv/inside.csv", headers=owner)
    assert (inside.status_code, inside.text) == (200, "store,revenue\nА,100\n")
    bad_date = client.get(f"{REPORTS}/daily/%2e%2e/files/index.html", headers=owner)
    assert (bad_date.status_code, _error(bad_date)["field"]) == (422, "date")

    # What a client that does not normalise the path (curl --path-as-is) would send.
    for path in [
        "../2026-11-25.csv",
        "../../../secret.csv",
        "csv/../../2026-11-25.csv",
        "/etc/passwd.csv",
        "csv/./sales.csv",
    ]:
        with pytest.raises(ApiError) as caught:
            artifacts.published_file(reports_root, scope="daily", day=_day("2026-11-26"), path=path)
        assert caught.value.status == 404, path


def _day(text: str):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.date.fromisoformat(text)


def test_an_unreadable_reports_directory_is_503_not_500(
    client, world, reports_root, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    (reports_root / "daily").mkdir()

    def denied(_path):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(artifacts.os, "scandir", denied)
    response = client.get(REPORTS, headers=world.headers("owner"))
    assert response.status_code == 503
    assert "KASSA_REPORTS_DIR" in _error(response)["msg"]
    assert "Permission denied" in _error(response)["msg"]


# --- service accounts ------------------------------------------------------------------------


def _service_token(db, name: str = "kassa flows") -> str:  # type: ignore[no-untyped-def]
    from hub.staff import service
    from hub.staff.schemas import ServiceTokenCreate

    with db.write() as s:
        token, _user, _created = service.issue_service_token(s, data=ServiceTokenCreate(name=name))
    return token


@pytest.fixture
def supplier_and_product(db, world, products) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from hub.purchasing import service as purchasing
    from hub.purchasing.schemas import SupplierCreate

    with db.write() as s:
        supplier = purchasing.create_supplier(
            s,
            actor=world.actor("owner"),
            data=SupplierCreate(name="Молочный завод", lead_time_days=2),
        )
        return supplier.id, products[0]


def test_service_token_from_the_cli_drafts_orders_idempotently(
    client, world, db, settings, monkeypatch, supplier_and_product
) -> None:  # type: ignore[no-untyped-def]
    from hub.audit.models import AuditEntry
    from hub.staff.models import AccessToken, User
    from kassa.cli import app as cli

    monkeypatch.setenv("KASSA_DATABASE_URL", settings.database_url)
    first = runner.invoke(cli, ["hub", "service-token", "--name", "kassa flows"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip()
    assert first.stdout == token + "\n" and token.startswith("ka_")  # the token only
    again = runner.invoke(cli, ["hub", "service-token", "--name", "kassa flows", "--days", "30"])
    assert again.exit_code == 0, again.output
    second_token = again.stdout.strip()
    assert second_token != token
    bad = runner.invoke(cli, ["hub", "service-token", "--name", ""])
    assert bad.exit_code == 1

    with db.read() as s:
        (user,) = s.scalars(select(User).where(User.role == "service")).all()
        assert (user.name, user.store_id, user.email, user.password_hash, user.pin_hash) == (
            "kassa flows",
            None,
            None,
            None,
            None,
        )
        tokens = s.scalars(select(AccessToken).where(AccessToken.user_id == user.id)).all()
        assert [(t.kind, t.expires_at is None) for t in tokens] == [("api", True), ("api", False)]
        assert token not in {t.token_hash for t in tokens}  # stored hashed
        system = s.scalars(
            select(AuditEntry).where(AuditEntry.actor_kind == "system").order_by(AuditEntry.id)
        ).all()
        assert [e.action for e in system] == ["user.create", "api_token.create", "api_token.create"]

    service = {"Authorization": f"Bearer {token}"}
    supplier_id, product_id = supplier_and_product
    orders = f"/api/v1/stores/{world.store_a}/purchase-orders"
    draft = {
        "supplier_id": supplier_id,
        "source_key": f"reorder:{world.store_a}:{supplier_id}:2026-11-28",
        "lines": [
            {
                "product_id": product_id,
                "qty_ordered_milli": 12000,
                "unit_cost_minor": 5000,
                "reason": json.dumps({"on_hand_milli": 2000, "reorder_point_milli": 8000}),
            }
        ],
    }
    created = client.post(orders, json=draft, headers=service)
    assert created.status_code == 201, created.text
    rerun = client.post(orders, json=draft, headers={"Authorization": f"Bearer {second_token}"})
    assert rerun.status_code == 200
    assert rerun.json() == created.json()
    assert created.json()["created_by"] == user.id
    listed = client.get(orders, headers=service).json()
    assert [o["id"] for o in listed] == [created.json()["id"]]
    one = client.get(f"{orders}/{created.json()['id']}", headers=service)
    assert one.json()["lines"][0]["qty_ordered_milli"] == 12000
    stores = client.get("/api/v1/stores", headers=service).json()
    assert [s["id"] for s in stores] == [world.store_a, world.store_b]

    with db.read() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "purchase_order.create")
        ).one()
    assert (entry.actor_kind, entry.actor_id, entry.actor_label) == ("user", user.id, "kassa flows")

    # Nothing else: no sending, no other store writes, no catalog, no reports, no own tokens.
    order_id = created.json()["id"]
    refused = [
        ("POST", f"{orders}/{order_id}/send", None),
        ("PUT", f"{orders}/{order_id}/lines", {"lines": draft["lines"]}),
        ("POST", f"/api/v1/stores/{world.store_a}/write-offs", {"reason": "x", "lines": []}),
        ("GET", f"/api/v1/stores/{world.store_a}", None),
        ("GET", "/api/v1/catalog/products", None),
        ("GET", "/api/v1/suppliers", None),
        ("GET", REPORTS, None),
        ("GET", "/api/v1/auth/me", None),
        ("POST", "/api/v1/auth/api-tokens", {"name": "more"}),
        ("POST", "/api/v1/auth/logout", None),
        ("GET", "/api/v1/till/catalog", None),
    ]
    for method, url, body in refused:
        response = client.request(method, url, json=body, headers=service)
        assert response.status_code == 403, (method, url, response.text)
    assert client.get(orders, headers=service).status_code == 200  # logout did not revoke it


def test_a_service_account_never_signs_in_and_an_owner_can_disable_it(client, world, db) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    from hub.staff.models import User
    from hub.staff.security import hash_secret

    token = _service_token(db)
    with db.read() as s:
        user = s.scalars(select(User).where(User.role == "service")).one()
    owner = world.headers("owner")
    users = client.get("/api/v1/users", headers=owner).json()
    assert {"id": user.id, "role": "service", "store_id": None}.items() <= next(
        u for u in users if u["id"] == user.id
    ).items()
    password = client.patch(
        f"/api/v1/users/{user.id}", json={"password": "a long enough password"}, headers=owner
    )
    assert (password.status_code, _error(password)["field"]) == (422, "password")
    login = client.post(
        "/api/v1/auth/token", data={"username": "kassa flows", "password": "anything at all"}
    )
    assert login.status_code == 401
    with pytest.raises(IntegrityError), db.write() as s:  # the database refuses it too
        s.get(User, user.id).password_hash = hash_secret("a long enough password")  # type: ignore[union-attr]

    disabled = client.patch(f"/api/v1/users/{user.id}", json={"active": False}, headers=owner)
    assert disabled.status_code == 200
    gone = client.get(RECIPIENTS, headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 401
    with db.write() as s:
        from hub.staff import service
        from hub.staff.schemas import ServiceTokenCreate

        with pytest.raises(ApiError) as refused:
            service.issue_service_token(s, data=ServiceTokenCreate(name="kassa flows"))
    assert refused.value.status == 409 and "disabled" in refused.value.message


def test_migration_0005_rebuilds_staff_user_under_existing_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite rebuilds staff_user to change its checks; rows that refer to it must survive."""
    from sqlalchemy import create_engine, text

    from hub.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(url, "0004")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA foreign_keys=ON"))
        conn.execute(
            text(
                "INSERT INTO staff_user (id, email, name, role, max_discount_bp, can_edit_catalog,"
                " active, change_seq, created_at, updated_at) VALUES (1, 'o@example.com', 'O',"
                " 'owner', 0, 0, 1, 1, '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO access_token (id, token_hash, kind, user_id, name, created_at)"
                " VALUES (1, 'h', 'api', 1, 't', '2026-01-01')"
            )
        )
    upgrade(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT user_id FROM access_token")).scalar() == 1
        conn.execute(
            text(
                "INSERT INTO staff_user (name, role, max_discount_bp, can_edit_catalog, active,"
                " change_seq, created_at, updated_at) VALUES ('flows', 'service', 0, 0, 1, 2,"
                " '2026-01-01', '2026-01-01')"
            )
        )
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    engine.dispose()
