"""The shift menu (F8): open with a float, cash in and out, X report, and close with a blind
count (the expected cash is only shown in the Z report, after the count is entered)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from till_agent.core import ShiftReport, report_rows
from till_agent.printer import PrinterError
from till_agent.ui.dialogs import AskScreen, Field, PickScreen, ReportScreen
from till_agent.ui.entry import parse_money

if TYPE_CHECKING:
    from till_agent.ui.selling import SellingScreen


class ShiftFlow:
    def __init__(self, screen: SellingScreen) -> None:
        self.screen = screen
        self.app = screen.till_app
        self.till = screen.till
        self.t = screen.t

    def start(self) -> None:
        if self.till.open_shift_state() is None:
            actions = ["open_shift"]
        else:
            actions = ["cash_in", "cash_out", "x_report", "close_shift"]
        self.app.push_screen(
            PickScreen(self.t("shift_title"), [(a, self.t(a)) for a in actions]), self.chosen
        )

    def chosen(self, action: str | None) -> None:
        if action == "open_shift":
            self.open_shift()
        elif action in ("cash_in", "cash_out"):
            self.cash_move(action)
        elif action == "x_report":
            self.app.run_blocking(self.till.x_report, then=self.show_report)
        elif action == "close_shift":
            self.close_shift()

    def money_field(self, values: dict[str, str], key: str, label: str) -> int:
        return parse_money(values[key], label, self.screen.locale)

    def open_shift(self) -> None:
        label = self.t("float")

        def check(values: dict[str, str]) -> bool:
            self.till.open_shift(self.money_field(values, "float", label))
            return True

        def done(opened: bool | None) -> None:
            if opened:
                self.screen.say(self.t("shift_opened"))
                self.screen.update_banner()
                self.app.refresh_status()

        self.app.push_screen(AskScreen(label, [Field("float", label)], check), done)

    def cash_move(self, kind: str) -> None:
        label = self.t("amount")

        def check(values: dict[str, str]) -> tuple[int, str | None]:
            return self.money_field(values, "amount", label), values["reason"].strip() or None

        def done(entered: tuple[int, str | None] | None) -> None:
            if entered is None:
                return
            amount, reason = entered

            def moved(result: tuple[object, PrinterError | None]) -> None:
                said = self.t("cash_moved", what=self.t(kind), amount=amount)
                drawer = result[1]
                if drawer is None:
                    self.screen.say(said)
                else:  # recorded; the drawer did not open: say why
                    self.screen.say(f"{said}. {drawer.message(self.screen.locale)}", error=True)

            self.app.run_blocking(lambda: self.till.cash_move(kind, amount, reason), then=moved)

        fields = [Field("amount", label), Field("reason", self.t("reason"))]
        self.app.push_screen(AskScreen(self.t(kind), fields, check), done)

    def close_shift(self) -> None:
        label = self.t("counted")

        def check(values: dict[str, str]) -> int:
            return self.money_field(values, "counted", label)

        def done(counted: int | None) -> None:
            if counted is not None:
                self.app.run_blocking(lambda: self.till.close_shift(counted), then=self.closed)

        self.app.push_screen(
            AskScreen(
                self.t("close_shift"), [Field("counted", label)], check, hint=self.t("blind_hint")
            ),
            done,
        )

    def closed(self, result: tuple[ShiftReport, PrinterError | None]) -> None:
        self.screen.say(self.t("shift_closed"))
        self.screen.update_banner()
        self.app.refresh_status()
        self.show_report(result)

    def show_report(self, result: tuple[ShiftReport, PrinterError | None]) -> None:
        report, error = result
        title, rows = report_rows(self.till, report)
        problem = (
            self.t("report_not_printed", detail=error.message(self.screen.locale)) if error else ""
        )
        self.app.push_screen(ReportScreen(title, rows, problem))


__all__ = ["ShiftFlow"]
