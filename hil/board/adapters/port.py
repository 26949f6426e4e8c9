"""A board behind a pyserial port: a USB-serial device, or the pty of an emulator or of QEMU.
How the port is found differs by kind (the subclasses' _open); opening, reading, writing and
closing it are the same for every kind, and live here once."""

from __future__ import annotations

import select

import serial  # type: ignore[import-untyped]

from hil.board.adapters.base import BoardAdapter
from hil.board.errors import PortGone


class PortAdapter(BoardAdapter):
    """A BoardAdapter whose bytes go through one pyserial port. Subclasses implement _open:
    find or start the board, then _open_port(path)."""

    def __init__(self) -> None:
        super().__init__()
        self._port: serial.Serial | None = None

    def _open_port(self, path: str, baud: int = 115200, dtr: bool | None = None,
                   rts: bool | None = None) -> None:
        port = serial.Serial()
        port.port = path
        port.baudrate = baud or 115200
        port.timeout = 0
        port.exclusive = True  # two harnesses on one board corrupt each other's lines
        # Set before open(): pyserial applies these as the port opens, so an ESP32's auto-reset
        # circuit (EN on RTS, GPIO0 on DTR) never sees an edge.
        if dtr is not None:
            port.dtr = dtr
        if rts is not None:
            port.rts = rts
        try:
            port.open()
        except (serial.SerialException, OSError) as e:
            raise PortGone(f"{self.name}: cannot open {path}: {e}") from None
        self._port = port

    def _close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except Exception:  # noqa: BLE001 (closing a vanished port may raise anything)
                pass
            self._port = None

    def _read(self, timeout: float) -> bytes:
        port = self._port
        if port is None:
            raise PortGone(f"{self.name}: port is closed")
        try:
            r, _, _ = select.select([port.fileno()], [], [], timeout)
            if not r:
                return b""
            data = port.read(port.in_waiting or 1)
        except (serial.SerialException, OSError, ValueError, TypeError) as e:
            raise PortGone(f"{self.name}: port read failed: {e}") from None
        if not data:  # readable but nothing: the other end is gone (pty master closed)
            raise PortGone(f"{self.name}: port closed by the other end")
        return bytes(data)

    def _write(self, data: bytes) -> None:
        if self._port is None:
            raise PortGone(f"{self.name}: port is closed")
        try:
            self._port.write(data)
        except (serial.SerialException, OSError, ValueError, TypeError) as e:
            raise PortGone(f"{self.name}: port write failed: {e}") from None
