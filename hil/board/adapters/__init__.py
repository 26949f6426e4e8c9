"""Transports to a board, one module per kind, all with the same line interface (`base`):

- `base`: BoardAdapter, the interface and its line framing; `console`: the session's log of
  every line exchanged;
- `port`: PortAdapter, the pyserial port every kind below is reached through;
- `process`: a board that is a child process (emulator, QEMU): its exit status, reaping;
- `emulator`: `python -m emulator` in a child process, over its pty;
- `serial`: a real board on USB serial, found by its board file's USB match;
- `qemu`: the micro:bit under QEMU, over the pty of its UART.

Which adapter a board gets is its board file's business: hil.board.registry.BoardDef."""

from hil.board.adapters.base import BoardAdapter
from hil.board.adapters.console import ConsoleLog
from hil.board.adapters.emulator import EmulatorAdapter
from hil.board.adapters.port import PortAdapter
from hil.board.adapters.qemu import QemuAdapter
from hil.board.adapters.serial import ESP32_VIDS, SerialAdapter

__all__ = ["ESP32_VIDS", "BoardAdapter", "ConsoleLog", "EmulatorAdapter", "PortAdapter",
           "QemuAdapter", "SerialAdapter"]
