"""A local SMTP server that keeps every message it receives as an .eml file: the mail server of
the demo and the tests, so neither needs the internet nor a mailbox.

Built on aiosmtpd's threaded `Controller`; `start_server` also binds port 0 (any free port) and
says which port it got, so tests can run side by side.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import itertools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# aiosmtpd waits 5 s by default for its thread to start; a loaded CI machine can take longer.
READY_TIMEOUT_SECONDS = 30.0


class SaveToDirectory:
    """An aiosmtpd handler that writes each message, the exact bytes received, to
    `<directory>/<UTC time>-<n>.eml`, which any mail client opens. The file appears whole
    (written aside, then renamed), so whoever watches the directory never reads half a message.
    """

    def __init__(
        self, directory: str | Path, on_saved: Callable[[Path, Envelope], None] | None = None
    ) -> None:
        self.directory = Path(directory)
        self.on_saved = on_saved  # e.g. to print a line per message
        self.directory.mkdir(parents=True, exist_ok=True)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def save(self, data: bytes) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        while True:
            with self._lock:
                number = next(self._numbers)
            path = self.directory / f"{stamp}-{number:04d}.eml"
            if not path.exists():
                break
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content
        if content is None:
            content = envelope.content if isinstance(envelope.content, bytes) else b""
        path = self.save(content)
        if self.on_saved is not None:
            self.on_saved(path, envelope)
        return f"250 2.0.0 OK saved as {path.name}"


def saved_messages(directory: str | Path) -> list[Path]:
    """The messages a sink saved in `directory`, oldest first."""
    return sorted(Path(directory).glob("*.eml"))


class _Controller(Controller):
    """aiosmtpd's Controller, which also works on port 0: it looks up the port the system gave
    before it makes its start-up connection (aiosmtpd would connect to port 0 and fail)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and isinstance(self.server, asyncio.Server):
            self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()  # type: ignore[no-untyped-call]


def start_server(
    handler: Any, host: str = "127.0.0.1", port: int = 0, **smtp_options: Any
) -> tuple[Controller, int]:
    """Start an SMTP server with an aiosmtpd `handler` in a background thread; returns it (call
    `.stop()`) and the port it listens on. Port 0 takes a free port and needs a numeric
    address (a name could bind IPv4 and IPv6 on two different ports). `smtp_options` go to
    aiosmtpd (`tls_context`, `authenticator`, `ssl_context`, ...). Raises OSError when the
    port is taken."""
    if port == 0:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"port 0 needs a numeric address such as 127.0.0.1, not {host!r}"
            ) from None
    controller = _Controller(
        handler, hostname=host, port=port, ready_timeout=READY_TIMEOUT_SECONDS, **smtp_options
    )
    controller.start()
    return controller, controller.port


def start_sink(
    directory: str | Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_saved: Callable[[Path, Envelope], None] | None = None,
    **smtp_options: Any,
) -> tuple[Controller, int]:
    """Start a sink that saves every message it receives in `directory` (see
    `SaveToDirectory`); returns the controller and its port."""
    return start_server(SaveToDirectory(directory, on_saved), host, port, **smtp_options)
