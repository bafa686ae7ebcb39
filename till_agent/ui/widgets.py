"""The till's own widgets: scan input (tells a wedge scanner from typing), basket table, big
total, status bar, message line; and `localize_bindings` for footer labels in the till's
language."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.message import Message
from textual.widgets import DataTable, Digits, Input, Static

from till_agent.basket import Basket, Line
from till_agent.core import ShiftState
from till_agent.messages import PRINTER_STATES, Locale, money
from till_agent.printer import PaperState, PrinterStatus
from till_agent.scanner import KeyboardWedgeDetector, KeyKind
from till_agent.ui.entry import amount_text, format_qty, local_time
from till_agent.ui.texts import UI, t


def localize_bindings(node: DOMNode, locale: Locale) -> None:
    """Footer labels in the till's language: a class's BINDINGS carry `texts.UI` keys as
    descriptions, replaced here on the node's own copy of its bindings."""
    bindings = node._bindings  # each node holds its own copy of the class's bindings map
    for key, items in list(bindings.key_to_bindings.items()):
        bindings.key_to_bindings[key] = [
            replace(b, description=t(b.description, locale)) if b.description in UI else b
            for b in items
        ]


class MessageLine(Static):
    """One line telling the cashier what just happened or what went wrong."""

    def say(self, text: str, *, error: bool = False) -> None:
        self.update(text)
        self.set_class(error, "error")
        self.set_class(not error and bool(text), "info")


class Banner(Static):
    """The one thing the cashier must act on (re-pair the till, close or open the shift);
    hidden when there is none."""

    def show(self, text: str, *, severe: bool = False) -> None:
        self.update(text)
        self.set_class(bool(text), "shown")
        self.set_class(severe, "severe")


class ScanInput(Input):
    """The scan/search field. Keys are timestamped so a keyboard-wedge scanner's burst (then
    Enter) is told from a person typing a product name, even when the keyboard layout turned
    its letters into Cyrillic."""

    class Entered(Message):
        """Enter was pressed: `code` for a scanner burst, else `text` as typed."""

        def __init__(self, text: str, code: str | None) -> None:
            super().__init__()
            self.text = text
            self.code = code

    class VoidRequested(Message):
        """Del on an empty field: void the selected line."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.detector = KeyboardWedgeDetector()

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and event.character:
            self.detector.key(event.character, self.clock())
        elif event.key in ("backspace", "ctrl+u", "ctrl+w"):
            self.detector.reset()
        await super()._on_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        self.detector.reset()
        super()._on_paste(event)

    async def action_submit(self) -> None:
        burst = self.detector.key("enter", self.clock())
        text = self.value.strip()
        self.value = ""
        if burst is not None and burst.kind is KeyKind.SCAN:
            self.post_message(self.Entered(text, burst.code))
        elif text:
            self.post_message(self.Entered(text, None))

    def action_delete_right(self) -> None:
        if self.value:
            super().action_delete_right()
        else:
            self.post_message(self.VoidRequested())


class BasketTable(DataTable[str]):
    """The basket's lines: name, quantity (kg with 3 decimals when weighed), price, discount
    (own plus share of the receipt discount) and amount. The name takes the width left."""

    FIXED = (("col_qty", 9), ("col_price", 10), ("col_discount", 9), ("col_amount", 10))
    MIN_NAME = 16

    def __init__(self, locale: Locale, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.locale = locale
        self._rows: list[tuple[str, ...]] = []
        self._name_width = 0

    def on_resize(self, event: events.Resize) -> None:
        # 2 cells of padding per column, and room for a vertical scrollbar
        taken = 3 + sum(width for _, width in self.FIXED) + 2 * (len(self.FIXED) + 2) + 2
        self._build(max(self.MIN_NAME, event.size.width - taken))

    def _build(self, name_width: int) -> None:
        if name_width == self._name_width and self.columns:
            return
        self._name_width = name_width
        cursor = self.cursor_row
        self.clear(columns=True)
        columns = (("col_no", 3), ("col_name", name_width), *self.FIXED)
        for key, width in columns:
            self.add_column(t(key, self.locale), width=width, key=key)
        self._fill(cursor)

    def _fill(self, cursor: int) -> None:
        self.clear()
        for row in self._rows:
            self.add_row(*row)
        if self._rows:
            self.move_cursor(row=max(0, min(cursor, len(self._rows) - 1)), animate=False)

    def show(self, basket: Basket, weighed: Callable[[Line], bool], cursor: int | None) -> None:
        """Show the basket with the cursor on row `cursor` (None: the last line)."""
        totals = basket.totals()
        self._rows = []
        for n, (line, amount, discount) in enumerate(
            zip(basket.lines, totals.amounts, totals.discounts, strict=True), start=1
        ):
            is_weighed = weighed(line)
            qty = format_qty(line.qty_milli, self.locale, weighed=is_weighed)
            self._rows.append(
                (
                    str(n),
                    line.name,
                    f"{qty} {t('kg', self.locale)}" if is_weighed else qty,
                    amount_text(line.unit_price_minor, self.locale),
                    amount_text(discount, self.locale) if discount else "",
                    amount_text(amount, self.locale),
                )
            )
        if not self.columns:
            self._build(self.MIN_NAME * 2)
        self._fill(len(self._rows) - 1 if cursor is None else cursor)

    def rows_text(self) -> list[list[str]]:
        return [[str(c) for c in self.get_row_at(i)] for i in range(self.row_count)]


class TotalPanel(Vertical):
    """The total, large enough to read from across the counter, and a note under it (the
    receipt discount, or the change of the sale just paid)."""

    def __init__(self, locale: Locale, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.locale = locale

    def compose(self) -> ComposeResult:
        yield Static(t("total", self.locale), id="total-label")
        yield Digits("0.00", id="total-digits")
        yield Static(money(0, self.locale), id="total-text")
        yield Static("", id="total-note")

    def show(self, total_minor: int, note: str = "") -> None:
        units, cents = divmod(total_minor, 100)
        self.query_one("#total-digits", Digits).update(
            f"{units:,}".replace(",", " ") + f".{cents:02d}"
        )
        self.query_one("#total-text", Static).update(
            f"{t('total', self.locale)}: {money(total_minor, self.locale)}"
        )
        self.query_one("#total-note", Static).update(note)


def printer_label(printer: PrinterStatus | None, locale: Locale) -> str:
    if printer is None:
        return t("printer_unknown", locale)
    if printer.paper == PaperState.OUT:
        state = "paper_out"
    elif not printer.online:
        state = "offline"
    elif printer.paper == PaperState.NEAR_END:
        state = "near_end"
    else:
        state = "ready"
    return PRINTER_STATES[state][locale]


class StatusBar(Static):
    """Sync (queue depth, last contact), printer, shift and cashier, refreshed every poll."""

    def show(
        self,
        status: Any,
        shift: ShiftState | None,
        cashier: str | None,
        locale: Locale,
    ) -> None:
        parts: list[str] = []
        if status is not None:
            parts.append(self._sync(status, locale))
            parts.append(printer_label(status.printer, locale))
        parts.append(
            t("shift_since", locale, at=local_time(shift.opened_at))
            if shift is not None
            else t("shift_none", locale)
        )
        parts.append(t("cashier", locale, name=cashier) if cashier else t("nobody", locale))
        self.update("  |  ".join(parts))
        self.set_class(status is not None and status.sync_state == "revoked", "revoked")
        self.set_class(status is not None and status.sync_state == "offline", "offline")

    @staticmethod
    def _sync(status: Any, locale: Locale) -> str:
        key = {"ok": "sync_ok", "offline": "sync_offline", "revoked": "sync_revoked"}.get(
            status.sync_state, "sync_never"
        )
        queue = status.queue
        bits: list[str] = [t(key, locale)]
        pending = queue.pending_sales + queue.pending_events
        bits.append(t("queue", locale, n=pending))
        if pending and queue.oldest_unsent_at:
            bits.append(t("oldest", locale, at=local_time(queue.oldest_unsent_at)))
        if queue.last_contact_at:
            bits.append(t("last_contact", locale, at=local_time(queue.last_contact_at)))
        if queue.dead_letters:
            bits.append(t("dead_letters", locale, n=queue.dead_letters))
        if queue.unprinted:
            bits.append(t("unprinted_n", locale, n=queue.unprinted))
        return ", ".join(bits)


__all__ = [
    "Banner",
    "BasketTable",
    "MessageLine",
    "ScanInput",
    "StatusBar",
    "TotalPanel",
    "localize_bindings",
    "printer_label",
]
