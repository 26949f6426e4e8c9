"""The emulated board's UART: a pseudo-terminal whose slave end the host opens with pyserial,
optionally paced like a real serial line; and a paced relay in front of another pty (the QEMU
micro:bit's UART, which QEMU delivers at host speed).

The slave is put in raw mode (no echo, no CR/LF translation, no line buffering): otherwise
the line discipline echoes what the host writes back to the host, and turns "\\n" into
"\\r\\n". The emulator keeps its own slave fd open for its whole life, so the master never
reads EIO when the host closes the port between sessions.

Pacing (`baud` > 0, 10 bits per byte: 8N1) works both ways, as on a wire: a byte the host
writes reaches the board one byte-time after the previous one, and the board's output leaves no
faster either. A host that writes faster than the line sees what hardware shows: its writes
return at once (the pty buffers them, as a USB-serial adapter does) and the board receives them
at the line rate.

`held()` batches: what the holding thread writes inside it leaves in one write when it ends
(the emulator holds the line while an engine handles one chunk of input, so a reply of several
lines is one burst on the pty and one wake-up for the host)."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
import time
import tty
from collections.abc import Iterator

BITS_PER_BYTE = 10  # start + 8 data + stop


class PtyUart:
    def __init__(self, baud: int = 0) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self._slave)
        self.baud = baud
        self._byte_s = BITS_PER_BYTE / baud if baud else 0.0
        # receive pacing releases about a millisecond of line time per read
        self._rx_chunk = max(1, baud // (BITS_PER_BYTE * 1000)) if baud else 65536
        self._rx_free = 0.0  # pacing: when the receive line is free again
        self._tx_free = 0.0  # pacing: when the transmit line is free again
        self._held: list[bytes] | None = None
        self._holder = 0  # the thread whose writes are held
        os.set_blocking(self.master, False)

    def fileno(self) -> int:
        return self.master

    def read(self, timeout: float | None) -> bytes:
        """Bytes the host wrote (b"" on timeout); paced: each only once it has crossed the line."""
        try:
            try:
                # a busy host has often written already: one system call instead of two
                data = os.read(self.master, self._rx_chunk)
            except BlockingIOError:
                r, _, _ = select.select([self.master], [], [], timeout)
                if not r:
                    return b""
                data = os.read(self.master, self._rx_chunk)
        except BlockingIOError:
            return b""
        except OSError as e:  # cannot happen while we hold the slave open; say so if it does
            if e.errno == errno.EIO:
                return b""
            raise
        if self.baud:
            now = time.monotonic()
            self._rx_free = max(now, self._rx_free) + len(data) * self._byte_s
            if self._rx_free > now:
                time.sleep(self._rx_free - now)
        return data

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self._held, self._holder = [], threading.get_ident()
        try:
            yield
        finally:
            data, self._held = b"".join(self._held), None
            if data:
                self.write(data)

    def write(self, data: bytes) -> None:
        """Bytes to the host; paced: each reaches the host once it has crossed the line."""
        if self._held is not None and threading.get_ident() == self._holder:
            self._held.append(data)
            return
        if not self.baud:
            self._put(data)
            return
        step = self._rx_chunk
        for i in range(0, len(data), step):
            part = data[i:i + step]
            now = time.monotonic()
            self._tx_free = max(now, self._tx_free) + len(part) * self._byte_s
            time.sleep(self._tx_free - now)
            self._put(part)

    def _put(self, data: bytes) -> None:
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


class UartRelay:
    """A paced serial line between the host and a board's own pty (`target`, e.g. QEMU's
    UART): the host opens `path`; bytes cross at `baud` both ways, one thread per direction."""

    def __init__(self, target: str, baud: int) -> None:
        self.uart = PtyUart(baud)
        self.path = self.uart.path
        self._fd = os.open(target, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self._fd)
        self._stop = False
        self._threads = [threading.Thread(target=f, daemon=True, name=f"uart-relay-{f.__name__}")
                         for f in (self._to_board, self._to_host)]
        for t in self._threads:
            t.start()

    def _to_board(self) -> None:
        while not self._stop:
            data = self.uart.read(0.1)
            if data:
                try:
                    os.write(self._fd, data)
                except OSError:
                    return

    def _to_host(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self._fd], [], [], 0.1)
            if not r:
                continue
            try:
                data = os.read(self._fd, self.uart._rx_chunk)
            except OSError:  # the board's pty went away (QEMU stopped)
                return
            if not data:
                return
            self.uart.write(data)

    def close(self) -> None:
        self._stop = True
        for t in self._threads:
            t.join(1)
        os.close(self._fd)
        self.uart.close()
