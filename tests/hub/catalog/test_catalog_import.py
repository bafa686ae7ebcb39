"""CSV/XLSX catalog import (dry run, report of every bad row, all-or-nothing) and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from collections.abc import Callable
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError

from hub.audit.models import AuditEntry
from hub.catalog import import_apply, importer, products, router
from hub.catalog.models import Barcode, Product
from hub.catalog.schemas import ImportRejected, ProductCreate
from hub.errors import ApiError

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
        audited = s.scalars(
            select(func.count()).where(AuditEntry.action == "product.import_create")
        ).one()
    assert len(set(seqs)) == 100_000
    assert audited == 100_000


# --- review fixes: locking, database errors, per-product audit, depth, text, the use case ---


def test_import_plans_and_writes_under_the_change_counter_lock(
    api: Any, vat: dict[str, Any], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog write that starts after the import's plan waits for the import to commit, then
    meets its result: it can no longer slip in between the plan and the writes."""
    code = api.ean13("460000000011")
    real_plan = import_apply.plan
    rival: dict[str, Any] = {}

    def write_the_same_barcode() -> None:
        body = ProductCreate(
            sku="RIVAL",
            name="x",
            unit="piece",
            price_minor=1,
            tax_rate_id=vat["id"],
            barcodes=[code],
        )
        try:
            with db.write() as s:
                products.create_product(s, actor=None, data=body)
            rival["outcome"] = "created"
        except (ApiError, IntegrityError) as exc:  # SQLite: the check; PostgreSQL: the constraint
            rival["outcome"] = exc

    def plan_then_race(session: Any, parsed: Any) -> Any:
        result = real_plan(session, parsed)
        rival["thread"] = threading.Thread(target=write_the_same_barcode)
        rival["thread"].start()
        rival["thread"].join(timeout=0.5)
        rival["waited"] = rival["thread"].is_alive()
        return result

    monkeypatch.setattr(import_apply, "plan", plan_then_race)
    rows = [HEADER, ["NEW", "Новый", "", "piece", "1", "vat22", code, "1", ""]]
    response = api.upload(csv_file(rows), "race.csv", dry_run=False)
    rival["thread"].join(timeout=30)
    assert response.status_code == 200, response.text
    assert rival["waited"] is True
    assert isinstance(rival["outcome"], ApiError | IntegrityError), rival["outcome"]
    assert [p["sku"] for p in api.get("/products", q=code).json()["items"]] == ["NEW"]


def test_database_conflict_in_the_bulk_writes_is_409_and_writes_nothing(
    api: Any, vat: dict[str, Any], counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk writes (COPY on PostgreSQL) raise SQLAlchemy's IntegrityError, never a raw
    driver error that would answer 500."""
    owner = api.product(vat["id"], sku="OWNER")
    real_plan = import_apply.plan

    def plan_then_take_the_barcode(session: Any, parsed: Any) -> Any:
        result = real_plan(session, parsed)
        session.execute(insert(Barcode).values(code="DUP-1", product_id=owner["id"]))
        return result

    monkeypatch.setattr(import_apply, "plan", plan_then_take_the_barcode)
    rows = [HEADER, ["NEW", "Новый", "", "piece", "1", "vat22", "DUP-1", "1", ""]]
    before = counts()
    response = api.upload(csv_file(rows), "conflict.csv", dry_run=False)
    assert response.status_code == 409, response.text
    assert [d["type"] for d in response.json()["detail"]] == ["conflict"]
    assert counts() == before


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # COPY is PostgreSQL's
def test_copy_lock_timeout_is_503(
    api: Any, vat: dict[str, Any], db: Any, counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A COPY that cannot get its lock raises SQLAlchemy's OperationalError: 503 + Retry-After."""
    real_plan = import_apply.plan

    def plan_with_a_short_lock_timeout(session: Any, parsed: Any) -> Any:
        session.execute(text("SET LOCAL lock_timeout = '200ms'"))
        return real_plan(session, parsed)

    monkeypatch.setattr(import_apply, "plan", plan_with_a_short_lock_timeout)
    rows = [HEADER, ["NEW", "Новый", "", "piece", "1", "vat22", "INT-1", "1", ""]]
    before = counts()
    with db.engine.connect() as other:
        other.execute(text("LOCK TABLE barcode IN SHARE MODE"))  # COPY into barcode must wait
        response = api.upload(csv_file(rows), "locked.csv", dry_run=False)
        other.rollback()
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert counts() == before


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)  # COPY is PostgreSQL's
def test_connection_lost_during_copy_is_503_and_the_next_request_works(
    api: Any, vat: dict[str, Any], db: Any, counts: Counts, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_copy = import_apply._copy

    def lose_the_connection_then_copy(connection: Any, *args: Any) -> None:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        real_copy(connection, *args)

    monkeypatch.setattr(import_apply, "_copy", lose_the_connection_then_copy)
    rows = [HEADER, ["NEW", "Новый", "", "piece", "1", "vat22", "INT-1", "1", ""]]
    before = counts()
    response = api.upload(csv_file(rows), "lost.csv", dry_run=False)
    assert response.status_code == 503, response.text
    assert counts() == before
    monkeypatch.setattr(import_apply, "_copy", real_copy)
    assert api.upload(csv_file(rows), "again.csv", dry_run=False).status_code == 200


def test_import_audits_every_created_and_changed_product(
    api: Any, vat: dict[str, Any], db: Any, world: Any, counts: Counts
) -> None:
    novat = next(t for t in api.get("/tax-rates").json() if t["code"] == "novat")
    changed = api.product(vat["id"], sku="CHG", name="Старое", price_minor=1000, barcodes=["OLD-1"])
    same = api.product(vat["id"], sku="SAME", name="Как было", price_minor=500)
    rows = [
        HEADER,
        ["CHG", "Старое", "", "piece", "12.50", "novat", "NEW-1", "1", ""],
        ["SAME", "Как было", "", "piece", "5", "vat22", "", "1", ""],
        ["ADD", "Новый", "Овощи", "kg", "3", "vat22", "NEW-2 NEW-3", "0", "0042"],
    ]
    before = counts()
    report = api.upload(csv_file(rows), "prices.csv", dry_run=False).json()
    assert (report["to_create"], report["to_update"], report["unchanged"]) == (1, 1, 1)
    assert counts()["audit_log"] == before["audit_log"] + 3  # 2 products + the summary
    created = next(p for p in api.get("/products").json()["items"] if p["sku"] == "ADD")
    vegetables = next(c for c in api.get("/categories").json() if c["name"] == "Овощи")
    with db.read() as s:
        entries = {
            e.action: e
            for e in s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action.in_(
                        ["product.import_create", "product.import_update", "catalog.import"]
                    )
                )
            )
        }
    summary = entries.pop("catalog.import")
    for entry in entries.values():
        assert entry.entity == "product"
        assert (entry.actor_kind, entry.actor_id) == ("user", world.ids["owner"])
        assert (entry.actor_label, entry.ip) == (summary.actor_label, summary.ip)
    update = entries["product.import_update"]
    assert update.entity_id == str(changed["id"])
    assert (update.before, update.after) == (
        {"price_minor": 1000, "tax_rate_id": vat["id"], "barcodes": ["OLD-1"]},
        {"price_minor": 1250, "tax_rate_id": novat["id"], "barcodes": ["NEW-1"]},
    )
    create = entries["product.import_create"]
    assert (create.entity_id, create.before) == (str(created["id"]), None)
    assert create.after == {
        "sku": "ADD",
        "name": "Новый",
        "category_id": vegetables["id"],
        "unit": "kg",
        "price_minor": 300,
        "tax_rate_id": vat["id"],
        "active": False,
        "scale_code": "42",
        "barcodes": ["NEW-2", "NEW-3"],
    }
    assert str(same["id"]) not in {e.entity_id for e in entries.values()}


def test_category_paths_deeper_than_16_levels_are_row_errors(api: Any, vat: dict[str, Any]) -> None:
    deepest = "/".join(f"L{i}" for i in range(1, 17))
    rows = [
        HEADER,
        ["OK", "Шестнадцать", deepest, "piece", "1", "vat22", "", "1", ""],
        ["DEEP", "Семнадцать", deepest + "/L17", "piece", "1", "vat22", "", "1", ""],
    ]
    report = api.upload(csv_file(rows), "deep.csv").json()
    assert _errors(report) == [(3, "category", "too_deep")]
    assert report["to_create"] == 1
    assert report["categories_to_create"][-1] == deepest


def test_import_refuses_the_text_the_api_refuses(api: Any, vat: dict[str, Any]) -> None:
    """The same rule as the API's Name/Code (hub.text): any control character, C1 and DEL too."""
    rows = [
        HEADER,
        ["A", "Мол\x85око", "", "piece", "1", "vat22", "", "1", ""],  # C1 (NEL)
        ["B\x7f", "Кефир", "", "piece", "1", "vat22", "", "1", ""],  # DEL
        ["C", "Сыр", "Молочные\x1b", "piece", "1", "vat22", "", "1", ""],  # ESC
        ["D", "  Хлеб  ", "", "piece", "1", "vat22", "", "1", ""],  # trimmed, fine
    ]
    report = api.upload(csv_file(rows), "text.csv").json()
    assert _errors(report) == [
        (2, "name", "bad_text"),
        (3, "sku", "bad_text"),
        (4, "category", "bad_text"),
    ]
    assert report["to_create"] == 1


def test_run_import_is_the_whole_use_case(api: Any, vat: dict[str, Any], db: Any) -> None:
    good = csv_file([HEADER, ["A", "Молоко", "Молочные", "piece", "1", "vat22", "", "1", ""]])
    bad = csv_file([HEADER, ["A", "Молоко", "", "piece", "x", "vat22", "", "1", ""]])
    dry = importer.run_import(
        db, actor=None, data=good, filename="../c.csv", exponent=2, dry_run=True
    )
    assert (dry.to_create, api.get("/products").json()["total"]) == (1, 0)
    with pytest.raises(importer.ImportFailed) as failed:
        importer.run_import(db, actor=None, data=bad, filename="c.csv", exponent=2, dry_run=False)
    body = ImportRejected.model_validate(failed.value.body())
    assert [(d.loc, d.type) for d in body.detail] == [(["file", 2, "price"], "invalid_price")]
    applied = importer.run_import(
        db, actor=None, data=good, filename="../c.csv", exponent=2, dry_run=False
    )
    assert (applied.to_create, api.get("/products").json()["total"]) == (1, 1)
    with db.read() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "catalog.import")).one()
    assert (entry.actor_kind, entry.after["file"]) == ("system", "c.csv")


def test_export_file_name_has_the_utc_date(
    api: Any, vat: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = dt.datetime(2031, 12, 31, 23, 30, tzinfo=dt.UTC)  # already 1 January in Moscow
    monkeypatch.setattr(router, "utcnow", lambda: moment)
    response = api.get("/export", format="xlsx")
    assert 'filename="catalog-2031-12-31.xlsx"' in response.headers["content-disposition"]
