"""The till's selling logic without a screen: what the Textual UI, `make demo` and the tests drive.

One `Till` per running agent. It holds the logged-in cashier and the basket, and turns a
payment into a journaled sale BEFORE anything is printed (journal -> print -> drawer ->
"printed"). A failed commit refuses the sale and prints nothing; a failed print leaves the sale
recorded and offered for reprint. Returns, shifts and parked sales work from the local journal,
so everything here works with the hub unreachable.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from till_agent.basket import Basket, Line, Payment
from till_agent.catalog import CatalogCache
from till_agent.fiscal import FiscalDevice, NoFiscal
from till_agent.journal import Journal, JournalError
from till_agent.messages import Locale, TillError
from till_agent.printer import PaperState, PrinterError, PrinterStatus, PrinterTransport
from till_agent.receipt import (
    PrinterLayout,
    ReceiptRenderer,
    StoreHeader,
    format_amount,
    format_qty,
    format_rate,
    has_cash_tender,
    realtime_kick_bytes,
)
from wire.ids import new_uuid7
from wire.money import allocate, line_amount_minor, round_half_up, vat_breakdown
from wire.shifts import MAX_SHIFT, EventTotals, Figures, SaleTotals, shift_figures
from wire.v1 import CashierV1, ProductV1, SaleV1, ShiftEventV1

log = logging.getLogger(__name__)


MAX_CHANGE_MINOR = 5000_00  # more change than the largest banknote is a slip, not a payment


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Done:
    """A journaled sale or refund and whether its receipt reached paper."""

    sale: SaleV1
    printed: bool
    printer_error: PrinterError | None = None


@dataclass(frozen=True)
class ShiftState:
    shift_uuid: UUID
    opened_at: dt.datetime
    cashier_id: int
    closed: bool


@dataclass(frozen=True)
class ShiftReport:
    """An X (mid-shift) or Z (at close) report from this till's own journal."""

    kind: str  # "X" | "Z"
    shift_uuid: UUID
    figures: Figures
    tenders: dict[str, tuple[int, int]]  # tender -> (taken net of change, refunded)
    vat: dict[int | None, tuple[int, int]]  # rate -> (gross, VAT), sales less refunds
    events: list[ShiftEventV1]


@dataclass(frozen=True)
class RefundPlan:
    """A return before it is recorded: its lines, its total and each tender's part."""

    sale: SaleV1
    lines: list[Line]
    original_lines: list[int]  # the original line_no of each line
    total_minor: int
    tenders: list[tuple[str, int]]  # (tender, amount) in the original's order

    @property
    def card_minor(self) -> int:
        return sum(a for t, a in self.tenders if t == "card")

    @property
    def cash_minor(self) -> int:
        return sum(a for t, a in self.tenders if t == "cash")


@dataclass(frozen=True)
class Parked:
    id: int
    cashier_id: int
    parked_at: str
    lines: int
    total_minor: int


def _line_key(product_id: int | None, name: str) -> str:
    return f"p{product_id}" if product_id is not None else f"n{name}"


class Till:
    def __init__(
        self,
        journal: Journal,
        catalog: CatalogCache,
        printer: PrinterTransport,
        *,
        layout: PrinterLayout | None = None,
        till_name: str = "",
        fiscal: FiscalDevice | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.journal = journal
        self.on_commit = on_commit  # e.g. wake the sync thread
        self.catalog = catalog
        self.printer = printer
        self.layout = layout or PrinterLayout()
        self.till_name = till_name
        self.fiscal: FiscalDevice = fiscal or NoFiscal()
        self.clock = clock
        self.cashier: CashierV1 | None = None
        self.basket = Basket()
        self._renderer: tuple[Any, ReceiptRenderer] | None = None
        self._shift: tuple[ShiftState | None] | None = None  # None: not read yet
        self._printer_lock = threading.Lock()  # one conversation with the printer at a time
        self._hasher = PasswordHasher()

    @property
    def locale(self) -> Locale:
        """The screen's language (till.toml)."""
        return self.layout.locale

    @property
    def paper_locale(self) -> Locale:
        """Receipts and reports are in the store's language (from the hub's feed)."""
        store = self.catalog.store()
        return store.language if store is not None else self.layout.locale

    # --- cashiers --------------------------------------------------------------------------

    def cashiers(self) -> list[CashierV1]:
        """Who may log in on this till (from the catalog feed)."""
        return [c for c in self.catalog.cashiers() if c.active and c.pin_hash]

    def login(self, cashier_id: int, pin: str) -> CashierV1:
        """Check a PIN against the hash from the feed; works offline. One answer for an unknown
        cashier and a wrong PIN."""
        cashier = next((c for c in self.cashiers() if c.id == cashier_id), None)
        try:
            if cashier is None or cashier.pin_hash is None:
                raise VerificationError
            self._hasher.verify(cashier.pin_hash, pin)
        except (VerificationError, InvalidHashError):
            raise TillError("bad_pin") from None
        self.cashier = cashier
        self.basket.max_discount_bp = cashier.max_discount_bp
        return cashier

    def logout(self) -> None:
        if self.basket.lines:
            raise TillError("basket_not_empty")
        self.cashier = None

    def _cashier(self) -> CashierV1:
        if self.cashier is None:
            raise TillError("no_cashier")
        return self.cashier

    def cashier_name(self, cashier_id: int) -> str:
        names = {c.id: c.name for c in self.catalog.cashiers()}
        return names.get(cashier_id, f"#{cashier_id}")

    # --- shifts ----------------------------------------------------------------------------

    def shift(self) -> ShiftState | None:
        """The till's latest shift (closed or not). Read from the journal once and kept until
        this till journals a shift event: every scan asks, and only this Till writes them."""
        if self._shift is None:
            last = self.journal.last_shift()
            state = None
            if last is not None:
                shift_uuid, closed = last
                events = self.journal.shift_events(shift_uuid)
                opened = next(e for e in events if e.kind == "open")
                state = ShiftState(shift_uuid, opened.at, opened.cashier_id, closed)
            self._shift = (state,)
        return self._shift[0]

    def open_shift_state(self) -> ShiftState | None:
        state = self.shift()
        return state if state is not None and not state.closed else None

    def shift_too_long(self) -> bool:
        state = self.open_shift_state()
        return state is not None and self.clock() - state.opened_at > MAX_SHIFT

    def open_shift(self, float_minor: int) -> ShiftState:
        cashier = self._cashier()
        if self.open_shift_state() is not None:
            raise TillError("shift_open")
        if float_minor < 0:
            raise TillError("amount_not_positive")
        event = self._event(
            "open", float_minor, cashier_id=cashier.id, shift_uuid=None, reason=None
        )
        return ShiftState(event.shift_uuid, event.at, cashier.id, False)

    def cash_move(
        self, kind: str, amount_minor: int, reason: str | None = None
    ) -> tuple[ShiftEventV1, PrinterError | None]:
        """A pay-in (`cash_in`) or pay-out (`cash_out`) during the open shift, then the drawer
        is opened; the error says why it did not open (the event is recorded either way)."""
        cashier = self._cashier()
        state = self._require_shift(allow_long=True)
        if amount_minor <= 0:
            raise TillError("amount_not_positive")
        if kind == "cash_out":
            expected = self.report("X").figures.expected_minor or 0
            if amount_minor > expected:
                raise TillError("not_enough_cash", expected=expected)
        event = self._event(
            kind, amount_minor, cashier_id=cashier.id, shift_uuid=state.shift_uuid, reason=reason
        )
        return event, self.kick_drawer()  # never retried: a kick is not a receipt

    def x_report(self) -> tuple[ShiftReport, PrinterError | None]:
        """The running shift's figures, printed."""
        self._cashier()
        report = self.report("X")
        return report, self.print_report(report)

    def close_shift(self, counted_minor: int) -> tuple[ShiftReport, PrinterError | None]:
        """Close with the blind count (the cashier counts before seeing what is expected):
        journal the close, then print the Z report."""
        cashier = self._cashier()
        state = self._require_shift(allow_long=True)
        if self.basket.lines:
            raise TillError("basket_not_empty")
        if counted_minor < 0:
            raise TillError("amount_not_positive")
        self._event(
            "close",
            counted_minor,
            cashier_id=cashier.id,
            shift_uuid=state.shift_uuid,
            reason=None,
        )
        report = self.report("Z", state.shift_uuid)
        return report, self.print_report(report)

    def report(self, kind: str, shift_uuid: UUID | None = None) -> ShiftReport:
        if shift_uuid is None:
            state = self._require_shift(allow_long=True)
            shift_uuid = state.shift_uuid
        events = self.journal.shift_events(shift_uuid)
        sales = self.journal.sales_of_shift(shift_uuid)
        return ShiftReport(
            kind=kind,
            shift_uuid=shift_uuid,
            figures=shift_figures(_event_totals(events), _sale_totals(sales)),
            tenders=_tenders(sales),
            vat=vat_breakdown(
                (line.vat_rate_bp, -line.amount_minor if s.kind == "return" else line.amount_minor)
                for s in sales
                for line in s.lines
            ),
            events=events,
        )

    def _require_shift(self, *, allow_long: bool = False) -> ShiftState:
        state = self.open_shift_state()
        if state is None:
            raise TillError("no_shift")
        if not allow_long and self.clock() - state.opened_at > MAX_SHIFT:
            raise TillError("shift_too_long")
        return state

    def _event(
        self,
        kind: str,
        amount_minor: int,
        *,
        cashier_id: int,
        shift_uuid: UUID | None,
        reason: str | None,
    ) -> ShiftEventV1:
        draft: dict[str, Any] = {
            "kind": kind,
            "at": self.clock().isoformat(),
            "cashier_id": cashier_id,
            "amount_minor": amount_minor,
            "reason": reason,
        }
        # An open starts a new shift with a new id.
        draft["shift_uuid"] = str(shift_uuid or new_uuid7())
        try:
            event = self.journal.commit_shift_event(draft)
        except JournalError as exc:
            raise TillError("not_recorded", detail=str(exc.__cause__ or exc)) from exc
        self._shift = None  # read again on the next ask
        self._committed()
        return event

    def _committed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    # --- the basket ------------------------------------------------------------------------

    def _ready_to_sell(self) -> tuple[CashierV1, ShiftState]:
        return self._cashier(), self._require_shift()

    def scan(self, code: str, qty_milli: int | None = None) -> Line:
        """Ring up a scanned code: a product barcode or a scale label (weight or price in it).
        A weighed product scanned by its plain barcode needs `qty_milli` (the weight)."""
        self._ready_to_sell()
        code = code.strip()
        found = self.catalog.scan(code)
        if found is None:
            raise TillError("not_found", what=code)
        embedded = code not in found.product.barcodes
        return self._add(found.product, found.qty_milli if embedded else qty_milli, code, found)

    def add_product(self, product_id: int, qty_milli: int | None = None) -> Line:
        """Ring up a product picked by search."""
        self._ready_to_sell()
        product = self.catalog.product(product_id)
        if product is None or not product.active:
            raise TillError("not_found", what=str(product_id))
        return self._add(product, qty_milli, None, None)

    def _add(self, product: ProductV1, qty_milli: int | None, code: str | None, found: Any) -> Line:
        if qty_milli is None:
            if product.unit != "piece":
                raise TillError("weight_needed", name=product.name)
            qty_milli = 1000
        price = found.unit_price_minor if found is not None else product.price_minor
        line = Line(product.id, product.name, qty_milli, price, product.vat_rate_bp, barcode=code)
        self.basket.add(line)
        return line

    def search(self, text: str, limit: int = 20) -> list[ProductV1]:
        return self.catalog.search(text, limit) if text.strip() else []

    def set_qty(self, index: int, qty_milli: int) -> None:
        self.basket.set_qty(index, qty_milli)

    def void(self, index: int) -> Line:
        return self.basket.void(index)

    def discount_line(self, index: int, discount_minor: int) -> None:
        self._cashier()
        self.basket.discount_line(index, discount_minor)

    def discount_receipt(self, discount_minor: int) -> None:
        self._cashier()
        self.basket.discount_receipt(discount_minor)

    def clear(self) -> None:
        self.basket = Basket(max_discount_bp=self.basket.max_discount_bp)

    # --- parking ---------------------------------------------------------------------------

    def park(self) -> int:
        cashier = self._cashier()
        if not self.basket.lines:
            raise TillError("basket_empty")
        payload = {
            "lines": [asdict(line) for line in self.basket.lines],
            "receipt_discount_minor": self.basket.receipt_discount_minor,
        }
        try:
            parked_id = self.journal.park(cashier.id, payload)
        except sqlite3.Error as exc:
            raise TillError("not_recorded", detail=str(exc)) from exc
        self.clear()
        return parked_id

    def parked(self) -> list[Parked]:
        out = []
        for parked_id, cashier_id, at, payload in self.journal.parked():
            basket = _basket_from(payload, 10_000)
            out.append(
                Parked(parked_id, cashier_id, at, len(basket.lines), basket.totals().total_minor)
            )
        return out

    def resume(self, parked_id: int) -> None:
        cashier = self._cashier()
        if self.basket.lines:
            raise TillError("basket_not_empty")
        try:
            payload = self.journal.unpark(parked_id)
        except sqlite3.Error as exc:
            raise TillError("not_recorded", detail=str(exc)) from exc
        if payload is None:
            raise TillError("parked_missing", id=parked_id)
        self.basket = _basket_from(payload, cashier.max_discount_bp)

    # --- payment ---------------------------------------------------------------------------

    def pay(self, payments: Sequence[Payment]) -> Done:
        """Journal the sale (sale + lines + payments + outbox in one transaction), then print,
        then kick the drawer for cash. The basket is emptied once the sale is recorded."""
        cashier, shift = self._ready_to_sell()
        draft = self.basket.draft(
            list(payments),
            cashier_id=cashier.id,
            shift_uuid=shift.shift_uuid,
            currency=self.currency,
            created_at=self.clock(),
        )
        if draft["change_minor"] > MAX_CHANGE_MINOR:  # a slip: a barcode typed into "cash"
            raise TillError("change_too_large", limit=MAX_CHANGE_MINOR)
        sale = self._commit(draft)
        self.clear()
        return self._print_recorded(sale)

    def _print_recorded(self, sale: SaleV1) -> Done:
        """Print a sale that is recorded. Nothing that goes wrong from here on may look like a
        failed payment (the cashier would ring it up again): any error is a print problem and
        the sale is offered for reprint."""
        try:
            return self._print_sale(sale)
        except Exception as exc:
            log.exception("printing receipt %s failed", sale.till_seq)
            return Done(sale, False, PrinterError("write_failed", f"{type(exc).__name__}: {exc}"))

    def _commit(self, draft: dict[str, Any], *, refund_of: list[int] | None = None) -> SaleV1:
        attrs = self.fiscal.register(draft)
        if attrs is not None:
            draft = {**draft, **asdict(attrs)}
        try:
            sale = self.journal.commit_sale(draft, refund_of=refund_of)
        except JournalError as exc:
            raise TillError("not_recorded", detail=str(exc.__cause__ or exc)) from exc
        self._committed()
        return sale

    @property
    def currency(self) -> str:
        store = self.catalog.store()
        return store.currency if store is not None else "RUB"

    # --- printing --------------------------------------------------------------------------

    def _renderer_now(self) -> ReceiptRenderer:
        store = self.catalog.store()
        key = store.model_dump_json() if store is not None else None
        if self._renderer is None or self._renderer[0] != key:
            header = (
                StoreHeader(
                    name=store.name,
                    address=store.address,
                    header_text=store.receipt_header,
                    footer_text=store.receipt_footer,
                    timezone=store.timezone,
                )
                if store is not None
                else StoreHeader(name="Kassa")
            )
            # Paper speaks the store's language (the feed's); the screen the till's (till.toml).
            layout = replace(self.layout, locale=self.paper_locale)
            self._renderer = (key, ReceiptRenderer(header, layout, self.till_name))
        return self._renderer[1]

    def printer_status(self, *, wait: bool = True) -> PrinterStatus | None:
        """The printer's state; with `wait=False` None while a job is printing (the status
        bar's poll must not talk to the printer in the middle of a receipt)."""
        if not self._printer_lock.acquire(blocking=wait):
            return None
        try:
            return self.printer.status()
        finally:
            self._printer_lock.release()

    def _send(self, job: bytes) -> PrinterError | None:
        """Send one job if the printer says it can take it; a printer that is off or out of
        paper is reported, never written to (the job would be lost). Asked again afterwards:
        paper that ran out during the job means the receipt is not whole."""
        with self._printer_lock:
            status = self.printer.status()
            if status.paper == PaperState.OUT:  # a printer out of paper also reports offline
                return PrinterError("paper_out")
            if not status.online:
                return PrinterError("unreachable")
            try:
                self.printer.send(job)
            except PrinterError as exc:
                return exc
            if self.printer.status().paper == PaperState.OUT:
                return PrinterError("paper_out")
        return None

    def _print_sale(self, sale: SaleV1, *, copy: bool = False) -> Done:
        job = self._renderer_now().render(
            sale,
            cashier_name=self.cashier_name(sale.cashier_id),
            kick_drawer=has_cash_tender(sale),
            copy=copy,
        )
        error = self._send(job)
        if error is None:
            self._mark_printed(sale)
        return Done(sale, error is None, error)

    def unprinted(self) -> list[SaleV1]:
        """Sales recorded but never printed (printer fault, or the till died before printing)."""
        return self.journal.unprinted()

    def reprint(self, sale: SaleV1) -> Done:
        """Print a recorded sale again: the first print of an unprinted one, else a copy.
        A reprint never opens the drawer."""
        unprinted = {s.till_seq for s in self.journal.unprinted()}
        job = self._renderer_now().render(
            sale,
            cashier_name=self.cashier_name(sale.cashier_id),
            kick_drawer=False,
            copy=sale.till_seq not in unprinted,
        )
        error = self._send(job)
        if error is None and sale.till_seq in unprinted:
            self._mark_printed(sale)
        return Done(sale, error is None, error)

    def _mark_printed(self, sale: SaleV1) -> None:
        try:
            self.journal.mark_printed(sale.till_seq)
        except Exception:  # it is on paper; at worst it is offered for reprint later
            log.exception("could not record that receipt %s was printed", sale.till_seq)

    def print_report(self, report: ShiftReport) -> PrinterError | None:
        """Print an X or Z report (at the X/close, or again after the printer was fixed)."""
        rows = report_rows(self, report, self.paper_locale)
        return self._send(self._renderer_now().render_document(*rows))

    def print_test_page(self, rows: list[tuple[str, str] | str]) -> PrinterError | None:
        title = "ТЕСТОВАЯ СТРАНИЦА" if self.paper_locale == "ru" else "TEST PAGE"
        return self._send(self._renderer_now().render_document(title, rows))

    def kick_drawer(self) -> PrinterError | None:
        return self._send(self._renderer_now().render_kick())

    def open_drawer(self) -> PrinterError | None:
        """The cashier's own "open drawer", e.g. to give change for a cash sale whose receipt
        did not print: the real-time pulse (DLE DC4), which printers obey even out of paper.
        Only on request, never as a retry."""
        with self._printer_lock:
            status = self.printer.status()
            if not status.online and status.paper != PaperState.OUT:
                return PrinterError("unreachable")
            try:
                self.printer.send(realtime_kick_bytes(self.layout))
            except PrinterError as exc:
                return exc
        return None

    # --- returns ---------------------------------------------------------------------------

    def find_sale(self, text: str) -> SaleV1:
        """A sale from this till's journal by its receipt QR (the sale id) or receipt number."""
        text = text.strip()
        sale: SaleV1 | None = None
        try:
            sale = self.journal.sale(UUID(text))
        except ValueError:
            if text.isdigit():
                sale = self.journal.sale_by_seq(int(text))
        if sale is None:
            raise TillError("sale_not_found", text=text)
        if sale.kind != "sale":
            raise TillError("not_a_sale")
        return sale

    def returnable(self, sale: SaleV1) -> dict[int, int]:
        """line_no -> quantity that may still be returned: what the line sold less what this
        till has already refunded of that very line."""
        refunded = self.journal.refunded_lines(sale.sale_uuid)
        return {line.line_no: line.qty_milli - refunded.get(line.line_no, 0) for line in sale.lines}

    def plan_refund(self, sale: SaleV1, quantities: dict[int, int]) -> RefundPlan:
        """What returning `quantities` (line_no -> qty) gives back, line by line and tender by
        tender, before anything is recorded: the cashier sees the card part before running the
        terminal's refund. Each line's amount is taken pro rata and cumulatively, so all the
        refunds of a line add up to exactly what it cost; the tenders are split in proportion
        to what is left of each, so no tender ever gets back more than it paid."""
        left = self.returnable(sale)
        lines: list[Line] = []
        originals: list[int] = []
        for original in sale.lines:
            qty = quantities.get(original.line_no, 0)
            if qty < 0 or qty > left[original.line_no]:
                raise TillError(
                    "return_exceeds", line=original.line_no, left=format_qty(left[original.line_no])
                )
            if qty == 0:
                continue
            done = original.qty_milli - left[original.line_no]
            lines.append(
                Line(
                    original.product_id,
                    original.name,
                    qty,
                    original.unit_price_minor,
                    original.vat_rate_bp,
                    barcode=original.barcode,
                    discount_minor=_refund_discount(original, done, qty),
                )
            )
            originals.append(original.line_no)
        if not lines:
            raise TillError("return_empty")
        total = Basket(max_discount_bp=10_000, lines=lines).totals().total_minor
        paid: dict[str, int] = defaultdict(int)
        for tender, amount, _ in _net_tenders(sale):
            paid[tender] += amount
        for earlier in self.journal.returns_of(sale.sale_uuid):
            for payment in earlier.payments:
                paid[payment.tender] -= payment.amount_minor
        tenders = [t for t in paid if paid[t] > 0]
        shares = allocate(total, [paid[t] for t in tenders])
        return RefundPlan(
            sale=sale,
            lines=lines,
            original_lines=originals,
            total_minor=total,
            tenders=[(t, a) for t, a in zip(tenders, shares, strict=True) if a],
        )

    def refund(
        self, sale: SaleV1, quantities: dict[int, int], *, approval_code: str | None = None
    ) -> Done:
        """Return some or all of a sale's lines, refunded by the original tenders (see
        `plan_refund`). A card refund needs the terminal's approval code."""
        cashier, shift = self._ready_to_sell()
        if self.basket.lines:
            raise TillError("basket_not_empty")
        plan = self.plan_refund(sale, quantities)
        if plan.card_minor and not approval_code:
            raise TillError("approval_needed")
        payments = [
            Payment(tender, amount, approval_code if tender == "card" else None)
            for tender, amount in plan.tenders
        ]
        draft = Basket(max_discount_bp=10_000, lines=plan.lines).draft(
            payments,
            cashier_id=cashier.id,
            shift_uuid=shift.shift_uuid,
            currency=sale.currency,
            created_at=self.clock(),
            kind="return",
            original_sale_uuid=sale.sale_uuid,
        )
        return self._print_recorded(self._commit(draft, refund_of=plan.original_lines))


def _refund_discount(line: Any, done: int, qty: int) -> int:
    """The discount that goes with returning `qty` after `done` was returned: the line's amount
    taken pro rata cumulatively, so all its refunds add up to exactly what it cost (a weighed
    line's rounding included); the rest of the gross is the discount given back."""
    if done + qty == line.qty_milli and done == 0:
        return line.discount_minor

    def amount_upto(q: int) -> int:
        return round_half_up(line.amount_minor * q, line.qty_milli)

    amount = amount_upto(done + qty) - amount_upto(done)
    return max(line_amount_minor(qty, line.unit_price_minor) - amount, 0)


def _net_tenders(sale: SaleV1) -> list[tuple[str, int, str | None]]:
    """What the customer actually paid by each tender (cash net of change)."""
    out = []
    change = sale.change_minor
    for p in sale.payments:
        amount = p.amount_minor
        if p.tender == "cash" and change:
            taken = min(change, amount)
            amount -= taken
            change -= taken
        out.append((p.tender, amount, p.approval_code))
    return out


def _basket_from(payload: dict[str, Any], max_discount_bp: int) -> Basket:
    return Basket(
        max_discount_bp=max_discount_bp,
        lines=[Line(**line) for line in payload["lines"]],
        receipt_discount_minor=int(payload.get("receipt_discount_minor", 0)),
    )


def _event_totals(events: Iterable[ShiftEventV1]) -> EventTotals:
    values: dict[str, Any] = {"count": 0, "pay_ins_minor": 0, "pay_outs_minor": 0}
    for e in events:
        values["count"] += 1
        if e.kind == "open":
            values.update(float_minor=e.amount_minor, opened_at=e.at, open_cashier_id=e.cashier_id)
        elif e.kind == "close":
            values.update(counted_minor=e.amount_minor, closed_at=e.at)
        elif e.kind == "cash_in":
            values["pay_ins_minor"] += e.amount_minor
        else:
            values["pay_outs_minor"] += e.amount_minor
    return EventTotals(**values)


def _sale_totals(sales: Iterable[SaleV1]) -> SaleTotals:
    v: dict[str, int] = defaultdict(int)
    for s in sales:
        cash = sum(p.amount_minor for p in s.payments if p.tender == "cash")
        if s.kind == "sale":
            v["sales_count"] += 1
            v["sales_total_minor"] += s.total_minor
            v["cash_sales_minor"] += cash - s.change_minor
        else:
            v["returns_count"] += 1
            v["returns_total_minor"] += s.total_minor
            v["cash_refunds_minor"] += cash
    return SaleTotals(**v)


def _tenders(sales: Iterable[SaleV1]) -> dict[str, tuple[int, int]]:
    taken: dict[str, int] = defaultdict(int)
    refunded: dict[str, int] = defaultdict(int)
    for s in sales:
        for tender, amount, _ in _net_tenders(s):
            (refunded if s.kind == "return" else taken)[tender] += amount
    order = ["cash", "card", "other"]
    return {t: (taken[t], refunded[t]) for t in order if t in taken or t in refunded}


REPORT_LABELS = {
    "ru": {
        "X": "X-ОТЧЁТ (без гашения)",
        "Z": "Z-ОТЧЁТ (закрытие смены)",
        "shift": "Смена",
        "opened": "Открыта",
        "closed": "Закрыта",
        "cashier": "Кассир",
        "sales": "Продажи",
        "returns": "Возвраты",
        "cash": "Наличные",
        "card": "Карта",
        "other": "Прочее",
        "refunded": "возвращено",
        "vat": "НДС",
        "no_vat": "без НДС",
        "float": "Размен на начало",
        "pay_ins": "Внесения",
        "pay_outs": "Изъятия",
        "expected": "Ожидается в кассе",
        "counted": "Пересчитано",
        "over_short": "Излишек / недостача",
    },
    "en": {
        "X": "X REPORT (no close)",
        "Z": "Z REPORT (shift close)",
        "shift": "Shift",
        "opened": "Opened",
        "closed": "Closed",
        "cashier": "Cashier",
        "sales": "Sales",
        "returns": "Returns",
        "cash": "Cash",
        "card": "Card",
        "other": "Other",
        "refunded": "refunded",
        "vat": "VAT",
        "no_vat": "no VAT",
        "float": "Opening float",
        "pay_ins": "Pay-ins",
        "pay_outs": "Pay-outs",
        "expected": "Expected in drawer",
        "counted": "Counted",
        "over_short": "Over / short",
    },
}


def report_rows(
    till: Till, report: ShiftReport, locale: Locale | None = None
) -> tuple[str, list[tuple[str, str] | str]]:
    """The printed (and shown) X/Z report: title and rows, in the till's language."""
    t = REPORT_LABELS[locale or till.locale]
    f = report.figures
    currency = till.currency

    def money(value: int | None) -> str:
        return "-" if value is None else format_amount(value, currency)

    store = till.catalog.store()
    tz = store.timezone if store is not None else "UTC"

    def when(value: dt.datetime | None) -> str:
        return "-" if value is None else value.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")

    rows: list[tuple[str, str] | str] = [
        (t["shift"], str(report.shift_uuid)[:8]),
        (t["opened"], when(f.opened_at)),
    ]
    if report.kind == "Z":
        rows.append((t["closed"], when(f.closed_at)))
    if f.cashier_id is not None:
        rows.append((t["cashier"], till.cashier_name(f.cashier_id)))
    rows += [
        "-" * 8,
        (f"{t['sales']} ({f.sales_count})", money(f.sales_total_minor)),
        (f"{t['returns']} ({f.returns_count})", money(f.returns_total_minor)),
    ]
    for tender, (taken, refunded) in report.tenders.items():
        rows.append((t.get(tender, tender), money(taken)))
        if refunded:
            rows.append((f"  {t['refunded']}", money(refunded)))
    for rate, (gross, vat) in report.vat.items():
        label = t["no_vat"] if rate is None else f"{t['vat']} {format_rate(rate)}"
        rows.append((label, money(vat) if rate is not None else money(gross)))
    rows += [
        "-" * 8,
        (t["float"], money(f.float_minor)),
        (t["pay_ins"], money(f.pay_ins_minor)),
        (t["pay_outs"], money(f.pay_outs_minor)),
        (t["expected"], money(f.expected_minor)),
    ]
    if report.kind == "Z":
        rows += [
            (t["counted"], money(f.counted_minor)),
            (t["over_short"], money(f.over_short_minor)),
        ]
    return t[report.kind], rows


__all__ = ["Done", "Parked", "ShiftReport", "ShiftState", "Till", "TillError", "report_rows"]
