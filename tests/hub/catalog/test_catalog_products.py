"""Products over the API: create, change, search, and every bad input refused whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Counts = Callable[[], dict[str, int]]


@pytest.fixture
def vat(api: Any) -> dict[str, Any]:
    return api.tax("vat22", 2200)  # type: ignore[no-any-return]


def _fields(response: Any) -> list[str]:
    return [item["field"] for item in response.json()["detail"]]


def test_create_and_read_a_product(api: Any, vat: dict[str, Any]) -> None:
    dairy = api.category("Молочные продукты")
    code = api.ean13("460000000001")
    created = api.product(
        vat["id"],
        sku=" MLK-1 ",
        name="  Молоко «Домик» 3,2%  ",
        category_id=dairy["id"],
        unit="l",
        price_minor=8990,
        barcodes=[code, "INT-0001"],
        scale_code="00042",
    )
    assert created == {
        "id": created["id"],
        "sku": "MLK-1",
        "name": "Молоко «Домик» 3,2%",
        "category_id": dairy["id"],
        "unit": "l",
        "price_minor": 8990,
        "tax_rate_id": vat["id"],
        "barcodes": sorted([code, "INT-0001"]),
        "scale_code": "42",
        "active": True,
        "change_seq": created["change_seq"],
        "created_at": created["created_at"],
        "updated_at": created["updated_at"],
    }
    assert created["change_seq"] > dairy["change_seq"]
    assert api.get(f"/products/{created['id']}").json() == created
    assert api.get("/products/999999").status_code == 404


def test_patch_changes_fields_and_replaces_barcodes(api: Any, vat: dict[str, Any]) -> None:
    other_vat = api.tax("vat10", 1000)
    old, kept, new = (api.ean13(f"46000000000{i}") for i in range(3))
    product = api.product(vat["id"], barcodes=[old, kept])

    changed = api.patch(
        f"/products/{product['id']}",
        {
            "price_minor": 9990,
            "name": "Молоко 2,5%",
            "tax_rate_id": other_vat["id"],
            "unit": "kg",
            "barcodes": [new, kept],
            "scale_code": "7",
            "active": False,
        },
        200,
    ).json()
    assert {k: changed[k] for k in ("price_minor", "name", "tax_rate_id", "unit", "active")} == {
        "price_minor": 9990,
        "name": "Молоко 2,5%",
        "tax_rate_id": other_vat["id"],
        "unit": "kg",
        "active": False,
    }
    assert changed["barcodes"] == sorted([new, kept])
    assert changed["scale_code"] == "7"
    assert changed["change_seq"] > product["change_seq"]

    # the freed barcode can go to another product; clearing nullable fields works
    api.product(vat["id"], sku="SKU-2", barcodes=[old])
    cleared = api.patch(f"/products/{product['id']}", {"scale_code": None, "barcodes": []}, 200)
    assert (cleared.json()["scale_code"], cleared.json()["barcodes"]) == (None, [])


def test_change_seq_increases_on_every_write_and_barcodes_bump_the_product(
    api: Any, vat: dict[str, Any]
) -> None:
    seqs = [vat["change_seq"]]
    category = api.category("Хлеб")
    seqs.append(category["change_seq"])
    product = api.product(vat["id"], category_id=category["id"])
    seqs.append(product["change_seq"])
    for body in (
        {"barcodes": [api.ean13("460000000009")]},  # only a barcode changes
        {"barcodes": ["INT-1"]},
        {"price_minor": 1},
        {"active": False},
    ):
        seqs.append(api.patch(f"/products/{product['id']}", body, 200).json()["change_seq"])
    seqs.append(
        api.patch(f"/categories/{category['id']}", {"active": False}, 200).json()["change_seq"]
    )
    seqs.append(api.patch(f"/tax-rates/{vat['id']}", {"name": "x"}, 200).json()["change_seq"])
    assert seqs == sorted(set(seqs))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price_minor": 1.5}, "price_minor"),
        ({"price_minor": 100.0}, "price_minor"),
        ({"price_minor": "100"}, "price_minor"),
        ({"price_minor": True}, "price_minor"),
        ({"price_minor": -1}, "price_minor"),
        ({"price_minor": 10**12}, "price_minor"),
        ({"price_minor": 2**63}, "price_minor"),
        ({"sku": ""}, "sku"),
        ({"sku": "x" * 65}, "sku"),
        ({"sku": "a\x00b"}, "sku"),
        ({"name": ""}, "name"),
        ({"name": "я" * 201}, "name"),
        ({"name": "Молоко\x00"}, "name"),
        ({"name": "Молоко\nкефир"}, "name"),
        ({"name": "Молоко\tкефир"}, "name"),
        ({"name": "Моло\x85ко"}, "name"),  # C1 control (NEL)
        ({"name": "Чек\x1b@"}, "name"),  # ESC @: a printer command
        ({"sku": "A\x7fB"}, "sku"),  # DEL
        ({"sku": "A\x9bB"}, "sku"),  # C1 (CSI)
        ({"unit": "g"}, "unit"),
        ({"unit": None}, "unit"),
        ({"tax_rate_id": "1"}, "tax_rate_id"),
        ({"tax_rate_id": 999999}, "tax_rate_id"),
        ({"category_id": 999999}, "category_id"),
        ({"category_id": 2**63}, "category_id"),
        ({"barcodes": ["with space"]}, "barcodes.0"),
        ({"barcodes": ["ok", "ЕАН"]}, "barcodes.1"),
        ({"barcodes": ["x" * 65]}, "barcodes.0"),
        ({"barcodes": ["4600000000000"]}, "barcodes.0"),  # wrong check digit
        ({"barcodes": ["12345670", "12345678"]}, "barcodes.1"),  # EAN-8 check digit
        ({"barcodes": ["a;b"]}, "barcodes.0"),
        ({"barcodes": ["A-1", "B-2", "A-1"]}, "barcodes.2"),
        ({"barcodes": "A-1"}, "barcodes"),
        ({"scale_code": "12345678"}, "scale_code"),
        ({"scale_code": "12a"}, "scale_code"),
        ({"scale_code": 12}, "scale_code"),
        ({"active": "yes"}, "active"),
        ({"card_number": "4111111111111111"}, "card_number"),
    ],
)
def test_bad_product_is_refused_naming_the_field(
    api: Any, vat: dict[str, Any], counts: Counts, change: dict[str, Any], field: str
) -> None:
    base = {"sku": "S", "name": "N", "unit": "piece", "price_minor": 1, "tax_rate_id": vat["id"]}
    before = counts()
    response = api.post("/products", {**base, **change})
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "members", "field"),
    [
        ("/products", r'"sku": "S", "name": "a\ud800"', "name"),
        ("/products", r'"sku": "\udfffS", "name": "a"', "sku"),
        ("/categories", r'"name": "a\ud800b"', "name"),
        ("/tax-rates", r'"code": "\ud800", "name": "x", "rate_bp": 0', "code"),
    ],
)
def test_lone_surrogates_are_422(
    api: Any, vat: dict[str, Any], counts: Counts, path: str, members: str, field: str
) -> None:
    """Sent as JSON escapes: a client cannot even encode them as UTF-8."""
    if path == "/products":
        members += f', "unit": "piece", "price_minor": 1, "tax_rate_id": {vat["id"]}'
    before = counts()
    response = api.client.post(
        f"{api.base}{path}",
        content="{" + members + "}",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]
    assert counts() == before


@pytest.mark.parametrize(
    "raw",
    [b'{"price_minor": NaN}', b'{"price_minor": Infinity}', b'{"price_minor": 1e999}'],
)
def test_non_finite_prices_are_422(
    api: Any, vat: dict[str, Any], counts: Counts, raw: bytes
) -> None:
    product = api.product(vat["id"])
    before = counts()
    response = api.client.patch(
        f"{api.base}/products/{product['id']}",
        content=raw,
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert _fields(response) == ["price_minor"]
    assert counts() == before


def test_patch_refuses_null_for_required_fields(
    api: Any, vat: dict[str, Any], counts: Counts
) -> None:
    product = api.product(vat["id"])
    before = counts()
    for field in ("name", "unit", "price_minor", "tax_rate_id", "barcodes", "active"):
        response = api.patch(f"/products/{product['id']}", {field: None}, 422)
        assert _fields(response) == [field]
    assert _fields(api.patch(f"/products/{product['id']}", {"sku": "NEW"}, 422)) == ["sku"]
    assert counts() == before


def test_duplicates_are_409_naming_the_field_and_the_owner(
    api: Any, vat: dict[str, Any], counts: Counts
) -> None:
    code = api.ean13("460000000001")
    owner = api.product(vat["id"], sku="OWNER", barcodes=[code], scale_code="15")
    other = api.product(vat["id"], sku="OTHER")
    before = counts()

    same_sku = api.post(
        "/products",
        {"sku": "OWNER", "name": "x", "unit": "piece", "price_minor": 1, "tax_rate_id": vat["id"]},
        409,
    )
    assert _fields(same_sku) == ["sku"]
    taken = api.patch(f"/products/{other['id']}", {"barcodes": ["FREE-1", code]}, 409)
    assert _fields(taken) == ["barcodes.1"]
    assert "'OWNER'" in taken.json()["detail"][0]["msg"]
    assert f"id {owner['id']}" in taken.json()["detail"][0]["msg"]
    scale = api.patch(f"/products/{other['id']}", {"scale_code": "015"}, 409)
    assert _fields(scale) == ["scale_code"]
    assert "'OWNER'" in scale.json()["detail"][0]["msg"]
    assert counts() == before
    # a product may keep its own codes
    api.patch(f"/products/{owner['id']}", {"barcodes": [code], "scale_code": "15"}, 200)


# --- search --------------------------------------------------------------------------------


def _names(api: Any, **params: Any) -> list[str]:
    response = api.get("/products", **params)
    assert response.status_code == 200, response.text
    return sorted(p["name"] for p in response.json()["items"])  # collations differ: no order


def test_search_is_literal_and_case_insensitive_in_any_script(
    api: Any, vat: dict[str, Any]
) -> None:
    names = {
        "P1": "Молоко 100%",
        "P2": "Молоко 1000 мл",
        "P3": "Сок a_b",
        "P4": "Сок axb",
        "P5": "O'Reilly чай",
        "P6": "Robert'); DROP TABLE product;--",
        "P7": "ГРЕЧКА ЯДРИЦА",
        "P8": "Straße Brot",
    }
    for sku, name in names.items():
        api.product(vat["id"], sku=sku, name=name)

    assert _names(api, q="молоко") == ["Молоко 100%", "Молоко 1000 мл"]
    assert _names(api, q="%") == ["Молоко 100%"]
    assert _names(api, q="100%") == ["Молоко 100%"]
    assert _names(api, q="_") == ["Сок a_b"]
    assert _names(api, q="a_b") == ["Сок a_b"]
    assert _names(api, q="'") == ["O'Reilly чай", "Robert'); DROP TABLE product;--"]
    assert _names(api, q="o'reilly") == ["O'Reilly чай"]
    assert _names(api, q="DROP TABLE") == ["Robert'); DROP TABLE product;--"]
    assert _names(api, q="гречка ядрица") == ["ГРЕЧКА ЯДРИЦА"]
    assert _names(api, q="STRASSE") == ["Straße Brot"]
    assert _names(api, q="p7") == ["ГРЕЧКА ЯДРИЦА"]  # sku, any case
    assert _names(api, q="\\") == []
    assert api.get("/products").json()["total"] == len(names)


def test_search_by_barcode_category_active_and_pages(api: Any, vat: dict[str, Any]) -> None:
    dairy = api.category("Молочные")
    cheese = api.category("Сыры", dairy["id"])
    code = api.ean13("460000000007")
    api.product(vat["id"], sku="A", name="Сыр", category_id=cheese["id"], barcodes=[code])
    api.product(vat["id"], sku="B", name="Кефир", category_id=dairy["id"], active=False)
    api.product(vat["id"], sku="C", name="Хлеб")

    assert _names(api, q=code) == ["Сыр"]
    assert _names(api, q=code[:-1]) == []  # barcodes match exactly
    assert _names(api, category_id=dairy["id"]) == ["Кефир", "Сыр"]
    assert _names(api, category_id=cheese["id"]) == ["Сыр"]
    assert _names(api, active="false") == ["Кефир"]
    assert _names(api, active="true") == ["Сыр", "Хлеб"]
    ordered = [p["name"] for p in api.get("/products").json()["items"]]
    assert ordered == ["Кефир", "Сыр", "Хлеб"]
    page = api.get("/products", limit=1, offset=1).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [p["name"] for p in page["items"]] == ["Сыр"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a\x00b"}, "q"),
        ({"q": "я" * 201}, "q"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"category_id": 2**63}, "category_id"),
        ({"active": "maybe"}, "active"),
    ],
)
def test_bad_search_parameters_are_422(api: Any, params: dict[str, Any], field: str) -> None:
    response = api.get("/products", **params)
    assert response.status_code == 422, response.text
    assert _fields(response) == [field]


def test_audit_records_product_changes(api: Any, vat: dict[str, Any], db: Any) -> None:
    from sqlalchemy import select

    from hub.audit.models import AuditEntry

    product = api.product(vat["id"], barcodes=["INT-1"])
    api.patch(f"/products/{product['id']}", {"barcodes": ["INT-2"], "price_minor": 5}, 200)
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "product.update")).one()
    assert entry.entity_id == str(product["id"])
    assert entry.before is not None and entry.after is not None
    assert (entry.before["barcodes"], entry.after["barcodes"]) == (["INT-1"], ["INT-2"])
    assert (entry.before["price_minor"], entry.after["price_minor"]) == (8990, 5)
