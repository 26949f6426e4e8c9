"""Deploy firmware_model to a MicroPython board over its raw REPL (mpremote's transport as a
library), skipping files whose hash on the board already matches.

- Hashes on the board: mpremote's fs_hashfile runs hashlib.sha256 on the board when it has
  hashlib, and otherwise reads the file back and hashes it here; either way only changed files
  are written.
- After writing, `import` the firmware's modules in the raw REPL: a board that cannot take the
  code says so here as MemoryError (too large) or ImportError (a module it lacks), reported as
  the distinct status `too-large`, never as a pass and never as a rig error.
- The caller then opens the protocol port and checks HELLO: protocol version and the firmware
  hash (firmware_model.wire.firmware_hash over the deployed files)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firmware_model.wire import firmware_hash
from hil.board.errors import CannotTakeCode, DeployError
from hil.paths import FIRMWARE_DIR, ROOT


def local_firmware_hash(names: list[str] | None = None) -> str:
    """The hash HELLO must report for the host's firmware_model (all files, or `names`)."""
    return str(firmware_hash(str(FIRMWARE_DIR), names=names))


@dataclass
class DeployReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    firmware_hash: str = ""


def firmware_files(spec_firmware: dict[str, Any]) -> dict[str, bytes]:
    """Board path -> content: firmware_model/*.py (the board file's `files`, a directory) and
    the board's main.py (the board file's `main`)."""
    src = ROOT / str(spec_firmware.get("files", "firmware_model"))
    if not src.is_dir():
        raise DeployError(f"firmware directory {src} not found")
    out = {f"{src.name}/{p.name}": p.read_bytes() for p in sorted(src.glob("*.py"))}
    main = spec_firmware.get("main")
    if main:
        mp = ROOT / str(main)
        if not mp.is_file():
            raise DeployError(f"main file {mp} not found")
        out["main.py"] = mp.read_bytes()
    return out


def classify(error_output: str) -> DeployError:
    """A raw-REPL exception text -> the typed deploy error."""
    last = (error_output.strip().splitlines() or [""])[-1]
    if "MemoryError" in error_output:
        return CannotTakeCode(f"the board ran out of memory loading the firmware: {last}",
                              "too large")
    if "ImportError" in error_output or "ModuleNotFoundError" in error_output:
        return CannotTakeCode(f"the board lacks a module the firmware needs: {last}",
                              "missing module")
    return DeployError(f"the firmware raised on the board: {last}")


def deploy(transport: Any, files: dict[str, bytes], *, check_imports: tuple[str, ...] = (
        "firmware_model.wire", "firmware_model.limiter", "firmware_model.board"),
        log: Callable[[str], None] = lambda s: None) -> DeployReport:
    """Write `files` through an mpremote-style transport (enter_raw_repl, exec, fs_*)."""
    # mpremote costs ~60 ms to import, and only a real board's deploy needs it
    from mpremote.transport import (  # type: ignore[import-untyped]
        TransportError,
        TransportExecError,
    )

    rep = DeployReport()
    try:
        transport.enter_raw_repl(soft_reset=True)
        dirs = sorted({n.rsplit("/", 1)[0] for n in files if "/" in n})
        for d in dirs:
            if not transport.fs_exists(d):
                transport.fs_mkdir(d)
        for name, data in files.items():
            want = hashlib.sha256(data).digest()
            have = transport.fs_hashfile(name, "sha256") if transport.fs_exists(name) else None
            if have == want:
                rep.unchanged.append(name)
                continue
            log(f"write {name} ({len(data)} bytes)")
            transport.fs_writefile(name, data)
            rep.written.append(name)
        for mod in check_imports:
            try:
                transport.exec(f"import {mod}")
            except TransportExecError as e:
                raise classify(str(e.error_output)) from None
        transport.exit_raw_repl()
    except TransportExecError as e:
        raise classify(str(e.error_output)) from None
    except (TransportError, OSError) as e:
        raise DeployError(f"raw REPL transfer failed: {e}") from None
    rep.firmware_hash = local_firmware_hash(
        [n.split("/", 1)[1] for n in files if n.startswith("firmware_model/")])
    return rep


def deploy_serial(port: str, files: dict[str, bytes], baud: int = 115200,
                  log: Callable[[str], None] = lambda s: None) -> DeployReport:
    """Open `port` with mpremote's SerialTransport (exclusive), deploy, close."""
    # mpremote imported here for the same reason as in deploy()
    try:
        from mpremote.transport_serial import (  # type: ignore[import-untyped]
            SerialTransport,
        )

        t = SerialTransport(port, baudrate=baud)
    except Exception as e:  # noqa: BLE001 (mpremote raises TransportError or serial's errors)
        raise DeployError(f"cannot open {port} for deploy: {e}") from None
    try:
        t.serial.reset_input_buffer()
        return deploy(t, files, log=log)
    finally:
        try:
            t.close()
        except Exception:  # noqa: BLE001
            pass
