"""A minimal pyserial client for `python -m emulator`, shared by the emulator tests: spawn the
emulator, open its pty as the harness does, send protocol commands and read device lines.
Deliberately independent of hil.board.client (the harness's client is what the HIL tests
exercise; these tests check the emulator with nothing of the harness in between)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import serial

from firmware_model import wire

ROOT = Path(__file__).resolve().parent.parent

Line = tuple[int, str, list[str]]  # (device seq, verb, args)


class Emu:
    def __init__(self, board: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--board", str(ROOT / "boards" / board), *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), (line, self.proc.stderr.read() if self.proc.stderr else "")
        self.path = line.split()[1]
        self.port = serial.Serial(self.path, 115200, timeout=5)
        self.hseq = 0
        self.buf = b""

    def raw_until(self, ending: bytes, timeout: float = 10.0) -> bytes:
        """Bytes up to and including `ending` (the REPL's prompts are not protocol lines)."""
        deadline = time.monotonic() + timeout
        while ending not in self.buf:
            assert time.monotonic() < deadline, f"timeout waiting for {ending!r}: {self.buf!r}"
            self.buf += self.port.read(self.port.in_waiting or 1)
        i = self.buf.index(ending) + len(ending)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def readline(self) -> Line:
        return wire.decode(self.raw_until(b"\n"), wire.DEVICE_MARK)[:3]

    def cmd(self, verb: str, *args: str) -> list[Line]:
        self.hseq += 1
        self.port.write(wire.encode(wire.HOST_MARK, self.hseq, verb, " ".join(args) or None))
        return self.until_reply()

    def until_reply(self) -> list[Line]:
        """Device lines up to the ACK/NAK of the last command."""
        out = []
        while True:
            ln = self.readline()
            out.append(ln)
            if ln[1] in ("ACK", "NAK") and ln[2][0] == str(self.hseq):
                return out

    def stop(self) -> int:
        self.port.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9
