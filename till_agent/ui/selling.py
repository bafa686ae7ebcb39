"""The selling screen: the scan/search field always has the focus, the basket, the big total,
and every till function on a function key (also clickable in the footer and side buttons)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer

from till_agent.basket import Line
from till_agent.core import Done
from till_agent.messages import TillError, money
from till_agent.messages import text as message_text
from till_agent.scanner import latin_from_russian_layout
from till_agent.ui import returns, shift
from till_agent.ui.dialogs import AskScreen, Field, PickScreen, TillScreenMixin, says_refusals
from till_agent.ui.entry import format_qty, local_time, looks_like_barcode, parse_money, parse_qty
from till_agent.ui.payment import PaymentScreen
from till_agent.ui.widgets import Banner, BasketTable, MessageLine, ScanInput, StatusBar, TotalPanel

SIDE_BUTTONS = (
    ("pay", "k_pay", "F10"),
    ("qty", "k_qty", "F2"),
    ("void", "k_void", "F5"),
    ("park", "k_park", "F6"),
    ("shift", "k_shift", "F8"),
    ("refund", "k_return", "F9"),
)


class SellingScreen(TillScreenMixin, Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "qty", "k_qty"),
        Binding("f3", "line_discount", "k_line_discount"),
        Binding("f4", "receipt_discount", "k_receipt_discount"),
        Binding("f5", "void", "k_void"),
        Binding("f6", "park", "k_park"),
        Binding("f7", "resume", "k_resume"),
        Binding("f8", "shift", "k_shift"),
        Binding("f9", "refund", "k_return"),
        Binding("f10", "pay", "k_pay"),
        Binding("f11", "reprint", "k_reprint"),
        Binding("f12", "logout", "k_logout"),
        Binding("up", "cursor(-1)", show=False),
        Binding("down", "cursor(1)", show=False),
        Binding("escape", "clear_scan", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.note = ""

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Banner(id="banner")
        with Horizontal(id="main"):
            yield BasketTable(self.locale, id="basket")
            with Vertical(id="side"):
                yield TotalPanel(self.locale, id="total")
                for action, label, key in SIDE_BUTTONS:
                    button = Button(f"{self.t(label)} {key}", id=f"do-{action}", compact=True)
                    button.can_focus = False  # the scan field keeps the focus
                    yield button
        yield MessageLine(id="message")
        yield ScanInput(
            clock=self.till_app.key_clock, placeholder=self.t("scan_placeholder"), id="scan"
        )
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#basket", BasketTable).can_focus = False
        self.show_basket()
        self.till_app.refresh_status()
        self.query_one("#scan", ScanInput).focus()
        if self.till.shift_too_long():
            self.say(message_text("shift_too_long", self.locale), error=True)
        if self.till.unprinted():
            self.action_reprint()

    def on_screen_resume(self) -> None:
        self.query_one("#scan", ScanInput).focus()
        self.show_basket(self.query_one("#basket", BasketTable).cursor_row)
        self.update_banner()

    # --- showing ----------------------------------------------------------------------------

    def show_basket(self, cursor: int | None = None) -> None:
        basket = self.till.basket
        self.query_one("#basket", BasketTable).show(basket, self.weighed, cursor)
        note = self.note
        if basket.receipt_discount_minor:
            note = self.t("receipt_discount_note", amount=basket.receipt_discount_minor)
        self.query_one("#total", TotalPanel).show(basket.totals().total_minor, note)

    def weighed(self, line: Line) -> bool:
        return self.till_app.weighed(line.product_id)

    def update_banner(self) -> None:
        """The one thing the cashier must act on: re-pair, close a too-long shift, open one."""
        status = self.till_app.last_status
        if status is not None and status.sync_state == "revoked":
            code = "revoked"
        elif self.till.shift_too_long():
            code = "shift_too_long"
        elif self.till.open_shift_state() is None:
            code = "no_shift"
        else:
            code = ""
        text = message_text(code, self.locale) if code else ""
        self.query_one("#banner", Banner).show(text, severe=code == "revoked")

    def selected(self) -> int:
        if not self.till.basket.lines:
            raise TillError("basket_empty")
        return self.query_one("#basket", BasketTable).cursor_row

    # --- ringing up -------------------------------------------------------------------------

    def on_scan_input_entered(self, event: ScanInput.Entered) -> None:
        event.stop()
        if self.till_app.busy:  # the basket waits while a receipt or report prints
            self.say(self.t("busy"), error=True)
        elif event.code is not None:
            self.scan(event.code)
        elif looks_like_barcode(event.text):
            self.scan(event.text)
        else:
            self.search(event.text)

    def on_scan_input_void_requested(self, event: ScanInput.VoidRequested) -> None:
        event.stop()
        self.action_void()

    def accept_scan(self, code: str) -> bool:
        self.scan(code)
        return True

    def scan(self, code: str, qty_milli: int | None = None, *, typed: str | None = None) -> None:
        """Ring up a code; a weighed product by its plain barcode asks for the weight. `typed`:
        the cashier's own text, named in "nothing found" instead of the code."""
        try:
            line = self.till.scan(code, qty_milli)
        except TillError as exc:
            if exc.code == "weight_needed":
                self.ask_weight(exc, lambda qty: self.scan(code, qty))
            elif exc.code == "not_found" and typed is not None:
                self.say(self.t("nothing_found", text=typed), error=True)
            else:
                self.say_error(exc)
            return
        self.added(line)

    def add_product(self, product_id: int, qty_milli: int | None = None) -> None:
        try:
            line = self.till.add_product(product_id, qty_milli)
        except TillError as exc:
            if exc.code == "weight_needed":
                self.ask_weight(exc, lambda qty: self.add_product(product_id, qty))
            else:
                self.say_error(exc)
            return
        self.added(line)

    def added(self, line: Line) -> None:
        self.note = ""
        lines = self.till.basket.lines
        row = next(
            (i for i, x in enumerate(lines) if x.product_id == line.product_id),
            len(lines) - 1,
        )
        self.show_basket(row)
        self.say(self.t("added", name=line.name))

    def ask_weight(self, why: TillError, then: Callable[[int], None]) -> None:
        label = self.t("weight_kg")

        def check(values: dict[str, str]) -> int:
            return parse_qty(values["qty"], label, self.locale, weighed=True)

        def done(qty: int | None) -> None:
            if qty is not None:
                then(qty)

        self.app.push_screen(AskScreen(why.text(self.locale), [Field("qty", label)], check), done)

    def search(self, text: str) -> None:
        found = self.till.search(text)
        if not found:  # maybe a code typed by hand, or a wedge's letters in the Russian layout
            self.scan(latin_from_russian_layout(text), typed=text)
            return
        choices = []
        for product in found:
            per = f"/{self.t('kg')}" if product.unit != "piece" else ""
            choices.append(
                (product.id, f"{product.name}  {money(product.price_minor, self.locale)}{per}")
            )

        def picked(product_id: int | None) -> None:
            if product_id is not None:
                self.add_product(product_id)

        self.app.push_screen(PickScreen(self.t("search_title", text=text), choices), picked)

    # --- the basket's keys ------------------------------------------------------------------

    def action_clear_scan(self) -> None:
        self.query_one("#scan", ScanInput).value = ""

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#basket", BasketTable)
        if table.row_count:
            table.move_cursor(row=max(0, min(table.cursor_row + step, table.row_count - 1)))

    def edit_line(self, key: str, label: str, value: str, apply: Callable[[str], None]) -> None:
        """Ask one value and apply it while the dialog is open, so a refusal (over the
        discount limit, say) is shown there to correct."""
        row = self.selected()

        def check(values: dict[str, str]) -> bool:
            apply(values[key])
            return True

        self.app.push_screen(
            AskScreen(label, [Field(key, label, value)], check),
            lambda _: self.show_basket(row),
        )

    @says_refusals
    def action_qty(self) -> None:
        row = self.selected()
        line = self.till.basket.lines[row]
        weighed = self.weighed(line)
        label = self.t("weight_kg" if weighed else "quantity")
        current = format_qty(line.qty_milli, self.locale, weighed=weighed)
        self.edit_line(
            "qty",
            label,
            current,
            lambda v: self.till.set_qty(row, parse_qty(v, label, self.locale, weighed=weighed)),
        )

    @says_refusals
    def action_line_discount(self) -> None:
        row = self.selected()
        label = self.t("line_discount")
        self.edit_line(
            "discount",
            label,
            "",
            lambda v: self.till.discount_line(row, parse_money(v, label, self.locale)),
        )

    @says_refusals
    def action_receipt_discount(self) -> None:
        self.selected()
        label = self.t("receipt_discount")
        self.edit_line(
            "discount",
            label,
            "",
            lambda v: self.till.discount_receipt(parse_money(v, label, self.locale)),
        )

    @says_refusals
    def action_void(self) -> None:
        row = self.selected()
        line = self.till.void(row)
        self.show_basket(row)
        self.say(self.t("voided", name=line.name))

    @says_refusals
    def action_park(self) -> None:
        parked_id = self.till.park()
        self.show_basket()
        self.say(self.t("parked_done", id=parked_id))

    def action_resume(self) -> None:
        parked = self.till.parked()
        if not parked:
            self.say(self.t("no_parked"))
            return
        choices = [
            (
                p.id,
                self.t(
                    "parked_row",
                    id=p.id,
                    at=local_time(p.parked_at),
                    lines=p.lines,
                    total=p.total_minor,
                ),
            )
            for p in parked
        ]

        self.app.push_screen(PickScreen(self.t("parked_title"), choices), self.resume)

    @says_refusals
    def resume(self, parked_id: int | None) -> None:
        if parked_id is not None:
            self.till.resume(parked_id)
            self.note = ""
            self.show_basket(0)
            self.say(self.t("resumed", id=parked_id))

    # --- payment, printing, shift, returns, logout -------------------------------------------

    @says_refusals
    def action_pay(self) -> None:
        if not self.till.basket.lines:
            raise TillError("basket_empty")
        self.app.push_screen(PaymentScreen(self.till.basket.totals().total_minor), self.paid)

    def paid(self, done: Done | None) -> None:
        if done is None:
            return
        change = self.t("change_is", amount=done.sale.change_minor)
        self.note = change if done.sale.change_minor else ""
        self.show_basket()
        said = self.t("sale_done", seq=done.sale.till_seq, change=done.sale.change_minor)
        self.say(said)
        self.till_app.print_outcome(done, said)

    def action_reprint(self) -> None:
        unprinted = self.till.unprinted()
        if not unprinted:
            last = self.till_app.last_sale
            if last is None:
                self.say(self.t("nothing_to_reprint"))
            else:
                self.till_app.reprint(last)
            return
        choices = [
            (
                n,
                self.t(
                    "unprinted_row",
                    seq=s.till_seq,
                    at=local_time(s.created_at),
                    total=s.total_minor,
                ),
            )
            for n, s in enumerate(unprinted)
        ]

        def picked(n: int | None) -> None:
            if n is not None:
                self.till_app.reprint(unprinted[n])

        self.app.push_screen(PickScreen(self.t("unprinted_title"), choices), picked)

    def action_shift(self) -> None:
        shift.ShiftFlow(self).start()

    @says_refusals
    def action_refund(self) -> None:
        returns.ReturnFlow(self).start()

    @says_refusals
    def action_logout(self) -> None:
        self.till.logout()
        self.till_app.logged_out()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.run_action((event.button.id or "").removeprefix("do-"))
        self.query_one("#scan", ScanInput).focus()


__all__ = ["SellingScreen"]
