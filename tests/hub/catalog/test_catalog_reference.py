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


def _chain(api: Any, levels: int) -> list[dict[str, Any]]:
    chain = [api.category("L1")]
    for level in range(2, levels + 1):
        chain.append(api.category(f"L{level}", chain[-1]["id"]))
    return chain


def test_categories_nest_at_most_16_levels(api: Any, counts: Counts) -> None:
    chain = _chain(api, 16)
    assert chain[-1]["path"] == "/".join(f"L{i}" for i in range(1, 17))
    branch = api.category("B1")
    api.category("B2", branch["id"])
    before = counts()
    cases = [
        api.post("/categories", {"name": "L17", "parent_id": chain[-1]["id"]}),
        # B1 with its child would end 17 levels deep under L15
        api.patch(f"/categories/{branch['id']}", {"parent_id": chain[14]["id"]}),
    ]
    for response in cases:
        assert response.status_code == 422, response.text
        assert [(d["field"], d["type"]) for d in response.json()["detail"]] == [
            ("parent_id", "too_deep")
        ]
    assert counts() == before
    leaf = api.patch(f"/categories/{branch['id']}", {"parent_id": chain[13]["id"]}, 200).json()
    assert leaf["path"].count("/") == 14  # B1 at level 15, B2 at 16


def test_an_old_tree_deeper_than_the_limit_still_lists_and_exports(
    api: Any, db: Any, counts: Counts
) -> None:
    """Paths are built without recursion: 2000 levels (written before the limit) are no 500."""
    from sqlalchemy import insert

    from hub.catalog.models import Category

    levels = 2000
    with db.write() as s:
        s.execute(
            insert(Category),
            [
                {"id": 10_000 + i, "parent_id": 10_000 + i - 1 if i else None, "name": f"D{i}"}
                | {"change_seq": 0, "active": True}
                for i in range(levels)
            ],
        )
    listed = api.get("/categories")
    assert listed.status_code == 200
    deepest = max(listed.json(), key=lambda c: len(c["path"]))
    assert deepest["path"] == "/".join(f"D{i}" for i in range(levels))
    assert api.get("/export").status_code == 200
    before = counts()
    too_deep = api.post("/categories", {"name": "X", "parent_id": 10_000 + levels - 1}, 422)
    assert _fields(too_deep) == ["parent_id"]
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/categories", {"name": "Хл\x85еб"}, "name"),  # C1 control (NEL)
        ("/categories", {"name": "Хлеб\x1b"}, "name"),  # ESC: a printer command on receipts
        ("/tax-rates", {"code": "vat\x7f", "name": "x", "rate_bp": 0}, "code"),  # DEL
        ("/tax-rates", {"code": "vat", "name": "a\tb", "rate_bp": 0}, "name"),
        ("/weight-templates", {"name": "Весы\x9b", "pattern": "22PPPPPWWWWWC"}, "name"),
    ],
)
def test_reference_text_follows_the_hub_text_rules(
    api: Any, counts: Counts, path: str, body: dict[str, Any], field: str
) -> None:
    before = counts()
    assert _fields(api.post(path, body, 422)) == [field]
    assert counts() == before


def test_reference_writes_are_audited(api: Any, db: Any) -> None:
    from sqlalchemy import select

    from hub.audit.models import AuditEntry

    rate = api.tax("vat22", 2200)
    api.patch(f"/tax-rates/{rate['id']}", {"rate_bp": 2000}, 200)
    template = api.post("/weight-templates", {"name": "  Весы  ", "pattern": "22PPPPPWWWWWC"}, 201)
    assert template.json()["name"] == "Весы"  # trimmed
    api.patch(f"/weight-templates/{template.json()['id']}", {"active": False}, 200)
    conflict = api.post("/tax-rates", {"code": "vat22", "name": "x", "rate_bp": 0}, 409)
    assert conflict.json()["detail"][0]["msg"] == "a tax rate with code 'vat22' exists"
    with db.read() as s:
        entries = {e.action: e for e in s.scalars(select(AuditEntry))}
    assert entries["tax_rate.create"].after["rate_bp"] == 2200
    update = entries["tax_rate.update"]
    assert (update.entity_id, update.before["rate_bp"], update.after["rate_bp"]) == (
        str(rate["id"]),
        2200,
        2000,
    )
    assert update.after["change_seq"] > update.before["change_seq"]
    assert entries["weight_template.create"].after["pattern"] == "22PPPPPWWWWWC"
    assert (
        entries["weight_template.update"].before["active"],
        entries["weight_template.update"].after["active"],
    ) == (True, False)


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
    ("who", "reads", "writes"),
    [
        ("owner", 200, 201),
        ("manager_a", 200, 403),
        ("manager_b", 200, 403),
        ("cashier_a", 403, 403),
        ("device_a", 403, 403),
        ("anonymous", 401, 401),
    ],
)
def test_managers_read_the_catalog_and_owners_edit_it(
    client: Any, world: Any, who: str, reads: int, writes: int
) -> None:
    for path in ("/tax-rates", "/categories", "/products", "/weight-templates", "/export"):
        assert client.get(BASE + path, headers=world.headers(who)).status_code == reads
    body = {"code": f"c-{who}", "name": "x", "rate_bp": 0}
    created = client.post(BASE + "/tax-rates", json=body, headers=world.headers(who))
    assert created.status_code == writes


def test_an_owner_lets_a_manager_edit_the_catalog(client: Any, world: Any) -> None:
    manager = world.headers("manager_a")
    body = {"code": "vat5", "name": "НДС 5%", "rate_bp": 500}
    assert client.post(BASE + "/tax-rates", json=body, headers=manager).status_code == 403
    url = f"/api/v1/users/{world.ids['manager_a']}"
    # Nobody but an owner can grant it, the manager least of all.
    grant = {"can_edit_catalog": True}
    assert client.patch(url, json=grant, headers=manager).status_code == 403
    granted = client.patch(url, json=grant, headers=world.headers("owner"))
    assert granted.status_code == 200
    assert granted.json()["can_edit_catalog"] is True
    assert client.post(BASE + "/tax-rates", json=body, headers=manager).status_code == 201
    # Store B's manager did not get it.
    other = {"code": "vat7", "name": "НДС 7%", "rate_bp": 700}
    assert (
        client.post(BASE + "/tax-rates", json=other, headers=world.headers("manager_b")).status_code
        == 403
    )


def test_every_catalog_route_declares_one_policy_and_its_errors() -> None:
    from hub.access import policy_of
    from hub.catalog.router import router

    for route in router.routes:
        policies = [
            policy_of(dep.call)
            for dep in route.dependant.dependencies  # type: ignore[attr-defined]
            if policy_of(dep.call)
        ]
        methods = route.methods  # type: ignore[attr-defined]
        want = ["manager"] if methods == {"GET"} else ["catalog_editor"]
        assert policies == want, route.path  # type: ignore[attr-defined]
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
