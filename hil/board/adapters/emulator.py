"""Transports to a board, one small class per kind, all with the same line interface:
open/close, write bytes, read one line with a timeout, reconnect, hard reset, health.

What is protocol (marks, CRC, seq) lives in hil.board.client; what is transport (processes,
ports, DTR/RTS, a pty that vanishes) lives here. Every byte that crosses goes to the console log,
timestamped, including noise, so a report can show exactly what was exchanged."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from hil.board.errors import BoardAbsent, BoardError, CannotTakeCode, PortGone
from hil.paths import ROOT


class ConsoleLog:
    """Every line exchanged with a board, one per line: UTC time, seconds since open, direction
    ('>' host to board, '<' board to host, '#' harness note), the bytes as text (non-printable
    bytes escaped). Appends and flushes per line so a crash loses nothing written."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._f: IO[str] | None = None
        self._t0 = time.monotonic()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held for the session)

    def log(self, direction: str, data: bytes | str) -> None:
        if self._f is None:
            return
        if isinstance(data, bytes):
            text = data.rstrip(b"\r\n").decode("ascii", "backslashreplace")
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        else:
            text = data
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self._f.write(f"{now} {time.monotonic() - self._t0:9.3f} {direction} {text}\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


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


class _PySerialMixin:
    """pyserial port handling shared by the serial and emulator adapters."""

    _port: Any = None
    name: str

    def _open_port(self, path: str, baud: int = 115200, dtr: bool | None = None,
                   rts: bool | None = None) -> None:
        import serial  # type: ignore[import-untyped]

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

    def _close_port(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except Exception:  # noqa: BLE001 (closing a vanished port may raise anything)
                pass
            self._port = None

    def _read_port(self, timeout: float) -> bytes:
        import serial  # type: ignore[import-untyped]

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

    def _write_port(self, data: bytes) -> None:
        import serial  # type: ignore[import-untyped]

        if self._port is None:
            raise PortGone(f"{self.name}: port is closed")
        try:
            self._port.write(data)
        except (serial.SerialException, OSError, ValueError, TypeError) as e:
            raise PortGone(f"{self.name}: port write failed: {e}") from None


class EmulatorAdapter(_PySerialMixin, BoardAdapter):
    """An emulated board: spawns `python -m emulator --board X.toml`, reads its `PORT <path>`
    line, and opens the pty with pyserial. The flash directory is kept across respawns, so a
    respawn is a power cycle (state restored from the snapshot), as on hardware."""

    def __init__(self, board_file: str, name: str | None = None, *,
                 ticks_start: int | None = None, flash_dir: str | None = None,
                 start_timeout: float = 20.0) -> None:
        super().__init__()
        self.board_file = board_file
        self.name = name or Path(board_file).stem
        self.ticks_start = ticks_start
        self._own_flash = flash_dir is None
        self.flash_dir = flash_dir or tempfile.mkdtemp(prefix=f"hil-{self.name}-flash-")
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: str | None = None

    def describe(self) -> str:
        pid = self.proc.pid if self.proc else "-"
        return f"{self.name} emulator pid={pid} port={self.path}"

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", "emulator", "--board", self.board_file,
               "--flash", self.flash_dir]
        if self.ticks_start is not None:
            cmd += ["--ticks-start", str(self.ticks_start)]
        root = ROOT
        env = dict(os.environ)
        env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, cwd=str(root))
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        if not line.startswith(b"PORT "):
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()[-500:]
            self._kill()
            msg = err.decode(errors="replace").strip().splitlines()
            raise BoardError(f"{self.name}: emulator did not start: "
                             f"{msg[-1] if msg else 'no PORT line'}", "emulator did not start")
        self.path = line[5:].strip().decode()

    def _open(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._spawn()
        assert self.path is not None
        self._open_port(self.path)

    def _close(self) -> None:
        self._close_port()

    def _read(self, timeout: float) -> bytes:
        if self.proc is not None and self.proc.poll() is not None:
            raise PortGone(f"{self.name}: emulator exited ({self.proc.returncode})")
        return self._read_port(timeout)

    def _write(self, data: bytes) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise PortGone(f"{self.name}: emulator exited ({self.proc.returncode})")
        self._write_port(data)

    def healthy(self) -> bool:
        return self.is_open and self.proc is not None and self.proc.poll() is None

    def hard_reset(self) -> bool:
        """Power-cycle: stop the emulator process and start it again on the same flash."""
        self.console.log("#", "hard reset (respawn emulator)")
        self.close()
        self._kill()
        self.open()
        return True

    def _kill(self) -> None:
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in (p.stdout, p.stderr):
            if f is not None:
                f.close()
        self.proc = None

    def kill_process(self) -> None:
        """Make the port vanish the hard way (tests, and what a crashed emulator looks like)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def shutdown(self) -> None:
        self.close()
        self._kill()
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)


# USB vendor ids whose boards reset on DTR/RTS edges (ESP32 dev boards: the classic auto-reset
# circuit on a USB-UART bridge, or the native USB-Serial/JTAG): hold both deasserted.
ESP32_VIDS = {0x303A, 0x10C4, 0x1A86, 0x0403}


class SerialAdapter(_PySerialMixin, BoardAdapter):
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
        from serial.tools import list_ports  # type: ignore[import-untyped]

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

    def _close(self) -> None:
        self._close_port()

    def _read(self, timeout: float) -> bytes:
        return self._read_port(timeout)

    def _write(self, data: bytes) -> None:
        self._write_port(data)

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


class QemuAdapter(_PySerialMixin, BoardAdapter):
    """The micro:bit under QEMU: the launcher (emulator/qemu_microbit.py) starts
    qemu-system-arm with the MicroPython firmware and gives a pty for its UART. Hard reset =
    restart QEMU (the firmware is then deployed again by the caller)."""

    def __init__(self, name: str, launcher: Any = None) -> None:
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

    def _close(self) -> None:
        self._close_port()

    def _read(self, timeout: float) -> bytes:
        return self._read_port(timeout)

    def _write(self, data: bytes) -> None:
        self._write_port(data)

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
