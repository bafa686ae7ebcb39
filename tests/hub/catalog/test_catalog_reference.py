"""Tax rates, the category tree and scale-label templates over the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

BASE = "/api/v1/catalog"
Counts = Callable[[], dict[str, int]]


def _fields(response: Any) -> list[str]:
    return [item["field"] for item in response.json()["detail"]]


# --- tax rates -----------------------------------------------------------------------------


def test_tax_rates_create_list_update(api: Any) -> None:
    vat = api.tax("vat22", 2200)
    no_vat = api.tax("novat", None)
    assert vat == {
        "id": vat["id"],
        "code": "vat22",
        "name": "НДС vat22",
        "rate_bp": 2200,
        "change_seq": vat["change_seq"],
    }
    assert no_vat["rate_bp"] is None
    assert no_vat["change_seq"] > vat["change_seq"]

    changed = api.patch(f"/tax-rates/{vat['id']}", {"rate_bp": 2000, "name": "НДС 20%"}, 200)
    assert changed.json()["rate_bp"] == 2000
    assert changed.json()["name"] == "НДС 20%"
    assert changed.json()["change_seq"] > no_vat["change_seq"]
    assert api.get("/tax-rates").json() == [changed.json(), no_vat]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "x", "name": "x", "rate_bp": 10001}, "rate_bp"),
        ({"code": "x", "name": "x", "rate_bp": -1}, "rate_bp"),
        ({"code": "x", "name": "x", "rate_bp": 22.0}, "rate_bp"),
        ({"code": "x", "name": "x", "rate_bp": "2200"}, "rate_bp"),
        ({"code": "x", "name": "x", "rate_bp": True}, "rate_bp"),
        ({"code": "x", "name": "x"}, "rate_bp"),
        ({"code": "", "name": "x", "rate_bp": 0}, "code"),
        ({"code": "x" * 33, "name": "x", "rate_bp": 0}, "code"),
        ({"code": "x", "name": "a\x00b", "rate_bp": 0}, "name"),
        ({"code": "x", "name": "x", "rate_bp": 0, "extra": 1}, "extra"),
    ],
)
def test_bad_tax_rate_is_422_naming_the_field(
    api: Any, counts: Counts, body: dict[str, Any], field: str
) -> None:
    before = counts()
    response = api.post("/tax-rates", body, 422)
    assert field in _fields(response)
    assert counts() == before


def test_duplicate_tax_code_is_409(api: Any, counts: Counts) -> None:
    api.tax("vat22")
    other = api.tax("vat10", 1000)
    before = counts()
    assert _fields(api.post("/tax-rates", {"code": "vat22", "name": "x", "rate_bp": 0}, 409)) == [
        "code"
    ]
    assert _fields(api.patch(f"/tax-rates/{other['id']}", {"code": "vat22"}, 409)) == ["code"]
    assert _fields(api.patch(f"/tax-rates/{other['id']}", {"code": None}, 422)) == ["code"]
    assert counts() == before


def test_new_vat_rate_resends_its_products(api: Any) -> None:
    vat = api.tax("vat22", 2200)
    other = api.tax("vat10", 1000)
    first = api.product(vat["id"], sku="A")
    second = api.product(vat["id"], sku="B")
    untouched = api.product(other["id"], sku="C")

    rate = api.patch(f"/tax-rates/{vat['id']}", {"rate_bp": 2000}, 200).json()

    a, b, c = (api.get(f"/products/{p['id']}").json() for p in (first, second, untouched))
    seqs = {a["change_seq"], b["change_seq"], rate["change_seq"]}
    assert len(seqs) == 3
    assert min(seqs) > untouched["change_seq"]
    assert c["change_seq"] == untouched["change_seq"]


# --- categories ----------------------------------------------------------------------------


def test_category_tree_paths(api: Any) -> None:
    dairy = api.category("Молочные продукты")
    cheese = api.category("Сыры", dairy["id"])
    assert cheese == {
        "id": cheese["id"],
        "parent_id": dairy["id"],
        "name": "Сыры",
        "path": "Молочные продукты/Сыры",
        "active": True,
        "change_seq": cheese["change_seq"],
    }
    bread = api.category("Хлеб")
    listed = api.get("/categories").json()
    assert [(c["path"], c["parent_id"]) for c in listed] == [
        ("Молочные продукты", None),
        ("Молочные продукты/Сыры", dairy["id"]),
        ("Хлеб", None),
    ]

    moved = api.patch(f"/categories/{cheese['id']}", {"parent_id": bread["id"]}, 200).json()
    assert moved["path"] == "Хлеб/Сыры"
    assert moved["change_seq"] > bread["change_seq"]
    renamed = api.patch(f"/categories/{cheese['id']}", {"name": "Сыр", "active": False}, 200)
    assert (renamed.json()["path"], renamed.json()["active"]) == ("Хлеб/Сыр", False)
    top = api.patch(f"/categories/{cheese['id']}", {"parent_id": None}, 200).json()
    assert (top["path"], top["parent_id"]) == ("Сыр", None)


def test_category_refuses_cycles_duplicates_and_bad_names(api: Any, counts: Counts) -> None:
    root = api.category("A")
    child = api.category("B", root["id"])
    grandchild = api.category("C", child["id"])
    api.category("B")  # the same name under another parent is fine
    before = counts()

    cases = [
        (api.patch(f"/categories/{root['id']}", {"parent_id": grandchild["id"]}), 422, "parent_id"),
        (api.patch(f"/categories/{root['id']}", {"parent_id": root["id"]}), 422, "parent_id"),
        (api.patch(f"/categories/{root['id']}", {"parent_id": 999999}), 422, "parent_id"),
        (api.post("/categories", {"name": "B", "parent_id": root["id"]}), 409, "name"),
        (api.post("/categories", {"name": "A"}), 409, "name"),
        (
            api.patch(f"/categories/{grandchild['id']}", {"parent_id": None, "name": "A"}),
            409,
            "name",
        ),
        (api.post("/categories", {"name": "Молоко/Сыр"}), 422, "name"),
        (api.post("/categories", {"name": "  "}), 422, "name"),
        (api.post("/categories", {"name": "x", "parent_id": 0}), 422, "parent_id"),
        (api.patch(f"/categories/{root['id']}", {"name": None}), 422, "name"),
        (api.patch("/categories/999999", {"name": "Z"}), 404, "category_id"),
    ]
    for response, status, field in cases:
        assert (response.status_code, _fields(response)) == (status, [field]), response.text
    assert counts() == before


# --- weighted-barcode templates ------------------------------------------------------------


def test_weight_templates(api: Any, counts: Counts) -> None:
    created = api.post(
        "/weight-templates", {"name": "Весы 22", "pattern": "22PPPPPWWWWWC"}, 201
    ).json()
    assert created == {
        "id": created["id"],
        "name": "Весы 22",
        "pattern": "22PPPPPWWWWWC",
        "active": True,
        "change_seq": created["change_seq"],
    }
    other = api.post("/weight-templates", {"name": "Цена", "pattern": "2PPPPPPMMMMMC"}, 201).json()
    before = counts()
    assert _fields(
        api.post("/weight-templates", {"name": "x", "pattern": "22PPPPPWWWWWX"}, 422)
    ) == ["pattern"]
    assert _fields(
        api.post("/weight-templates", {"name": "x", "pattern": "22PPPPPWWWWWC"}, 409)
    ) == ["pattern"]
    assert _fields(
        api.patch(f"/weight-templates/{other['id']}", {"pattern": "22PPPPPWWWWWC"}, 409)
    ) == ["pattern"]
    assert counts() == before

    off = api.patch(f"/weight-templates/{created['id']}", {"active": False}, 200).json()
    assert off["active"] is False
    assert off["change_seq"] > other["change_seq"]
    assert [t["id"] for t in api.get("/weight-templates").json()] == [created["id"], other["id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "pattern": "22PPPPPWWWWW"}, "pattern"),
        ({"name": "x", "pattern": "22PPPPPWWWWWCC"}, "pattern"),
        ({"name": "x", "pattern": "12PPPPPWWWWWC"}, "pattern"),
        ({"name": "x", "pattern": "22PPPWWPPWWWC"}, "pattern"),
        ({"name": "x", "pattern": 2200000000000}, "pattern"),
        ({"name": "", "pattern": "22PPPPPWWWWWC"}, "name"),
        ({"name": "x\x00", "pattern": "22PPPPPWWWWWC"}, "name"),
        ({"name": "x", "pattern": "22PPPPPWWWWWC", "active": "no"}, "active"),
    ],
)
def test_bad_weight_template_is_422(
    api: Any, counts: Counts, body: dict[str, Any], field: str
) -> None:
    before = counts()
    assert _fields(api.post("/weight-templates", body, 422)) == [field]
    assert counts() == before


def test_ids_in_paths_are_bounded(api: Any) -> None:
    for path, field in (
        ("/tax-rates", "tax_rate_id"),
        ("/categories", "category_id"),
        ("/weight-templates", "template_id"),
    ):
        assert _fields(api.patch(f"{path}/{2**63}", {"name": "x"}, 422)) == [field]
    assert _fields(api.get(f"/products/{2**63}")) == ["product_id"]
    assert _fields(api.get("/products/0")) == ["product_id"]


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("owner", 200),
        ("manager_a", 200),
        ("manager_b", 200),
        ("cashier_a", 403),
        ("device_a", 403),
        ("anonymous", 401),
    ],
)
def test_catalog_is_for_owners_and_managers(client: Any, world: Any, who: str, status: int) -> None:
    for path in ("/tax-rates", "/categories", "/products", "/weight-templates", "/export"):
        assert client.get(BASE + path, headers=world.headers(who)).status_code == status
    body = {"code": f"c-{who}", "name": "x", "rate_bp": 0}
    created = client.post(BASE + "/tax-rates", json=body, headers=world.headers(who))
    assert created.status_code == (201 if status == 200 else status)


def test_every_catalog_route_declares_one_policy_and_its_errors() -> None:
    from hub.access import policy_of
    from hub.catalog.router import router

    for route in router.routes:
        policies = [
            policy_of(dep.call)
            for dep in route.dependant.dependencies  # type: ignore[attr-defined]
            if policy_of(dep.call)
        ]
        assert policies == ["manager"], route.path  # type: ignore[attr-defined]
        assert {401, 403} <= set(route.responses), route.path  # type: ignore[attr-defined]


def test_wrong_content_type_and_malformed_json(api: Any, counts: Counts) -> None:
    before = counts()
    wrong = api.client.post(
        BASE + "/tax-rates",
        content=b"code=x",
        headers={**api.headers, "Content-Type": "text/plain"},
    )
    assert wrong.status_code == 415
    broken = api.client.post(
        BASE + "/tax-rates",
        content=b'{"code": "x", "name": ',
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert counts() == before
