"""The native engine: the C port's host build (ports/c/, docs/c-port.md) behind the pty.

The firmware is a child process speaking the wire protocol on its stdin/stdout; this engine
relays the host's bytes to it and its output to the UART. Everything else is the firmware's
own, as on a device: it keeps the virtual clock (ADVANCE), its flash (one file of two pages in
the engine's flash directory, so a respawn on the same directory is a power cycle), resets
and power cuts (it reboots itself, EVENT BOOT). The board file's settings reach it as
command-line options. `make -C ports/c` (scripts/setup.sh) builds it; the engine runs make once
more before starting, so an edited source never runs stale."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from emulator.boardfile import BoardSpec
from emulator.clock import VirtualClock
from emulator.engine import Engine, EngineError
from emulator.flash import FlashFs
from firmware_model.limiter import Config

PORT_DIR = Path(__file__).resolve().parent.parent / "ports" / "c"
# ALERTSTORM_NATIVE_BUILD=san runs the ASan + UBSan build instead (tests/test_c_sanitizers.py)
SANITIZED = os.environ.get("ALERTSTORM_NATIVE_BUILD") == "san"
BINARY = PORT_DIR / "build" / ("san" if SANITIZED else "") / "host" / "alertstorm"
FLASH_FILE = "native-flash.bin"


def unavailable() -> str | None:
    """Why the native engine cannot run here (None: it can)."""
    if BINARY.exists() and shutil.which("make") is None:
        return None
    for tool in ("make", "gcc"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (the C port's host build needs it)"
    return None


def build() -> Path:
    """Bring the host build up to date; its path. EngineError if it cannot be built."""
    why = unavailable()
    if why is not None:
        raise EngineError(why)
    if shutil.which("make") is not None:
        r = subprocess.run(["make", "-s", "-C", str(PORT_DIR)] + (["san"] if SANITIZED else []),
                           capture_output=True, text=True)
        if r.returncode:
            raise EngineError("building ports/c failed: " + (r.stderr or r.stdout)[-400:])
    return BINARY


def board_args(spec: BoardSpec) -> list[str]:
    """The board file's settings as the host build's options."""
    args = ["--name", spec.name, "--role", spec.role, "--limiter", spec.limiter,
            "--slots", str(spec.slots), "--poll-ms", str(spec.poll_ms),
            "--persist-ms", str(spec.persist_ms), "--ring", str(spec.ring)]
    for dev, eui in sorted(spec.titles.items()):
        args += ["--title", f"{dev}={eui.hex().upper()}"]
    if spec.critical is not None:
        args += ["--critical", ",".join(str(c) for c in spec.critical)]
    if spec.config:
        cfg = Config.from_dict(dict(spec.config)).to_dict()  # codes as integers, checked
        for key in sorted(spec.config):
            v = cfg[key]
            text = ",".join(str(c) for c in v) if isinstance(v, list) else str(v)
            args += ["--config", f"{key}={text}"]
    return args


class NativeEngine(Engine):
    name = "native"

    def __init__(self, spec: BoardSpec, write: Callable[[bytes], None], flash: FlashFs,
                 clock: VirtualClock) -> None:
        super().__init__(spec, write, flash, clock)
        self.proc: subprocess.Popen[bytes] | None = None
        self._relay: threading.Thread | None = None

    def start(self) -> None:
        binary = build()
        cmd = [str(binary), "--flash", str(self.flash.root / FLASH_FILE),
               "--ticks", str(self.clock.ticks_ms())]
        if not self.clock.virtual:
            cmd.append("--real-time")
        cmd += board_args(self.spec)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        self._relay = threading.Thread(target=self._pump, name="native-out", daemon=True)
        self._relay.start()

    def _pump(self) -> None:
        # the firmware's output, as it comes: a thread, so that a long ADVANCE's frames reach
        # the host while the firmware is still working
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        while True:
            data = out.read1(65536) if hasattr(out, "read1") else out.read(65536)
            if not data:
                return
            self.write(data)

    def feed(self, data: bytes) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise EngineError(f"native firmware exited ({self.proc.returncode}): {err[-300:]}")
        self.proc.stdin.write(data)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # end of input: the firmware powers off
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._relay is not None:
            self._relay.join(timeout=2)
