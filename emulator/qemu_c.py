"""The C port's micro:bit image (ports/c, `make -C ports/c microbit`) under QEMU.

    with QemuC(ticks_start=2**30 - 5000) as mb:   # qemu-system-arm -M microbit, UART on a pty
        port = mb.path                            # the firmware speaks docs/wire-protocol.md
        mb.hard_reset()                           # QEMU's monitor: system_reset (flash kept)
        mb.stack_used()                           # bytes of stack ever used (painted stack)

Unlike the MicroPython image (emulator/qemu_microbit.py) nothing is deployed: the firmware is
the ELF QEMU loads with `-kernel`, built on demand by make (incremental: a no-op when fresh).
The monitor is QMP on a Unix socket in a private temporary directory: a hard reset keeps the
chip's flash (the snapshot slots), as pressing the reset button would; only a new QEMU
process starts from an erased flash and zeroed RAM (a power-on).

The power-on ticks (`ticks_start`, the emulated boards' --ticks-start) reach the firmware
through QEMU's generic loader, which writes them at the start of RAM before every boot
(ports/c/platform/microbit/platform.c, `struct bootarg`); the firmware reads them only at
power-on. `launcher_for(spec, ticks_start)` is what the harness's QemuAdapter starts."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator.qemu_microbit import MicrobitError, QemuUnavailable, await_pty, end_process

PORT_DIR = Path(__file__).resolve().parent.parent / "ports" / "c"
IMAGE = PORT_DIR / "build" / "microbit" / "firmware.elf"
SMOKE_IMAGE = PORT_DIR / "build" / "microbit" / "smoke.elf"
CC = "arm-none-eabi-gcc"
BOOTARG_ADDR = 0x20000000
BOOTARG_MAGIC = 0x5449434B  # "TICK", as platform.c checks it
STACK_PAINT = 0xA5A5A5A5   # microbit.h MICROBIT_STACK_PAINT
RAM_END = 0x20004000
TICKS_MASK = (1 << 30) - 1


def unavailable_reason() -> str | None:
    """Why the C micro:bit board cannot run here, or None."""
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm not installed (apt: qemu-system-arm)"
    if shutil.which(CC) is None and not IMAGE.is_file():
        return f"{CC} not installed (apt: gcc-arm-none-eabi libnewlib-arm-none-eabi)"
    return None


def build(target: str = "microbit") -> Path:
    """`make -C ports/c <target>`; the ELF it made. MicrobitError with make's tail on failure."""
    image = SMOKE_IMAGE if target == "microbit-smoke" else IMAGE
    if shutil.which(CC) is None:
        if image.is_file():
            return image  # a prebuilt image without the toolchain: run what is there
        raise QemuUnavailable(f"{CC} not installed (apt: gcc-arm-none-eabi "
                              "libnewlib-arm-none-eabi)")
    r = subprocess.run(["make", "-s", "-C", str(PORT_DIR), target], capture_output=True,
                       text=True)
    if r.returncode != 0:
        tail = (r.stdout + r.stderr).strip().splitlines()[-15:]
        raise MicrobitError(f"make {target} failed: " + " | ".join(tail))
    return image


def symbol(image: Path, name: str) -> int:
    """An ELF symbol's address (arm-none-eabi-nm), e.g. __stack_limit."""
    out = subprocess.run(["arm-none-eabi-nm", str(image)], capture_output=True, text=True,
                         check=True).stdout
    m = re.search(rf"^([0-9a-f]+) \w {re.escape(name)}$", out, re.M)
    if m is None:
        raise MicrobitError(f"{image.name}: no symbol {name}")
    return int(m.group(1), 16)


class Qmp:
    """QEMU's machine protocol on a Unix socket: one JSON command, one JSON answer."""

    def __init__(self, path: str, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self._message()  # the greeting
        self.command("qmp_capabilities")

    def _message(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise MicrobitError("QEMU closed its monitor")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, Any] = json.loads(line)
        return msg

    def command(self, name: str, **args: Any) -> Any:
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self._message()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise MicrobitError(f"QEMU monitor: {name}: {msg['error'].get('desc')}")
            # anything else is an asynchronous event (RESET, ...): not the answer

    def close(self) -> None:
        self.sock.close()


class QemuC:
    """qemu-system-arm -M microbit running the C firmware; `path` is its UART's pty and `proc`
    the QEMU process (the harness's QemuAdapter watches its exit status as `mb.proc`)."""

    def __init__(self, spec: Any = None, ticks_start: int | None = None,
                 image: Path | None = None, target: str = "microbit") -> None:
        self.spec = spec
        if ticks_start is None:
            ticks_start = int(getattr(spec, "ticks_start", 0) or 0)
        self.ticks_start = ticks_start & TICKS_MASK
        self.image = image
        self.target = target
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: str | None = None
        self.qmp: Qmp | None = None
        self._dir: str | None = None

    @property
    def mb(self) -> QemuC:
        # QemuAdapter finds the process as launcher.mb.proc (emulator/qemu_microbit.Qemu's shape)
        return self

    def start(self, boot_timeout: float = 20.0) -> str:
        why = unavailable_reason()
        if why:
            raise QemuUnavailable(why)
        self.image = self.image or build(self.target)
        self._dir = tempfile.mkdtemp(prefix="alertstorm-qemu-c-")
        mon = os.path.join(self._dir, "qmp.sock")
        arg = (self.ticks_start << 32) | BOOTARG_MAGIC
        self.proc = subprocess.Popen(
            ["qemu-system-arm", "-M", "microbit", "-kernel", str(self.image),
             "-serial", "pty", "-display", "none", "-monitor", "none",
             "-qmp", f"unix:{mon},server=on,wait=off",
             "-device", f"loader,addr={BOOTARG_ADDR:#x},data={arg:#x},data-len=8"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + boot_timeout
        try:
            self.path = await_pty(self.proc, boot_timeout)
        except MicrobitError:
            self.stop()
            raise
        while True:
            try:
                self.qmp = Qmp(mon)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise MicrobitError("QEMU's monitor socket never answered") from None
                time.sleep(0.05)
        return self.path

    def hard_reset(self) -> None:
        """The reset button: QEMU's `system_reset`; RAM's .noinit and the flash stay, so the
        firmware boots with cause=hard and restores its snapshot."""
        if self.qmp is None:
            raise MicrobitError("QEMU is not running")
        self.qmp.command("system_reset")

    def read_memory(self, addr: int, n: int) -> bytes:
        """n bytes (a multiple of 4) of the guest's memory at addr, through the monitor."""
        if self.qmp is None:
            raise MicrobitError("QEMU is not running")
        text = self.qmp.command("human-monitor-command",
                                **{"command-line": f"xp /{n // 4}wx {addr:#x}"})
        words = [int(w, 16) for line in str(text).splitlines() if ":" in line
                 for w in line.split(":", 1)[1].split()]
        return b"".join(w.to_bytes(4, "little") for w in words)

    def stack_used(self) -> int:
        """Bytes of stack the firmware has ever used: from the top of RAM down to the lowest
        word the start-up code painted that is no longer paint."""
        assert self.image is not None
        limit = symbol(self.image, "__stack_limit")
        mem = self.read_memory(limit, RAM_END - limit)
        paint = STACK_PAINT.to_bytes(4, "little")
        for i in range(0, len(mem), 4):
            if mem[i:i + 4] != paint:
                return RAM_END - (limit + i)
        return 0

    def stop(self) -> None:
        if self.qmp is not None:
            with contextlib.suppress(OSError):
                self.qmp.close()
            self.qmp = None
        if self.proc is not None:
            end_process(self.proc)
            self.proc = None
        self.path = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> QemuC:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launcher_for(spec: Any, ticks_start: int | None = None) -> QemuC:
    return QemuC(spec, ticks_start)
