"""The micro:bit under QEMU, reached through the pty QEMU gives its UART. Starting the board
is the launcher's business (emulator/qemu_microbit.py: boot, copy the firmware flat, import it);
this adapter only owns the launcher's lifetime and the port."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from hil.board.adapters.port import PortAdapter
from hil.board.errors import BoardError, CannotTakeCode


class QemuAdapter(PortAdapter):
    """The micro:bit under QEMU: the launcher (emulator/qemu_microbit.py) starts
    qemu-system-arm with the MicroPython firmware and gives a pty for its UART. Hard reset =
    restart QEMU (the firmware is then deployed again by the caller)."""

    def __init__(self, name: str, launcher: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.name = name
        self._launcher_factory = launcher
        self._qemu: Any = None
        self.path: str | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("qemu-system-arm") is not None

    def _open(self) -> None:
        if self._qemu is None:
            if self._launcher_factory is None:
                raise BoardError(f"{self.name}: no QEMU launcher", "qemu unavailable")
            self._qemu = self._launcher_factory()
            try:
                self.path = self._qemu.start()
            except RuntimeError as e:  # emulator.qemu_microbit.MicrobitError and subclasses
                self._qemu = None
                text = str(e)
                if "too large" in text or "MemoryError" in text or "too small" in text:
                    raise CannotTakeCode(f"{self.name}: {text}", "too large") from None
                raise BoardError(f"{self.name}: QEMU micro:bit: {text}", "qemu failed") from None
        assert self.path is not None
        self._open_port(self.path)

    def hard_reset(self) -> bool:
        self.close()
        self.shutdown()
        self.open()
        return True

    def shutdown(self) -> None:
        self.close()
        if self._qemu is not None:
            stop = getattr(self._qemu, "stop", None) or getattr(self._qemu, "close", None)
            if stop is not None:
                stop()
            self._qemu = None
