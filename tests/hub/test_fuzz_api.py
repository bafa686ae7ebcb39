"""Schemathesis over the hub's own OpenAPI document: generated requests for every operation, as
the owner, never get a 5xx (RELIABILITY.md "Bad input": never a 500)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

# Would end the owner's token for the rest of the run; covered in test_auth.
SKIP = {("POST", "/api/v1/auth/logout")}


def test_no_operation_answers_5xx(app, world) -> None:  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = world.headers("owner")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def call(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        call()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) >= 25
