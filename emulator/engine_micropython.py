"""The micropython engine: firmware_model in real MicroPython 1.27 (WebAssembly, under node),
behind the emulator's pty like a real MicroPython board.

The board is a long-lived node process (emulator/mpvm_engine.mjs: the UART; its worker
emulator/mpvm_port.mjs: the CPU running the port) playing a MicroPython port: its flash is the
emulator's flash directory (firmware_model/*.py, main.py and whatever mpremote puts there,
written through as files are closed), main.py runs the board main loop (firmware_model/board.py,
unchanged), Ctrl-C drops into MicroPython's own REPL, and MicroPython's host tools work against
the pty as against a board (CRLF console, raw REPL, raw-paste flow control, streamed output,
Ctrl-C of a running program, soft reset, errno numbers). Design and limits: docs/engines.md.

This side only moves bytes, or none: on an unpaced line node is given the pty itself (its
UART thread reads the host's bytes, its CPU writes the board's: two hops fewer per round
trip); on a paced one (`baud`) the emulator paces and what the host writes goes to node framed
as [type][len][payload] on its stdin, and what node prints on stdout is exactly what the board
sends to the pty."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from emulator.boardfile import BoardSpec
from emulator.clock import VirtualClock
from emulator.engine import Engine, EngineError
from emulator.flash import FlashFs
from emulator.mpvm import MJS, available
from emulator.uart import PtyUart

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
BRIDGE = HERE / "mpvm_engine.mjs"
PORT_PY = HERE / "mpvm_port.py"        # /lib/_port.py in the VM
MACHINE_PY = HERE / "mpvm_machine.py"  # /lib/machine.py in the VM
FIRMWARE = ROOT / "firmware_model"
HEAP = 256 * 1024  # the VM's GC heap (MicroPython's own; not a RAM budget claim)
BOOT_TIMEOUT_S = 30.0

MAIN_PY = '''\
# main.py of the emulated MicroPython board (written by emulator/engine_micropython.py at
# power-on). It builds the board object and hands it to the port, whose main loop plays
# firmware_model/main.py's (_port.step: app.feed(bytes) for what the host sends,
# app.housekeeping() when the line is quiet, real-time clock only) until a reset or Ctrl-C.
import _port
from firmware_model import board, wire
from firmware_model.limiter import Config
from firmware_model.persist import OsFs

_cfg = {config}
app = board.Board(_port.write, _port.clock, OsFs("/flash/alertstorm/"), host=_port.host,
                  name={name}, role={role}, placement={placement}, engine="micropython",
                  slots={slots}, poll_ms={poll_ms}, persist_ms={persist_ms}, ring={ring},
                  fw=wire.firmware_hash("/flash/firmware_model"), titles={titles},
                  critical={critical}, config=Config.from_dict(_cfg) if _cfg else None)
app.boot(_port.cause)
_port.attach(app)
'''


def render_main(spec: BoardSpec) -> str:
    """main.py for a board spec: every value is a Python literal MicroPython can parse."""
    return MAIN_PY.format(
        config=repr(dict(spec.config)), name=repr(spec.name), role=repr(spec.role),
        placement=repr(spec.limiter), slots=spec.slots, poll_ms=spec.poll_ms,
        persist_ms=spec.persist_ms, ring=spec.ring,
        titles=repr({k: bytes(v) for k, v in spec.titles.items()}),
        critical=repr(tuple(spec.critical)) if spec.critical is not None else "None")


def install_firmware(root: Path, spec: BoardSpec) -> None:
    """Power-on programming: the firmware image (firmware_model/*.py) and main.py are written
    to flash; any other file (limiter snapshots, files put there with mpremote) stays."""
    dest = root / "firmware_model"
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted(FIRMWARE.glob("*.py")):
        data = src.read_bytes()
        target = dest / src.name
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    (root / "main.py").write_text(render_main(spec))


class MicroPythonEngine(Engine):
    name = "micropython"

    def __init__(self, spec: BoardSpec, write: Callable[[bytes], None], flash: FlashFs,
                 clock: VirtualClock, heap: int = HEAP) -> None:
        super().__init__(spec, write, flash, clock)
        self.heap = heap
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=50)
        self._ready = threading.Event()
        self._dead_reported = False
        self._threads: list[threading.Thread] = []
        self._uart_fd: int | None = None  # the pty master, when node serves it directly

    # -- Engine -------------------------------------------------------------------------------
    def take_uart(self, uart: PtyUart) -> bool:
        if uart.baud:
            return False  # pacing is the emulator's (emulator/uart.py)
        self._uart_fd = uart.master
        return True

    def start(self) -> None:
        if not available():
            raise EngineError(f"micropython engine needs node and {MJS} (run scripts/setup.sh)")
        install_firmware(self.flash.root, self.spec)
        job = {
            "mjs": str(MJS), "flash": str(self.flash.root.resolve()), "heap": self.heap,
            "ticks": self.clock.ticks_ms(), "virtual": bool(self.clock.virtual),
            "wall": self.clock.wall_s(), "portPy": PORT_PY.read_text(),
            "machinePy": MACHINE_PY.read_text(), "uartFd": self._uart_fd,
        }
        try:
            self.proc = subprocess.Popen(
                ["node", str(BRIDGE), json.dumps(job)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
                pass_fds=() if self._uart_fd is None else (self._uart_fd,))
        except OSError as e:
            raise EngineError(f"cannot start node: {e}") from None
        for target in (self._pump_out, self._pump_err):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        if not self._ready.wait(BOOT_TIMEOUT_S) or self.proc.poll() is not None:
            tail = "\n".join(self._stderr)
            self.stop()
            raise EngineError(f"MicroPython VM did not boot: {tail or 'no output'}")

    def feed(self, data: bytes) -> None:
        self._send(b"D", data)

    def stop(self) -> None:
        p = self.proc
        if p is None:
            return
        self.proc = None
        try:
            if p.poll() is None and p.stdin is not None:
                p.stdin.write(b"Q" + struct.pack(">I", 0))
                p.stdin.flush()
            p.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()
        for t in self._threads:
            t.join(2)

    # -- plumbing ----------------------------------------------------------------------------
    def _send(self, kind: bytes, payload: bytes) -> None:
        p = self.proc
        if p is None or p.stdin is None:
            return
        try:
            p.stdin.write(kind + struct.pack(">I", len(payload)) + payload)
        except (BrokenPipeError, OSError):
            self._report_dead()

    def _report_dead(self) -> None:
        if not self._dead_reported:
            self._dead_reported = True
            tail = "\n".join(self._stderr)
            print(f"emulator: micropython engine: the VM process exited: {tail}", file=sys.stderr)

    def _pump_out(self) -> None:
        p = self.proc
        assert p is not None and p.stdout is not None
        fd = p.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            self.write(data)

    def _pump_err(self) -> None:
        p = self.proc
        assert p is not None and p.stderr is not None
        for raw in p.stderr:
            line = raw.decode("utf-8", "replace").rstrip()[:400]
            if line.startswith("READY "):
                self._ready.set()
                continue
            self._stderr.append(line)
            if self._ready.is_set():
                print(f"emulator: micropython engine: {line}", file=sys.stderr)
        if self._ready.is_set() and self.proc is not None:
            self._report_dead()
        self._ready.set()
