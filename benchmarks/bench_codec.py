"""Decode throughput of the three GBCS codecs on one core, in frames/s.

    .venv/bin/python -m benchmarks.bench_codec [--seconds S]

Frames: the 8 RTDS samples plus a firmware-built summary and alerts (a mix of signed/ciphered,
DLMS/GBZ/ASN.1); then a storm of 1,000 device-built alerts of one shape, the case the DSP sees,
for decode_fast and hil.frames.alert_identity (the shape-memo path, originator + code only). Each codec decodes the same list round-robin for about S seconds (best of 3
runs). Ratios are against the construct reference measured in the same run, and against the
250,000 frames/s the DSP-rate comparison needs (decode + filter on one core). Prints numbers;
asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

from firmware_model import gbcs
from hil.frames import alert_identity, decode, decode_fast

TARGET = 250_000
DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rtds-sample"


def frames() -> list[bytes]:
    out = [bytes.fromhex(p.read_text().strip()) for p in sorted(DATA.glob("*.HEX"))]
    buf = bytearray(200)
    orig, recip = bytes.fromhex("00DB1234567890A0"), bytes.fromhex("90B3D51F30010000")
    n = gbcs.build_summary(buf, 1, orig, recip, 10**8, 0x8F75, 5, 9, 10**8, 10**8 + 60, 1)
    out.append(bytes(buf[:n]))
    for ciphered, enc in ((True, gbcs.ENC_DLMS), (False, gbcs.ENC_GBZ)):
        n = gbcs.build_alert(buf, ciphered, 2, orig, recip, 0x1001, 0x8F75, enc, 10**8)
        out.append(bytes(buf[:n]))
    return out


def storm() -> list[bytes]:
    """1,000 device-built DLMS alerts of one shape: counters, times, codes and MACs vary."""
    buf = bytearray(200)
    orig, recip = bytes.fromhex("00DB1234567890A0"), bytes.fromhex("90B3D51F30010000")
    out = []
    for k in range(1000):
        n = gbcs.build_alert(buf, True, 5000 + k, orig, recip, 0x1001, 0x8F75 + (k % 3),
                             gbcs.ENC_DLMS, 10**8 + k, ic=k, mac=bytes((k % 256,)) * 12)
        out.append(bytes(buf[:n]))
    return out


def rate(fn: Callable[[bytes], object], data: list[bytes], seconds: float) -> float:
    best = 0.0
    for _ in range(3):
        count = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for raw in data:
                fn(raw)
            count += len(data)
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per codec")
    args = parser.parse_args()
    data = frames()
    out = [0] * gbcs.N_FIELDS
    codecs = {
        "construct (hil.frames.decode)": decode,
        "fast path (hil.frames.decode_fast)": decode_fast,
        "firmware (firmware_model.gbcs.parse, CPython)": lambda b: gbcs.parse(b, -1, out),
    }
    print(f"python {platform.python_version()} on {platform.machine()}, {len(data)} frames "
          f"mixed, one core, best of 3")
    results = {name: rate(fn, data, args.seconds) for name, fn in codecs.items()}
    results["alert_identity (same mixed frames)"] = rate(alert_identity, data, args.seconds)
    burst = storm()
    results["decode_fast (storm of one shape)"] = rate(decode_fast, burst, args.seconds)
    results["alert_identity (storm of one shape)"] = rate(alert_identity, burst, args.seconds)
    base = results["construct (hil.frames.decode)"]
    print(f"{'codec':48} {'frames/s':>12} {'x construct':>12} {'x target':>10}")
    for name, r in results.items():
        print(f"{name:48} {r:12,.0f} {r / base:12.1f} {r / TARGET:10.3f}")
    print(f"target: {TARGET:,} frames/s (decode + DSP filter); x target < 1 means short of it")


if __name__ == "__main__":
    main()
