"""A running till agent: the selling core plus its two background threads.

- sync: sends the journal to the hub (woken at once by each commit; backs off while the hub is
  down, honouring Retry-After; stops sending when the token is revoked);
- catalog: pulls catalog deltas every `catalog_interval` seconds with its own connection to the
  cache file (WAL: the cashier's lookups never wait for it).
Neither thread ever blocks selling. `status()` is what `kassa till status` and the UI's status
bar show.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from till_agent import pairing as pairing_store
from till_agent.catalog import CatalogCache
from till_agent.config import TillConfig, make_printer
from till_agent.core import Till, utcnow
from till_agent.fiscal import FiscalDevice, fiscal_device
from till_agent.journal import Journal, QueueStatus
from till_agent.pairing import CATALOG_FILE, JOURNAL_FILE, Pairing, PairingError
from till_agent.printer import PrinterStatus, PrinterTransport
from till_agent.receipt import PrinterLayout
from till_agent.sync import STATE_KEY, Backoff, Sync, SyncOutcome

log = logging.getLogger(__name__)


JOURNAL_HEADER = "X-Kassa-Journal"


@dataclass(frozen=True)
class AgentStatus:
    paired: Pairing | None
    sync_state: str  # ok | offline | revoked | never
    queue: QueueStatus
    printer: PrinterStatus | None
    catalog_products: int
    catalog_error: str | None


class Agent:
    def __init__(
        self,
        data_dir: Path,
        printer: PrinterTransport,
        *,
        layout: PrinterLayout | None = None,
        till_name: str = "",
        hub_url: str = "",
        timeout: float = 5.0,
        sync_interval: float = 5.0,
        catalog_interval: float = 60.0,
        backoff: Backoff | None = None,
        fiscal: FiscalDevice | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.pairing = pairing_store.load(self.data_dir)
        if self.pairing is None:
            raise PairingError(
                f"this till is not paired (nothing in {self.data_dir}): run "
                "`kassa till pair --hub URL --code CODE` with a code from the back office"
            )
        self.hub_url = hub_url or self.pairing.hub_url
        self.timeout = timeout
        self.sync_interval = sync_interval
        self.catalog_interval = catalog_interval
        self.journal = Journal(self.data_dir / JOURNAL_FILE)
        self.catalog = CatalogCache(self.data_dir / CATALOG_FILE)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.catalog_error: str | None = None
        self.till = Till(
            self.journal,
            self.catalog,
            printer,
            layout=layout,
            till_name=till_name or self.pairing.name,
            fiscal=fiscal,
            clock=clock,
            on_commit=self._wake.set,
        )
        self._client = self._new_client()
        self.sync_token = self.pairing.token
        self._token_stamp = (self.data_dir / pairing_store.TOKEN_FILE).stat().st_mtime_ns
        self.sync = Sync(
            self.journal,
            self._client,
            self.pairing.token,
            store_id=self.pairing.store_id,
            backoff=backoff,
            clock=clock,
        )

    @classmethod
    def from_config(
        cls,
        config: TillConfig,
        *,
        printer: PrinterTransport | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> Agent:
        """The agent a till.toml describes (`printer` overrides the configured one)."""
        return cls(
            config.till.data_dir,
            printer if printer is not None else make_printer(config),
            layout=config.layout(),
            till_name=config.till.name,
            hub_url=config.hub.url,
            timeout=config.hub.timeout_s,
            sync_interval=config.hub.sync_interval_s,
            catalog_interval=config.hub.catalog_interval_s,
            fiscal=fiscal_device(config.fiscal.kind),
            clock=clock,
        )

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.hub_url,
            timeout=self.timeout,
            event_hooks={"request": [self._tell_journal_head]},
        )

    def _tell_journal_head(self, request: httpx.Request) -> None:
        """Every request tells the hub how far this till's journal goes (`X-Kassa-Journal`), so
        the hub's quality gate can tell "synced through the end of the day" from "quiet"."""
        sale, shift = self.journal.head()
        request.headers[JOURNAL_HEADER] = f"sale={sale};shift={shift}"

    # --- one-shot work (also what the threads do) ------------------------------------------

    def sync_now(self) -> SyncOutcome:
        self.reload_pairing()
        return self.sync.sync_once()

    def reload_pairing(self) -> None:
        """Pick up a new token when the till was paired again while running (`kassa till pair`
        in another terminal): the queue drains with it, no restart needed."""
        try:
            stamp = (self.data_dir / pairing_store.TOKEN_FILE).stat().st_mtime_ns
        except OSError:
            return
        if stamp == self._token_stamp:
            return
        self._token_stamp = stamp
        fresh = pairing_store.load(self.data_dir)
        if fresh is not None and fresh.token != self.sync_token:
            self.pairing = fresh
            self.sync.set_token(fresh.token)
            self.sync_token = fresh.token

    def refresh_catalog(self, cache: CatalogCache | None = None) -> int:
        """Pull catalog changes; returns pages applied. Errors are kept for the status bar."""
        assert self.pairing is not None
        target = cache or self.catalog
        try:
            with self._new_client() as client:
                pages = target.pull(client, self.pairing.token)
        except (httpx.HTTPError, ValueError) as exc:
            self.catalog_error = f"{type(exc).__name__}: {exc}"
            return 0
        self.catalog_error = None
        return pages

    # --- threads ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for target, name in ((self._sync_loop, "till-sync"), (self._catalog_loop, "till-catalog")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def close(self) -> None:
        self.stop()
        self._client.close()
        self.catalog.close()
        self.journal.close()

    def _sync_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                outcome = self.sync_now()
            except Exception as exc:  # a bug must not kill the thread silently
                log.exception("sync failed")
                outcome = SyncOutcome(error=f"{type(exc).__name__}: {exc}")
            if outcome.ok or outcome.revoked:
                self.sync.failures = 0
                self._wake.wait(self.sync_interval)  # a new sale wakes us at once
            else:  # back off; a new sale must not hammer a hub that is down
                self._stop.wait(self.sync.next_delay(outcome, self.sync_interval))

    def _catalog_loop(self) -> None:
        cache = CatalogCache(self.data_dir / CATALOG_FILE)
        try:
            while not self._stop.is_set():
                self.refresh_catalog(cache)
                self._stop.wait(self.catalog_interval)
        finally:
            cache.close()

    # --- status ----------------------------------------------------------------------------

    def status(self, *, ask_printer: bool = True) -> AgentStatus:
        return AgentStatus(
            paired=self.pairing,
            sync_state=self._sync_state(),
            queue=self.journal.status(),
            printer=self.till.printer_status(wait=False) if ask_printer else None,
            catalog_products=self.catalog.count(),
            catalog_error=self.catalog_error,
        )

    def _sync_state(self) -> str:
        self.reload_pairing()
        stored = self.journal.get(STATE_KEY) or "never"
        if stored == "revoked" and not self.sync.revoked():
            return "never"  # paired again; the new token has not been tried yet
        return stored

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Agent", "AgentStatus"]
