"""The analysts' notebooks (notebooks/*.ipynb) run top to bottom on a small generated warehouse,
reading DuckDB read-only or the Parquet marts while a writer holds the DuckDB file's lock, and
print figures equal to the warehouse's own; empty marts print a sentence instead of failing; the
committed notebooks carry no outputs."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sys
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode
from sqlalchemy import func, select, update

from hub.catalog.models import Category, Product, TaxRate
from hub.db import next_change_seq
from hub.stock.models import StockMove
from kassa.till_sim import Item
from tests.hub.sales_fixtures import post, receive, statuses
from tests.warehouse.test_extract import _trade
from warehouse.pipeline import build_marts, refresh

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
AS_OF = dt.date(2026, 11, 23)


def _at(month: int, day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def _catalog(db: Any, store_id: int, items: dict[str, Item]) -> dict[str, int]:
    """Categories for the traded goods; kefir (sold, never received: no cost, negative stock)
    and caviar (received in August, never sold: dead stock); every receipt backdated."""
    with db.write() as s:
        dairy = Category(name="Молочное", change_seq=next_change_seq(s))
        bakery = Category(name="Хлеб и выпечка", change_seq=next_change_seq(s))
        s.add_all([dairy, bakery])
        s.flush()
        cheeses = Category(name="Сыры", parent_id=dairy.id, change_seq=next_change_seq(s))
        s.add(cheeses)
        s.flush()
        for key, category in (("milk", dairy), ("bread", bakery), ("cheese", cheeses)):
            product = s.get(Product, items[key].product_id)
            product.category_id = category.id
            product.change_seq = next_change_seq(s)
        rate = s.scalars(select(TaxRate)).first()
        new = {}
        for sku, name, price, category_id in (
            ("kefir", "Кефир 1% 900 г", 7990, dairy.id),
            ("caviar", "Икра красная 100 г", 59900, None),
        ):
            product = Product(
                sku=sku.upper(),
                name=name,
                unit="piece",
                price_minor=price,
                tax_rate_id=rate.id,
                category_id=category_id,
                change_seq=next_change_seq(s),
            )
            s.add(product)
            s.flush()
            new[sku] = product.id
        s.execute(update(StockMove).where(StockMove.kind == "receipt").values(at=_at(11, 1, 6)))
        _receive_at(s, store_id, [(new["caviar"], 5000, 42000)], _at(8, 1, 6))
        # More milk at a higher cost after the return: the moving average moves.
        _receive_at(s, store_id, [(items["milk"].product_id, 48_000, 6300)], _at(11, 23, 12))
    return new


def _receive_at(s: Any, store_id: int, lines: list[tuple[int, int, int]], at: dt.datetime) -> None:
    before = s.scalar(select(func.max(StockMove.id))) or 0
    receive(s, store_id, lines)
    s.execute(update(StockMove).where(StockMove.id > before).values(at=at))


def _purchasing(client: Any, world: Any, items: dict[str, Item], kefir: int) -> None:
    """A supplier for every traded product, and a sent order of bread (stock on order)."""
    owner = world.headers("owner")
    created = client.post(
        "/api/v1/suppliers",
        json={"name": "ООО «Молочный двор»", "lead_time_days": 3, "review_period_days": 7},
        headers=owner,
    )
    assert created.status_code == 201, created.text
    supplier = created.json()["id"]
    for product, pack, minimum, cost in (
        (items["milk"].product_id, 12_000, 24_000, 6000),
        (items["bread"].product_id, 10_000, 0, 3000),
        (items["cheese"].product_id, 5_000, 5_000, 61000),
        (kefir, 6_000, 12_000, 5200),
    ):
        terms = {"pack_size_milli": pack, "min_order_milli": minimum, "last_cost_minor": cost}
        response = client.put(
            f"/api/v1/suppliers/{supplier}/products/{product}", json=terms, headers=owner
        )
        assert response.status_code in (200, 201), response.text
    orders = f"/api/v1/stores/{world.store_a}/purchase-orders"
    manager = world.headers("manager_a")
    line = {
        "product_id": items["bread"].product_id,
        "qty_ordered_milli": 20_000,
        "unit_cost_minor": 3000,
    }
    draft = client.post(orders, json={"supplier_id": supplier, "lines": [line]}, headers=manager)
    assert draft.status_code == 201, draft.text
    sent = client.post(f"{orders}/{draft.json()['id']}/send", headers=manager)
    assert sent.status_code == 200, sent.text


def _shift_day(client: Any, world: Any, till: Any, kefir: int) -> None:
    """A shift on the as-of day: kefir and an unknown barcode sold for cash, closed 5.00 short."""
    shifts = "/api/v1/till/shifts/batch"
    device = world.headers("device_a")
    opened = till.shift_event("open", 500_000, at=_at(11, 23, 7))
    response = client.post(
        shifts, json={"events": [opened.model_dump(mode="json")]}, headers=device
    )
    assert response.status_code == 200, response.text
    kefir_item = Item(kefir, "Кефир 1% 900 г", 1000, 7990, 1000)
    unknown = Item(None, "Товар без карточки", 1000, 15000, 2200, barcode="4600000000017")
    sales = [till.sale([kefir_item], at=_at(11, 23, 8, n)) for n in range(0, 50, 10)]
    sales.append(till.sale([unknown, kefir_item], at=_at(11, 23, 9)))
    assert set(statuses(post(client, device, sales))) == {"created"}
    expected = 500_000 + sum(s.total_minor for s in sales)
    closed = till.shift_event("close", expected - 500, at=_at(11, 23, 17))
    response = client.post(
        shifts, json={"events": [closed.model_dump(mode="json")]}, headers=device
    )
    assert response.status_code == 200, response.text


def build_warehouse(client: Any, world: Any, db: Any, db_url: str, var: Path) -> Path:
    """A warehouse with marts for AS_OF laid out as the repository's var/: warehouse.duckdb and
    warehouse/marts/*.parquet."""
    till, items = _trade(client, world, db)  # 20-22 November, a return on the 23rd
    new = _catalog(db, world.store_a, items)
    _purchasing(client, world, items, new["kefir"])
    _shift_day(client, world, till, new["kefir"])
    return _build(db_url, var)


def _build(db_url: str, var: Path) -> Path:
    path = var / "warehouse.duckdb"
    refresh(db_url, path)
    build_marts(path, AS_OF, marts_dir=var / "warehouse" / "marts")
    return path


# --- running the notebooks ------------------------------------------------------------------

NB_SALES, NB_STOCK = "01_sales_and_margin.ipynb", "02_stock_and_reorder.ipynb"
KASSA_ENV = ("KASSA_WAREHOUSE_PATH", "KASSA_MARTS_DIR", "KASSA_NOTEBOOK_SOURCE")
PROBE = "import sys\nprint(f'[executable={sys.executable}]')"


def _kernel_env(**settings: str) -> dict[str, str]:
    """The test's environment for the kernel, without the developer's own KASSA_* settings."""
    env = {k: v for k, v in os.environ.items() if k not in KASSA_ENV}
    return {**env, "MPLBACKEND": "Agg", **settings}


async def _run(name: str, cwd: Path, env: dict[str, str]) -> NotebookNode:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))  # which python ran it
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    await client.async_execute(env=env)  # raises CellExecutionError on the first failing cell
    return nb


def run_notebooks(runs: list[tuple[str, Path, dict[str, str]]]) -> list[NotebookNode]:
    """Executes notebooks concurrently (one kernel each: a kernel takes seconds to start)."""

    async def all_runs() -> list[NotebookNode]:
        return list(await asyncio.gather(*(_run(*run) for run in runs)))

    return asyncio.run(all_runs())


def _outputs(nb: NotebookNode) -> tuple[str, str, int]:
    """What a run printed and displayed (as text), what it wrote to stderr, and its PNG count."""
    text, errors, images = [], [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                (errors if out.name == "stderr" else text).append(out.text)
            elif out.output_type in ("display_data", "execute_result"):
                text.append(out.data.get("text/plain", ""))
                if "image/png" in out.data:
                    images += 1
            elif out.output_type == "error":
                errors.append("\n".join(out.traceback))
    return "\n".join(text), "\n".join(errors), images


def _figure(text: str, key: str) -> int:
    """The integer a notebook printed as `[key=value]` (the same wherever it is printed)."""
    found = set(re.findall(rf"\b{key}=(-?\d+)\]", text))
    assert len(found) == 1, f"{key}: {found}"
    return int(found.pop())


def _ran_clean(nb: NotebookNode) -> tuple[str, int]:
    text, errors, images = _outputs(nb)
    assert errors == "", errors  # no warnings either (a missing Cyrillic glyph would warn)
    assert f"[executable={sys.executable}]" in text  # the kernel is this virtualenv's python
    return text, images


def _expected(path: Path) -> dict[str, Any]:
    """The figures the notebooks must print, computed from the DuckDB file's facts and marts."""
    con = duckdb.connect(str(path), read_only=True)

    def one(sql: str) -> Any:
        return con.execute(sql, [AS_OF]).fetchall()[0][0]

    lines = "FROM fct_sale_line WHERE sale_date <= ?"
    expected = {
        "revenue_minor": one(f"SELECT sum(revenue_minor) {lines}"),
        "revenue_ex_vat_minor": one(f"SELECT sum(revenue_ex_vat_minor) {lines}"),
        "gross_profit_minor": one(f"SELECT sum(gross_profit_minor) {lines}"),
        "revenue_without_cost_minor": one(
            f"SELECT sum(revenue_minor) {lines} AND unit_cost_minor IS NULL"
        ),
        "returned_minor": one(f"SELECT sum(revenue_minor) {lines} AND kind = 'return'"),
        "receipts": one(f"SELECT count(DISTINCT sale_id) {lines} AND kind = 'sale'"),
        "returns": one(f"SELECT count(DISTINCT sale_id) {lines} AND kind = 'return'"),
        "on_hand_milli": one("SELECT sum(qty_milli) FROM fct_stock_move WHERE move_date <= ?"),
        "negative": one(
            "SELECT count(*) FROM (SELECT sum(qty_milli) AS q FROM fct_stock_move "
            "WHERE move_date <= ? GROUP BY store_id, product_id) WHERE q < 0"
        ),
        "over_short": dict(
            con.execute(
                "SELECT cashier_id, sum(over_short_minor) FROM fct_shift "
                "WHERE is_closed AND shift_date <= ? GROUP BY cashier_id",
                [AS_OF],
            ).fetchall()
        ),
        "stock_value_minor": one(
            "SELECT sum(value_at_cost_minor) FROM rpt_stock_position WHERE as_of = ?"
        ),
        "dead_stock_value_minor": one(
            "SELECT sum(value_at_cost_minor) FROM rpt_dead_stock WHERE as_of = ?"
        ),
        "reorder_lines": one("SELECT count(*) FROM rpt_reorder WHERE needs_order AND as_of = ?"),
        "suggested_value_minor": one(
            "SELECT sum(suggested_value_minor) FROM rpt_reorder WHERE needs_order AND as_of = ?"
        ),
    }
    con.close()
    return {k: int(v) if isinstance(v, int | float) else v for k, v in expected.items()}


def _check_sales(text: str, expected: dict[str, Any]) -> None:
    for key in (
        "revenue_minor",
        "revenue_ex_vat_minor",
        "gross_profit_minor",
        "revenue_without_cost_minor",
        "receipts",
        "returns",
    ):
        assert _figure(text, key) == expected[key], key
    margin = _figure(text, "margin_bp")  # gross profit / revenue ex VAT, half up
    assert margin == (
        2 * expected["gross_profit_minor"] * 10_000 + expected["revenue_ex_vat_minor"]
    ) // (2 * expected["revenue_ex_vat_minor"])
    printed = {
        int(c): int(v)
        for c, v in re.findall(r"\[cashier_id=(\d+) over_short_minor=(-?\d+)\]", text)
    }
    assert printed == expected["over_short"] and -500 in printed.values()
    assert "Кассир А" in text  # the mart carries the cashier's name


def _check_stock(text: str, expected: dict[str, Any]) -> None:
    for key in (
        "stock_value_minor",
        "on_hand_milli",
        "negative",
        "dead_stock_value_minor",
        "reorder_lines",
        "suggested_value_minor",
    ):
        assert _figure(text, key) == expected[key], key
    assert expected["negative"] == 2 and expected["reorder_lines"] >= 1
    assert _figure(text, "abc_products") == 4
    assert "The posted values match the recomputation" in text and "MISMATCH" not in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_notebooks_run_on_the_warehouse_and_print_its_figures(
    client, world, db, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    var, cwd = tmp_path / "var", tmp_path / "notebooks"
    cwd.mkdir()
    path = build_warehouse(client, world, db, db_url, var)
    expected = _expected(path)
    assert expected["returns"] == 1 and expected["revenue_without_cost_minor"] > 0

    # DuckDB mode with every default: ../var/warehouse.duckdb from the notebook's folder.
    sales, stock = run_notebooks([(NB_SALES, cwd, _kernel_env()), (NB_STOCK, cwd, _kernel_env())])
    text, images = _ran_clean(sales)
    _check_sales(text, expected)
    assert _figure(text, "returned_minor") == expected["returned_minor"] == -8990
    assert "Молоко 3,2% 1 л" in text and "Молочное / Сыры" in text and images >= 4
    text, images = _ran_clean(stock)
    _check_stock(text, expected)
    # Milk: 100 at 60.00, 59 sold net, then 48 at 63.00 -> (41 x 60.00 + 48 x 63.00) / 89
    assert (_figure(text, "cost_changes"), _figure(text, "avg_cost_minor")) == (2, 6162)
    assert "Молоко 3,2% 1 л in store" in text and "Икра красная 100 г" in text and images >= 5

    # Parquet mode while a flow holds the DuckDB file's writer lock: the marts' figures are the
    # same; names, return lines and the cost history are skipped, and the notebooks say so.
    parquet = _kernel_env(
        KASSA_NOTEBOOK_SOURCE="parquet",
        KASSA_WAREHOUSE_PATH=str(path),
        KASSA_MARTS_DIR=str(var / "warehouse" / "marts"),
    )
    writer = duckdb.connect(str(path))
    try:
        sales, stock = run_notebooks([(NB_SALES, tmp_path, parquet), (NB_STOCK, tmp_path, parquet)])
    finally:
        writer.close()
    text, images = _ran_clean(sales)
    _check_sales(text, expected)
    assert "Could not set lock" in text and "Names unavailable" in text
    assert "Return lines need the DuckDB file" in text and "returned_minor" not in text
    assert "product #" in text and "Молоко" not in text and images >= 4
    text, images = _ran_clean(stock)
    _check_stock(text, expected)
    assert "The cost history is the dimension dim_product_cost" in text and images >= 4


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_notebooks_say_so_when_the_marts_are_empty(world, db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _build(db_url, tmp_path)  # stores, staff and tills, nothing sold or received
    con = duckdb.connect(str(path), read_only=True)
    for table in (
        "rpt_daily_sales",
        "rpt_product_profit",
        "rpt_cash_over_short",
        "rpt_stock_position",
        "rpt_dead_stock",
        "rpt_abc_xyz",
        "rpt_reorder",
    ):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table
    con.close()
    # One notebook per mode (a kernel costs seconds): sales from Parquet, stock from DuckDB.
    parquet = _kernel_env(
        KASSA_NOTEBOOK_SOURCE="parquet",
        KASSA_WAREHOUSE_PATH=str(path),
        KASSA_MARTS_DIR=str(tmp_path / "warehouse" / "marts"),
    )
    duck = _kernel_env(KASSA_WAREHOUSE_PATH=str(path))
    sales, stock = run_notebooks([(NB_SALES, tmp_path, parquet), (NB_STOCK, tmp_path, duck)])
    text, images = _ran_clean(sales)
    assert images == 0  # every chart said why it was not drawn
    for sentence in (
        "As of 2026-11-23",
        "No sales up to the as-of date",
        "No store has sales",
        "No sales by category",
        "No products sold",
        "No returns",
        "No return lines",
        "No sales, so no revenue without cost",
        "No closed shifts up to the as-of date",
    ):
        assert sentence in text, sentence
    text, images = _ran_clean(stock)
    assert images == 0
    for sentence in (
        "As of 2026-11-23",
        "No stock has moved up to the as-of date",
        "No product has both stock and demand",
        "No negative stock",
        "No dead stock",
        "No product sold in the 13 weeks",
        "No reorder rows",
        "No receipt at a cost has been posted yet",
    ):
        assert sentence in text, sentence


def test_committed_notebooks_carry_no_outputs() -> None:
    """Outputs are stripped before committing: no outputs, no execution counts, no run timings
    (notebooks/README.md has the command that strips them)."""
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [p.name for p in paths] == [NB_SALES, NB_STOCK]
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: a cell has outputs"
                assert cell.execution_count is None, f"{path.name}: a cell has a count"
            assert "execution" not in cell.metadata, f"{path.name}: a cell has run timings"
        first = next(c for c in nb.cells if c.cell_type == "code").source
        assert "KASSA_WAREHOUSE_PATH" in first and "read_only=True" in first
        assert nb.metadata.kernelspec.name == "python3"
