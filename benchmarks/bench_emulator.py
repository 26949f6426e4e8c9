"""Round-trip alerts per second between a pyserial client and the cpython engine over the
emulator's pty, next to what a real 115200-baud UART could carry for the frames measured, and
next to the echo board measured in the same run (a pty that acknowledges every line and does
nothing else: the transport's floor on this machine at this moment).

    .venv/bin/python -m benchmarks.bench_emulator [--alerts N] [--board FILE]

Prints numbers only (name value per line)."""

from __future__ import annotations

import argparse
import sys

from benchmarks.roundtrip import ECHO, ROOT, EmulatedBoard


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10000, help="alerts per timed pass (3 passes)")
    ap.add_argument("--board", default=str(ROOT / "boards" / "emulated-chub.toml"))
    args = ap.parse_args()
    with EmulatedBoard(ECHO, timeout=5) as echo:
        echo.roundtrip("HELLO")
        echo_rate = sorted(echo.alert_pass(args.alerts) for _ in range(3))[1]
    with EmulatedBoard(args.board, timeout=5) as board:
        board.roundtrip("HELLO")
        board.reset_counts()
        # three timed passes: the host is shared, so report the best and the median pass
        rates = sorted(board.alert_pass(args.alerts) for _ in range(3))
        uart = board.uart_figures(3 * args.alerts)
        frames = board.frames
    print(f"emulator_roundtrip_alerts_per_s_best {rates[2]:.0f}")
    print(f"emulator_roundtrip_alerts_per_s {rates[1]:.0f}")
    print(f"emulator_roundtrip_us {1e6 / rates[1]:.1f}")
    print(f"echo_roundtrip_alerts_per_s {echo_rate:.0f}")
    print(f"emulator_vs_echo_ratio {rates[1] / echo_rate:.3f}")
    print(f"frames_sent {frames}")
    for name, value in uart.items():
        print(f"{name} {value:.1f}" if name.endswith("avg") else f"{name} {value:.0f}")
    print(f"speedup_vs_uart115200_roundtrip "
          f"{rates[1] / uart['uart115200_roundtrip_alerts_per_s']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
