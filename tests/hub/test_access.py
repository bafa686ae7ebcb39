"""RELIABILITY.md "Access": every route declares a policy, and every route x role answers as
its policy says."""

from __future__ import annotations

import re

import pytest
from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from hub.access import policy_of
from tests.conftest import ROLES

# What each policy answers per role, for a resource of store A. "ok" = passes the policy (the
# route may still answer 404/422 for the sample input, never 401/403).
EXPECTED = {
    "public": dict.fromkeys(ROLES, "ok"),
    "staff": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": "ok",
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": "ok",
    },
    "manager": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": "ok",
    },
    "owner": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": "ok",
        "manager_b": 403,
    },
    "store_manager": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": 403,
    },
    "device": {
        "anonymous": 401,
        "device_a": "ok",
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": 403,
        "manager_b": 403,
    },
}
# Routes whose service narrows the policy further for a resource of store A.
NARROWER = {
    ("GET", "/api/v1/users/{user_id}"): {"manager_b": 403},
    ("PATCH", "/api/v1/users/{user_id}"): {"manager_b": 403},
    ("PUT", "/api/v1/users/{user_id}/pin"): {"manager_b": 403},
}
# Valid bodies where the narrower check sits behind body validation.
SAMPLE_BODIES = {("PUT", "/api/v1/users/{user_id}/pin"): {"pin": "5555"}}
# Order matters: a route like "revoke device" run by an allowed role must not disarm a later
# role's check, so roles that are refused go first.
ORDER = (
    "anonymous",
    "revoked_device_a",
    "device_a",
    "cashier_a",
    "manager_b",
    "manager_a",
    "owner",
)


def _policies(route: APIRoute) -> list[str]:
    found: list[str] = []

    def walk(dependant) -> None:  # type: ignore[no-untyped-def]
        for dep in dependant.dependencies:
            name = policy_of(dep.call) if dep.call else None
            if name:
                found.append(name)
            walk(dep)

    walk(route.dependant)
    return found


def _all_routes(app) -> list[tuple[str, set[str], APIRoute]]:  # type: ignore[no-untyped-def]
    """(full path, methods, route) of every API route, through included routers."""
    return [
        (ctx.path, set(ctx.methods or ()), ctx.original_route)
        for ctx in iter_route_contexts(app.routes)
        if isinstance(ctx.original_route, APIRoute)
    ]


def test_every_route_declares_exactly_one_policy(app) -> None:  # type: ignore[no-untyped-def]
    missing = []
    seen = 0
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        seen += 1
        if isinstance(route, APIRoute):
            policies = set(_policies(route))
            if len(policies) != 1:
                missing.append(f"{sorted(ctx.methods or ())} {ctx.path}: {sorted(policies)}")
        elif isinstance(route, Mount):
            if policy_of(route.app) is None:  # type: ignore[arg-type]
                missing.append(f"mount {ctx.path}")
        elif policy_of(route.endpoint) is None:  # type: ignore[attr-defined]
            missing.append(f"route {ctx.path}")
    assert missing == [], "routes without exactly one declared policy"
    assert seen > 20


def test_policy_names_are_known(app) -> None:  # type: ignore[no-untyped-def]
    for path, _methods, route in _all_routes(app):
        for name in _policies(route):
            assert name in EXPECTED, f"{path}: unknown policy {name}"


def _takes_form(route: APIRoute) -> bool:
    """Form and upload routes get a multipart sample, JSON routes a JSON one (415 otherwise)."""
    return route.body_field is not None and isinstance(route.body_field.field_info, params.Form)


def _sample_path(path: str, world) -> str:  # type: ignore[no-untyped-def]
    values = {
        "store_id": world.store_a,
        "device_id": world.ids["revoked_device_a"],  # revoking it again disarms nobody
        "user_id": world.ids["cashier_a"],
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), path)


def test_route_role_matrix(app, client, world) -> None:  # type: ignore[no-untyped-def]
    """Walks every route x role (RELIABILITY.md Access) on SQLite and PostgreSQL."""
    failures = []
    checked = 0
    # Logging out revokes the caller's token, so that route goes last.
    routes = sorted(_all_routes(app), key=lambda r: (r[0].endswith("/logout"), r[0], sorted(r[1])))
    for path, methods, route in routes:
        (policy,) = set(_policies(route))
        for method in sorted(methods - {"HEAD"}):
            url = _sample_path(path, world)
            expected = {**EXPECTED[policy], **NARROWER.get((method, path), {})}
            for role in ORDER:
                kwargs = {"headers": world.headers(role)}
                if method in ("POST", "PUT", "PATCH") and _takes_form(route):
                    kwargs["files"] = {"file": ("x.csv", b"", "text/csv")}
                elif method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = SAMPLE_BODIES.get((method, path), {})
                response = client.request(method, url, **kwargs)
                checked += 1
                want = expected[role]
                got = response.status_code
                ok = got not in (401, 403) if want == "ok" else got == want
                if got >= 500 or not ok:
                    failures.append(f"{method} {path} as {role}: {got}, want {want}")
    assert failures == []
    assert checked > 100


@pytest.mark.parametrize("who", ["revoked_device_a"])
def test_revoked_device_is_told_to_re_pair(client, world, who) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/till/catalog", headers=world.headers(who))
    assert response.status_code == 401
    assert response.json()["detail"][0]["type"] == "device_revoked"
    assert "re-pair" in response.json()["detail"][0]["msg"]
