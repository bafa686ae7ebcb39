"""What the cashier types, read as integers (kopecks, thousandths) and shown back; no floats."""

from __future__ import annotations

import datetime as dt
import re

from till_agent.messages import Locale, TillError

_MONEY = re.compile(r"(\d{1,9})(?:[.,](\d{1,2}))?")
_WEIGHT = re.compile(r"(\d{1,6})(?:[.,](\d{1,3}))?")
_PIECES = re.compile(r"\d{1,6}")
_BARCODE = re.compile(r"\d{6,}")


def _clean(text: str) -> str:
    return text.strip().replace(" ", "").replace("\u00a0", "")


def parse_money(text: str, field: str, locale: Locale) -> int:
    """'12,50' / '12.50' / '1 234' -> kopecks; anything else is refused naming `field`."""
    match = _MONEY.fullmatch(_clean(text))
    if match is None:
        raise TillError("bad_number", field=field, example="12,50" if locale == "ru" else "12.50")
    units, fraction = match.groups()
    return int(units) * 100 + int((fraction or "").ljust(2, "0"))


def parse_optional_money(text: str, field: str, locale: Locale) -> int:
    """Like `parse_money`, but an empty field is zero."""
    return parse_money(text, field, locale) if text.strip() else 0


def parse_qty(text: str, field: str, locale: Locale, *, weighed: bool) -> int:
    """A quantity in thousandths: kilograms with up to 3 decimals ('0,350'), or whole pieces."""
    cleaned = _clean(text)
    if weighed:
        match = _WEIGHT.fullmatch(cleaned)
        if match is not None:
            units, fraction = match.groups()
            return int(units) * 1000 + int((fraction or "").ljust(3, "0"))
        example = "0,350" if locale == "ru" else "0.350"
    else:
        if _PIECES.fullmatch(cleaned):
            return int(cleaned) * 1000
        example = "2"
    raise TillError("bad_number", field=field, example=example)


def format_qty(qty_milli: int, locale: Locale, *, weighed: bool) -> str:
    """Weighed goods with 3 decimals ('0,350'), pieces as a whole number when they are one."""
    units, milli = divmod(qty_milli, 1000)
    if not weighed and milli == 0:
        return str(units)
    sep = "," if locale == "ru" else "."
    return f"{units}{sep}{milli:03d}"


def amount_text(amount_minor: int, locale: Locale) -> str:
    """An amount without the currency, for table columns: '1 234,50' / '1,234.50'."""
    sign = "-" if amount_minor < 0 else ""
    units, cents = divmod(abs(amount_minor), 100)
    if locale == "ru":
        return f"{sign}{units:,}".replace(",", "\u00a0") + f",{cents:02d}"
    return f"{sign}{units:,}.{cents:02d}"


def looks_like_barcode(text: str) -> bool:
    """Digits only, at least 6 of them: an EAN/UPC or a scale label, not a product name."""
    return _BARCODE.fullmatch(text) is not None


def local_time(value: str | dt.datetime | None) -> str:
    """An ISO timestamp (or datetime) as 'dd.mm HH:MM' on this machine's clock; '-' if none."""
    if value is None:
        return "-"
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().strftime("%d.%m %H:%M")


__all__ = [
    "amount_text",
    "format_qty",
    "local_time",
    "looks_like_barcode",
    "parse_money",
    "parse_optional_money",
    "parse_qty",
]
