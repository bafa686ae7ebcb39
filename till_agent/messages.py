"""Everything the till says to a cashier, in Russian and English, keyed by a stable code.

Errors carry a code and the numbers behind them (`TillError("discount_limit", allowed=273)`);
the UI and the CLI render them in the till's language with `text(locale)`. Amounts are passed in
minor units and formatted here, so no caller formats money for a message.
"""

from __future__ import annotations

from typing import Any, Literal

Locale = Literal["ru", "en"]

TEXTS: dict[str, dict[str, str]] = {
    # basket
    "qty_not_positive": {
        "ru": "Количество и цена должны быть больше нуля",
        "en": "Quantity and price must be positive",
    },
    "qty_zero": {
        "ru": "Количество должно быть больше нуля; чтобы убрать строку, сторнируйте её",
        "en": "Quantity must be positive; void the line instead",
    },
    "discount_limit": {
        "ru": "Скидка больше вашего лимита: здесь не более {allowed}",
        "en": "Discount above your limit: at most {allowed} here",
    },
    "discount_negative": {
        "ru": "Скидка не может быть отрицательной",
        "en": "A discount cannot be negative",
    },
    "basket_empty": {"ru": "Чек пуст", "en": "The basket is empty"},
    "underpaid": {"ru": "Не хватает {missing}", "en": "{missing} still to pay"},
    "change_not_cash": {
        "ru": "Сдача выдаётся только с наличных и никогда при возврате",
        "en": "Change can only come from cash, and never on a refund",
    },
    "no_line": {"ru": "Нет строки {line}", "en": "There is no line {line}"},
    # catalog and scanning
    "not_found": {"ru": "Товар не найден: {what}", "en": "No product for {what}"},
    "weight_needed": {
        "ru": "Весовой товар «{name}»: введите вес в кг",
        "en": "{name} is sold by weight: enter the weight in kg",
    },
    "bad_number": {
        "ru": "{field}: введите число, например {example}",
        "en": "{field}: enter a number such as {example}",
    },
    # login and shifts
    "bad_pin": {"ru": "Неверный кассир или PIN", "en": "Wrong cashier or PIN"},
    "no_cashier": {"ru": "Сначала войдите по PIN", "en": "Log in with your PIN first"},
    "no_shift": {
        "ru": "Смена не открыта: откройте смену (F8)",
        "en": "No shift is open: open one (F8)",
    },
    "shift_open": {"ru": "Смена уже открыта", "en": "A shift is already open"},
    "shift_too_long": {
        "ru": "Смена открыта больше 24 часов: закройте смену (Z-отчёт), затем продолжайте",
        "en": "The shift has been open over 24 hours: close it (Z report) before selling",
    },
    "basket_not_empty": {
        "ru": "Сначала завершите или отложите текущий чек",
        "en": "Finish or park the current sale first",
    },
    "amount_not_positive": {
        "ru": "Сумма должна быть больше нуля",
        "en": "The amount must be positive",
    },
    "not_enough_cash": {
        "ru": "В ящике нет столько наличных: ожидается {expected}",
        "en": "The drawer does not hold that much cash: {expected} expected",
    },
    # returns
    "sale_not_found": {
        "ru": "Чек не найден в журнале этой кассы: {text}",
        "en": "No receipt in this till's journal for {text}",
    },
    "not_a_sale": {
        "ru": "Это чек возврата, его нельзя вернуть",
        "en": "That is a refund; it cannot be returned",
    },
    "return_exceeds": {
        "ru": "Строка {line}: можно вернуть не более {left}",
        "en": "Line {line}: at most {left} can be returned",
    },
    "return_empty": {"ru": "Выберите, что возвращать", "en": "Choose what to return"},
    "change_too_large": {
        "ru": "Сдача больше {limit}: проверьте введённую сумму",
        "en": "Change above {limit}: check the amount entered",
    },
    "approval_needed": {
        "ru": "Введите код авторизации терминала",
        "en": "Enter the card terminal's approval code",
    },
    # journal and printer
    "not_recorded": {
        "ru": "Продажа НЕ записана ({detail}). Чек не печатается. Позовите администратора",
        "en": "The sale was NOT recorded ({detail}). Nothing was printed. Call a manager",
    },
    "printer_failed": {
        "ru": "Продажа записана, но чек не напечатан: {detail}. Исправьте и повторите печать",
        "en": "The sale is recorded but the receipt did not print: {detail}. Fix it and reprint",
    },
    "parked_missing": {"ru": "Отложенный чек {id} не найден", "en": "No parked sale {id}"},
    "revoked": {
        "ru": "Касса отключена от сервера: привяжите её заново (kassa till pair). Данные сохранены",
        "en": "Unpaired from the hub: pair this till again (kassa till pair); no data is lost",
    },
}

PRINTER_STATES: dict[str, dict[str, str]] = {
    "ready": {"ru": "принтер готов", "en": "printer ready"},
    "offline": {"ru": "принтер не отвечает", "en": "printer offline"},
    "paper_out": {"ru": "нет бумаги", "en": "paper out"},
    "near_end": {"ru": "бумага заканчивается", "en": "paper low"},
    "cover_open": {"ru": "открыта крышка", "en": "cover open"},
    "error": {"ru": "ошибка принтера", "en": "printer error"},
}


def money(amount_minor: int, locale: Locale = "ru", currency: str = "RUB") -> str:
    """1234567 -> '12 345,67 руб.' / '12,345.67 RUB' (kopecks: two decimals)."""
    sign = "-" if amount_minor < 0 else ""
    units, cents = divmod(abs(amount_minor), 100)
    if locale == "ru":
        grouped = f"{units:,}".replace(",", "\u00a0")
        label = "руб." if currency == "RUB" else currency
        return f"{sign}{grouped},{cents:02d} {label}"
    return f"{sign}{units:,}.{cents:02d} {currency}"


def text(code: str, locale: Locale = "ru", **params: Any) -> str:
    template = TEXTS.get(code, {}).get(locale) or TEXTS.get(code, {}).get("en") or code
    shown = {
        k: money(v, locale) if k in _MONEY_PARAMS and isinstance(v, int) else v
        for k, v in params.items()
    }
    try:
        return template.format(**shown)
    except (KeyError, IndexError):
        return template


_MONEY_PARAMS = {"allowed", "missing", "expected", "limit"}


class TillError(Exception):
    """Something the cashier must be told; `text(locale)` is the message to show."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(text(code, "en", **params))

    def text(self, locale: Locale = "ru") -> str:
        return text(self.code, locale, **self.params)


__all__ = ["PRINTER_STATES", "TEXTS", "Locale", "TillError", "money", "text"]
