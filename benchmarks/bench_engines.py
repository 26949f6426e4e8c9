"""Round-trip alerts per second between a pyserial client and each emulator engine over its
pty: cpython (firmware_model in the emulator's process) and micropython (the same files in real
MicroPython 1.27 under node), the same alert stream for both, next to what a real 115200-baud
UART could carry for the bytes measured.

    .venv/bin/python benchmarks/bench_engines.py [--alerts N]

Prints numbers only (name value unit-suffixed names), one per line; the ratio is measured in
the same run."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_model import wire  # noqa: E402

UART_BAUD = 115200
BITS_PER_BYTE = 10  # 8N1
BOARDS = {"cpython": "emulated-chub.toml", "micropython": "mpvm-chub.toml"}


def run_engine(board: str, alerts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-flash-") as flash:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--board", str(ROOT / "boards" / board),
             "--flash", flash], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("PORT "):
            err = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"bench_engines: {board}: emulator did not start: {err.strip()}")
        port = serial.Serial(first.split()[1], 115200, timeout=10)
        buf = bytearray()
        seq = 0
        frames = frame_line_bytes = frame_bytes = rx = tx = 0

        def readline() -> bytes:
            while True:
                i = buf.find(b"\n")
                if i >= 0:
                    line = bytes(buf[: i + 1])
                    del buf[: i + 1]
                    return line
                chunk = port.read(max(1, port.in_waiting))
                if not chunk:
                    raise SystemExit(f"bench_engines: {board}: no answer within 10 s")
                buf.extend(chunk)

        def roundtrip(verb: str, arg: str | None) -> None:
            nonlocal seq, frames, frame_line_bytes, frame_bytes, rx, tx
            seq += 1
            cmd = wire.encode(wire.HOST_MARK, seq, verb, arg)
            port.write(cmd)
            tx += len(cmd)
            while True:
                raw = readline()
                rx += len(raw)
                _, v, a, _ = wire.decode(raw, wire.DEVICE_MARK)
                if v == "FRAME":
                    frames += 1
                    frame_line_bytes += len(raw)
                    frame_bytes += len(a[1]) // 2
                elif v in ("ACK", "NAK") and a[0] == str(seq):
                    return

        roundtrip("HELLO", None)
        rx = tx = frames = frame_line_bytes = frame_bytes = 0
        codes = [f"8F{c:02X} esme" for c in range(0x00, 0x40)]
        t0 = time.perf_counter()
        for i in range(alerts):
            roundtrip("ALERT", "8F0C esme" if i % 2 else codes[i % len(codes)])
        dt = time.perf_counter() - t0
        port.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    return {"alerts_per_s": alerts / dt, "us": dt / alerts * 1e6, "frames": frames,
            "line_bytes_avg": frame_line_bytes / max(frames, 1),
            "frame_bytes_avg": frame_bytes / max(frames, 1),
            "bytes_per_alert": (rx + tx) / alerts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=3000, help="alerts per engine (default 3000)")
    args = ap.parse_args()
    res = {name: run_engine(board, args.alerts) for name, board in BOARDS.items()}
    uart = UART_BAUD / BITS_PER_BYTE
    for name, r in res.items():
        print(f"{name}_roundtrip_alerts_per_s {r['alerts_per_s']:.0f}")
        print(f"{name}_roundtrip_us {r['us']:.1f}")
        print(f"{name}_frames_sent {r['frames']:.0f}")
    m = res["micropython"]
    print(f"frame_bytes_avg {m['frame_bytes_avg']:.1f}")
    print(f"frame_line_bytes_avg {m['line_bytes_avg']:.1f}")
    print(f"uart115200_frames_per_s_binary {uart / m['frame_bytes_avg']:.0f}")
    print(f"uart115200_frames_per_s_wire_lines {uart / m['line_bytes_avg']:.0f}")
    print(f"uart115200_roundtrip_alerts_per_s {uart / m['bytes_per_alert']:.0f}")
    print(f"micropython_vs_cpython_ratio {m['alerts_per_s'] / res['cpython']['alerts_per_s']:.3f}")
    print(f"micropython_vs_uart115200_ratio {m['alerts_per_s'] / (uart / m['bytes_per_alert']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
