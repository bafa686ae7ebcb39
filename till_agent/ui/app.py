"""The till's Textual app: a thin shell over `till_agent.core.Till`.

Everything that may wait on a device runs in a thread worker that posts a message back: the
printer (pay, reprint, refund, reports, drawer), the status poll (every `status_interval`
seconds; it may ask the printer over the network) and the serial scanner's codes. Handlers on
the UI thread only call the Till and show what it says.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, Protocol, TypeVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.worker import get_current_worker

from till_agent.core import Done, Till
from till_agent.messages import TillError
from till_agent.receipt import has_cash_tender
from till_agent.runtime import Agent, AgentStatus
from till_agent.ui.dialogs import PrintProblemScreen, TillScreenMixin
from till_agent.ui.login import LoginScreen
from till_agent.ui.selling import SellingScreen
from till_agent.ui.texts import t
from till_agent.ui.widgets import StatusBar
from wire.v1 import SaleV1

log = logging.getLogger(__name__)

R = TypeVar("R")
StatusProvider = Callable[[bool], AgentStatus]  # called with ask_printer


class CodeSource(Protocol):
    """A serial scanner as `till_agent.scanner.SerialScanner` built without `on_code`: it
    queues every code it reads on `codes`."""

    codes: queue.Queue[str]

    def start(self) -> None: ...
    def stop(self, timeout: float = ...) -> None: ...


def till_status(till: Till, ask_printer: bool) -> AgentStatus:
    """What a bare Till (no sync thread) can say about itself."""
    return AgentStatus(
        paired=None,
        sync_state="never",
        queue=till.journal.status(),
        printer=till.printer_status(wait=False) if ask_printer else None,
        catalog_products=till.catalog.count(),
        catalog_error=None,
    )


class JobDone(Message):
    """A blocking job finished on its thread: its result or the error to show."""

    def __init__(
        self,
        then: Callable[[Any], object],
        failed: Callable[[TillError], None] | None,
        result: Any = None,
        error: Exception | None = None,
    ) -> None:
        super().__init__()
        self.then = then
        self.failed = failed
        self.result = result
        self.error = error


class StatusPolled(Message):
    def __init__(self, status: AgentStatus | None) -> None:
        super().__init__()
        self.status = status


class Scanned(Message):
    """A code from the serial scanner."""

    def __init__(self, code: str) -> None:
        super().__init__()
        self.code = code


class TillApp(App[None]):
    CSS_PATH = "till.tcss"
    TITLE = "Kassa"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", show=False, priority=True)]

    def __init__(
        self,
        source: Agent | Till,
        *,
        status: StatusProvider | None = None,
        scanner: CodeSource | None = None,
        status_interval: float = 2.0,
        key_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`source`: a running Agent, or (tests, demo) a bare Till with an optional `status`
        provider. `scanner`: a serial scanner whose `codes` queue is read here; the app
        starts it and stops it on exit. `key_clock` timestamps keys in the scan field."""
        super().__init__()
        if isinstance(source, Agent):
            self.till = source.till
            self.status_provider: StatusProvider = status or (
                lambda ask: source.status(ask_printer=ask)
            )
        else:
            self.till = source
            self.status_provider = status or partial(till_status, source)
        self.scanner = scanner
        self.status_interval = status_interval
        self.key_clock = key_clock
        self.busy = False
        self.last_status: AgentStatus | None = None
        self.last_sale: SaleV1 | None = None
        self._polling = False
        self._units: dict[int, str] = {}

    # --- life cycle -------------------------------------------------------------------------

    def on_mount(self) -> None:
        store = self.till.catalog.store()
        parts = [store.name if store is not None else "Kassa", self.till.till_name]
        self.title = " — ".join(p for p in parts if p)
        self.push_screen(LoginScreen())
        self.set_interval(self.status_interval, self.poll_status)
        self.poll_status()
        if self.scanner is not None:
            self.scanner.start()
            self.run_worker(self._read_scanner, thread=True, group="scanner", exit_on_error=False)

    def on_unmount(self) -> None:
        if self.scanner is not None:
            self.scanner.stop()

    def logged_in(self) -> None:
        self.push_screen(SellingScreen())

    def logged_out(self) -> None:
        self.last_sale = None
        self.pop_screen()
        self.refresh_status()
        if isinstance(self.screen, TillScreenMixin):
            self.screen.say(t("logged_out", self.till.locale))

    # --- blocking jobs ----------------------------------------------------------------------

    def run_blocking(
        self,
        job: Callable[[], R],
        then: Callable[[R], object],
        failed: Callable[[TillError], None] | None = None,
    ) -> bool:
        """Run `job` (it talks to the printer) on a thread; `then(result)` on the UI thread,
        or `failed(error)` (default: said on the current screen). One job at a time."""
        if self.busy:
            self.say(t("busy", self.till.locale), error=True)
            return False
        self.busy = True
        self.run_worker(
            partial(self._blocking_job, job, then, failed),
            thread=True,
            group="blocking",
            exit_on_error=False,
        )
        return True

    def _blocking_job(
        self,
        job: Callable[[], Any],
        then: Callable[[Any], object],
        failed: Callable[[TillError], None] | None,
    ) -> None:
        try:
            result = job()
        except Exception as exc:  # shown to the cashier, never a traceback on the screen
            if not isinstance(exc, TillError):
                log.exception("till job failed")
            self.post_message(JobDone(then, failed, error=exc))
            return
        self.post_message(JobDone(then, failed, result=result))

    def on_job_done(self, message: JobDone) -> None:
        self.busy = False
        error = message.error
        if error is None:
            message.then(message.result)
        elif isinstance(error, TillError):
            (message.failed or self.say_error)(error)
        else:
            detail = f"{type(error).__name__}: {error}"
            self.say(t("unexpected", self.till.locale, detail=detail), error=True)
        self.poll_status()

    def say(self, text: str, *, error: bool = False) -> None:
        if isinstance(self.screen, TillScreenMixin):
            self.screen.say(text, error=error)

    def say_error(self, exc: TillError) -> None:
        self.say(exc.text(self.till.locale), error=True)

    # --- printing ---------------------------------------------------------------------------

    def print_outcome(self, done: Done, said: str) -> None:
        """After a sale, refund or reprint: all well, or the printer's problem and Reprint."""
        self.last_sale = done.sale
        if done.printed:
            self.say(said)
            return
        problem = done.printer_error.message(self.till.locale) if done.printer_error else ""

        def chosen(reprint: bool | None) -> None:
            if reprint:
                self.reprint(done.sale)

        self.push_screen(PrintProblemScreen(problem, drawer=has_cash_tender(done.sale)), chosen)

    def reprint(self, sale: SaleV1) -> None:
        self.run_blocking(
            lambda: self.till.reprint(sale),
            then=lambda done: self.print_outcome(
                done, t("printed", self.till.locale, seq=done.sale.till_seq)
            ),
        )

    def weighed(self, product_id: int | None) -> bool:
        """Is this product sold by weight (its quantity shown in kg with 3 decimals)?"""
        if product_id is None:
            return False
        if product_id not in self._units:
            product = self.till.catalog.product(product_id)
            self._units[product_id] = product.unit if product is not None else "piece"
        return self._units[product_id] != "piece"

    # --- status -----------------------------------------------------------------------------

    def poll_status(self) -> None:
        if self._polling:
            return
        self._polling = True
        self.run_worker(
            partial(self._status_job, not self.busy),  # never ask a printer that is printing
            thread=True,
            group="status",
            exit_on_error=False,
        )

    def _status_job(self, ask_printer: bool) -> None:
        try:
            status: AgentStatus | None = self.status_provider(ask_printer)
        except Exception:
            log.exception("status poll failed")
            status = None
        self.post_message(StatusPolled(status))

    def on_status_polled(self, message: StatusPolled) -> None:
        self._polling = False
        status = message.status
        if status is None:
            return
        if status.printer is None and self.last_status is not None:
            status = dataclasses.replace(status, printer=self.last_status.printer)
        self.last_status = status
        self.refresh_status()

    def refresh_status(self) -> None:
        """Show the latest status, shift and cashier on every screen's status bar."""
        shift = self.till.open_shift_state()
        cashier = self.till.cashier.name if self.till.cashier is not None else None
        for screen in self.screen_stack:
            if not screen.is_mounted:
                continue  # it shows the status when it mounts
            for bar in screen.query(StatusBar):
                bar.show(self.last_status, shift, cashier, self.till.locale)
            if isinstance(screen, SellingScreen | LoginScreen):
                screen.update_banner()
            if isinstance(screen, LoginScreen):
                screen.refresh_cashiers()

    # --- serial scanner ---------------------------------------------------------------------

    def _read_scanner(self) -> None:
        assert self.scanner is not None
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                code = self.scanner.codes.get(timeout=0.1)
            except queue.Empty:
                continue
            self.post_message(Scanned(code))

    def on_scanned(self, message: Scanned) -> None:
        screen = self.screen
        if (
            self.busy
            or not isinstance(screen, TillScreenMixin)
            or not screen.accept_scan(message.code)
        ):
            self.bell()
            self.say(t("close_dialog_first", self.till.locale), error=True)


def run_app(source: Agent | Till, scanner: CodeSource | None = None) -> None:
    """Run the till screen until the cashier quits (Ctrl+Q); an Agent's sync and catalog
    threads run meanwhile."""
    if isinstance(source, Agent):
        source.start()
    try:
        TillApp(source, scanner=scanner).run()
    finally:
        if isinstance(source, Agent):
            source.stop()


__all__ = ["CodeSource", "TillApp", "run_app", "till_status"]
