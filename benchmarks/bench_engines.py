"""Round-trip alerts per second between a pyserial client and each emulator engine over its
pty: cpython (firmware_model in the emulator's process) and micropython (the same files in real
MicroPython 1.27 under node), the same alert stream for both, next to what a real 115200-baud
UART could carry for the bytes measured.

    .venv/bin/python -m benchmarks.bench_engines [--alerts N]

Prints numbers only (name value unit-suffixed names), one per line; the ratio is measured in
the same run."""

from __future__ import annotations

import argparse
import sys

from benchmarks.roundtrip import ROOT, EmulatedBoard

BOARDS = {"cpython": "emulated-chub.toml", "micropython": "mpvm-chub.toml"}


def run_engine(board: str, alerts: int) -> dict[str, float]:
    with EmulatedBoard(ROOT / "boards" / board) as b:
        b.roundtrip("HELLO")
        b.reset_counts()
        rate = b.alert_pass(alerts)
        return {"alerts_per_s": rate, "us": 1e6 / rate, "frames": b.frames,
                **b.uart_figures(alerts)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=3000, help="alerts per engine (default 3000)")
    args = ap.parse_args()
    res = {name: run_engine(board, args.alerts) for name, board in BOARDS.items()}
    for name, r in res.items():
        print(f"{name}_roundtrip_alerts_per_s {r['alerts_per_s']:.0f}")
        print(f"{name}_roundtrip_us {r['us']:.1f}")
        print(f"{name}_frames_sent {r['frames']:.0f}")
    m = res["micropython"]
    for name in ("frame_bytes_avg", "frame_line_bytes_avg"):
        print(f"{name} {m[name]:.1f}")
    for name in ("uart115200_frames_per_s_binary", "uart115200_frames_per_s_wire_lines",
                 "uart115200_roundtrip_alerts_per_s"):
        print(f"{name} {m[name]:.0f}")
    print(f"micropython_vs_cpython_ratio {m['alerts_per_s'] / res['cpython']['alerts_per_s']:.3f}")
    print(f"micropython_vs_uart115200_ratio "
          f"{m['alerts_per_s'] / m['uart115200_roundtrip_alerts_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
