"""The emulated board's UART: a pseudo-terminal whose slave end the host opens with pyserial.

The slave is put in raw mode (no echo, no CR/LF translation, no line buffering): otherwise
the line discipline echoes what the host writes back to the host, and turns "\\n" into
"\\r\\n". The emulator keeps its own slave fd open for its whole life, so the master never
reads EIO when the host closes the port between sessions. Optional pacing makes output
leave no faster than a real UART at `baud` (10 bits per byte: 8N1)."""

from __future__ import annotations

import errno
import os
import select
import time
import tty


class PtyUart:
    def __init__(self, baud: int = 0) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self._slave)
        self.baud = baud
        self._next_free = 0.0  # pacing: when the line is free again
        os.set_blocking(self.master, False)

    def fileno(self) -> int:
        return self.master

    def read(self, timeout: float | None) -> bytes:
        """Bytes the host wrote (b"" on timeout)."""
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(self.master, 65536)
        except BlockingIOError:
            return b""
        except OSError as e:  # cannot happen while we hold the slave open; say so if it does
            if e.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        if self.baud:
            now = time.monotonic()
            start = max(now, self._next_free)
            self._next_free = start + len(data) * 10 / self.baud
            if start > now:
                time.sleep(start - now)
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:  # the host is not reading: wait, as a UART with flow control
                select.select([], [self.master], [], 0.5)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
