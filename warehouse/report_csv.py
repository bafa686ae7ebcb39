"""The owner report's tables as CSV files.

CSV: UTF-8 with a byte-order mark (Excel detects the encoding), RFC 4180 quoting, CRLF. Russian
files use `;` between fields and a decimal comma (what Russian Excel opens by double-click);
English files use `,` and a decimal point. Money is decimal text with two decimals computed from
the integer minor units ("1234,50"), quantities have three ("1,250"), margins are percentages
with two ("23,45"), dates are ISO (2026-11-27). A text cell that starts with = + - @ is prefixed
with ' so a spreadsheet never runs a product name as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from warehouse.report_data import Profit, ReportData, Sales, StockLine
from warehouse.report_format import Formatter, decimal_text

CSV_DELIMITER = {"ru": ";", "en": ","}


@dataclass(frozen=True)
class _Csv:
    fmt: Formatter

    def money(self, minor: int | None) -> str:
        return "" if minor is None else decimal_text(minor, 2, point=self.fmt.point)

    def qty(self, milli: int | None) -> str:
        return "" if milli is None else decimal_text(milli, 3, point=self.fmt.point)

    def pct(self, bp: int | None) -> str:
        return "" if bp is None else decimal_text(bp, 2, point=self.fmt.point)

    def number(self, value: float | None, places: int) -> str:
        return "" if value is None else f"{value:.{places}f}".replace(".", self.fmt.point)

    def unit(self, unit: str | None) -> str:
        return self.fmt.qty(1000, unit).split("\u00a0")[-1] if unit else ""

    def head(self, *keys: str) -> list[str]:
        """Column titles: ids stay as they are, money columns name the currency."""
        symbol = self.fmt.symbol
        out = []
        for key in keys:
            if key.endswith("_id"):
                out.append(key)
            elif key.startswith("$"):
                out.append(f"{self.fmt.t(key[1:])}, {symbol}")
            elif key.startswith("%"):
                out.append(f"{self.fmt.t(key[1:])}, %")
            else:
                out.append(self.fmt.t(key))
        return out


STOCK_HEAD = ("store_id", "store", "product_id", "sku", "product", "unit")
PROFIT_HEAD = ("$revenue", "$revenue_ex_vat", "$gross_profit", "%margin")
Table = tuple[list[str], list[list[object]]]


def _stock(c: _Csv, row: StockLine) -> list[object]:
    name = row.product_name or ""
    return [row.store_id, row.store_name, row.product_id, row.sku or "", name, c.unit(row.unit)]


def _profit(c: _Csv, p: Profit) -> list[object]:
    gross = p.gross_profit_minor if p.cost_known else None
    return [
        c.money(p.revenue_minor),
        c.money(p.revenue_ex_vat_minor),
        c.money(gross),
        c.pct(p.margin_bp),
    ]


def _stores_csv(data: ReportData, c: _Csv) -> Table:
    def row(key: object, name: str, s: Sales) -> list[object]:
        return [
            key,
            name,
            s.receipts,
            s.returns,
            c.money(s.revenue_minor),
            c.money(s.returns_revenue_minor),
            c.money(s.revenue_ex_vat_minor),
            c.money(s.vat_minor),
            c.money(s.gross_profit_minor),
            c.pct(s.margin_bp),
            c.money(s.average_ticket_minor),
        ]

    head = c.head(
        "store_id",
        "store",
        "receipts",
        "returns",
        "$revenue",
        "$returns_value",
        "$revenue_ex_vat",
        "$vat",
        "$gross_profit",
        "%margin",
        "$average_ticket",
    )
    rows = [row(s.store_id, s.store_name, s.sales) for s in data.stores]
    return head, [*rows, row("", c.fmt.t("total"), data.total)]


def _categories_csv(data: ReportData, c: _Csv) -> Table:
    rows: list[list[object]] = [
        [
            "" if k.category_id is None else k.category_id,
            k.category_name or c.fmt.t("no_category"),
            *_profit(c, k.profit),
        ]
        for k in data.categories
    ]
    rows.append(["", c.fmt.t("total"), *_profit(c, data.total)])
    return c.head("category_id", "category", *PROFIT_HEAD), rows


def _products_csv(data: ReportData, c: _Csv) -> Table:
    rows: list[list[object]] = [
        [
            p.product_id,
            p.sku or "",
            p.product_name or "",
            p.category_name or "",
            c.unit(p.unit),
            c.qty(p.qty_milli),
            p.receipts,
            *_profit(c, p.profit),
        ]
        for p in data.products
    ]
    if data.unknown_products.revenue_minor:
        unknown = c.fmt.t("unknown_products")
        rows.append(["", "", unknown, "", "", "", "", *_profit(c, data.unknown_products)])
    head = c.head("product_id", "sku", "product", "category", "unit", "qty", "receipts")
    return head + c.head(*PROFIT_HEAD), rows


def _trend_csv(data: ReportData, c: _Csv) -> Table:
    rows: list[list[object]] = [
        [d.day.isoformat(), d.receipts, *_profit(c, d.profit)] for d in data.trend
    ]
    return c.head("date", "receipts", *PROFIT_HEAD), rows


def _low_stock_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(*STOCK_HEAD, "on_hand", "reorder_point", "on_order", "days_of_cover")
    rows = [
        [
            *_stock(c, r),
            c.qty(r.on_hand_milli),
            c.qty(r.reorder_point_milli),
            c.qty(r.on_order_milli),
            c.number(r.days_of_cover, 1),
        ]
        for r in data.low_stock
    ]
    return head, rows


def _reorder_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(
        "supplier_id",
        "supplier",
        *STOCK_HEAD,
        "lead_time",
        "on_hand",
        "on_order",
        "reorder_point",
        "order_up_to",
        "suggested_qty",
        "$last_cost",
        "$suggested_value",
    )
    rows = [
        [
            r.supplier_id,
            r.supplier_name or "",
            *_stock(c, r),
            r.lead_time_days,
            c.qty(r.on_hand_milli),
            c.qty(r.on_order_milli),
            c.qty(r.reorder_point_milli),
            c.qty(r.order_up_to_milli),
            c.qty(r.suggested_qty_milli),
            c.money(r.last_cost_minor),
            c.money(r.suggested_value_minor),
        ]
        for r in data.reorder
    ]
    return head, rows


def _shifts_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(
        "store_id",
        "store",
        "till",
        "cashier_id",
        "cashier",
        "closed_at",
        "$expected",
        "$counted",
        "$over_short",
        "flags",
    )
    rows = [
        [
            s.store_id,
            s.store_name,
            s.till_name or "",
            s.cashier_id,
            s.cashier_name or "",
            s.closed_at_local.isoformat(sep=" ", timespec="minutes"),
            c.money(s.expected_minor),
            c.money(s.counted_minor),
            c.money(s.over_short_minor),
            s.flags,
            s.shift_uuid,
        ]
        for s in data.shifts
    ]
    return [*head, "shift_uuid"], rows


def _cashiers_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head("cashier_id", "cashier", "shifts", "$over", "$short", "$over_short")
    rows = [
        [
            k.cashier_id,
            k.cashier_name or "",
            k.shifts,
            c.money(k.over_minor),
            c.money(k.short_minor),
            c.money(k.over_short_minor),
        ]
        for k in data.cashiers
    ]
    return head, rows


def _abc_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(*STOCK_HEAD, "abc_class", "xyz_class", "$revenue_ex_vat", "%share", "cv")
    rows = [
        [
            *_stock(c, r),
            r.abc_class,
            r.xyz_class,
            c.money(r.revenue_ex_vat_minor),
            c.number(r.revenue_share * 100, 2),
            c.number(r.cv, 3),
        ]
        for r in data.abc_xyz
    ]
    return head, rows


def _dead_stock_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(*STOCK_HEAD, "on_hand", "$value_at_cost", "last_sale", "days_without_sale")
    rows = [
        [
            *_stock(c, r),
            c.qty(r.on_hand_milli),
            c.money(r.value_at_cost_minor),
            r.last_sale_date.isoformat() if r.last_sale_date else "",
            r.days_without_sale,
        ]
        for r in data.dead_stock
    ]
    return head, rows


def _cover_csv(data: ReportData, c: _Csv) -> Table:
    head = c.head(*STOCK_HEAD, "on_hand", "demand", "days_of_cover", "$value_at_cost")
    rows = [
        [
            *_stock(c, r),
            c.qty(r.on_hand_milli),
            c.number(r.mean_daily_demand_milli / 1000, 3),
            c.number(r.days_of_cover, 1),
            c.money(r.value_at_cost_minor),
        ]
        for r in data.cover
    ]
    return head, rows


CSV_TABLES: dict[str, Callable[[ReportData, _Csv], Table]] = {
    "stores.csv": _stores_csv,
    "categories.csv": _categories_csv,
    "products.csv": _products_csv,
    "trend.csv": _trend_csv,
    "low_stock.csv": _low_stock_csv,
    "reorder.csv": _reorder_csv,
    "cash_shifts.csv": _shifts_csv,
    "cash_cashiers.csv": _cashiers_csv,
}
WEEKLY_CSV_TABLES: dict[str, Callable[[ReportData, _Csv], Table]] = {
    "abc_xyz.csv": _abc_csv,
    "dead_stock.csv": _dead_stock_csv,
    "days_of_cover.csv": _cover_csv,
}


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text that a spreadsheet would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        try:
            float(value.replace(",", "."))
        except ValueError:
            return "'" + value
    return value


def csv_files(data: ReportData, language: str = "ru") -> dict[str, bytes]:
    """The report's tables as CSV files, by file name (see the module docstring)."""
    c = _Csv(Formatter(language, data.currency))
    tables = {**CSV_TABLES, **(WEEKLY_CSV_TABLES if data.weekly else {})}
    files = {}
    for name, table in tables.items():
        head, rows = table(data, c)
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=CSV_DELIMITER[language], lineterminator="\r\n")
        writer.writerow(head)
        writer.writerows([_cell(v) for v in row] for row in rows)
        files[name] = buffer.getvalue().encode("utf-8-sig")
    return files


__all__ = ["CSV_DELIMITER", "CSV_TABLES", "WEEKLY_CSV_TABLES", "csv_files"]
