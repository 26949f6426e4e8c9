"""Transports to a board (being split into one module per transport)."""

from hil.board.adapters.emulator import (
    ESP32_VIDS,
    BoardAdapter,
    ConsoleLog,
    EmulatorAdapter,
    QemuAdapter,
    SerialAdapter,
)

__all__ = ["ESP32_VIDS", "BoardAdapter", "ConsoleLog", "EmulatorAdapter", "QemuAdapter",
           "SerialAdapter"]
