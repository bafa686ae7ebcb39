"""Render a sale's receipt to ESC/POS bytes (python-escpos `Dummy`), ready for one write.

Every receipt uses a fresh `Dummy` and selects its code page explicitly after `ESC @`: python-escpos
keeps believing the old code page is active after an init and would skip `ESC t`, garbling the
second receipt (FIELD-NOTES, "Printing").
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from wire.currencies import CURRENCY_EXPONENTS
from wire.money import vat_breakdown
from wire.v1.sales import SaleLineV1, SaleV1


def _escpos_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kassa" / "escpos"


def _import_escpos() -> tuple[Any, Any, Any]:
    """Import python-escpos without its side effects: no root log handler, no stray temp dir."""
    pickle_dir = os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(_escpos_cache_dir()))
    Path(pickle_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    root = logging.getLogger()
    handlers_before = list(root.handlers)
    saved_tempdir = tempfile.tempdir
    with tempfile.TemporaryDirectory(prefix="kassa-escpos-import-") as scratch:
        tempfile.tempdir = scratch  # escpos calls mkdtemp() on import even when the env is set
        try:
            from escpos.capabilities import get_profile  # type: ignore[import-untyped]
            from escpos.magicencode import Encoder  # type: ignore[import-untyped]
            from escpos.printer import Dummy  # type: ignore[import-untyped]
        finally:
            tempfile.tempdir = saved_tempdir
            for handler in root.handlers[:]:
                if handler not in handlers_before:  # escpos calls logging.basicConfig()
                    root.removeHandler(handler)
    return Dummy, Encoder, get_profile


Dummy, Encoder, get_profile = _import_escpos()

Locale = Literal["ru", "en"]
ENCODING = "CP866"  # Cyrillic; the slot number differs between printers (a till setting)

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "till": "Касса",
        "cashier": "Кассир",
        "receipt": "Чек №",
        "return": "ВОЗВРАТ",
        "original": "Возврат по чеку",
        "discount": "Скидка",
        "total": "ИТОГО",
        "vat": "НДС",
        "no_vat": "без НДС",
        "vat_sum": "в т.ч.",
        "cash": "Наличные",
        "card": "Карта",
        "other": "Прочее",
        "approval": "Код авторизации",
        "change": "Сдача",
        "refunded": "Выплачено",
        "kg": "кг",
        "copy": "*** КОПИЯ ***",
    },
    "en": {
        "till": "Till",
        "cashier": "Cashier",
        "receipt": "Receipt No.",
        "return": "RETURN",
        "original": "Return of receipt",
        "discount": "Discount",
        "total": "TOTAL",
        "vat": "VAT",
        "no_vat": "no VAT",
        "vat_sum": "incl.",
        "cash": "Cash",
        "card": "Card",
        "other": "Other",
        "approval": "Approval code",
        "change": "Change",
        "refunded": "Refunded",
        "kg": "kg",
        "copy": "*** COPY ***",
    },
}
CURRENCY_LABELS = {("ru", "RUB"): "руб.", ("en", "RUB"): "RUB"}

# Characters no single-byte code page holds, or that make python-escpos switch to CP437.
_REPLACEMENTS = str.maketrans(
    {
        "«": '"',
        "»": '"',
        "„": '"',
        "“": '"',
        "”": '"',
        "‘": "'",
        "’": "'",
        "—": "-",
        "–": "-",
        "\u00a0": " ",
        "\u202f": " ",
        "₽": "руб.",
        "…": "...",
    }
)


@dataclass(frozen=True, slots=True)
class StoreHeader:
    name: str
    address: str = ""
    header_text: str = ""
    footer_text: str = ""
    timezone: str = "Europe/Moscow"


@dataclass(frozen=True, slots=True)
class PrinterLayout:
    """How the configured printer prints: profile, code page slot, paper width, drawer wiring."""

    profile: str = "TM-T88V"
    code_page: int | None = None  # ESC t n for CP866; None: the profile's own number
    width: int = 42  # characters per line: 32 (58 mm), 42 or 48 (80 mm)
    locale: Locale = "ru"
    drawer_pin: Literal[2, 5] = 2
    drawer_pulse_ms: int = 100
    drawer_off_ms: int = 200
    qr_size: int = 5

    def __post_init__(self) -> None:
        if not 24 <= self.width <= 64:
            raise ValueError(f"paper width {self.width} characters: expected 32, 42 or 48")
        if self.code_page is not None and not 0 <= self.code_page <= 255:
            raise ValueError(f"code page number {self.code_page} is not 0..255")
        if not 2 <= self.drawer_pulse_ms <= 510 or not 2 <= self.drawer_off_ms <= 510:
            raise ValueError("drawer pulse and pause must be 2..510 ms")


def drawer_kick_bytes(layout: PrinterLayout) -> bytes:
    """`ESC p m t1 t2`: m=0 pin 2, m=1 pin 5; times in units of 2 ms."""
    m = 0 if layout.drawer_pin == 2 else 1
    return bytes([0x1B, 0x70, m, layout.drawer_pulse_ms // 2, layout.drawer_off_ms // 2])


def realtime_kick_bytes(layout: PrinterLayout) -> bytes:
    """`DLE DC4 1 m t`: a drawer pulse the printer runs at once, even when out of paper
    (m: 0 = pin 2, 1 = pin 5; t: pulse length in units of 100 ms, 1-8)."""
    units = min(max(round(layout.drawer_pulse_ms / 100), 1), 8)
    return bytes([0x10, 0x14, 0x01, 0 if layout.drawer_pin == 2 else 1, units])


def has_cash_tender(sale: SaleV1) -> bool:
    return any(payment.tender == "cash" for payment in sale.payments)


def format_amount(amount_minor: int, currency: str) -> str:
    """'1 234,50' (space-grouped thousands, decimal comma)."""
    exponent = CURRENCY_EXPONENTS[currency]
    whole, fraction = divmod(abs(amount_minor), 10**exponent)
    sign = "-" if amount_minor < 0 else ""
    grouped = f"{whole:,}".replace(",", " ")
    return f"{sign}{grouped},{fraction:0{exponent}d}" if exponent else f"{sign}{grouped}"


def format_qty(qty_milli: int) -> str:
    whole, milli = divmod(qty_milli, 1000)
    return str(whole) if milli == 0 else f"{whole},{milli:03d}"


def format_rate(rate_bp: int) -> str:
    whole, rest = divmod(rate_bp, 100)
    return f"{whole}%" if rest == 0 else f"{whole},{rest:02d}%"


def _wrap(text: str, width: int) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines or [""]


def _pair(left: str, right: str, width: int) -> list[str]:
    """Left text and a right-aligned value on one line, or two when they do not fit."""
    if len(left) + 1 + len(right) <= width:
        return [left + " " * (width - len(left) - len(right)) + right]
    return [*_wrap(left, width), right.rjust(width)]


@dataclass(frozen=True)
class ReceiptRenderer:
    """One long-lived configuration; every `render` builds its bytes on a fresh `Dummy`."""

    store: StoreHeader
    layout: PrinterLayout = field(default_factory=PrinterLayout)
    till_name: str = ""

    def __post_init__(self) -> None:
        get_profile(self.layout.profile)  # fail at start-up on an unknown profile name
        ZoneInfo(self.store.timezone)
        _ = self.code_page

    @property
    def code_page(self) -> int:
        if self.layout.code_page is not None:
            return self.layout.code_page
        pages = get_profile(self.layout.profile).get_code_pages()
        if ENCODING not in pages:
            raise ValueError(
                f"printer profile {self.layout.profile!r} lists no {ENCODING}; "
                "set the printer's code page number for CP866 in till.toml"
            )
        return int(pages[ENCODING])

    def render(
        self, sale: SaleV1, *, cashier_name: str, kick_drawer: bool = False, copy: bool = False
    ) -> bytes:
        """The whole job: init, code page, receipt text, QR of the sale id, cut, drawer kick.
        A reprint (`copy`) is marked as a copy and never opens the drawer."""
        printer = self._start()
        if copy:
            printer.set(align="center")
            printer.textln(LABELS[self.layout.locale]["copy"])
        self._body(printer, sale, cashier_name)
        printer.set(align="center")
        printer.qr(str(sale.sale_uuid), native=True, size=self.layout.qr_size)
        printer.set(align="center")
        for line in _wrap(self.store.footer_text, self.layout.width):
            if line:
                printer.textln(self._clean(line))
        return self._finish(printer, kick_drawer=kick_drawer and not copy)

    def render_document(self, title: str, rows: list[tuple[str, str] | str]) -> bytes:
        """A report or test page: the store header, a title, then rows (label + right-aligned
        value, or a line of text), cut. Never opens the drawer."""
        width = self.layout.width
        printer = self._start()
        printer.set(align="center")
        for text in (self.store.name, title):
            for line in _wrap(text, width):
                printer.textln(self._clean(line))
        printer.set(align="left")
        for row in rows:
            lines = _wrap(row, width) if isinstance(row, str) else _pair(row[0], row[1], width)
            for line in lines:
                printer.textln(self._clean(line))
        return self._finish(printer, kick_drawer=False)

    def render_kick(self) -> bytes:
        """Only the drawer pulse (doctor, the manager's "open drawer")."""
        return drawer_kick_bytes(self.layout)

    def _start(self) -> Any:
        printer = Dummy(
            profile=self.layout.profile,
            magic_encode_args={"encoder": Encoder({ENCODING: self.code_page})},
        )
        printer.hw("INIT")
        printer.magic.encoding = None  # ESC @ reset the printer's code page: select it again
        printer.magic.force_encoding(ENCODING)
        return printer

    def _finish(self, printer: Any, *, kick_drawer: bool) -> bytes:
        profile = printer.profile
        if profile.supports("paperFullCut") or profile.supports("paperPartCut"):
            printer.cut()
        else:
            printer.print_and_feed(4)
        if kick_drawer:
            printer._raw(drawer_kick_bytes(self.layout))
        return bytes(printer.output)

    @staticmethod
    def _clean(text: str) -> str:
        return text.translate(_REPLACEMENTS)

    def _body(self, printer: Any, sale: SaleV1, cashier_name: str) -> None:
        width, t = self.layout.width, LABELS[self.layout.locale]
        lines_out: list[tuple[str, list[str]]] = []  # (align, lines)

        def center(*texts: str) -> None:
            lines_out.append(("center", [w for text in texts for w in _wrap(text, width)]))

        def left(*lines: str) -> None:
            lines_out.append(("left", list(lines)))

        center(self.store.name)
        for text in (self.store.address, *self.store.header_text.splitlines()):
            if text.strip():
                center(text)
        if sale.kind == "return":
            center(t["return"])
        local = sale.created_at.astimezone(ZoneInfo(self.store.timezone))
        left(*_pair(f"{t['receipt']} {sale.till_seq}", local.strftime("%d.%m.%Y %H:%M"), width))
        if self.till_name:
            left(*_pair(t["till"], self.till_name, width))
        left(*_pair(t["cashier"], cashier_name, width))
        if sale.original_sale_uuid is not None:
            left(*_wrap(f"{t['original']} {sale.original_sale_uuid}", width))
        left("-" * width)
        for line in sale.lines:
            left(*self._line(line, sale.currency, width, t))
        left("-" * width)
        money = self._money_label(sale.currency)
        total = f"={format_amount(sale.total_minor, sale.currency)} {money}"
        left(*_pair(t["total"], total, width))
        for rate, (gross, vat) in vat_breakdown(
            (line.vat_rate_bp, line.amount_minor) for line in sale.lines
        ).items():
            if rate is None:
                left(*_pair(t["no_vat"], format_amount(gross, sale.currency), width))
            else:
                label = f"{t['vat_sum']} {t['vat']} {format_rate(rate)}"
                left(*_pair(label, format_amount(vat, sale.currency), width))
        for payment in sale.payments:
            left(
                *_pair(t[payment.tender], format_amount(payment.amount_minor, sale.currency), width)
            )
            if payment.approval_code:
                left(*_pair(t["approval"], payment.approval_code, width))
        if sale.kind == "return":
            left(*_pair(t["refunded"], format_amount(sale.total_minor, sale.currency), width))
        elif sale.change_minor:
            left(*_pair(t["change"], format_amount(sale.change_minor, sale.currency), width))

        for align, texts in lines_out:
            printer.set(align=align)
            for text in texts:
                printer.textln(self._clean(text))

    def _money_label(self, currency: str) -> str:
        return CURRENCY_LABELS.get((self.layout.locale, currency), currency)

    @staticmethod
    def _line(line: SaleLineV1, currency: str, width: int, t: dict[str, str]) -> list[str]:
        out = _wrap(f"{line.line_no}. {line.name}", width)
        price = format_amount(line.unit_price_minor, currency)
        if line.qty_milli % 1000:
            qty = f"{format_qty(line.qty_milli)} {t['kg']} x {price}"
        else:
            qty = f"{format_qty(line.qty_milli)} x {price}"
        gross = line.amount_minor + line.discount_minor
        out += _pair(f"  {qty}", f"={format_amount(gross, currency)}", width)
        if line.discount_minor:
            out += _pair(
                f"  {t['discount']}", f"-{format_amount(line.discount_minor, currency)}", width
            )
            out += _pair("", f"={format_amount(line.amount_minor, currency)}", width)
        rate = (
            t["no_vat"]
            if line.vat_rate_bp is None
            else f"{t['vat']} {format_rate(line.vat_rate_bp)}"
        )
        out.append(f"  {rate}")
        return out
