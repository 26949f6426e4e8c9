"""Round-trip alerts per second between a pyserial client and each emulator engine over its
pty: cpython (firmware_model in the emulator's process) and micropython (the same files in real
MicroPython 1.27 under node), the same alert stream for both, next to what a real 115200-baud
UART could carry for the bytes measured.

    .venv/bin/python -m benchmarks.bench_engines [--alerts N]

Baselines measured in the same run, so the ratios hold on a busy machine:
- `echo`: a pty board that acknowledges each line and does nothing else (the transport floor);
- the compute floor of each engine, without a pty: the cpython engine's Board fed in-process,
  and the MicroPython VM's Board fed one line per call from JavaScript as the engine does
  (benchmarks/vm_alerts.mjs), with the build's own setjmp trampolines and with the engine's.
What limits the micropython engine is the last: `micropython_vm_share_of_roundtrip` near 1
means the round trip is the interpreter's time, not the pty's.

Prints numbers only (name value), one per line."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

from benchmarks.roundtrip import ECHO, ROOT, EmulatedBoard
from emulator.boardfile import load
from emulator.clock import VirtualClock
from emulator.engine_cpython import CPythonEngine
from emulator.flash import FlashFs
from emulator.mpvm import MJS
from firmware_model import wire

BOARDS = {"cpython": "emulated-chub.toml", "micropython": "mpvm-chub.toml"}
_MIX = [f"8F{c:02X} esme" for c in range(0x00, 0x40)]


def alert_lines(n: int) -> list[bytes]:
    """The round-trip benchmark's stream (benchmarks/roundtrip.py alert_pass), as wire lines."""
    return [wire.encode(wire.HOST_MARK, i + 1, "ALERT", "8F0C esme" if i % 2 else _MIX[i % 64])
            for i in range(n)]


def run_board(board: str, alerts: int) -> dict[str, float]:
    with EmulatedBoard(board if board == ECHO else ROOT / "boards" / board) as b:
        b.roundtrip("HELLO")
        b.reset_counts()
        rate = b.alert_pass(alerts)
        out = {"alerts_per_s": rate, "us": 1e6 / rate, "frames": b.frames}
        if b.frames:  # the echo board sends none
            out.update(b.uart_figures(alerts))
        return out


def cpython_inprocess_us(alerts: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        e = CPythonEngine(load(ROOT / "boards" / BOARDS["cpython"]), lambda b: None,
                          FlashFs(d), VirtualClock(0))
        e.start()
        lines = alert_lines(alerts)
        t0 = time.perf_counter()
        for ln in lines:
            e.feed(ln)
        return (time.perf_counter() - t0) * 1e6 / alerts


def micropython_vm_us(alerts: int, glue: bool) -> float:
    files = {f"/lib/firmware_model/{p.name}": p.read_text()
             for p in sorted((ROOT / "firmware_model").glob("*.py"))}
    job = {"mjs": str(MJS.resolve()), "files": files, "glue": glue,
           "lines": [ln.decode() for ln in alert_lines(alerts)]}
    r = subprocess.run(["node", str(ROOT / "benchmarks" / "vm_alerts.mjs")],
                       input=json.dumps(job), capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit(f"vm_alerts.mjs failed: {r.stderr.strip()[-500:]}")
    return float(json.loads(r.stdout)["us_per_alert"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=3000, help="alerts per engine (default 3000)")
    args = ap.parse_args()
    res = {name: run_board(board, args.alerts) for name, board in
           (("echo", ECHO), *BOARDS.items())}
    cpy_us = cpython_inprocess_us(args.alerts)
    vm_glue = micropython_vm_us(min(args.alerts, 1000), glue=True)
    vm_fast = micropython_vm_us(args.alerts, glue=False)
    for name, r in res.items():
        print(f"{name}_roundtrip_alerts_per_s {r['alerts_per_s']:.0f}")
        print(f"{name}_roundtrip_us {r['us']:.1f}")
    for name in BOARDS:
        print(f"{name}_frames_sent {res[name]['frames']:.0f}")
    m, c = res["micropython"], res["cpython"]
    for name in ("frame_bytes_avg", "frame_line_bytes_avg"):
        print(f"{name} {m[name]:.1f}")
    for name in ("uart115200_frames_per_s_binary", "uart115200_frames_per_s_wire_lines",
                 "uart115200_roundtrip_alerts_per_s"):
        print(f"{name} {m[name]:.0f}")
    print(f"cpython_inprocess_us_per_alert {cpy_us:.1f}")
    print(f"micropython_vm_us_per_alert_glue_trampolines {vm_glue:.1f}")
    print(f"micropython_vm_us_per_alert {vm_fast:.1f}")
    print(f"cpython_vs_echo_ratio {c['alerts_per_s'] / res['echo']['alerts_per_s']:.3f}")
    print(f"micropython_vs_cpython_ratio {m['alerts_per_s'] / c['alerts_per_s']:.3f}")
    print(f"micropython_vm_trampoline_speedup {vm_glue / vm_fast:.2f}")
    print(f"micropython_vm_share_of_roundtrip {vm_fast / m['us']:.2f}")
    print(f"micropython_vs_uart115200_ratio "
          f"{m['alerts_per_s'] / m['uart115200_roundtrip_alerts_per_s']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
