"""A virtual serial scanner on a pty pair: the till opens `port_path` like a real device."""

from __future__ import annotations

import contextlib
import os
import time
import tty


class VirtualSerialScanner:
    """Writes scanner frames into the master side of a pty; the till reads the slave side.

    The slave is put in raw mode at once (pyserial does it again when it opens the port), so a
    CR is never turned into LF and nothing is echoed back, even for bytes written before the
    till opened the port.
    """

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port_path = os.ttyname(self._slave)
        self._closed = False

    def scan(
        self,
        code: str | bytes,
        suffix: bytes = b"\r",
        prefix: bytes = b"",
        per_char_delay: float = 0,
    ) -> None:
        """Send one frame: `prefix` + code + `suffix` (empty suffix: the till flushes on idle)."""
        if self._closed:
            raise RuntimeError("the virtual scanner is closed")
        data = code.encode("latin-1") if isinstance(code, str) else code
        frame = prefix + data + suffix
        if per_char_delay <= 0:
            self._write(frame)
            return
        for i in range(len(frame)):
            self._write(frame[i : i + 1])
            time.sleep(per_char_delay)

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    def close(self) -> None:
        """Unplug the scanner: a till reading the port sees it disappear."""
        if self._closed:
            return
        self._closed = True
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> VirtualSerialScanner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
