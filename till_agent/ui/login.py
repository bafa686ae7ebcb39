"""The login screen: pick a cashier, type the PIN (checked offline against the feed's hash)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from till_agent.messages import TillError
from till_agent.messages import text as message_text
from till_agent.ui.dialogs import TillScreenMixin
from till_agent.ui.widgets import Banner, MessageLine, StatusBar


class LoginScreen(TillScreenMixin, Screen[None]):
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Banner(id="banner")
        with Vertical(classes="dialog", id="login"):
            yield Static(self.t("login_title"), classes="title")
            yield Label(self.t("pick_cashier"))
            yield OptionList(id="cashiers")
            yield Label(self.t("pin"))
            yield Input(password=True, id="pin", max_length=12)
            yield MessageLine(id="message")
            yield Button(self.t("login"), id="login-button", variant="primary")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.till_app.refresh_status()

    def on_screen_resume(self) -> None:
        self.refresh_cashiers()
        self.query_one("#pin", Input).value = ""
        self.query_one("#cashiers", OptionList).focus()

    def refresh_cashiers(self) -> None:
        """Fill the list from the catalog (it may arrive after the till started)."""
        options = self.query_one("#cashiers", OptionList)
        cashiers = self.till.cashiers()
        if options.option_count == len(cashiers):
            return
        options.clear_options()
        options.add_options(Option(c.name, id=str(c.id)) for c in cashiers)
        if cashiers:
            options.highlighted = 0
            options.focus()
        else:
            self.say(self.t("no_cashiers"), error=True)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#pin", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.log_in()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.log_in()

    def log_in(self) -> None:
        options = self.query_one("#cashiers", OptionList)
        pin = self.query_one("#pin", Input)
        if options.highlighted is None:
            self.say(self.t("pick_cashier"), error=True)
            options.focus()
            return
        option_id = options.get_option_at_index(options.highlighted).id
        try:
            self.till.login(int(option_id or 0), pin.value)
        except TillError as exc:
            self.say_error(exc)
            pin.value = ""
            pin.focus()
            return
        pin.value = ""
        self.say("")
        self.till_app.logged_in()

    def update_banner(self) -> None:
        status = self.till_app.last_status
        revoked = status is not None and status.sync_state == "revoked"
        text = message_text("revoked", self.locale) if revoked else ""
        self.query_one("#banner", Banner).show(text, severe=True)

    def accept_scan(self, code: str) -> bool:
        self.app.bell()
        self.say(message_text("no_cashier", self.locale), error=True)
        return True
