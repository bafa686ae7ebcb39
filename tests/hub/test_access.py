"""RELIABILITY.md "Access": every route declares a policy, and every route x role answers as
its policy says."""

from __future__ import annotations

import re

import pytest
from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from hub.access import policy_of
from kassa.till_sim import Item, SimTill
from tests.conftest import ROLES

# What each policy answers per role, for a resource of store A. "ok" = passes the policy (the
# route may still answer 404/422 for the sample input, never 401/403).
CAST = (*ROLES, "service")
EXPECTED = {
    "public": dict.fromkeys(CAST, "ok"),
    "staff": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": "ok",
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": "ok",
        "service": 403,
    },
    "manager": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": "ok",
        "service": 403,
    },
    "owner": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": "ok",
        "manager_b": 403,
        "service": 403,
    },
    # Owners, and managers an owner allowed; nobody in the cast has been allowed.
    "catalog_editor": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": "ok",
        "manager_b": 403,
        "service": 403,
    },
    "store_manager": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": 403,
        "service": 403,
    },
    # A service account (a machine: the reorder flow, the report mailer) passes these only.
    "staff_or_service": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": "ok",
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": "ok",
        "service": "ok",
    },
    "owner_or_service": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": "ok",
        "manager_b": 403,
        "service": "ok",
    },
    "store_manager_or_service": {
        "anonymous": 401,
        "device_a": 403,
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": "ok",
        "owner": "ok",
        "manager_b": 403,
        "service": "ok",
    },
    "device": {
        "anonymous": 401,
        "device_a": "ok",
        "revoked_device_a": 401,
        "cashier_a": 403,
        "manager_a": 403,
        "owner": 403,
        "manager_b": 403,
        "service": 403,
    },
}
# Routes whose service narrows the policy further for a resource of store A.
NARROWER = {
    ("GET", "/api/v1/users/{user_id}"): {"manager_b": 403},
    ("PATCH", "/api/v1/users/{user_id}"): {"manager_b": 403},
    ("PUT", "/api/v1/users/{user_id}/pin"): {"manager_b": 403},
    ("POST", "/api/v1/users"): {"manager_b": 403},
}
# A valid body per write route, so that allowed roles reach the service and must SUCCEED
# ("{role}" keeps names unique per role; "{n}" is the role's index, "{a}"/"{t}" ids; "{p}"
# product, "{s}" supplier, "{b}" store B).
SAMPLE_BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/api/v1/stores"): {"name": "Магазин {role}", "timezone": "UTC"},
    ("PATCH", "/api/v1/stores/{store_id}"): {"receipt_footer": "Спасибо, {role}"},
    ("POST", "/api/v1/users"): {
        "name": "Кассир {role}",
        "role": "cashier",
        "store_id": "{a}",
        "pin": "1234",
    },
    ("PATCH", "/api/v1/users/{user_id}"): {"name": "Кассир А"},
    ("PUT", "/api/v1/users/{user_id}/pin"): {"pin": "5555"},
    ("POST", "/api/v1/stores/{store_id}/pairing-codes"): {"device_name": "Касса {role}"},
    ("POST", "/api/v1/auth/api-tokens"): {"name": "token {role}"},
    ("POST", "/api/v1/catalog/tax-rates"): {"code": "t{n}", "name": "НДС {role}", "rate_bp": 2200},
    ("PATCH", "/api/v1/catalog/tax-rates/{tax_rate_id}"): {"name": "НДС 22%"},
    ("POST", "/api/v1/catalog/categories"): {"name": "Категория {role}"},
    ("PATCH", "/api/v1/catalog/categories/{category_id}"): {"name": "Молочное"},
    ("POST", "/api/v1/catalog/products"): {
        "sku": "SKU-{role}",
        "name": "Товар {role}",
        "unit": "piece",
        "price_minor": 100,
        "tax_rate_id": "{t}",
    },
    ("PATCH", "/api/v1/catalog/products/{product_id}"): {"price_minor": 200},
    ("POST", "/api/v1/catalog/weight-templates"): {
        "name": "Весы {role}",
        "pattern": "2{n}PPPPPWWWWWC",
    },
    ("PATCH", "/api/v1/catalog/weight-templates/{template_id}"): {"name": "Весы"},
    ("POST", "/api/v1/suppliers"): {"name": "Поставщик {role}", "lead_time_days": 2},
    ("PATCH", "/api/v1/suppliers/{supplier_id}"): {"contact": "+7 900 000-00-00"},
    ("PUT", "/api/v1/suppliers/{supplier_id}/products/{product_id}"): {"pack_size_milli": 6000},
    ("POST", "/api/v1/stores/{store_id}/purchase-orders"): {
        "supplier_id": "{s}",
        "lines": [{"product_id": "{p}", "qty_ordered_milli": 6000, "unit_cost_minor": 5000}],
    },
    ("PUT", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/lines"): {
        "lines": [{"product_id": "{p}", "qty_ordered_milli": 12000, "unit_cost_minor": 5000}],
    },
    ("POST", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/receive"): {
        "lines": [{"product_id": "{p}", "qty_milli": 1000}],
    },
    ("POST", "/api/v1/stores/{store_id}/receipts"): {
        "supplier_id": "{s}",
        "lines": [{"product_id": "{p}", "qty_milli": 1000, "unit_cost_minor": 5000}],
    },
    ("POST", "/api/v1/stores/{store_id}/counts"): {
        "lines": [{"product_id": "{p}", "counted_milli": 3000}],
    },
    ("POST", "/api/v1/stores/{store_id}/transfers"): {
        "to_store_id": "{b}",
        "lines": [{"product_id": "{p}", "qty_milli": 1000}],
    },
    ("POST", "/api/v1/stores/{store_id}/write-offs"): {
        "reason": "Бой",
        "lines": [{"product_id": "{p}", "qty_milli": 1000}],
    },
    ("POST", "/api/v1/stores/{store_id}/adjustments"): {
        "reason": "Пересорт",
        "lines": [{"product_id": "{p}", "qty_milli": -500}],
    },
    ("POST", "/api/v1/reports/recipients"): {"email": "r{n}@example.com", "name": "Получатель"},
    ("PATCH", "/api/v1/reports/recipients/{recipient_id}"): {"weekly": False},
    ("POST", "/api/v1/till/shifts/batch"): {
        "events": [
            {
                "event_uuid": "5e1f0000-0000-4000-8000-000000000001",
                "shift_uuid": "5e1f0000-0000-4000-8000-0000000000aa",
                "till_seq": 1,
                "kind": "open",
                "at": "2025-03-03T08:00:00+03:00",
                "cashier_id": 1,
                "amount_minor": 500000,
                "reason": None,
            }
        ]
    },
    ("POST", "/api/v1/till/sales/batch"): {
        "sales": [
            SimTill(cashier_id=1)
            .sale([Item(None, "Товар без карточки", 1000, 100)])
            .model_dump(mode="json")
        ]
    },
}
# Writes that take no body and must succeed for allowed roles.
NO_BODY = {
    ("POST", "/api/v1/stores/{store_id}/devices/{device_id}/revoke"),
    ("POST", "/api/v1/auth/logout"),
    # Sending a sent order or cancelling a cancelled one is a no-op (200), so both roles pass.
    ("POST", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/send"),
    ("POST", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/cancel"),
    ("DELETE", "/api/v1/reports/recipients/{recipient_id}"),
}
# Routes whose path ids differ from the shared ones: route -> {path param: key of `ids`}.
ROUTE_IDS = {
    ("POST", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/cancel"): {
        "purchase_order_id": "order_to_cancel"
    },
    ("POST", "/api/v1/stores/{store_id}/purchase-orders/{purchase_order_id}/receive"): {
        "purchase_order_id": "order_to_receive"
    },
    ("DELETE", "/api/v1/reports/recipients/{recipient_id}"): {
        "recipient_id": "recipient_to_delete"
    },
}
# Allowed roles may get a 4xx on these sample inputs (credentials, codes or ids that do not
# exist); everything else must answer 2xx to an allowed role.
LOOSE = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/devices/pair"),
    ("POST", "/api/v1/catalog/import"),
    ("DELETE", "/api/v1/auth/api-tokens/{token_id}"),
}
# Order matters: a route like "revoke device" run by an allowed role must not disarm a later
# role's check, so roles that are refused go first.
ORDER = (
    "anonymous",
    "revoked_device_a",
    "device_a",
    "cashier_a",
    "manager_b",
    "service",
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


def _seed_catalog(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from hub.catalog.models import Category, Product, TaxRate, WeightTemplate
    from hub.db import next_change_seq

    with db.write() as s:
        rate = TaxRate(code="vat22", name="НДС 22%", rate_bp=2200, change_seq=next_change_seq(s))
        category = Category(name="Молоко", change_seq=next_change_seq(s))
        template = WeightTemplate(
            name="Весы", pattern="29PPPPPWWWWWC", change_seq=next_change_seq(s)
        )
        s.add_all([rate, category, template])
        s.flush()
        product = Product(
            sku="P1",
            name="Молоко 1 л",
            unit="piece",
            price_minor=8990,
            tax_rate_id=rate.id,
            category_id=category.id,
            change_seq=next_change_seq(s),
        )
        s.add(product)
        s.flush()
        return {
            "tax_rate_id": rate.id,
            "category_id": category.id,
            "product_id": product.id,
            "template_id": template.id,
        }


def _seed_sale(db, world) -> str:  # type: ignore[no-untyped-def]
    """A sale of store A's till, so that the sale routes answer 200 to allowed roles."""
    from hub.principal import Principal
    from hub.sales import service as sales
    from wire.v1 import SalesBatch

    till = SimTill(cashier_id=world.ids["cashier_a"])
    sale = till.sale([Item(None, "Пакет", 1000, 500)])
    device = Principal("device", world.ids["device_a"], None, world.store_a, "Касса", "device")
    sales.ingest(db, device, SalesBatch(sales=(sale,)))
    return str(sale.sale_uuid)


def _seed_shift(db, world) -> str:  # type: ignore[no-untyped-def]
    """An open shift of store A's till, so that the shift routes answer 200 to allowed roles."""
    import datetime as dt
    import uuid

    from hub.principal import Principal
    from hub.shifts import upload as shifts
    from wire.v1 import ShiftEventsBatch, ShiftEventV1

    event = ShiftEventV1(
        event_uuid=uuid.uuid4(),
        shift_uuid=uuid.uuid4(),
        till_seq=1,
        kind="open",
        at=dt.datetime.now(dt.UTC),
        cashier_id=world.ids["cashier_a"],
        amount_minor=500_000,
        reason=None,
    )
    device = Principal("device", world.ids["device_a"], None, world.store_a, "Касса", "device")
    shifts.ingest_batch(db, device=device, batch=ShiftEventsBatch(events=(event,)))
    return str(event.shift_uuid)


def _seed_purchasing(db, world, product_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """A supplier, store A's orders (a draft to edit and send, one to cancel, a sent one to
    receive) and a stock document, so that the purchasing and stock routes answer 2xx."""
    from hub.purchasing import orders
    from hub.purchasing import service as purchasing
    from hub.purchasing.schemas import OrderCreate, SupplierCreate
    from hub.stock import service as stock
    from hub.stock.schemas import WriteOffIn

    owner = world.actor("owner")
    order = {
        "supplier_id": 0,
        "lines": [{"product_id": product_id, "qty_ordered_milli": 10000, "unit_cost_minor": 5000}],
    }
    with db.write() as s:
        supplier = purchasing.create_supplier(
            s, actor=owner, data=SupplierCreate(name="Поставщик", lead_time_days=2)
        )
        order["supplier_id"] = supplier.id
        draft, to_cancel, to_receive = (
            orders.create_order(
                s, actor=owner, store_id=world.store_a, data=OrderCreate.model_validate(order)
            )[0]
            for _ in range(3)
        )
        orders.send(s, actor=owner, store_id=world.store_a, order_id=to_receive.id)
        doc = stock.write_off(
            s,
            actor=owner,
            store_id=world.store_a,
            data=WriteOffIn.model_validate(
                {"reason": "Бой", "lines": [{"product_id": product_id, "qty_milli": 1000}]}
            ),
        )
        return {
            "supplier_id": supplier.id,
            "purchase_order_id": draft.id,
            "order_to_cancel": to_cancel.id,
            "order_to_receive": to_receive.id,
            "doc_id": doc.id,
            "store_b": world.store_b,
        }


def _seed_service(db, world) -> None:  # type: ignore[no-untyped-def]
    """The cast's service account (as `kassa hub service-token` makes it), with its token."""
    from hub.staff import service
    from hub.staff.schemas import ServiceTokenCreate

    with db.write() as s:
        token, user, _created = service.issue_service_token(
            s, data=ServiceTokenCreate(name="kassa flows")
        )
    world.tokens["service"] = token
    world.ids["service"] = user.id


def _seed_reports(db, settings) -> dict[str, int | str]:  # type: ignore[no-untyped-def]
    """Two report recipients (one to change, one to delete) and a published daily report."""
    from pathlib import Path

    from hub.reports.models import ReportRecipient
    from tests.hub.report_files import publish

    publish(Path(settings.reports_dir), "daily", "2026-11-27")
    with db.write() as s:
        keep = ReportRecipient(email="boss@example.com", name="Владелец")
        drop = ReportRecipient(email="old@example.com", name="Бывший")
        s.add_all([keep, drop])
        s.flush()
        return {
            "recipient_id": keep.id,
            "recipient_to_delete": drop.id,
            "scope": "daily",
            "date": "2026-11-27",
            "file_path": "charts/revenue.png",
        }


def _sample_path(path: str, values: dict[str, int | str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values.get(m.group(1), 1)), path)


def _fill(value, *, role: str, ids: dict[str, int | str]):  # type: ignore[no-untyped-def]
    if isinstance(value, dict):
        return {k: _fill(v, role=role, ids=ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, role=role, ids=ids) for v in value]
    if value == "{a}":
        return ids["store_id"]
    if value == "{t}":
        return ids["tax_rate_id"]
    if value in ("{p}", "{s}", "{b}"):
        return ids[{"{p}": "product_id", "{s}": "supplier_id", "{b}": "store_b"}[value]]
    if isinstance(value, str):
        return value.replace("{role}", role).replace("{n}", str(ORDER.index(role)))
    return value


def test_route_role_matrix(app, client, world, db, settings) -> None:  # type: ignore[no-untyped-def]
    """Walks every route x role (RELIABILITY.md Access) on SQLite and PostgreSQL: refused roles
    get exactly 401/403, allowed roles get a success (or, for LOOSE routes, a 4xx that is not
    401/403), and nobody ever gets a 5xx. The cast includes a service account: it passes only
    the `..._or_service` policies."""
    _seed_service(db, world)
    ids: dict[str, int | str] = {
        "store_id": world.store_a,
        "device_id": world.ids["revoked_device_a"],  # revoking it again disarms nobody
        "user_id": world.ids["cashier_a"],
        "shift_uuid": _seed_shift(db, world),
        "sale_uuid": _seed_sale(db, world),
        **_seed_catalog(db),
    }
    ids.update(_seed_purchasing(db, world, ids["product_id"]))
    ids.update(_seed_reports(db, settings))
    failures = []
    checked = 0
    # Logging out revokes the caller's token, so that route goes last.
    routes = sorted(_all_routes(app), key=lambda r: (r[0].endswith("/logout"), r[0], sorted(r[1])))
    for path, methods, route in routes:
        (policy,) = set(_policies(route))
        for method in sorted(methods - {"HEAD"}):
            key = (method, path)
            url = _sample_path(
                path, {**ids, **{p: ids[k] for p, k in ROUTE_IDS.get(key, {}).items()}}
            )
            expected = {**EXPECTED[policy], **NARROWER.get(key, {})}
            for role in ORDER:
                kwargs: dict[str, object] = {"headers": world.headers(role)}
                if key in NO_BODY:
                    pass
                elif method in ("POST", "PUT", "PATCH") and _takes_form(route):
                    kwargs["files"] = {"file": ("x.csv", b"", "text/csv")}
                elif method in ("POST", "PUT", "PATCH"):
                    kwargs["json"] = _fill(SAMPLE_BODIES.get(key, {}), role=role, ids=ids)
                response = client.request(method, url, **kwargs)
                checked += 1
                want, got = expected[role], response.status_code
                if want != "ok":
                    ok = got == want
                elif key in LOOSE:
                    ok = got < 500 and got not in (401, 403)
                else:
                    ok = 200 <= got < 300
                if not ok:
                    failures.append(
                        f"{method} {path} as {role}: {got}, want {want} {response.text[:120]}"
                    )
    assert failures == []
    assert checked > 200


def test_every_write_route_has_a_sample_or_is_declared_loose(app) -> None:  # type: ignore[no-untyped-def]
    """A new write route must join the matrix with a valid body (or say why it cannot)."""
    missing = [
        f"{m} {p}"
        for p, methods, _r in _all_routes(app)
        for m in methods
        if m in ("POST", "PUT", "PATCH", "DELETE")
        and (m, p) not in SAMPLE_BODIES
        and (m, p) not in NO_BODY
        and (m, p) not in LOOSE
    ]
    assert missing == []


@pytest.mark.parametrize("who", ["revoked_device_a"])
def test_revoked_device_is_told_to_re_pair(client, world, who) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/till/catalog", headers=world.headers(who))
    assert response.status_code == 401
    assert response.json()["detail"][0]["type"] == "device_revoked"
    assert "re-pair" in response.json()["detail"][0]["msg"]
