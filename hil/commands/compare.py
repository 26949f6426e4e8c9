"""Run the device limiter and the DSP model side by side on an alert stream.

For every alert: its fate with the DSP alone (every alert crosses the WAN), with the device
alone, and behind the device (what the DSP sees: forwarded alerts plus the device's summary
frames, which the DSP counts as alerts of code 0x8FFE). Every divergence between device and
DSP is classified (lost at the device, extra WAN traffic, suppressed-count mismatch) and given
a cause by replaying the device with each perturbation removed (docs/dsp-model.md).

The per-device work runs in this process (--engine local, the default; --jobs N forks N worker
processes) or on a Dask cluster (--engine dask: a LocalCluster of --jobs workers started for the
run, or the cluster at --scheduler); the result is the same whatever the engine, and the JSON
output says how the devices were partitioned.

With --dsp-results, also checks the DSP model and the device against a real DSP's filter
results (CSV or JSONL; schema in docs/dsp-model.md), reporting disagreements with line numbers.

Inputs: ALERTS is JSON Lines or CSV (device_id, t_ms, alert_code[, arrival_ms][, frame]) or a
file of GBCS frames in hex (.hex/.txt, one per line, optionally "t_ms HEX").

Exit status: 0 all good; 1 a critical (never-throttle) alert was lost, or input rows were bad
(reported with line numbers after the comparison finished); 2 unusable input or config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from firmware_model.board import RESET_KINDS
from hil.compare import (
    CLASSES,
    CompareResult,
    Engine,
    Latency,
    LocalEngine,
    Perturbations,
    RealCheck,
    Setup,
    compare_stream,
)
from hil.errors import ConfigError, InputError
from hil.model.policy import load_config
from hil.model.streams import BadRow, read_alerts, read_dsp_results

HELP = "compare the device limiter with the DSP (SECMP0062) model on an alert stream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", required=True, metavar="ALERTS",
                        help="alert stream: .jsonl/.csv, or .hex/.txt GBCS frames")
    parser.add_argument("--dsp-results", metavar="RESULTS",
                        help="real DSP filter results (.csv or .jsonl) to check both models "
                             "against")
    parser.add_argument("--config", metavar="CONFIG",
                        help="policy config (JSON/TOML) for both sides (default: policy.md "
                             "defaults)")
    parser.add_argument("--dsp-config", metavar="CONFIG",
                        help="a different policy config for the DSP side")
    parser.add_argument("--latency-ms", action="append", default=[], metavar="SPEC",
                        help="WAN latency: MS (fixed), LO-HI (uniform, seeded) or DEVICE=MS "
                             "(per device); repeatable")
    parser.add_argument("--skew-ppm", type=int, default=0,
                        help="device clock skew in ppm (positive: device clock fast)")
    parser.add_argument("--reset", action="append", default=[], metavar="DEVICE@T_MS[:KIND]",
                        help="reset a device at event time T_MS ('*@T_MS': every device); "
                             "KIND soft, hard (default), watchdog or brownout; repeatable")
    parser.add_argument("--reset-mode", choices=("lost", "snapshot"), default="lost",
                        help="after a reset the device's state is lost, or restored from its "
                             "last snapshot: a soft reset writes it first, other kinds lose "
                             "what changed since the last write (default: lost)")
    parser.add_argument("--snapshot-interval-ms", type=int, default=60_000,
                        help="least time between two snapshot writes, as the board's "
                             "persist_ms (default 60000)")
    parser.add_argument("--slots", type=int, default=16,
                        help="device limiter code slots (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed for latency and tick start")
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="where the per-device work runs: local (this process, or --jobs "
                             "forked processes) or dask (a Dask cluster: a LocalCluster of "
                             "--jobs workers started for the run, or --scheduler's)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="worker processes (devices are partitioned across them)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="join this Dask cluster instead of starting one (implies "
                             "--engine dask)")
    parser.add_argument("--partitions", type=int, metavar="N",
                        help="device partitions (a stable hash; default 8 per worker)")
    parser.add_argument("--json", metavar="OUT", help="write the full result as JSON ('-': stdout)")
    parser.add_argument("--fates", metavar="OUT",
                        help="write every alert's fate in each pipeline as JSON Lines")


def _resets(specs: list[str]) -> tuple[tuple[Any, ...], ...]:
    out: list[tuple[Any, ...]] = []
    for s in specs:
        dev, sep, rest = s.rpartition("@")
        t, _, kind = rest.partition(":")
        try:
            if not sep or not dev or (kind and kind not in RESET_KINDS):
                raise ValueError
            out.append((dev, int(t), kind) if kind else (dev, int(t)))
        except ValueError:
            raise ConfigError(f"--reset: {s!r} is not DEVICE@T_MS[:KIND] with KIND one of "
                              f"{', '.join(RESET_KINDS)}") from None
    return tuple(out)


def _engine(args: argparse.Namespace) -> Engine:
    if args.partitions is not None and args.partitions < 1:
        raise ConfigError(f"--partitions: {args.partitions} is not a positive number")
    if args.engine == "dask" or args.scheduler:
        # here, not at the top: dask is imported only by a run that uses it
        from hil.compare.engine_dask import DaskEngine

        return DaskEngine(jobs=args.jobs, scheduler=args.scheduler, partitions=args.partitions)
    return LocalEngine(jobs=args.jobs, partitions=args.partitions)


def run(args: argparse.Namespace) -> int:
    dev_cfg = load_config(args.config)
    dsp_cfg = load_config(args.dsp_config) if args.dsp_config else dev_cfg
    perturbations = Perturbations(
        latency=Latency.parse(args.latency_ms), skew_ppm=args.skew_ppm,
        resets=_resets(args.reset), reset_mode=args.reset_mode,
        snapshot_interval_ms=args.snapshot_interval_ms, slots=args.slots, seed=args.seed)
    setup = Setup(dsp_cfg=dsp_cfg, dev_cfg=dev_cfg, perturbations=perturbations)
    if not Path(args.alerts).is_file():
        raise InputError(f"{args.alerts}: no such file")

    bad: list[BadRow] = []
    real: RealCheck | None = None
    if args.dsp_results:
        real = RealCheck.load(read_dsp_results(args.dsp_results, bad))
    fates_out = open(args.fates, "w") if args.fates else None  # noqa: SIM115
    try:
        def on_fates(rows: list[dict[str, Any]]) -> None:
            if real is not None:
                real(rows)
            if fates_out is not None:
                for r in rows:
                    fates_out.write(json.dumps(r) + "\n")

        want = real is not None or fates_out is not None
        result = compare_stream(read_alerts(args.alerts, bad), setup, errors=bad,
                                path=str(args.alerts), on_fates=on_fates if want else None,
                                engine=_engine(args))
    finally:
        if fates_out is not None:
            fates_out.close()
    if real is not None:
        real.finish()
    bad.sort(key=lambda b: (b.path, b.line))
    if args.json == "-":
        write_json(sys.stdout, result, setup, real, bad)
    else:
        print(table(result, real, bad))
        if args.json:
            with open(args.json, "w") as f:
                write_json(f, result, setup, real, bad)
    status = 0
    if result.hard_failures:
        print(f"hil compare: FAILED: {result.hard_failures} critical (never-throttle) alert(s) "
              "lost", file=sys.stderr)
        status = 1
    if bad:
        print(f"hil compare: {len(bad)} bad input row(s); first: {bad[0]}", file=sys.stderr)
        status = 1
    return status


# -- presentation -------------------------------------------------------------------------------


def table(result: CompareResult, real: RealCheck | None = None,
          bad_rows: list[BadRow] | None = None) -> str:
    """The text report: metrics, divergences by class and cause, the real-DSP check, bad rows."""
    m = result.metrics()
    lines = ["metric                          value", "-" * 48]
    for k, v in m.items():
        lines.append(f"{k:<31} {v}")
    lines += ["", "divergence (device-only vs DSP-only)   count  causes", "-" * 72]
    for cls in CLASSES:
        causes = result.causes.get(cls, {})
        cs = ", ".join(f"{k}={v}" for k, v in sorted(causes.items(), key=lambda x: (-x[1], x[0])))
        lines.append(f"{cls:<38} {result.counters[cls]:>6}  {cs}")
    if real is not None:
        lines += ["", "real DSP results                count", "-" * 48]
        for k, v in real.counters.items():
            lines.append(f"{k:<31} {v}")
        for e in real.examples[:10]:
            lines.append(f"  results line {e['result_line']}: {e['device_id']} "
                         f"{e['alert_code']} t_ms={e['t_ms']}: {'; '.join(e['problems'])}")
    if bad_rows:
        lines += ["", f"bad input rows: {len(bad_rows)}"]
        lines += [f"  {b}" for b in bad_rows[:20]]
        if len(bad_rows) > 20:
            lines.append(f"  ... and {len(bad_rows) - 20} more (all in the JSON output)")
    return "\n".join(lines)


def write_json(out: IO[str], result: CompareResult, setup: Setup, real: RealCheck | None,
               bad_rows: list[BadRow]) -> None:
    """The full result as one JSON document (--json; schema in docs/dsp-model.md)."""
    p = setup.perturbations
    doc = result.to_dict() | {
        "dsp_config": setup.dsp_cfg.to_dict(), "device_config": setup.dev_cfg.to_dict(),
        # "scenario": the perturbations, under the output's established key
        "scenario": {"latency": {"base_ms": p.latency.base_ms, "jitter_ms": p.latency.jitter_ms,
                                 "per_device": dict(p.latency.per_device)},
                     "skew_ppm": p.skew_ppm, "resets": [list(r) for r in p.resets],
                     "reset_mode": p.reset_mode, "slots": p.slots, "seed": p.seed},
        "real_dsp": real.to_dict() if real is not None else None,
        "bad_rows": [b.to_dict() for b in bad_rows],
        "hard_failures": result.hard_failures,
    }
    json.dump(doc, out, indent=2)
    out.write("\n")
