"""Round-trip alerts per second between a pyserial client and the cpython engine over the
emulator's pty, next to what a real 115200-baud UART could carry for the frames measured.

    .venv/bin/python benchmarks/bench_emulator.py [--alerts N] [--board FILE]

Prints numbers only (name value unit per line)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_model import wire  # noqa: E402

UART_BAUD = 115200
BITS_PER_BYTE = 10  # 8N1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10000, help="alerts per timed pass (3 passes)")
    ap.add_argument("--board", default=str(ROOT / "boards" / "emulated-chub.toml"))
    args = ap.parse_args()
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--board", args.board],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    path = proc.stdout.readline().split()[1]
    port = serial.Serial(path, 115200, timeout=5)
    seq = 0
    buf = bytearray()

    def readline() -> bytes:
        # pyserial's readline() reads one byte per system call; take what is waiting instead
        while True:
            i = buf.find(b"\n")
            if i >= 0:
                line = bytes(buf[: i + 1])
                del buf[: i + 1]
                return line
            buf.extend(port.read(max(1, port.in_waiting)))

    frames = frame_bytes = line_bytes = rx_bytes = tx_bytes = 0

    def roundtrip(verb: str, arg: str | None) -> None:
        nonlocal seq, frames, frame_bytes, line_bytes, rx_bytes, tx_bytes
        seq += 1
        cmd = wire.encode(wire.HOST_MARK, seq, verb, arg)
        port.write(cmd)
        tx_bytes += len(cmd)
        while True:
            raw = readline()
            rx_bytes += len(raw)
            _, v, a, _ = wire.decode(raw, wire.DEVICE_MARK)
            if v == "FRAME":
                frames += 1
                frame_bytes += len(a[1]) // 2
                line_bytes += len(raw)
            elif v in ("ACK", "NAK") and a[0] == str(seq):
                return

    roundtrip("HELLO", None)
    # a realistic mix: a storm (mostly suppressed once red) interleaved with distinct codes
    codes = [f"8F{c:02X} esme" for c in range(0x00, 0x40)]
    # three timed passes: the host is shared, so report the best and the median pass
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(args.alerts):
            roundtrip("ALERT", "8F0C esme" if i % 2 else codes[i % len(codes)])
        rates.append(args.alerts / (time.perf_counter() - t0))
    rates.sort()
    dt = args.alerts / rates[1]
    n_alerts = 3 * args.alerts
    port.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    uart_bytes_s = UART_BAUD / BITS_PER_BYTE
    avg_frame = frame_bytes / frames
    avg_line = line_bytes / frames
    print(f"emulator_roundtrip_alerts_per_s_best {rates[2]:.0f}")
    print(f"emulator_roundtrip_alerts_per_s {rates[1]:.0f}")
    print(f"emulator_roundtrip_us {dt / args.alerts * 1e6:.1f}")
    print(f"frames_sent {frames}")
    print(f"frame_bytes_avg {avg_frame:.1f}")
    print(f"frame_line_bytes_avg {avg_line:.1f}")
    print(f"uart115200_frames_per_s_binary {uart_bytes_s / avg_frame:.0f}")
    print(f"uart115200_frames_per_s_wire_lines {uart_bytes_s / avg_line:.0f}")
    print(f"uart115200_roundtrip_alerts_per_s {uart_bytes_s / ((rx_bytes + tx_bytes) / n_alerts):.0f}")
    print(f"speedup_vs_uart115200_roundtrip {(args.alerts / dt) / (uart_bytes_s / ((rx_bytes + tx_bytes) / n_alerts)):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
