"""Real boards on USB serial: the ports attached now (serial.tools.list_ports) matched against
a board file's `[[match]]` tables, and the DTR/RTS handling of boards whose USB bridge resets
them on those lines (ESP32_VIDS)."""

from __future__ import annotations

import time
from typing import Any

from serial.tools import list_ports  # type: ignore[import-untyped]

from hil.board.adapters.port import PortAdapter
from hil.board.errors import BoardAbsent

# USB vendor ids whose boards reset on DTR/RTS edges (ESP32 dev boards: the classic auto-reset
# circuit on a USB-UART bridge, or the native USB-Serial/JTAG): hold both deasserted.
ESP32_VIDS = {0x303A, 0x10C4, 0x1A86, 0x0403}


class SerialAdapter(PortAdapter):
    """A real board on USB serial, found by USB VID:PID or serial number (never a /dev path:
    those move between boots). `quirk` is "esp32" (auto-reset on DTR/RTS: hold both
    deasserted; hard reset = pulse EN via RTS) or "" (Pico and most boards: no line effects;
    hard reset is the firmware's RESET hard)."""

    def __init__(self, name: str, matches: tuple[Any, ...], baud: int = 115200,
                 quirk: str = "", port_path: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.matches = matches
        self.baud = baud or 115200
        self.quirk = quirk
        self.port_path = port_path

    def describe(self) -> str:
        return f"{self.name} serial {self.port_path or '?'} quirk={self.quirk or 'none'}"

    def find(self) -> str:
        for p in list_ports.comports():
            for m in self.matches:
                if m.matches(p.vid, p.pid, p.serial_number):
                    return str(p.device)
        raise BoardAbsent(f"{self.name}: no attached serial port matches its board file")

    def _open(self) -> None:
        self.port_path = self.find()  # re-find each time: the board may re-enumerate
        if self.quirk == "esp32":
            self._open_port(self.port_path, self.baud, dtr=False, rts=False)
        else:
            self._open_port(self.port_path, self.baud)

    def hard_reset(self) -> bool:
        if self.quirk != "esp32" or self._port is None:
            return False
        self.console.log("#", "hard reset (EN pulse via RTS, DTR held deasserted)")
        self._port.dtr = False
        self._port.rts = True
        time.sleep(0.1)
        self._port.rts = False
        time.sleep(1.0)
        return True
