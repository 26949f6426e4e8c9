"""Board definitions for the harness: boards/*.toml (loaded by emulator.boardfile, the one
home of the schema, docs/boards.md) -> the adapter that reaches the board, whether it is
attached, what it can run, and its firmware identity check.

Matching rules for real boards (docs/harness.md): a `kind = "serial"` board is found by its
`[[match]]` tables (USB vid/pid, optionally serial number) against serial.tools.list_ports,
never by a /dev path; the first attached port matching any of its tables is used."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from serial.tools import list_ports  # type: ignore[import-untyped]

from emulator import engine_native, qemu_c
from emulator.boardfile import BoardFileError, BoardSpec, load
from emulator.qemu_microbit import launcher_for
from hil.board.adapters.base import BoardAdapter
from hil.board.adapters.emulator import EmulatorAdapter
from hil.board.adapters.qemu import QemuAdapter
from hil.board.adapters.serial import ESP32_VIDS, SerialAdapter
from hil.board.deploy import local_firmware_hash
from hil.board.errors import BoardError, FirmwareMismatch
from hil.errors import InputError
from hil.paths import BOARDS_DIR, ROOT


@dataclass
class BoardDef:
    spec: BoardSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def role(self) -> str:
        return self.spec.role

    @property
    def emulated(self) -> bool:
        return self.spec.kind == "emulated"

    @property
    def is_qemu(self) -> bool:
        # qemu: MicroPython deployed onto the micro:bit; qemu-c: the C port's image
        return self.spec.engine in ("qemu", "qemu-c")

    def quirk(self) -> str:
        if any(m.vid in ESP32_VIDS for m in self.spec.match) or "esp32" in self.name.lower():
            return "esp32"
        return ""

    def make_adapter(self, ticks_start: int | None = None,
                     keys: str | None = None) -> BoardAdapter:
        """keys: a test key set for an emulated board's security module (instead of the board
        file's `keys`); real and QEMU boards hold their own keys, if any."""
        if self.spec.engine == "qemu-c":
            return QemuAdapter(self.name, partial(qemu_c.launcher_for, self.spec, ticks_start))
        if self.is_qemu:
            return QemuAdapter(self.name, partial(launcher_for, self.spec))
        if self.emulated:
            return EmulatorAdapter(self.spec.path, self.name, ticks_start=ticks_start,
                                   keys=keys)
        return SerialAdapter(self.name, self.spec.match, self.spec.baud, self.quirk())

    def absent_reason(self) -> str | None:
        """None if the board can be reached; else why not (reported as skipped)."""
        if self.spec.engine == "qemu-c":
            return qemu_c.unavailable_reason()
        if self.is_qemu:
            return None if QemuAdapter.available() else "qemu-system-arm not installed"
        if self.emulated:
            # the C port's host build needs its toolchain (skipped with the reason without it)
            return engine_native.unavailable() if self.spec.engine == "native" else None
        try:
            SerialAdapter(self.name, self.spec.match).find()
        except BoardError as e:
            return str(e)
        return None

    @property
    def real_clock(self) -> bool:
        return self.spec.clock == "real"

    def time_scale(self, override: int | None = None) -> int:
        """The compression its scenarios run at: `hil run --time-scale`, else the board
        file's `time_scale` (1 for a virtual clock, 60 for a real one unless it says)."""
        return override if override is not None else self.spec.time_scale

    def cannot_run(self, scenario: Any) -> str | None:
        # a real clock runs the scenario paced in scaled time (hil.harness.pacing); only setting
        # ticks_ms at power-on needs an emulated board
        if scenario.ticks_start is not None and not self.emulated:
            return "needs ticks_ms set at power-on (emulated boards only)"
        return None

    def check_firmware(self, hello: dict[str, str]) -> None:
        """The board must run the firmware we have: firmware_model (same hash as computed
        here), or, for a board file whose [firmware] names another `source` (the C port), the
        hash of that source tree."""
        fw = hello.get("fw", "")
        if not fw:
            raise FirmwareMismatch(f"{self.name}: HELLO has no fw= field")
        source = self.spec.firmware.get("source")
        if source:
            want = source_hash(ROOT / str(source))
            if fw != want:
                raise FirmwareMismatch(f"{self.name}: firmware {fw}, {source} has {want} "
                                       "(rebuild it: make -C " + str(source) + ")")
            return
        names = self.spec.firmware.get("names")
        want = local_firmware_hash(list(names) if names else None)
        alg = fw.split(":", 1)[0]
        if alg == "crc16" or fw == want:
            return  # crc16: the micro:bit hashes a subset; its deploy step checked the files
        raise FirmwareMismatch(f"{self.name}: firmware {fw}, host has {want} "
                               "(deploy again, or the board runs other code)")


def source_hash(port_dir: Path) -> str:
    """HELLO fw= of a build of the C port at port_dir: SHA-256 over its portable sources
    (include/*.h, src/*.c, src/*.h) in byte order of path, each as "<path>\n<size>\n<content>"
    (the recipe of ports/c/Makefile's FWID and of docs/wire-protocol.md section 7)."""
    h = hashlib.sha256()
    files = [p for pat in ("include/*.h", "src/*.c", "src/*.h") for p in port_dir.glob(pat)]
    for p in sorted(files, key=lambda q: q.relative_to(port_dir).as_posix().encode()):
        data = p.read_bytes()
        h.update(f"{p.relative_to(port_dir).as_posix()}\n{len(data)}\n".encode() + data)
    return "sha256:" + h.hexdigest()[:16]


def load_board(name_or_path: str) -> BoardDef:
    p = Path(name_or_path)
    if p.suffix != ".toml":
        p = BOARDS_DIR / f"{name_or_path}.toml"
    try:
        return BoardDef(load(p))
    except BoardFileError as e:
        raise InputError(str(e)) from None


def all_boards() -> list[BoardDef]:
    out = []
    for p in sorted(BOARDS_DIR.glob("*.toml")):
        try:
            out.append(BoardDef(load(p)))
        except BoardFileError as e:
            raise InputError(str(e)) from None
    return out


def default_boards() -> list[BoardDef]:
    """The nightly's boards: every emulated one (cpython engine, the MicroPython VM, and the
    micro:bit under QEMU -- the latter reported as skipped/too-large when it cannot run)."""
    return [b for b in all_boards() if b.emulated]


def attached_ports() -> list[dict[str, Any]]:
    """Serial ports present, each with the board files that match it."""
    boards = [b for b in all_boards() if not b.emulated]
    out = []
    for p in list_ports.comports():
        names = [b.name for b in boards
                 if any(m.matches(p.vid, p.pid, p.serial_number) for m in b.spec.match)]
        out.append({"device": p.device, "vid": p.vid, "pid": p.pid,
                    "serial": p.serial_number, "description": p.description, "boards": names})
    return out
