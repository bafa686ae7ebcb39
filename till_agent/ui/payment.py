"""The payment dialog: cash tendered, card amount with the terminal's approval code (the till
never sees card numbers), the change live; Enter pays. Dismissed with the `Done` sale."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Digits, Input, Label, Static

from till_agent.basket import Payment
from till_agent.core import Done
from till_agent.messages import TillError, money
from till_agent.ui.dialogs import TillModal
from till_agent.ui.entry import parse_optional_money
from till_agent.ui.widgets import MessageLine


class PaymentScreen(TillModal[Done]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "k_cancel"),
        Binding("f2", "exact_cash", "k_exact_cash"),
        Binding("f3", "card_rest", "k_card_rest"),
        Binding("f10", "pay", "k_pay"),
    ]

    def __init__(self, total_minor: int) -> None:
        super().__init__()
        self.total_minor = total_minor

    def compose(self) -> ComposeResult:
        units, cents = divmod(self.total_minor, 100)
        with Vertical(classes="dialog", id="payment"):
            yield Static(self.t("pay_title"), classes="title")
            yield Static(f"{self.t('to_pay')}: {money(self.total_minor, self.locale)}", id="to-pay")
            yield Digits(f"{units}.{cents:02d}", id="pay-digits")
            yield Label(self.t("cash_given"))
            yield Input(id="cash")
            yield Label(self.t("card_amount"))
            yield Input(id="card")
            yield Label(self.t("approval"))
            yield Input(id="approval", max_length=32)
            yield Static("", id="change")
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(
                    f"{self.t('pay_button')} F10", id="pay", variant="success", compact=True
                )
                yield Button(self.t("k_cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#cash", Input).focus()
        self.show_change()

    def value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value

    def amounts(self) -> tuple[int, int]:
        cash = parse_optional_money(self.value("cash"), self.t("cash_given"), self.locale)
        card = parse_optional_money(self.value("card"), self.t("card_amount"), self.locale)
        return cash, card

    def show_change(self) -> None:
        try:
            cash, card = self.amounts()
        except TillError:
            return
        paid = cash + card
        text = (
            self.t("change_is", amount=paid - self.total_minor)
            if paid >= self.total_minor
            else self.t("missing_is", amount=self.total_minor - paid)
        )
        self.query_one("#change", Static).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.show_change()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_pay()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "pay":
            event.stop()
            self.action_pay()

    def action_exact_cash(self) -> None:
        self.query_one("#cash", Input).value = self.plain(self.total_minor - self.card_or_zero())
        self.query_one("#cash", Input).focus()

    def action_card_rest(self) -> None:
        try:
            cash, _ = self.amounts()
        except TillError as exc:
            self.say_error(exc)
            return
        self.query_one("#card", Input).value = self.plain(max(self.total_minor - cash, 0))
        self.query_one("#approval", Input).focus()

    def card_or_zero(self) -> int:
        try:
            return self.amounts()[1]
        except TillError:
            return 0

    def plain(self, minor: int) -> str:
        units, cents = divmod(max(minor, 0), 100)
        return f"{units}{',' if self.locale == 'ru' else '.'}{cents:02d}"

    def action_pay(self) -> None:
        if self.till_app.busy:
            return
        try:
            cash, card = self.amounts()
            code = self.value("approval").strip()
            if card and not code:
                raise TillError("approval_needed")
        except TillError as exc:
            self.say_error(exc)
            if exc.code == "approval_needed":
                self.query_one("#approval", Input).focus()
            return
        payments = []
        if card:
            payments.append(Payment("card", card, code))
        if cash:
            payments.append(Payment("cash", cash))
        self.say(self.t("busy"))
        self.till_app.run_blocking(
            lambda: self.till.pay(payments), then=self.dismiss, failed=self.say_error
        )

    def action_cancel(self) -> None:
        if not self.till_app.busy:  # a sale being recorded and printed is not cancelled
            self.dismiss(None)


__all__ = ["PaymentScreen"]
