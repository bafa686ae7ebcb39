"""Send the journal to the hub: in till_seq order, in batches, exactly as the hub expects.

An entry is marked only by the hub's answer FOR IT (`created`/`duplicate` -> sent,
`conflict`/`rejected` -> dead letter); a lost answer just means the batch is sent again and
answered `duplicate`. Failures back off exponentially with jitter up to a cap and honour the
hub's Retry-After. A revoked token (401 `device_revoked`) stops sending and asks for re-pairing;
nothing is deleted. Selling never waits for any of this.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from till_agent.journal import Journal
from wire.v1 import SalesBatchResult, ShiftEventsBatchResult

BATCH = 200
MAX_BODY_BYTES = 900_000  # under the hub's 1 MiB request limit, with room to spare
STATE_KEY = "sync_state"  # ok | offline | revoked
REVOKED_TOKEN_KEY = "revoked_token"  # noqa: S105 - a journal key: the refused token's id


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0
    cap: float = 300.0

    def delay(self, failures: int, retry_after: float | None, rng: random.Random) -> float:
        """Exponential with full jitter in [d/2, d], capped; never sooner than Retry-After."""
        span = min(self.cap, self.base * 2 ** min(failures, 30))
        wait = span / 2 + rng.random() * span / 2
        return max(wait, retry_after or 0.0)


@dataclass
class SyncOutcome:
    sent: int = 0  # entries the hub answered for
    dead: int = 0
    retry_after: float | None = None  # the hub asked to wait (429/503)
    error: str | None = None  # unreachable, timed out, unexpected answer
    revoked: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.revoked and self.retry_after is None


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


class Sync:
    """One till's uploader. `client` is an httpx.Client with the hub's base URL."""

    def __init__(
        self,
        journal: Journal,
        client: httpx.Client,
        token: str,
        *,
        store_id: int | None = None,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.journal = journal
        self.client = client
        self.set_token(token)
        self.store_id = store_id
        self.batch_cap = BATCH
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.clock = clock
        self.failures = 0

    def set_token(self, token: str) -> None:
        """Use this device token from now on (the till was paired again)."""
        self.headers = {"Authorization": f"Bearer {token}"}
        self.token_id = hashlib.sha256(token.encode()).hexdigest()[:16]

    def revoked(self) -> bool:
        """The hub refused THIS token; a token from a later pairing is tried afresh."""
        if self.journal.get(STATE_KEY) != "revoked":
            return False
        return self.journal.get(REVOKED_TOKEN_KEY) in (None, self.token_id)

    def sync_once(self) -> SyncOutcome:
        """Send everything pending (sales first, then shift events) until the queue is empty or
        something stops it."""
        outcome = SyncOutcome()
        if self.revoked():
            outcome.revoked = True
            return outcome
        for stream, path, result_model in (
            ("sale", "/api/v1/till/sales/batch", SalesBatchResult),
            ("shift", "/api/v1/till/shifts/batch", ShiftEventsBatchResult),
        ):
            while True:
                entries = self.journal.pending(stream, self.batch_cap)
                if not entries:
                    break
                sent = self._send(stream, path, result_model, entries, outcome)
                if sent is None:  # too large for the hub: halve and go on
                    continue
                if not sent:
                    return outcome
        self.failures = 0
        self.journal.put(STATE_KEY, "ok")
        return outcome

    def _send(
        self,
        stream: str,
        path: str,
        result_model: Any,
        entries: list[Any],
        outcome: SyncOutcome,
    ) -> bool | None:
        """True: answered for every entry; False: stop (see `outcome`); None: the batch was too
        large for the hub, `batch_cap` is halved."""
        content = self._body(stream, entries)
        while len(content) > MAX_BODY_BYTES and len(entries) > 1:
            entries = entries[: len(entries) // 2]
            content = self._body(stream, entries)
        try:
            response = self.client.post(
                path,
                content=content,
                headers={**self.headers, "Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            outcome.error = f"hub unreachable: {type(exc).__name__}: {exc}"
            self.journal.put(STATE_KEY, "offline")
            return False
        self.journal.put("last_contact_at", self.clock().isoformat())
        if response.status_code == 200:
            results = result_model.model_validate_json(response.content).results
            if len(results) != len(entries):
                outcome.error = "the hub answered for a different number of entries"
                return False
            self.journal.record_results(stream, entries, results)
            outcome.sent += len(results)
            outcome.dead += sum(r.status in ("conflict", "rejected") for r in results)
            return True
        if response.status_code == 413 and len(entries) > 1:
            self.batch_cap = max(1, len(entries) // 2)
            return None
        if response.status_code == 401:
            detail = response.json().get("detail", [{}]) if _is_json(response) else [{}]
            if detail and detail[0].get("type") == "device_revoked":
                self.journal.put(REVOKED_TOKEN_KEY, self.token_id)
                self.journal.put(STATE_KEY, "revoked")
                outcome.revoked = True
                return False
        if response.status_code in (429, 503):
            outcome.retry_after = _retry_after(response)
            return False
        outcome.error = f"hub answered {response.status_code}: {response.text[:200]}"
        return False

    def _body(self, stream: str, entries: list[Any]) -> bytes:
        key = "sales" if stream == "sale" else "events"
        body: dict[str, Any] = {key: [e.model_dump(mode="json") for e in entries]}
        if self.store_id is not None:
            body["store_id"] = self.store_id
        if stream == "sale":
            body["sent_at"] = self.clock().isoformat()
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def next_delay(self, outcome: SyncOutcome, idle: float = 5.0) -> float:
        """How long to wait before the next attempt."""
        if outcome.ok:
            self.failures = 0
            return idle
        self.failures += 1
        return self.backoff.delay(self.failures - 1, outcome.retry_after, self.rng)

    def run(self, stop: threading.Event, *, idle: float = 5.0) -> None:
        """The sync thread: send, wait, repeat until `stop` is set (re-pairing resets it)."""
        while not stop.is_set():
            outcome = self.sync_once()
            if outcome.revoked:
                stop.wait(idle)
                continue
            stop.wait(self.next_delay(outcome, idle))


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
