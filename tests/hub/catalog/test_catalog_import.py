"""CSV/XLSX catalog import (dry run, report of every bad row, all-or-nothing) and export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from hub.audit.models import AuditEntry
from hub.catalog.models import Product

Counts = Callable[[], dict[str, int]]
HEADER = [
    "sku",
    "name",
    "category",
    "unit",
    "price",
    "tax_rate",
    "barcodes",
    "active",
    "scale_code",
]


def csv_file(rows: list[list[str]], *, delimiter: str = ";", bom: bool = True) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode("utf-8")


def xlsx_file(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _errors(report: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    return [(e["row"], e["column"], e["code"]) for e in report["errors"]]


@pytest.fixture
def vat(api: Any) -> dict[str, Any]:
    api.tax("novat", None)
    return api.tax("vat22", 2200)  # type: ignore[no-any-return]


def test_dry_run_lists_every_bad_csv_row_and_writes_nothing(
    api: Any, vat: dict[str, Any], counts: Counts
) -> None:
    taken = api.ean13("460000000099")
    api.product(vat["id"], sku="OWNER", barcodes=[taken], scale_code="5")
    good = api.ean13("460000000001")
    ok = ["vat22", "", "1", ""]  # tax_rate, barcodes, active, scale_code
    rows = [
        HEADER,
        ["A", "Молоко", "Молочные продукты/Молоко", "piece", "89.90", *ok],
        ["B", "Кефир", "", "piece", "12.345", *ok],
        ["C", "Сыр", "", "g", "10", *ok],
        ["D", "Хлеб", "", "piece", "10", "vat99", "", "1", ""],
        ["E", "", "", "piece", "10", *ok],
        ["A", "Дубль", "", "piece", "10", *ok],
        ["F", "Сок", "", "piece", "10", "vat22", f"INT-1;{good}", "1", ""],
        ["G", "Чай", "", "piece", "10", "vat22", good, "1", ""],
        ["H", "Кофе", "", "piece", "10", "vat22", taken, "1", ""],
        ["I", "Соль\x00", "", "piece", "10", *ok],
        ["J", "я" * 201, "", "piece", "10", *ok],
        ["K", "Сахар", "", "piece", "10", "vat22", "4600000000000", "1", ""],
        ["L", "Мука", "", "piece", "10", "vat22", "", "может быть", ""],
        ["M", "Рис", "", "piece", "-1", *ok],
        ["N", "Гречка", "", "piece", "1e5", *ok],
        ["O", "Перец", "", "kg", "", "vat22", "", "1", "12345678"],
        [],
        ["P", "Лук", "A//B", "piece", "10", *ok],
        ["Q", "Укроп", "", "kg", "10", "vat22", "", "1", "005"],
        ["R", "Петрушка", "", "kg", "10", "vat22", "", "1", "6"],
        ["S", "Кинза", "", "kg", "10", "vat22", "", "1", "06"],
    ]
    before = counts()
    response = api.upload(csv_file(rows), "catalog.csv")
    assert response.status_code == 200, response.text
    report = response.json()
    assert _errors(report) == [
        (3, "price", "invalid_price"),
        (4, "unit", "invalid_unit"),
        (5, "tax_rate", "unknown_tax_rate"),
        (6, "name", "required"),
        (7, "sku", "duplicate_sku"),
        (9, "barcodes", "duplicate_barcode"),
        (10, "barcodes", "barcode_taken"),
        (11, "name", "bad_text"),
        (12, "name", "too_long"),
        (13, "barcodes", "invalid_barcode"),
        (14, "active", "invalid_active"),
        (15, "price", "invalid_price"),
        (16, "price", "invalid_price"),
        (17, "price", "required"),
        (17, "scale_code", "invalid_scale_code"),
        (19, "category", "invalid_category"),
        (20, "scale_code", "scale_code_taken"),
        (22, "scale_code", "duplicate_scale_code"),
    ]
    messages = {(e["row"], e["column"]): e["message"] for e in report["errors"]}
    assert "row 2" in messages[(7, "sku")]
    assert "row 8" in messages[(9, "barcodes")]
    assert "'OWNER'" in messages[(10, "barcodes")]
    assert "vat22" in messages[(5, "tax_rate")]
    assert {k: report[k] for k in ("rows", "to_create", "to_update", "unchanged")} == {
        "rows": 20,
        "to_create": 3,
        "to_update": 0,
        "unchanged": 0,
    }
    assert report["categories_to_create"] == ["Молочные продукты", "Молочные продукты/Молоко"]
    assert counts() == before


def test_dry_run_lists_every_bad_xlsx_row(api: Any, vat: dict[str, Any], counts: Counts) -> None:
    code = api.ean13("460000000002")
    rows: list[list[Any]] = [
        [h.upper() for h in HEADER],  # header names are case-insensitive
        [1001, "Молоко", None, "шт", 89.9, "vat22", int(code), True, 42],
        [1002, "Кефир", None, "piece", 12.345, "vat22", None, 1, None],
        [1003, "Сыр", None, "литр", 10, "vat22", None, None, None],
        [1004, "Хлеб", None, "piece", 10, "НДС 20", None, None, None],
        [1005, "Сок", None, "piece", 10, "vat22", int(code), None, None],
        [None, "Без артикула", None, "piece", 10, "vat22", None, None, None],
        [1001, "Повтор", None, "piece", "abc", "vat22", None, None, 42],
    ]
    before = counts()
    report = api.upload(xlsx_file(rows), "Каталог.xlsx").json()
    assert _errors(report) == [
        (3, "price", "invalid_price"),
        (4, "unit", "invalid_unit"),
        (5, "tax_rate", "unknown_tax_rate"),
        (6, "barcodes", "duplicate_barcode"),
        (7, "sku", "required"),
        (8, "price", "invalid_price"),
    ]
    assert (report["rows"], report["to_create"]) == (7, 1)
    assert counts() == before


def test_wrong_columns_are_reported_once(api: Any, vat: dict[str, Any], counts: Counts) -> None:
    rows = [
        ["sku", "name", "unit", "cost", "tax_rate", "name"],
        ["A", "Молоко", "piece", "10", "vat22", "x"],
        ["B", "Кефир", "piece", "10", "vat22", "y"],
    ]
    report = api.upload(csv_file(rows), "catalog.csv").json()
    assert _errors(report) == [
        (1, "cost", "unknown_column"),
        (1, "name", "duplicate_column"),
        (1, "price", "missing_column"),
    ]
    assert (report["rows"], report["to_create"]) == (2, 0)


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        ("sku;name\nМолоко;1\n".encode("cp1251"), "catalog.csv"),
        (b"PK\x03\x04 not really a zip", "catalog.xlsx"),
        (b"", "catalog.csv"),
        (b"anything", "catalog.xls"),
    ],
)
def test_unreadable_files_are_reported(
    api: Any, vat: dict[str, Any], counts: Counts, content: bytes, filename: str
) -> None:
    before = counts()
    response = api.upload(content, filename, dry_run=False)
    assert response.status_code == 422, response.text
    assert [e["code"] for e in response.json()["report"]["errors"]] in (["unreadable"], ["empty"])
    assert counts() == before


def test_dry_run_is_the_default(api: Any, vat: dict[str, Any], counts: Counts) -> None:
    rows = [HEADER, ["A", "Молоко", "Молочные", "piece", "89.90", "vat22", "", "1", ""]]
    before = counts()
    response = api.client.post(
        f"{api.base}/import",
        files={"file": ("catalog.csv", csv_file(rows), "text/csv")},
        headers=api.headers,
    )
    assert response.status_code == 200
    assert (response.json()["to_create"], response.json()["categories_to_create"]) == (
        1,
        ["Молочные"],
    )
    assert counts() == before


def test_real_import_with_errors_is_422_and_writes_nothing(
    api: Any, vat: dict[str, Any], counts: Counts
) -> None:
    rows = [
        HEADER,
        ["A", "Молоко", "Новая категория", "piece", "89.90", "vat22", "", "1", ""],
        ["B", "Кефир", "", "piece", "12,345", "vat22", "", "1", ""],
    ]
    before = counts()
    response = api.upload(csv_file(rows), "catalog.csv", dry_run=False)
    assert response.status_code == 422
    body = response.json()
    assert [(d["loc"], d["field"], d["type"]) for d in body["detail"]] == [
        (["file", 3, "price"], "file.3.price", "invalid_price")
    ]
    assert _errors(body["report"]) == [(3, "price", "invalid_price")]
    assert body["report"]["categories_to_create"] == ["Новая категория"]
    assert counts() == before


def test_clean_import_applies_everything_in_one_go(
    api: Any, vat: dict[str, Any], db: Any, counts: Counts
) -> None:
    dairy = api.category("Молочные продукты")
    code = api.ean13("460000000003")
    rows = [
        HEADER,
        ["MLK", "Молоко", "Молочные продукты/Молоко", "piece", "89.90", "vat22", code, "1", ""],
        ["KFR", "Кефир", "Молочные продукты", "l", "1 234,50", "novat", "INT-1, INT-2", "нет", ""],
        ["APL", "Яблоки", "", "кг", "0", "vat22", "", "", "00017"],
    ]
    before = counts()
    response = api.upload(csv_file(rows, delimiter=",", bom=False), "привоз.csv", dry_run=False)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": 3,
        "to_create": 3,
        "to_update": 0,
        "unchanged": 0,
        "categories_to_create": ["Молочные продукты/Молоко"],
        "errors": [],
    }
    products = {p["sku"]: p for p in api.get("/products").json()["items"]}
    milk_category = next(c for c in api.get("/categories").json() if c["name"] == "Молоко")
    assert milk_category["parent_id"] == dairy["id"]
    taxes = {t["code"]: t["id"] for t in api.get("/tax-rates").json()}
    assert {
        sku: (p["name"], p["category_id"], p["unit"], p["price_minor"], p["tax_rate_id"])
        for sku, p in products.items()
    } == {
        "MLK": ("Молоко", milk_category["id"], "piece", 8990, taxes["vat22"]),
        "KFR": ("Кефир", dairy["id"], "l", 123450, taxes["novat"]),
        "APL": ("Яблоки", None, "kg", 0, taxes["vat22"]),
    }
    assert products["MLK"]["barcodes"] == [code]
    assert products["KFR"]["barcodes"] == ["INT-1", "INT-2"]
    assert (products["KFR"]["active"], products["APL"]["scale_code"]) == (False, "17")
    # one change number per changed row, all in one block after everything before
    seqs = sorted([milk_category["change_seq"], *(p["change_seq"] for p in products.values())])
    assert seqs == list(range(before["change_seq"] + 1, before["change_seq"] + 5))
    assert counts()["change_seq"] == before["change_seq"] + 4
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.import")).one()
    assert entry.after == {
        "file": "привоз.csv",
        "rows": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "categories_created": ["Молочные продукты/Молоко"],
    }


def test_reimport_updates_moves_codes_and_keeps_what_the_file_omits(
    api: Any, vat: dict[str, Any], db: Any
) -> None:
    one, two = api.ean13("460000000004"), api.ean13("460000000005")
    a = api.product(vat["id"], sku="A", name="Один", barcodes=[one], scale_code="1")
    b = api.product(vat["id"], sku="B", name="Два", barcodes=[two], scale_code="2")
    c = api.product(vat["id"], sku="C", name="Три", barcodes=["KEEP-ME"], active=False)
    rows = [
        HEADER,  # A and B swap barcodes and scale codes; C is unchanged
        ["A", "Один", "", "piece", "89.90", "vat22", two, "1", "2"],
        ["B", "Два", "", "piece", "89.90", "vat22", one, "1", "1"],
        ["C", "Три", "", "piece", "89.90", "vat22", "KEEP-ME", "0", ""],
    ]
    report = api.upload(csv_file(rows), "swap.csv", dry_run=False).json()
    assert (report["to_update"], report["unchanged"], report["errors"]) == (2, 1, [])
    after = {p["sku"]: p for p in api.get("/products").json()["items"]}
    assert (after["A"]["barcodes"], after["A"]["scale_code"]) == ([two], "2")
    assert (after["B"]["barcodes"], after["B"]["scale_code"]) == ([one], "1")
    assert after["C"]["change_seq"] == c["change_seq"]
    assert min(after["A"]["change_seq"], after["B"]["change_seq"]) > c["change_seq"]
    assert after["A"]["change_seq"] != after["B"]["change_seq"]

    # without the optional columns, barcodes, scale codes, category and the flag are kept
    minimal = [["sku", "name", "unit", "price", "tax_rate"], ["C", "Три!", "piece", "1", "vat22"]]
    report = api.upload(csv_file(minimal), "min.csv", dry_run=False).json()
    assert (report["to_update"], report["unchanged"]) == (1, 0)
    product = api.get(f"/products/{c['id']}").json()
    assert (product["name"], product["barcodes"], product["active"]) == ("Три!", ["KEEP-ME"], False)
    assert {a["id"], b["id"]} == {after["A"]["id"], after["B"]["id"]}


def _tricky_catalog(api: Any, vat: dict[str, Any]) -> int:
    tea = api.category('Чай; кофе, "какао"')
    green = api.category("Зелёный", tea["id"])
    novat = next(t for t in api.get("/tax-rates").json() if t["code"] == "novat")
    products = [
        {"sku": "=SUM(A1)", "name": "-скидка", "category_id": green["id"]},
        {"sku": "'quoted", "name": "@home +1", "barcodes": ["=1", api.ean13("460000000006")]},
        {"sku": "0042", "name": "Сыр «Российский» 45%", "unit": "kg", "scale_code": "00042"},
        {"sku": "MAX", "name": "Дорого", "price_minor": 999_999_999_999, "active": False},
        {"sku": "ZERO", "name": "Бесплатно", "price_minor": 0, "tax_rate_id": novat["id"]},
        {"sku": "Ж-1", "name": "  Ёлка  ", "barcodes": ["12345670", "ABC-1", "zz"]},
    ]
    for product in products:
        api.product(vat["id"], **product)
    return len(products)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(
    api: Any, vat: dict[str, Any], counts: Counts, fmt: str
) -> None:
    total = _tricky_catalog(api, vat)
    exported = api.get("/export", format=fmt)
    assert exported.status_code == 200
    assert f'.{fmt}"' in exported.headers["content-disposition"]
    before = counts()
    report = api.upload(exported.content, f"export.{fmt}", dry_run=False).json()
    assert report == {
        "rows": total,
        "to_create": 0,
        "to_update": 0,
        "unchanged": total,
        "categories_to_create": [],
        "errors": [],
    }
    assert counts() == {**before, "audit_log": before["audit_log"] + 1}


def test_export_csv_format(api: Any, vat: dict[str, Any]) -> None:
    cheese = api.category("Сыры", api.category("Молочные продукты")["id"])
    code = api.ean13("460000000008")
    api.product(
        vat["id"],
        sku="-1",
        name="Сыр; твёрдый",
        category_id=cheese["id"],
        unit="kg",
        price_minor=123405,
        barcodes=["INT-9", code],
        scale_code="7",
    )
    content = api.get("/export", format="csv").content
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").splitlines() == [
        ";".join(HEADER),
        f'\'-1;"Сыр; твёрдый";Молочные продукты/Сыры;kg;1234.05;vat22;{code} INT-9;1;7',
    ]


def test_import_requires_a_file_and_the_right_media_type(api: Any, counts: Counts) -> None:
    before = counts()
    missing = api.client.post(f"{api.base}/import", data={"x": "1"}, headers=api.headers)
    assert missing.status_code == 422
    assert [d["field"] for d in missing.json()["detail"]] == ["file"]
    as_json = api.client.post(f"{api.base}/import", json={"file": "x"}, headers=api.headers)
    assert as_json.status_code == 415
    assert counts() == before


@pytest.mark.slow
def test_import_of_100k_rows(api: Any, vat: dict[str, Any], db: Any) -> None:
    rows = [HEADER] + [
        [
            f"S{i:06d}",
            f"Товар {i}",
            f"Группа {i % 50}/Подгруппа {i % 7}",
            "piece",
            f"{i % 1000}.{i % 100:02d}",
            "vat22",
            f"INT{i}",
            "1",
            "",
        ]
        for i in range(100_000)
    ]
    content = csv_file(rows)
    report = api.upload(content, "big.csv", dry_run=False).json()
    assert (report["to_create"], report["errors"]) == (100_000, [])
    rows[1][1] = "Товар 0 (новое имя)"
    again = api.upload(csv_file(rows), "big.csv", dry_run=True).json()
    assert (again["to_update"], again["unchanged"]) == (1, 99_999)
    with db.read() as s:
        seqs = s.scalars(select(Product.change_seq)).all()
    assert len(set(seqs)) == 100_000
