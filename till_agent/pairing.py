"""Pairing a till with its hub: a one-time code from the back office buys a device token.

The token is written to `<data_dir>/token` with mode 0600 (created that way, never widened);
what the hub said about the device goes to `<data_dir>/device.json`. Re-pairing (after a token
was revoked, or onto a replacement device the manager named) keeps the journal, clears the
"revoked" state and lets the queue drain.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from till_agent.journal import Journal
from till_agent.sync import STATE_KEY

TOKEN_FILE = "token"  # noqa: S105 - a file name, not a secret
DEVICE_FILE = "device.json"
JOURNAL_FILE = "journal.db"
CATALOG_FILE = "catalog.db"


class PairingError(RuntimeError):
    """Pairing failed; the message says what to do."""


@dataclass(frozen=True)
class Pairing:
    hub_url: str
    device_id: int
    store_id: int
    name: str
    token: str


def _write_private(path: Path, text: str) -> None:
    """Write a secret: a fresh file created 0600, then renamed over the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load(data_dir: Path) -> Pairing | None:
    """This till's pairing, or None when it was never paired."""
    token_path, device_path = data_dir / TOKEN_FILE, data_dir / DEVICE_FILE
    if not token_path.exists() or not device_path.exists():
        return None
    mode = token_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PairingError(
            f"{token_path} is readable by others (mode {mode:o}): run `chmod 600 {token_path}`"
        )
    device = json.loads(device_path.read_text(encoding="utf-8"))
    return Pairing(
        hub_url=device["hub_url"],
        device_id=int(device["device_id"]),
        store_id=int(device["store_id"]),
        name=str(device["name"]),
        token=token_path.read_text(encoding="utf-8").strip(),
    )


def save(data_dir: Path, pairing: Pairing) -> None:
    """Store a pairing: the token 0600, the rest in device.json."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(data_dir / TOKEN_FILE, pairing.token + "\n")
    device = {k: v for k, v in asdict(pairing).items() if k != "token"}
    (data_dir / DEVICE_FILE).write_text(json.dumps(device, indent=2) + "\n", encoding="utf-8")


def pair(
    hub_url: str, code: str, data_dir: Path, *, version: str = "kassa-till", timeout: float = 10.0
) -> Pairing:
    """Claim a pairing code at the hub and store the device token."""
    hub_url = hub_url.rstrip("/")
    if not hub_url.startswith(("http://", "https://")):
        raise PairingError(
            f"--hub must be the hub's address, e.g. http://10.0.0.5:8000 (got {hub_url!r})"
        )
    previous = load(data_dir) if (data_dir / TOKEN_FILE).exists() else None
    try:
        with httpx.Client(base_url=hub_url, timeout=timeout) as client:
            response = client.post(
                "/api/v1/devices/pair", json={"code": code.strip(), "version": version}
            )
    except httpx.HTTPError as exc:
        raise PairingError(f"cannot reach the hub at {hub_url}: {exc}") from exc
    if response.status_code not in (200, 201):
        raise PairingError(_refusal(response))
    try:
        body = response.json()
        pairing = Pairing(
            hub_url=hub_url,
            device_id=int(body["device_id"]),
            store_id=int(body["store_id"]),
            name=str(body["name"]),
            token=str(body["token"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PairingError(
            f"{hub_url} answered the pairing with something that is not a Kassa hub's answer "
            f"({type(exc).__name__}: {exc}); check the --hub address"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(data_dir / JOURNAL_FILE)
    try:
        if previous is not None and previous.store_id != pairing.store_id:
            status = journal.status()
            if status.pending_sales or status.pending_events:
                raise PairingError(
                    f"this till still holds {status.pending_sales} unsent sales of store "
                    f"{previous.store_id}; pair it with a code of that store (the token was not "
                    "changed)"
                )
            (data_dir / CATALOG_FILE).unlink(missing_ok=True)  # another store's catalog
        save(data_dir, pairing)
        journal.put(STATE_KEY, None)  # no longer revoked: the queue may drain
    finally:
        journal.close()
    return pairing


def _refusal(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        msg = detail[0].get("msg") or detail[0].get("type")
    else:
        msg = detail or response.text[:200]
    hint = (
        "ask a manager for a new pairing code (codes are single-use and expire)"
        if response.status_code in (400, 401, 403, 404, 409, 410, 422)
        else "try again in a minute"
    )
    return f"the hub refused the pairing code ({response.status_code}: {msg}); {hint}"


__all__ = ["Pairing", "PairingError", "load", "pair", "save"]
