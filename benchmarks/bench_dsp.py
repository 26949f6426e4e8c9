"""DSP model throughput: decode GBCS frames + SECMP0062 filter, on one core.

    .venv/bin/python -m benchmarks.bench_dsp [--frames N] [--devices M] [--json]

Prints frames/s for: the fast decoder alone (hil.frames.decode_fast), the storm-rate identity
decoder alone (hil.frames.alert_identity, docs/frames.md), each with its ratio to the 250,000
frames/s target, the DSP filter alone
(pre-decoded alerts, no store), decode + filter (the target: 250,000 frames/s, and the ratio to
the DSP's 10,000 events/s ceiling), and decode + filter recording into the SQLite incident store.
The stream is a storm mix: a few storming devices (so the red/throttling path is exercised)
among many healthy ones. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hil.frames import alert_identity, build_alert, decode_fast  # noqa: E402
from hil.model.dsp import DspFilter  # noqa: E402
from hil.model.incidents import SqliteIncidentStore  # noqa: E402
from hil.model.policy import PolicyConfig  # noqa: E402

TARGET = 250_000
DSP_CEILING = 10_000
CFG = PolicyConfig(device_window_ms=60_000, amber_threshold=10, red_threshold=20,
                   code_window_ms=60_000, code_limit=5, throttle_n=10)
CODES = (0x8F30, 0x8F31, 0x810E, 0x8F3F)


def make_stream(n: int, devices: int, seed: int = 1) -> tuple[list[bytes], list[int]]:
    rng = random.Random(seed)
    titles = [f"00DB{i:012X}" for i in range(devices)]
    storming = titles[: max(1, devices // 100)]
    cache: dict[tuple[str, int], bytes] = {}
    frames, times = [], []
    t = 0
    for _ in range(n):
        t += rng.choice((0, 1, 2, 5))
        dev = rng.choice(storming) if rng.random() < 0.6 else rng.choice(titles)
        code = rng.choice(CODES)
        key = (dev, code)
        if key not in cache:
            cache[key] = build_alert(code, 86_400, originator_title=dev)
        frames.append(cache[key])
        times.append(t)
    return frames, times


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=300_000)
    ap.add_argument("--devices", type=int, default=5_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    frames, times = make_stream(args.frames, args.devices)
    n = len(frames)

    t0 = time.perf_counter()
    decoded = [decode_fast(f) for f in frames]
    t_decode = time.perf_counter() - t0
    # Every generated frame carries an originator title; a frame without one is a generator bug.
    alerts: list[tuple[str, int]] = []
    for d in decoded:
        if d.originator_title is None or d.alert_code is None:
            raise SystemExit("generated frame decoded without originator title or alert code")
        alerts.append((d.originator_title, int(d.alert_code, 16)))
    del decoded

    t0 = time.perf_counter()
    identities = [alert_identity(f) for f in frames]
    t_identity = time.perf_counter() - t0
    del identities

    f = DspFilter(CFG)
    offer = f.offer
    t0 = time.perf_counter()
    for (dev, code), t in zip(alerts, times, strict=True):
        offer(dev, code, t)
    t_dsp = time.perf_counter() - t0
    stats = f.stats()

    f = DspFilter(CFG)
    offer = f.offer
    t0 = time.perf_counter()
    for data, t in zip(frames, times, strict=True):
        d = decode_fast(data)
        offer(d.originator_title, int(d.alert_code, 16), t)  # type: ignore[arg-type]
    t_both = time.perf_counter() - t0

    f = DspFilter(CFG)
    offer = f.offer
    t0 = time.perf_counter()
    for data, t in zip(frames, times, strict=True):
        title, alert_code = alert_identity(data)
        if title is None or alert_code is None:
            raise SystemExit("generated frame without originator title or alert code")
        offer(title, alert_code, t)
    t_identity_both = time.perf_counter() - t0

    store = SqliteIncidentStore(batch=5000)
    f = DspFilter(CFG, store)
    offer = f.offer
    t0 = time.perf_counter()
    for data, t in zip(frames, times, strict=True):
        d = decode_fast(data)
        offer(d.originator_title, int(d.alert_code, 16), t)  # type: ignore[arg-type]
    f.finish()
    t_store = time.perf_counter() - t0
    rows = store.query("SELECT (SELECT count(*) FROM security_log), "
                       "(SELECT count(*) FROM incidents), (SELECT count(*) FROM request_management)")[0]

    both = rate(n, t_both)
    out = {
        "frames": n, "devices": args.devices,
        "decode_frames_per_s": round(rate(n, t_decode)),
        "decode_ratio_to_250k_target": round(rate(n, t_decode) / TARGET, 3),
        "alert_identity_frames_per_s": round(rate(n, t_identity)),
        "alert_identity_ratio_to_250k_target": round(rate(n, t_identity) / TARGET, 3),
        "alert_identity_plus_dsp_frames_per_s": round(rate(n, t_identity_both)),
        "alert_identity_plus_dsp_ratio_to_250k_target": round(rate(n, t_identity_both) / TARGET, 3),
        "dsp_alerts_per_s": round(rate(n, t_dsp)),
        "decode_plus_dsp_frames_per_s": round(both),
        "ratio_to_250k_target": round(both / TARGET, 3),
        "ratio_to_10k_dsp_ceiling": round(both / DSP_CEILING, 1),
        "decode_plus_dsp_plus_sqlite_frames_per_s": round(rate(n, t_store)),
        "dsp_only_ratio_to_250k_target": round(rate(n, t_dsp) / TARGET, 3),
        "dsp_stats": stats,
        "store_rows": {"security_log": rows[0], "incidents": rows[1], "request_management": rows[2]},
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"frames: {n} from {args.devices} devices "
          f"({stats['suppressed']} discarded, {stats['episodes']} episodes, "
          f"{stats['incidents']} incidents)")
    print(f"decode only (decode_fast):        {out['decode_frames_per_s']:>10,} frames/s "
          f"= {out['decode_ratio_to_250k_target']}x the 250,000/s target")
    print(f"identity only (alert_identity):   {out['alert_identity_frames_per_s']:>10,} frames/s "
          f"= {out['alert_identity_ratio_to_250k_target']}x the 250,000/s target")
    print(f"DSP filter only:                  {out['dsp_alerts_per_s']:>10,} alerts/s "
          f"({out['dsp_only_ratio_to_250k_target']}x of 250k)")
    print(f"decode + DSP filter:              {out['decode_plus_dsp_frames_per_s']:>10,} frames/s "
          f"= {out['ratio_to_250k_target']}x the 250,000/s target, "
          f"{out['ratio_to_10k_dsp_ceiling']}x the 10,000 events/s ceiling")
    print(f"alert_identity + DSP filter:      {out['alert_identity_plus_dsp_frames_per_s']:>10,} "
          f"frames/s = {out['alert_identity_plus_dsp_ratio_to_250k_target']}x the 250,000/s target")
    print(f"decode + DSP + SQLite store:      {out['decode_plus_dsp_plus_sqlite_frames_per_s']:>10,}"
          f" frames/s (rows: {out['store_rows']})")


if __name__ == "__main__":
    main()
