from __future__ import annotations

from sqlalchemy import text


def test_healthz_and_readyz(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_readyz_is_503_when_the_schema_is_behind(client, db) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        s.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert "kassa hub migrate" in response.json()["problems"][0]


def test_security_headers_everywhere(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_docs_are_served_without_any_cdn(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_openapi_declares_error_responses(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if path not in ("/healthz",) and not codes & {"401", "422", "503"}:
                missing.append(f"{method.upper()} {path}")
    assert missing == []
