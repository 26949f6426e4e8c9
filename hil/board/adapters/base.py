"""The interface every transport to a board offers: open/close, write bytes, read one line
with a timeout, reconnect, hard reset, health.

What is protocol (marks, CRC, seq) lives in hil.board.client; what is transport (processes,
ports, DTR/RTS, a pty that vanishes) lives in the adapters. This base does the part they share:
line framing, and logging every byte that crosses to the console log."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from hil.board.adapters.console import ConsoleLog
from hil.board.errors import PortGone

# until the runner hands the adapter its session's log
_NULL_CONSOLE = ConsoleLog(None)


class BoardAdapter(ABC):
    """One board's byte transport with line framing. Subclasses implement _open/_close/_read/
    _write; this class splits lines and logs them."""

    name: str = "board"

    def __init__(self) -> None:
        self._buf = bytearray()
        self.console: ConsoleLog = _NULL_CONSOLE
        self.is_open = False

    # -- transport primitives -------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _read(self, timeout: float) -> bytes:
        """Bytes available within timeout (b"" if none). Raises PortGone."""

    @abstractmethod
    def _write(self, data: bytes) -> None:
        """Raises PortGone."""

    # -- the interface the client uses ----------------------------------------------------
    def open(self) -> None:
        if not self.is_open:
            self._buf.clear()
            self._open()
            self.is_open = True
            self.console.log("#", f"open {self.describe()}")

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            self.console.log("#", "close")
        self._close()

    def shutdown(self) -> None:
        """End this board for good: close it and stop whatever the adapter started."""
        self.close()

    def reconnect(self) -> None:
        """First rung of the recovery ladder: close and reopen the transport."""
        self.console.log("#", "reconnect")
        self.close()
        self.open()

    def hard_reset(self) -> bool:
        """Transport-level hard reset (power cycle, EN pin). False when the board has none;
        the caller then asks the firmware (RESET hard)."""
        return False

    def healthy(self) -> bool:
        return self.is_open

    def describe(self) -> str:
        return self.name

    def write(self, data: bytes) -> None:
        if not self.is_open:
            raise PortGone(f"{self.name}: port is closed")
        self.console.log(">", data)
        self._write(data)

    def read_line(self, timeout: float) -> bytes | None:
        """One line without its "\\n", or None if none completed within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                self.console.log("<", line)
                return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self.is_open:
                raise PortGone(f"{self.name}: port is closed")
            data = self._read(min(left, 0.5))
            if data:
                self._buf += data
                if len(self._buf) > 1 << 20:  # a board spewing without newlines: keep bounded
                    self.console.log("#", f"discarded {len(self._buf)} bytes without newline")
                    self._buf.clear()
