"""Screen plumbing shared by every till screen, and the small modal dialogs: ask for values,
pick from a list, show a report, offer a reprint."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from till_agent.core import Till
from till_agent.messages import Locale, TillError
from till_agent.printer import PrinterError
from till_agent.ui.texts import t
from till_agent.ui.widgets import MessageLine, localize_bindings

if TYPE_CHECKING:
    from till_agent.ui.app import TillApp

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class TillScreenMixin:
    """What every till screen has: the app and till, its language, a message line, and a say
    on scanned codes (`accept_scan`: False means this screen does not take scans)."""

    @property
    def till_app(self) -> TillApp:
        return cast("TillApp", cast(Screen[Any], self).app)

    @property
    def till(self) -> Till:
        return self.till_app.till

    @property
    def locale(self) -> Locale:
        return self.till.locale

    def t(self, key: str, **params: Any) -> str:
        return t(key, self.locale, **params)

    def say(self, text: str, *, error: bool = False) -> None:
        cast(Screen[Any], self).query_one("#message", MessageLine).say(text, error=error)

    def say_error(self, exc: TillError) -> None:
        self.say(exc.text(self.locale), error=True)

    def accept_scan(self, code: str) -> bool:
        return False

    def on_mount(self) -> None:
        screen = cast(Screen[Any], self)
        localize_bindings(screen, self.locale)
        screen.refresh_bindings()


Action = TypeVar("Action", bound=Callable[..., None])


def says_refusals(method: Action) -> Action:
    """A screen action whose TillError (the till refusing) is said on the screen."""

    @functools.wraps(method)
    def action(self: TillScreenMixin, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except TillError as exc:
            self.say_error(exc)

    return cast(Action, action)


class TillModal(TillScreenMixin, ModalScreen[T]):
    """A dialog over the selling screen; Escape dismisses it with None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "k_cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            event.stop()
            self.action_cancel()


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    value: str = ""
    password: bool = False


class AskScreen(TillModal[T]):
    """Asks for one or more values; `check` turns them into the result or raises TillError,
    which is shown here so the cashier can correct it."""

    def __init__(
        self,
        title: str,
        fields: Sequence[Field],
        check: Callable[[dict[str, str]], T],
        *,
        hint: str = "",
        accepts_scan: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.check = check
        self.hint = hint
        self.accepts_scan = accepts_scan

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, classes="title")
            if self.hint:
                yield Static(self.hint, classes="hint")
            for field in self.fields:
                yield Label(field.label)
                yield Input(field.value, password=field.password, id=f"field-{field.key}")
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(self.t("k_ok"), id="ok", variant="primary", compact=True)
                yield Button(self.t("k_cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.fields[0].key}", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            event.stop()
            self.submit()

    def submit(self) -> None:
        values = {f.key: self.query_one(f"#field-{f.key}", Input).value for f in self.fields}
        try:
            result = self.check(values)
        except TillError as exc:
            self.say_error(exc)
            return
        self.dismiss(result)

    def accept_scan(self, code: str) -> bool:
        if not self.accepts_scan:
            return False
        self.query_one(f"#field-{self.fields[0].key}", Input).value = code
        self.submit()
        return True


class PickScreen(TillModal[K]):
    """Pick one of `choices` (key, label): arrows and Enter, or a click."""

    def __init__(self, title: str, choices: Sequence[tuple[K, str]], *, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = list(choices)
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(self.title_text, classes="title")
            if self.hint:
                yield Static(self.hint, classes="hint")
            yield OptionList(*(Option(label) for _, label in self.choices), id="choices")
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(self.t("k_cancel"), id="cancel", compact=True)

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index][0])


class ReportScreen(TillModal[None]):
    """An X or Z report (or any titled rows) on screen, with the printer's complaint if the
    paper copy did not come out."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "k_close"),
        Binding("enter", "cancel", "k_close", show=False),
    ]

    def __init__(
        self, title: str, rows: Sequence[tuple[str, str] | str], problem: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.rows = list(rows)
        self.problem = problem

    def compose(self) -> ComposeResult:
        width = max((len(r[0]) for r in self.rows if isinstance(r, tuple)), default=10) + 2
        lines = [
            f"{r[0]:<{width}}{r[1]:>16}" if isinstance(r, tuple) else "-" * (width + 16)
            for r in self.rows
        ]
        with Vertical(classes="dialog wide"):
            yield Static(self.title_text, classes="title")
            yield Static("\n".join(lines), id="report-rows", markup=False)
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(self.t("k_close"), id="cancel", variant="primary", compact=True)

    def on_mount(self) -> None:
        if self.problem:
            self.say(self.problem, error=True)
        self.query_one("#cancel", Button).focus()


class PrintProblemScreen(TillModal[bool]):
    """A receipt that is recorded but did not print: say why, offer Reprint (True) or later."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "k_close"),
        Binding("f11", "reprint", "k_reprint"),
        Binding("f9", "open_drawer", "k_open_drawer"),
    ]

    def __init__(self, problem: str, *, drawer: bool = False) -> None:
        super().__init__()
        self.problem = problem
        self.drawer = drawer  # cash changed hands: the cashier may need the drawer open

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.t("print_problem_title"), classes="title error")
            yield Static(self.problem, id="problem", classes="error")
            yield Static(self.t("print_problem_recorded"), classes="hint")
            yield MessageLine(id="message")
            with Horizontal(classes="buttons"):
                yield Button(self.t("reprint"), id="reprint", variant="warning", compact=True)
                if self.drawer:
                    yield Button(f"{self.t('k_open_drawer')} F9", id="drawer", compact=True)
                yield Button(self.t("later"), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#reprint", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.drawer if action == "open_drawer" else True

    def action_reprint(self) -> None:
        self.dismiss(True)

    def action_open_drawer(self) -> None:
        """Open the drawer once, on the cashier's request (change for a cash sale)."""
        if not self.drawer or self.till_app.busy:
            return
        self.till_app.run_blocking(self.till.open_drawer, then=self.drawer_done)

    def drawer_done(self, error: PrinterError | None) -> None:
        if error is None:
            self.say(self.t("drawer_opened"))
        else:
            self.say(error.message(self.locale), error=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reprint":  # Later is TillModal's cancel
            event.stop()
            self.dismiss(True)
        elif event.button.id == "drawer":
            event.stop()
            self.action_open_drawer()


__all__ = [
    "AskScreen",
    "Field",
    "PickScreen",
    "PrintProblemScreen",
    "ReportScreen",
    "TillModal",
    "TillScreenMixin",
]
