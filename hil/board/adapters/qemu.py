"""The micro:bit under QEMU, reached through the pty QEMU gives its UART. Starting the board
is the launcher's business (emulator/qemu_microbit.py: boot, copy the firmware flat, import it);
this adapter only owns the launcher's lifetime and the port. A QEMU that died is known by its
exit status (hil.board.adapters.process) and started again on the next open."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from hil.board.adapters import process
from hil.board.adapters.port import PortAdapter
from hil.board.errors import BoardError, CannotTakeCode, PortGone, ProcessExited


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

    def _process(self) -> Any:
        """The launcher's qemu-system-arm process, if it has one (emulator.qemu_microbit.Qemu
        keeps it as `mb.proc`; a test's launcher may have none)."""
        return getattr(getattr(self._qemu, "mb", None), "proc", None)

    def _exit_status(self, grace: float = 0.0) -> int | None:
        """QEMU's exit status once it exited (the launcher is then stopped and forgotten, so
        the next open boots it again); None while it runs or when it has no process."""
        proc = self._process()
        if proc is None:
            return None
        status = process.exit_status(proc, grace)
        if status is not None:
            self.console.log("#", f"qemu pid={proc.pid} exited: {process.describe_exit(status)}")
            self.shutdown()
        return status

    def _gone(self, e: PortGone | None, status: int | None) -> PortGone:
        if status is None and e is not None:
            status = self._exit_status(process.EXIT_GRACE_S)
        if status is not None:
            return ProcessExited(f"{self.name}: qemu exited: {process.describe_exit(status)}",
                                 status)
        return e if e is not None else PortGone(f"{self.name}: qemu is not running")

    def _read(self, timeout: float) -> bytes:
        status = self._exit_status()
        if status is not None:
            raise self._gone(None, status)
        try:
            return super()._read(timeout)
        except PortGone as e:
            raise self._gone(e, None) from None

    def _write(self, data: bytes) -> None:
        status = self._exit_status()
        if status is not None:
            raise self._gone(None, status)
        try:
            super()._write(data)
        except PortGone as e:
            raise self._gone(e, None) from None

    def _open(self) -> None:
        if self._qemu is not None:
            self._exit_status()
        self._launch()
        assert self.path is not None
        try:
            self._open_port(self.path)
        except PortGone:
            # the pty vanished: QEMU dying (its files close before its exit status exists)
            if self._exit_status(process.EXIT_GRACE_S) is None:
                raise
            self._launch()
            assert self.path is not None
            self._open_port(self.path)

    def _launch(self) -> None:
        """Boot the micro:bit unless it runs."""
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

    def hard_reset(self) -> bool:
        reset = getattr(self._qemu, "hard_reset", None)
        if reset is not None and self._exit_status() is None:
            # a launcher with a monitor (emulator/qemu_c.py) presses the reset button: the
            # chip's flash survives, as on the device; otherwise QEMU starts again
            try:
                reset()
                return True
            except RuntimeError as e:
                self.console.log("#", f"{self.name}: monitor reset failed: {e}")
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
