"""`python -m emulator --board boards/qemu-microbit.toml` boots the QEMU micro:bit, prints its
pty like any emulated board, answers at MicroPython's REPL over pyserial, and stops QEMU on
SIGTERM."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from emulator import qemu_microbit

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or not Path(qemu_microbit.FIRMWARE_HEX).exists(),
    reason="qemu-system-arm or firmware-microbit-micropython not installed (scripts/setup.sh)")


def test_qemu_board_serves_its_pty_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--board", str(ROOT / "boards/qemu-microbit.toml")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT /dev/"), line + proc.stderr.read() if proc.stderr else ""
        with serial.Serial(line.split()[1], 115200, timeout=0.2) as port:
            port.write(b"\r\x03\x03")
            time.sleep(0.3)
            port.reset_input_buffer()
            port.write(b"print(6*7)\r")
            got = b""
            deadline = time.monotonic() + 10
            while b"42\r\n>>>" not in got and time.monotonic() < deadline:
                got += port.read(64)
            assert b"42\r\n>>>" in got, got
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert children, "QEMU should run as the emulator's child"
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=15)
    assert rc == 0
    # the QEMU child went with it
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{c}").exists() for c in children)
