"""Comparison throughput, scale-out and memory on large generated streams (streamed, bounded
memory).

    .venv/bin/python -m benchmarks.bench_compare [--alerts 10000000] [--devices 100000]
        [--engine dask] [--jobs 1,2] [--storm 1000000] [--json]

The fleet stream is generated lazily in event-time order: a rotating cohort of storming
devices (1% of the devices at a time, each storm lasting a few windows, several alert codes)
over a background of healthy devices sending now and then. It is compared once per entry of
--jobs (the same engine with that many workers: by default a Dask LocalCluster, as
`hil compare --engine dask --jobs N`); printed beside the same stream's generation rate alone
(the reader's share of the work: this process generates, cuts and routes the stream while the
workers compare), with the speed-up of the last entry over the first, the partitions' load
(max/mean of the seconds their workers spent on them) and each run's peak RSS.

Then one device storming alone (--storm alerts, and a tenth of that, each in a fresh process):
its peak RSS must not grow with the storm's length. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hil.compare import (  # noqa: E402
    CompareResult,
    Engine,
    Latency,
    LocalEngine,
    Perturbations,
    Setup,
    compare_stream,
)
from hil.compare.partition import peak_rss_mb  # noqa: E402
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
    """The fleet stream. Its draws are random.Random's randint/randrange/random, taken the way
    those do (rejection sampling on getrandbits, as hil/compare/settings.py's seeded_draws)
    without their call layers: the same stream at twice the speed, since the reader's share
    is part of what is measured."""
    rng = random.Random(seed)
    bits, uniform = rng.getrandbits, rng.random
    cohort = max(1, devices // 100)
    names = [f"M{i:07d}" for i in range(devices)]
    n_step = 2 * STEP_MS + 1
    k_step, k_cohort, k_devices = n_step.bit_length(), cohort.bit_length(), devices.bit_length()
    n_codes = len(CODES)
    k_codes = n_codes.bit_length()
    new = tuple.__new__
    t = 0
    for i in range(n):
        r = bits(k_step)
        while r >= n_step:
            r = bits(k_step)
        t += r
        if uniform() < STORM_SHARE:
            r = bits(k_cohort)
            while r >= cohort:
                r = bits(k_cohort)
            dev = names[(t // ROTATE_MS * cohort + r) % devices]
        else:
            r = bits(k_devices)
            while r >= devices:
                r = bits(k_devices)
            dev = names[r]
        r = bits(k_codes)
        while r >= n_codes:
            r = bits(k_codes)
        yield new(Alert, (i, dev, t, CODES[r], None, i + 1))


def generate_plain(n: int, devices: int, seed: int = 1) -> Iterator[Alert]:
    """`generate` written with randint/randrange (the reference it must equal)."""
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


def storm(n: int, seed: int = 2) -> Iterator[Alert]:
    """One device storming without a break: 20 alerts/s over 6 codes (more than it takes to
    go red and throttle every one of them), for n alerts."""
    rng = random.Random(seed)
    t = 0
    for i in range(n):
        t += rng.randint(0, 100)
        yield Alert(i, "M0000001", t, (*CODES, 0x8F32, 0x8F33)[rng.randrange(6)], None, i + 1)


def setup(jitter_ms: int) -> Setup:
    return Setup(CFG, CFG, Perturbations(latency=Latency(50, jitter_ms)))


def engine(name: str, jobs: int) -> Engine:
    if name == "dask":
        # here, not at the top: the local engine's figures need no dask
        from hil.compare.engine_dask import DaskEngine

        return DaskEngine(jobs=jobs)
    return LocalEngine(jobs=jobs)


def fleet_run(args: argparse.Namespace, jobs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    res = compare_stream(generate(args.alerts, args.devices), setup(args.latency_jitter_ms),
                         engine=engine(args.engine, jobs))
    dt = time.perf_counter() - t0
    parts = res.to_dict()["partitions"]
    return {"jobs": jobs, "seconds": round(dt, 1), "alerts_per_s": round(args.alerts / dt),
            "partitions": parts["count"],
            "partition_load_max_over_mean": parts["load_max_over_mean"],
            "partition_wall_max_over_mean": parts["seconds_max_over_mean"],
            "partition_alerts_max_over_mean": parts["alerts_max_over_mean"],
            "worker_seconds": parts["worker_seconds"],
            "peak_rss_mb": {"reader": round(peak_rss_mb(), 1),
                            **parts["worker_peak_rss_mb"]},
            "result": res}


def storm_run(n: int, jitter_ms: int) -> dict[str, Any]:
    """One device's storm in this process (run through --storm-child, a fresh process)."""
    t0 = time.perf_counter()
    res = compare_stream(storm(n), setup(jitter_ms))
    dt = time.perf_counter() - t0
    return {"alerts": n, "seconds": round(dt, 1), "alerts_per_s": round(n / dt),
            "device_sessions": res.counters["device_sessions"],
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def storm_in_child(n: int, jitter_ms: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_compare", "--storm-child",
                          str(n), "--latency-jitter-ms", str(jitter_ms)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def summary(res: CompareResult) -> dict[str, Any]:
    return {"metrics": res.metrics(), "counters": res.counters,
            "divergences": {k: v for k, v in res.counters.items()
                            if k in ("lost_at_device", "extra_wan_traffic",
                                     "suppressed_count_mismatch", "critical_lost_at_device")},
            "causes": res.to_dict()["causes"], "device_sessions": res.counters["device_sessions"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=10_000_000)
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--engine", choices=("local", "dask"), default="dask")
    ap.add_argument("--jobs", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument("--storm", type=int, default=1_000_000,
                    help="alerts of the single storming device (0: skip)")
    ap.add_argument("--latency-jitter-ms", type=int, default=2000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--storm-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.storm_child:
        print(json.dumps(storm_run(args.storm_child, args.latency_jitter_ms)))
        return

    base_n = min(args.alerts, 1_000_000)
    t0 = time.perf_counter()
    for _ in generate(base_n, args.devices):
        pass
    gen_rate = base_n / (time.perf_counter() - t0)

    runs = [fleet_run(args, int(j)) for j in args.jobs.split(",")]
    first, last = runs[0], runs[-1]
    same = all(summary(r["result"]) == summary(first["result"]) for r in runs)
    storms = [storm_in_child(max(1, args.storm // 10), args.latency_jitter_ms),
              storm_in_child(args.storm, args.latency_jitter_ms)] if args.storm else []
    out = {
        "alerts": args.alerts, "devices": args.devices, "engine": args.engine,
        "generation_alerts_per_s": round(gen_rate),
        "runs": [{k: v for k, v in r.items() if k != "result"} for r in runs],
        "speed_up_last_over_first": round(first["seconds"] / last["seconds"], 2),
        "same_result_every_run": same,
        "single_device_storm": storms,
        "storm_peak_rss_ratio": round(storms[1]["peak_rss_mb"] / storms[0]["peak_rss_mb"], 3)
        if storms else None,
        **summary(last["result"]),
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(render(out))


def render(out: dict[str, Any]) -> str:
    """The text form of a run's JSON (`--json`)."""
    lines = [f"{out['alerts']:,} alerts, {out['devices']:,} devices, engine {out['engine']}; "
             f"generation alone {out['generation_alerts_per_s']:,} alerts/s"]
    for r in out["runs"]:
        lines.append(f"  {r['jobs']} worker(s): {r['seconds']:.1f} s = {r['alerts_per_s']:,} "
                     f"alerts/s; {r['partitions']} partition{'s' if r['partitions'] != 1 else ''}, "
                     f"load max/mean "
                     f"{r['partition_load_max_over_mean']} (alerts max/mean "
                     f"{r['partition_alerts_max_over_mean']}); peak RSS MB {r['peak_rss_mb']}")
    first, last = out["runs"][0], out["runs"][-1]
    lines.append(f"speed-up {last['jobs']} vs {first['jobs']} worker(s): "
                 f"{out['speed_up_last_over_first']}x; same result every run: "
                 f"{out['same_result_every_run']}")
    for s in out["single_device_storm"]:
        lines.append(f"one device storming: {s['alerts']:,} alerts in {s['seconds']} s "
                     f"({s['alerts_per_s']:,}/s, {s['device_sessions']} session), "
                     f"peak RSS {s['peak_rss_mb']} MB")
    if out["single_device_storm"]:
        lines.append(f"peak RSS ratio for 10x the storm: {out['storm_peak_rss_ratio']}")
    lines.append(f"metrics: {json.dumps(out['metrics'])}")
    lines.append(f"divergences: {json.dumps(out['divergences'])}; "
                 f"causes: {json.dumps(out['causes'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
