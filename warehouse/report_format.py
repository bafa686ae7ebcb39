"""The owner report's words and number formats, in Russian (the default) and English.

Money is formatted from integer minor units with integer arithmetic only (no float ever holds
money): Russian "1 234,50 ₽" (a narrow no-break space groups thousands, a no-break space before
the sign), English "1,234.50 ₽". Percentages are basis points: "23,45 %" / "23.45%".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

LANGUAGES = ("ru", "en")
NARROW_NBSP = "\u202f"
NBSP = "\u00a0"
SYMBOLS = {"RUB": "₽", "EUR": "€", "USD": "$", "KZT": "₸", "BYN": "Br", "UAH": "₴"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
UNITS = {
    "ru": {"piece": "шт.", "kg": "кг", "l": "л", "m": "м"},
    "en": {"piece": "pcs", "kg": "kg", "l": "l", "m": "m"},
}

TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "title_daily": "Отчёт за {date}",
        "title_weekly": "Недельный отчёт: {start} – {end}",
        "subject_daily": "Kassa: отчёт за {date} — выручка {revenue}",
        "subject_weekly": "Kassa: недельный отчёт за {start} – {end} — выручка {revenue}",
        "stores_count": "Магазинов: {n}",
        "revenue": "Выручка",
        "revenue_note": "с НДС, за вычетом возвратов",
        "revenue_ex_vat": "Выручка без НДС",
        "vat": "НДС",
        "receipts": "Чеки",
        "returns": "Возвраты",
        "returns_value": "Сумма возвратов",
        "average_ticket": "Средний чек",
        "gross_profit": "Валовая прибыль",
        "margin": "Маржа",
        "ex_vat": "без НДС",
        "no_sales": "За этот период продаж не было.",
        "by_store": "По магазинам",
        "by_category": "По категориям",
        "top_profit": "Лучшие товары по валовой прибыли",
        "top_revenue": "Лучшие товары по выручке",
        "trend": "Выручка и маржа за 28 дней",
        "trend_empty": "За 28 дней продаж не было.",
        "low_stock": "Заканчивается товар",
        "low_stock_empty": "Все остатки выше точки заказа, отрицательных остатков нет.",
        "reorder": "Что заказать",
        "reorder_empty": "Заказывать сейчас ничего не нужно.",
        "reorder_total": "Позиций: {n}, на сумму {value}",
        "cash": "Касса: излишки и недостачи по сменам",
        "cash_empty": "За период не закрыто ни одной смены.",
        "by_cashier": "По кассирам",
        "abc": "ABC/XYZ-анализ (13 недель)",
        "abc_empty": "За 13 недель ничего не продано.",
        "abc_matrix": "Товаров в каждом классе (выручка без НДС)",
        "dead": "Неликвид (нет продаж 60 дней и больше)",
        "dead_empty": "Неликвида нет.",
        "dead_total": "Позиций: {n}, по себестоимости {value}",
        "cover": "Запас в днях",
        "cover_empty": "Нет товаров, у которых есть и остаток, и спрос.",
        "cover_total": "Весь остаток по себестоимости: {value}",
        "store": "Магазин",
        "category": "Категория",
        "product": "Товар",
        "sku": "Артикул",
        "qty": "Количество",
        "share": "Доля выручки",
        "on_hand": "Остаток",
        "reorder_point": "Точка заказа",
        "on_order": "В пути",
        "days_of_cover": "Дней запаса",
        "demand": "Спрос в день",
        "supplier": "Поставщик",
        "lead_time": "Срок поставки, дн.",
        "order_up_to": "Пополнить до",
        "suggested_qty": "Заказать",
        "last_cost": "Цена закупки",
        "suggested_value": "Сумма заказа",
        "till": "Касса",
        "cashier": "Кассир",
        "closed_at": "Смена закрыта",
        "expected": "Ожидалось",
        "counted": "Пересчитано",
        "over_short": "Излишек (+) / недостача (−)",
        "over": "Излишки",
        "short": "Недостачи",
        "shifts": "Смен",
        "flags": "Отметки",
        "abc_class": "ABC",
        "xyz_class": "XYZ",
        "cv": "Коэф. вариации",
        "value_at_cost": "По себестоимости",
        "last_sale": "Последняя продажа",
        "days_without_sale": "Дней без продаж",
        "never": "никогда",
        "date": "Дата",
        "total": "Итого",
        "no_category": "Без категории",
        "unknown_product": "Товар №{id}",
        "unknown_products": "Товары без карточки",
        "unit": "Ед. изм.",
        "negative": "отрицательный остаток",
        "more_rows": "…и ещё {n} — см. {file}.",
        "quality": "Качество данных",
        "quality_ok": "Данные полные",
        "quality_ok_detail": "Все проверки пройдены ({n}).",
        "quality_warning": "Данные полные, есть предупреждения",
        "quality_withheld": "Отчёт задержан: данные неполные",
        "quality_unknown": "Качество данных не проверено",
        "checked_at": "Проверено",
        "downloads": "Таблицы (CSV) и данные",
        "chart_revenue": "Выручка с НДС",
        "chart_gross_profit": "Валовая прибыль без НДС",
        "chart_margin": "Маржа без НДС, %",
        "chart_period": "Период отчёта",
        "chart_other": "Прочие",
        "notes": "Примечания",
        "note_revenue": (
            "Выручка — с НДС и за вычетом возвратов (возврат уменьшает выручку дня, в который "
            "он сделан). Валовая прибыль и маржа — без НДС; маржа = валовая прибыль / выручка "
            "без НДС."
        ),
        "note_receipts": (
            "Чеки — только продажи, возвраты считаются отдельно. Средний чек = выручка продаж "
            "(без учёта возвратов) / число чеков."
        ),
        "note_days": "Дни — по местному времени магазина. Остатки и заказ — на конец {date}.",
        "note_cost": (
            "У части выручки ({value}) себестоимость неизвестна: её прибыль не учтена, маржа "
            "занижена."
        ),
        "note_unknown": (
            "Товары без карточки в каталоге (продажи по неизвестному штрихкоду): {value}."
        ),
        "note_rounding": "Каждое среднее и процент округлены один раз, половина — вверх.",
        "note_names": "Названия магазинов, товаров и категорий — текущие.",
        "plain_data": "Данные",
        "plain_reorder": "Что заказать (позиций: {n}): {value}",
        "plain_cash": "Касса, излишки и недостачи (смен: {n}): {value}",
        "plain_stores": "По магазинам",
    },
    "en": {
        "title_daily": "Report for {date}",
        "title_weekly": "Weekly report: {start} – {end}",
        "subject_daily": "Kassa: report for {date} — revenue {revenue}",
        "subject_weekly": "Kassa: weekly report for {start} – {end} — revenue {revenue}",
        "stores_count": "Stores: {n}",
        "revenue": "Revenue",
        "revenue_note": "incl. VAT, net of returns",
        "revenue_ex_vat": "Revenue excl. VAT",
        "vat": "VAT",
        "receipts": "Receipts",
        "returns": "Returns",
        "returns_value": "Returned",
        "average_ticket": "Average ticket",
        "gross_profit": "Gross profit",
        "margin": "Margin",
        "ex_vat": "excl. VAT",
        "no_sales": "No sales in this period.",
        "by_store": "By store",
        "by_category": "By category",
        "top_profit": "Top products by gross profit",
        "top_revenue": "Top products by revenue",
        "trend": "Revenue and margin, last 28 days",
        "trend_empty": "No sales in the last 28 days.",
        "low_stock": "Low stock",
        "low_stock_empty": "All stock is above its reorder point and none is negative.",
        "reorder": "Reorder suggestions",
        "reorder_empty": "Nothing needs ordering now.",
        "reorder_total": "Lines: {n}, worth {value}",
        "cash": "Cash over/short by shift",
        "cash_empty": "No shift was closed in this period.",
        "by_cashier": "By cashier",
        "abc": "ABC/XYZ classes (13 weeks)",
        "abc_empty": "Nothing was sold in the 13 weeks.",
        "abc_matrix": "Products per class (revenue excl. VAT)",
        "dead": "Dead stock (no sale for 60 days or more)",
        "dead_empty": "No dead stock.",
        "dead_total": "Lines: {n}, worth {value} at cost",
        "cover": "Days of cover",
        "cover_empty": "No product has both stock and demand.",
        "cover_total": "All stock at cost: {value}",
        "store": "Store",
        "category": "Category",
        "product": "Product",
        "sku": "SKU",
        "qty": "Quantity",
        "share": "Revenue share",
        "on_hand": "On hand",
        "reorder_point": "Reorder point",
        "on_order": "On order",
        "days_of_cover": "Days of cover",
        "demand": "Daily demand",
        "supplier": "Supplier",
        "lead_time": "Lead time, days",
        "order_up_to": "Order up to",
        "suggested_qty": "Order",
        "last_cost": "Last cost",
        "suggested_value": "Order value",
        "till": "Till",
        "cashier": "Cashier",
        "closed_at": "Shift closed",
        "expected": "Expected",
        "counted": "Counted",
        "over_short": "Over (+) / short (−)",
        "over": "Over",
        "short": "Short",
        "shifts": "Shifts",
        "flags": "Flags",
        "abc_class": "ABC",
        "xyz_class": "XYZ",
        "cv": "CV",
        "value_at_cost": "Value at cost",
        "last_sale": "Last sale",
        "days_without_sale": "Days without a sale",
        "never": "never",
        "date": "Date",
        "total": "Total",
        "no_category": "Uncategorised",
        "unknown_product": "Product #{id}",
        "unknown_products": "Unknown barcodes",
        "unit": "Unit",
        "negative": "negative stock",
        "more_rows": "…and {n} more — see {file}.",
        "quality": "Data quality",
        "quality_ok": "Data complete",
        "quality_ok_detail": "Every check passed ({n}).",
        "quality_warning": "Data complete, with warnings",
        "quality_withheld": "Withheld: the data is incomplete",
        "quality_unknown": "Data quality not checked",
        "checked_at": "Checked",
        "downloads": "Tables (CSV) and data",
        "chart_revenue": "Revenue incl. VAT",
        "chart_gross_profit": "Gross profit excl. VAT",
        "chart_margin": "Margin excl. VAT, %",
        "chart_period": "Report period",
        "chart_other": "Other",
        "notes": "Notes",
        "note_revenue": (
            "Revenue includes VAT and is net of returns (a return lowers the revenue of the day "
            "it was made). Gross profit and margin exclude VAT; margin = gross profit / revenue "
            "excl. VAT."
        ),
        "note_receipts": (
            "Receipts count sales only; returns are counted apart. Average ticket = revenue of "
            "the sales (before returns) / receipts."
        ),
        "note_days": (
            "Days are the store's local days. Stock and reorder are as of the end of {date}."
        ),
        "note_cost": (
            "Part of the revenue ({value}) has no known cost: its profit is not counted, so the "
            "margin is understated."
        ),
        "note_unknown": "Products the catalog did not know (unknown barcodes): {value}.",
        "note_rounding": "Every average and percentage is rounded once, halves up.",
        "note_names": "Store, product and category names are the current ones.",
        "plain_data": "Data",
        "plain_reorder": "Reorder suggestions (lines: {n}): {value}",
        "plain_cash": "Cash over/short (shifts: {n}): {value}",
        "plain_stores": "By store",
    },
}


def _group(whole: int, separator: str) -> str:
    return f"{whole:,}".replace(",", separator)


def decimal_text(value: int, scale: int, *, point: str, group: str = "") -> str:
    """An integer of 1/10**scale units as decimal text, exactly: (123450, 2) -> "1234.50"."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**scale)
    text = _group(whole, group) if group else str(whole)
    return f"{sign}{text}{point}{fraction:0{scale}d}" if scale else f"{sign}{text}"


@dataclass(frozen=True)
class Formatter:
    """Texts and number formats of one language, for the templates, CSV and charts."""

    language: str = "ru"
    currency: str = "RUB"

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(
                f"unknown report language {self.language!r}: use one of {', '.join(LANGUAGES)}"
            )

    @property
    def ru(self) -> bool:
        return self.language == "ru"

    @property
    def point(self) -> str:
        return "," if self.ru else "."

    def t(self, key: str, **values: object) -> str:
        text = TEXTS[self.language][key]
        return text.format(**values) if values else text

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.currency, self.currency)

    def amount(self, minor: int) -> str:
        """Money without the currency sign: "1 234,50" / "1,234.50"."""
        return decimal_text(minor, 2, point=self.point, group=NARROW_NBSP if self.ru else ",")

    def money(self, minor: int | None) -> str:
        if minor is None:
            return "—"
        return f"{self.amount(minor)}{NBSP}{self.symbol}"

    def whole_money(self, minor: int) -> str:
        """Money rounded half up to whole units, for chart axes: "1 235 ₽"."""
        whole = (abs(minor) * 2 + 100) // 200 * (1 if minor >= 0 else -1)
        number = decimal_text(whole, 0, point="", group=NARROW_NBSP if self.ru else ",")
        return f"{number}{NBSP}{self.symbol}"

    def pct(self, bp: int | None) -> str:
        if bp is None:
            return "—"
        number = decimal_text(bp, 2, point=self.point)
        return f"{number}{NBSP}%" if self.ru else f"{number}%"

    def share(self, share: float) -> str:
        """A share (0..1) the mart posted as a float, shown with one decimal."""
        number = f"{share * 100:.1f}".replace(".", self.point)
        return f"{number}{NBSP}%" if self.ru else f"{number}%"

    def count(self, n: int) -> str:
        return _group(n, NARROW_NBSP if self.ru else ",")

    def qty(self, milli: int | None, unit: str | None = None) -> str:
        if milli is None:
            return "—"
        group = NARROW_NBSP if self.ru else ","
        if (unit in (None, "piece")) and milli % 1000 == 0:
            number = decimal_text(milli // 1000, 0, point="", group=group)
        else:
            number = decimal_text(milli, 3, point=self.point, group=group)
        label = UNITS[self.language].get(unit or "", unit or "")
        return f"{number}{NBSP}{label}" if label else number

    def days(self, value: float | None) -> str:
        return "—" if value is None else f"{value:.1f}".replace(".", self.point)

    def ratio(self, value: float | None) -> str:
        return "—" if value is None else f"{value:.2f}".replace(".", self.point)

    def date(self, day: dt.date | None) -> str:
        if day is None:
            return "—"
        if self.ru:
            return day.strftime("%d.%m.%Y")
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"

    def short_date(self, day: dt.date) -> str:
        return day.strftime("%d.%m") if self.ru else f"{day.day} {MONTHS_EN[day.month - 1]}"

    def datetime(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return "—"
        return f"{self.date(moment.date())} {moment.strftime('%H:%M')}"

    def title(self, scope: str, start: dt.date, end: dt.date) -> str:
        if scope == "weekly":
            return self.t("title_weekly", start=self.date(start), end=self.date(end))
        return self.t("title_daily", date=self.date(end))


__all__ = ["LANGUAGES", "NARROW_NBSP", "NBSP", "TEXTS", "Formatter", "decimal_text"]
