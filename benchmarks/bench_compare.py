"""Comparison throughput and memory on a large generated stream (streamed, bounded memory).

    .venv/bin/python -m benchmarks.bench_compare [--alerts 10000000] [--devices 100000]
                                                 [--jobs 1] [--json]

The stream is generated lazily in event-time order: a rotating cohort of storming devices
(1% of the devices at a time, each storm lasting a few windows, several alert codes) over a
background of healthy devices sending now and then. Prints alerts/s of the full comparison
(three pipelines + cause attribution), the same stream's generation rate alone (baseline of the
same run), device sessions, and peak RSS (resource.getrusage) after a run 10x smaller and after
the full run, so that "bounded memory" is a measured ratio. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hil.compare import Latency, Perturbations, Setup, compare_stream  # noqa: E402
from hil.model.policy import PolicyConfig  # noqa: E402
from hil.model.streams import Alert  # noqa: E402

CFG = PolicyConfig(device_window_ms=60_000, amber_threshold=10, red_threshold=20,
                   code_window_ms=60_000, code_limit=5, throttle_n=10,
                   summary_interval_ms=30_000)
CODES = (0x8F30, 0x8F31, 0x810E, 0x8F3F)
STEP_MS = 2          # 500 alerts/s of event time in total
STORM_SHARE = 0.7    # share of the alerts that come from the storming cohort
ROTATE_MS = 240_000  # a storm lasts four device windows, then the cohort moves on


def generate(n: int, devices: int, seed: int = 1) -> Iterator[Alert]:
    rng = random.Random(seed)
    cohort = max(1, devices // 100)
    names = [f"M{i:07d}" for i in range(devices)]
    t = 0
    for i in range(n):
        t += rng.randint(0, 2 * STEP_MS)
        if rng.random() < STORM_SHARE:
            r = t // ROTATE_MS
            dev = names[(r * cohort + rng.randrange(cohort)) % devices]
        else:
            dev = names[rng.randrange(devices)]
        yield Alert(i, dev, t, CODES[rng.randrange(4)], None, i + 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=10_000_000)
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--latency-jitter-ms", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    base_n = min(args.alerts, 1_000_000)
    t0 = time.perf_counter()
    for _ in generate(base_n, args.devices):
        pass
    gen_rate = base_n / (time.perf_counter() - t0)
    rss0 = peak_rss_mb()

    setup = Setup(CFG, CFG, Perturbations(latency=Latency(50, args.latency_jitter_ms)))
    # A run 10x smaller first: peak RSS is a high-water mark, so the ratio of the full run's
    # peak to this one's shows (or refutes) bounded memory within one invocation.
    small_n = max(1, args.alerts // 10)
    compare_stream(generate(small_n, args.devices), setup, jobs=args.jobs)
    rss_small = peak_rss_mb()
    t0 = time.perf_counter()
    res = compare_stream(generate(args.alerts, args.devices), setup, jobs=args.jobs)
    dt = time.perf_counter() - t0
    rate = args.alerts / dt
    out = {
        "alerts": args.alerts, "devices": args.devices, "jobs": args.jobs,
        "seconds": round(dt, 1), "alerts_per_s": round(rate),
        "generation_alerts_per_s": round(gen_rate),
        "compare_cost_vs_generation": round(gen_rate / rate, 1),
        "device_sessions": res.counters["device_sessions"],
        "peak_rss_mb_before": round(rss0, 1),
        "peak_rss_mb_after_tenth_run": round(rss_small, 1), "tenth_run_alerts": small_n,
        "peak_rss_mb_after": round(peak_rss_mb(), 1),
        "peak_rss_ratio_full_vs_tenth": round(peak_rss_mb() / rss_small, 3),
        "metrics": res.metrics(),
        "divergences": {k: v for k, v in res.counters.items()
                        if k in ("lost_at_device", "extra_wan_traffic",
                                 "suppressed_count_mismatch", "critical_lost_at_device")},
        "causes": res.causes,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{args.alerts:,} alerts, {args.devices:,} devices, jobs={args.jobs}: "
          f"{dt:.1f} s = {rate:,.0f} alerts/s "
          f"(generation alone {gen_rate:,.0f}/s: compare costs {out['compare_cost_vs_generation']}x)")
    print(f"device sessions: {out['device_sessions']:,}; peak RSS {out['peak_rss_mb_before']} MB "
          f"before the comparisons, {out['peak_rss_mb_after_tenth_run']} MB after a {small_n:,}-"
          f"alert run, {out['peak_rss_mb_after']} MB after the full run: ratio "
          f"{out['peak_rss_ratio_full_vs_tenth']} for 10x the alerts")
    print(f"metrics: {json.dumps(out['metrics'])}")
    print(f"divergences: {json.dumps(out['divergences'])}; causes: {json.dumps(res.causes)}")


if __name__ == "__main__":
    main()
