"""The pyserial side of the round-trip benchmarks (bench_emulator, bench_engines): spawn an
emulated board, send protocol commands over its pty, wait for each ACK, count the bytes both
ways, and turn them into what a real 115200-baud UART could carry.

`python -m benchmarks.roundtrip --echo` is the baseline board: a pty that acknowledges every
line at once and does nothing else (the transport's floor, measured in the same run)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import serial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator.uart import PtyUart  # noqa: E402
from firmware_model import wire  # noqa: E402

UART_BAUD = 115200
BITS_PER_BYTE = 10  # 8N1
UART_BYTES_PER_S = UART_BAUD / BITS_PER_BYTE
# a realistic mix: a storm of one code (mostly suppressed once red) interleaved with distinct codes
_MIX = [f"8F{c:02X} esme" for c in range(0x00, 0x40)]


ECHO = "echo"  # board_file for the baseline board


class EmulatedBoard:
    """`python -m emulator --board FILE` on a fresh flash (or the echo baseline), its pty open
    with pyserial."""

    def __init__(self, board_file: str | Path, timeout: float = 10.0) -> None:
        self._flash = tempfile.TemporaryDirectory(prefix="bench-flash-")
        cmd = ([sys.executable, "-m", "benchmarks.roundtrip", "--echo"] if board_file == ECHO
               else [sys.executable, "-m", "emulator", "--board", str(board_file),
                     "--flash", self._flash.name])
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first.startswith("PORT "):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.close()
            raise SystemExit(f"{board_file}: emulator did not start: {err.strip()}")
        self.port = serial.Serial(first.split()[1], UART_BAUD, timeout=timeout)
        self.timeout = timeout
        self._buf = bytearray()
        self.seq = 0
        self.reset_counts()

    def reset_counts(self) -> None:
        self.frames = self.frame_bytes = self.frame_line_bytes = self.rx = self.tx = 0

    def _readline(self) -> bytes:
        # pyserial's readline() reads one byte per system call; take what is waiting instead
        buf = self._buf
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line = bytes(buf[: i + 1])
                del buf[: i + 1]
                return line
            chunk = self.port.read(max(1, self.port.in_waiting))
            if not chunk:
                raise SystemExit(f"no answer within {self.timeout} s")
            buf.extend(chunk)

    def roundtrip(self, verb: str, arg: str | None = None) -> None:
        self.seq += 1
        cmd = wire.encode(wire.HOST_MARK, self.seq, verb, arg)
        self.port.write(cmd)
        self.tx += len(cmd)
        while True:
            raw = self._readline()
            self.rx += len(raw)
            _, v, a, _ = wire.decode(raw, wire.DEVICE_MARK)
            if v == "FRAME":
                self.frames += 1
                self.frame_line_bytes += len(raw)
                self.frame_bytes += len(a[1]) // 2
            elif v in ("ACK", "NAK") and a[0] == str(self.seq):
                return

    def alert_pass(self, alerts: int) -> float:
        """Send `alerts` ALERT round trips of the standard mix; alerts per second."""
        t0 = time.perf_counter()
        for i in range(alerts):
            self.roundtrip("ALERT", "8F0C esme" if i % 2 else _MIX[i % len(_MIX)])
        return alerts / (time.perf_counter() - t0)

    def uart_figures(self, alerts: int) -> dict[str, float]:
        """What a 115200-baud UART carries for the bytes counted since reset_counts()."""
        frames = max(self.frames, 1)
        return {
            "frame_bytes_avg": self.frame_bytes / frames,
            "frame_line_bytes_avg": self.frame_line_bytes / frames,
            "uart115200_frames_per_s_binary": UART_BYTES_PER_S / (self.frame_bytes / frames),
            "uart115200_frames_per_s_wire_lines":
                UART_BYTES_PER_S / (self.frame_line_bytes / frames),
            "uart115200_roundtrip_alerts_per_s": UART_BYTES_PER_S / ((self.rx + self.tx) / alerts),
        }

    def close(self) -> None:
        if getattr(self, "port", None) is not None:
            self.port.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self._flash.cleanup()

    def __enter__(self) -> EmulatedBoard:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def serve_echo() -> None:
    """The baseline board: ACK every line on a raw pty, as fast as Python can, until SIGTERM."""
    uart = PtyUart()
    print(f"PORT {uart.path}", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    reader = wire.LineReader()
    seq = [0]

    def line(raw: bytes | None) -> None:
        if raw is None:
            return
        hseq = wire.decode(raw, wire.HOST_MARK)[0]
        seq[0] += 1
        uart.write(wire.encode(wire.DEVICE_MARK, seq[0], "ACK", str(hseq)))

    while True:
        data = uart.read(1.0)
        if data:
            reader.feed(data, line)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--echo", action="store_true", help="serve the baseline echo board")
    if ap.parse_args().echo:
        serve_echo()
