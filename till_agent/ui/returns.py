"""Returns (F9): find the sale by its receipt QR (scanned) or number, choose quantities per
line, refund by the original tenders (a card share needs the terminal's approval code)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Static

from till_agent.core import Done
from till_agent.messages import TillError
from till_agent.scanner import latin_from_russian_layout
from till_agent.ui.dialogs import AskScreen, Field, TillModal
from till_agent.ui.entry import format_qty, parse_qty
from till_agent.ui.widgets import MessageLine
from wire.v1 import SaleV1

if TYPE_CHECKING:
    from till_agent.ui.selling import SellingScreen


class ReturnFlow:
    def __init__(self, screen: SellingScreen) -> None:
        self.screen = screen
        self.app = screen.till_app
        self.till = screen.till
        self.t = screen.t

    def start(self) -> None:
        if self.till.basket.lines:
            raise TillError("basket_not_empty")
        label = self.t("receipt")

        def check(values: dict[str, str]) -> SaleV1:
            # A wedge scanner typing the QR's hex letters in the Russian layout sends Cyrillic.
            return self.till.find_sale(latin_from_russian_layout(values["receipt"]))

        self.app.push_screen(
            AskScreen(
                self.t("k_return"),
                [Field("receipt", label)],
                check,
                hint=self.t("receipt_prompt"),
                accepts_scan=True,
            ),
            self.found,
        )

    def found(self, sale: SaleV1 | None) -> None:
        if sale is not None:
            self.app.push_screen(ReturnScreen(sale), self.refunded)

    def refunded(self, done: Done | None) -> None:
        if done is None:
            return
        paid = {p.tender: p.amount_minor for p in done.sale.payments}
        said = self.t(
            "refund_done",
            seq=done.sale.till_seq,
            cash=paid.get("cash", 0),
            card=paid.get("card", 0),
        )
        self.screen.say(said)
        self.app.print_outcome(done, said)


class ReturnScreen(TillModal[Done]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "k_cancel"),
        Binding("f2", "set_qty", "k_qty"),
        Binding("f4", "all", "k_return_all"),
        Binding("f10", "refund", "k_refund"),
    ]

    def __init__(self, sale: SaleV1) -> None:
        super().__init__()
        self.sale = sale
        self.quantities: dict[int, int] = {}
        self.left: dict[int, int] = {}
        self.lines = {line.line_no: line for line in sale.lines}
        self.by_card = any(p.tender == "card" for p in sale.payments)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide", id="return"):
            yield Static(self.t("return_title", seq=self.sale.till_seq), classes="title")
            yield Static(self.t("return_hint"), classes="hint")
            yield DataTable(id="return-lines", cursor_type="row")
            if self.by_card:
                yield Label(self.t("approval"))
                yield Input(id="approval", max_length=32)
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(
                    f"{self.t('k_refund')} F10", id="refund", variant="warning", compact=True
                )
                yield Button(self.t("k_cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.left = self.till.returnable(self.sale)
        table = self.query_one("#return-lines", DataTable)
        for key in ("col_no", "col_name", "col_sold", "col_left", "col_return"):
            table.add_column(self.t(key), key=key)
        for line in self.sale.lines:
            table.add_row(
                str(line.line_no),
                line.name,
                self.qty(line.line_no, line.qty_milli),
                self.qty(line.line_no, self.left[line.line_no]),
                "",
                key=str(line.line_no),
            )
        table.focus()

    def weighed(self, line_no: int) -> bool:
        return self.till_app.weighed(self.lines[line_no].product_id)

    def qty(self, line_no: int, qty_milli: int) -> str:
        return format_qty(qty_milli, self.locale, weighed=self.weighed(line_no))

    def set_line(self, line_no: int, qty_milli: int) -> None:
        self.quantities[line_no] = qty_milli
        table = self.query_one("#return-lines", DataTable)
        table.update_cell(
            str(line_no), "col_return", self.qty(line_no, qty_milli) if qty_milli else ""
        )
        self.show_plan()

    def show_plan(self) -> None:
        """What will go back, by tender, before anything is recorded: the card part is what
        the cashier refunds on the terminal."""
        quantities = {n: q for n, q in self.quantities.items() if q}
        if not quantities:
            self.say("")
            return
        try:
            plan = self.till.plan_refund(self.sale, quantities)
        except TillError as exc:
            self.say_error(exc)
            return
        self.say(
            self.t(
                "refund_plan", total=plan.total_minor, cash=plan.cash_minor, card=plan.card_minor
            )
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_set_qty()

    def action_set_qty(self) -> None:
        table = self.query_one("#return-lines", DataTable)
        line = self.sale.lines[table.cursor_row]
        weighed = self.weighed(line.line_no)
        label = self.t("return_qty")
        left = self.left[line.line_no]

        def check(values: dict[str, str]) -> int:
            qty = parse_qty(values["qty"], label, self.locale, weighed=weighed)
            if qty > left:
                raise TillError(
                    "return_exceeds", line=line.line_no, left=self.qty(line.line_no, left)
                )
            return qty

        def done(qty: int | None) -> None:
            if qty is not None:
                self.set_line(line.line_no, qty)

        current = self.qty(line.line_no, self.quantities.get(line.line_no) or left)
        self.app.push_screen(
            AskScreen(f"{line.line_no}. {line.name}", [Field("qty", label, current)], check), done
        )

    def action_all(self) -> None:
        for line_no, left in self.left.items():
            self.set_line(line_no, left)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "refund":
            event.stop()
            self.action_refund()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_refund()

    def action_refund(self) -> None:
        if self.till_app.busy:
            return
        code = self.query_one("#approval", Input).value.strip() if self.by_card else ""
        quantities = {n: q for n, q in self.quantities.items() if q}
        self.say(self.t("busy"))
        self.till_app.run_blocking(
            lambda: self.till.refund(self.sale, quantities, approval_code=code or None),
            then=self.dismiss,
            failed=self.say_error,
        )

    def action_cancel(self) -> None:
        if not self.till_app.busy:
            self.dismiss(None)


__all__ = ["ReturnFlow", "ReturnScreen"]
