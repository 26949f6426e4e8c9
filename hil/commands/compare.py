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
results (CSV, JSONL or Parquet; schema in docs/dsp-model.md), out of core, reporting
disagreements with line numbers. --html writes an analyst's report of the comparison.

Inputs: ALERTS is JSON Lines, CSV or Parquet (device_id, t_ms, alert_code[, arrival_ms]
[, frame]) or a file of GBCS frames in hex (.hex/.txt, one per line, optionally "t_ms HEX").
A file no row can be read from (not UTF-8, a BOM, a header without a needed column) and an
output that cannot be written are refused before the comparison starts.

Exit status: 0 all good; 1 a critical (never-throttle) alert was lost, or input rows were bad
(reported with line numbers after the comparison finished); 2 unusable input, config or
options.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
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
from hil.compare.fates_file import FatesWriter
from hil.errors import ConfigError, InputError
from hil.model.policy import load_config
from hil.model.row_files import ReadProgress
from hil.model.streams import (
    MAX_T_MS,
    BadRow,
    check_alerts_file,
    check_results_file,
    read_alerts,
    read_dsp_results,
)
from hil.report.progress import ProgressLine

HELP = "compare the device limiter with the DSP (SECMP0062) model on an alert stream"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alerts", required=True, metavar="ALERTS",
                        help="alert stream: .jsonl/.csv, or .hex/.txt GBCS frames")
    parser.add_argument("--dsp-results", metavar="RESULTS",
                        help="real DSP filter results (.csv, .jsonl or .parquet) to check "
                             "both models against")
    parser.add_argument("--config", metavar="CONFIG",
                        help="policy config (JSON/TOML) for both sides (default: policy.md "
                             "defaults)")
    parser.add_argument("--dsp-config", metavar="CONFIG",
                        help="a different policy config for the DSP side")
    parser.add_argument("--latency-ms", action="append", default=[], metavar="SPEC",
                        type=_latency_spec,
                        help="WAN latency: MS (fixed), LO-HI (uniform, seeded) or DEVICE=MS "
                             "(per device); repeatable")
    parser.add_argument("--skew-ppm", type=int, default=0,
                        help="device clock skew in ppm (positive: device clock fast)")
    parser.add_argument("--reset", action="append", default=[], metavar="DEVICE@T_MS[:KIND]",
                        type=_reset_spec,
                        help="reset a device at event time T_MS ('*@T_MS': every device); "
                             "KIND soft, hard (default), watchdog or brownout; repeatable")
    parser.add_argument("--reset-mode", choices=("lost", "snapshot"), default="lost",
                        help="after a reset the device's state is lost, or restored from its "
                             "last snapshot: a soft reset writes it first, other kinds lose "
                             "what changed since the last write (default: lost)")
    parser.add_argument("--snapshot-interval-ms", type=_time_ms, default=60_000,
                        help="least time between two snapshot writes, as the board's "
                             "persist_ms (default 60000)")
    parser.add_argument("--slots", type=_positive_int, default=16,
                        help="device limiter code slots (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed for latency and tick start")
    parser.add_argument("--engine", choices=("local", "dask"), default="local",
                        help="where the per-device work runs: local (this process, or --jobs "
                             "forked processes) or dask (a Dask cluster: a LocalCluster of "
                             "--jobs workers started for the run, or --scheduler's)")
    parser.add_argument("--jobs", type=_positive_int, default=1,
                        help="worker processes (devices are partitioned across them)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="join this Dask cluster instead of starting one (implies "
                             "--engine dask)")
    parser.add_argument("--partitions", type=int, metavar="N",
                        help="device partitions (a stable hash; default 8 per worker)")
    parser.add_argument("--json", metavar="OUT", help="write the full result as JSON ('-': stdout)")
    parser.add_argument("--fates", metavar="OUT",
                        help="write every alert's fate in each pipeline as JSON Lines, or "
                             "Parquet if OUT ends in .parquet")
    add_report_arguments(parser)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The analyst's outputs: the HTML report and the progress display."""
    parser.add_argument("--html", metavar="OUT",
                        help="write an analyst's HTML report of the comparison (plots and "
                             "tables, one self-contained file)")
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                        help="progress on stderr: redrawn in place on a terminal, a line "
                             "every 30 s elsewhere (auto), always, or never")


# -- option values: nonsense is a usage error (exit 2) before anything is read -----------------


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not a positive integer")
    return v


def _time_ms(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer (ms)") from None
    if not 0 <= v <= MAX_T_MS:
        raise argparse.ArgumentTypeError(f"{v} is out of range 0..2**53 ms")
    return v


def _latency_spec(text: str) -> str:
    try:
        Latency.parse([text])
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--latency-ms: ")) from None
    numbers = text.rpartition("=")[2].lstrip("-").split("-")
    for n in numbers:
        _time_ms(n)
    return text


def _reset_spec(text: str) -> tuple[Any, ...]:
    dev, sep, rest = text.rpartition("@")
    t, _, kind = rest.partition(":")
    if not sep or not dev or (kind and kind not in RESET_KINDS):
        raise argparse.ArgumentTypeError(f"{text!r} is not DEVICE@T_MS[:KIND] with KIND one "
                                         f"of {', '.join(RESET_KINDS)}")
    ms = _time_ms(t)
    return (dev, ms, kind) if kind else (dev, ms)


# -- inputs and outputs: checked before the comparison starts -----------------------------------


def check_files(args: argparse.Namespace) -> None:
    """Refuse unreadable inputs and unwritable outputs now, not after an hour's comparison."""
    check_alerts_file(args.alerts)
    if args.dsp_results:
        check_results_file(args.dsp_results)
    outs = [("--json", args.json if args.json != "-" else None), ("--fates", args.fates),
            ("--html", args.html)]
    seen: dict[str, str] = {}
    for opt, path in outs:
        if path is None:
            continue
        real = os.path.realpath(path)
        if real in seen:
            raise InputError(f"{opt} {path}: the same file as {seen[real]}")
        if real in (os.path.realpath(args.alerts), os.path.realpath(args.dsp_results or "")):
            raise InputError(f"{opt} {path}: that is an input file")
        seen[real] = opt
        _check_writable(opt, Path(path))


def _check_writable(opt: str, p: Path) -> None:
    if p.is_dir():
        raise InputError(f"{opt} {p}: is a directory")
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as exc:
        raise InputError(f"{opt} {p}: cannot write: {exc.strerror or exc}") from None
    if not existed:
        p.unlink()


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
        resets=tuple(args.reset), reset_mode=args.reset_mode,
        snapshot_interval_ms=args.snapshot_interval_ms, slots=args.slots, seed=args.seed)
    setup = Setup(dsp_cfg=dsp_cfg, dev_cfg=dev_cfg, perturbations=perturbations)
    check_files(args)

    bad: list[BadRow] = []
    workdir = Path(tempfile.mkdtemp(prefix="hil-compare-"))
    sinks = FateSinks(args, workdir)
    real: RealCheck | None = None
    try:
        if args.dsp_results:
            assert sinks.spool is not None
            read = ReadProgress()
            progress = _progress(args, read, "DSP result rows")
            results = read_dsp_results(args.dsp_results, bad, read)
            real = RealCheck.load(progress.track(results) if progress else results,
                                  fates=sinks.spool, workdir=workdir)
            if progress is not None:
                progress.close()
        read = ReadProgress()
        progress = _progress(args, read, "alerts")
        alerts = read_alerts(args.alerts, bad, read)
        try:
            result = compare_stream(progress.track(alerts) if progress else alerts, setup,
                                    errors=bad, path=str(args.alerts),
                                    on_fates=sinks if sinks.wanted else None,
                                    engine=_engine(args))
        finally:
            if progress is not None:
                progress.close()
            sinks.close()
        if real is not None:
            real.finish()
        bad.sort(key=lambda b: (b.path, b.line))
        if args.html:
            write_html(args, result, setup, real, bad, sinks.spool)
    finally:
        if real is not None:
            real.close()
        shutil.rmtree(workdir, ignore_errors=True)
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


class FateSinks:
    """Where the fate rows go: the --fates file (JSON Lines or Parquet) and, for the real-DSP
    check and the HTML report, a Parquet spool (the --fates file itself when it is Parquet)."""

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.out: FatesWriter | None = FatesWriter(args.fates) if args.fates else None
        self.spool: FatesWriter | None = None
        if args.dsp_results or args.html:
            if self.out is not None and self.out.parquet:
                self.spool = self.out
            else:
                self.spool = FatesWriter(workdir / "fates.parquet")
        self.wanted = self.out is not None or self.spool is not None

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        if self.spool is not None:
            self.spool.write(rows)
        if self.out is not None and self.out is not self.spool:
            self.out.write(rows)

    def close(self) -> None:
        for w in (self.out, self.spool):
            if w is not None:
                w.close()


def _progress(args: argparse.Namespace, read: ReadProgress, what: str) -> ProgressLine | None:
    if args.progress == "off":
        return None
    return ProgressLine(what, fraction=lambda: read.fraction,
                    tty=True if args.progress == "on" else None)


def write_html(args: argparse.Namespace, result: CompareResult, setup: Setup,
               real: RealCheck | None, bad: list[BadRow], spool: FatesWriter | None) -> None:
    # the report wing pulls in matplotlib and DuckDB: only when --html asks for it
    from hil.report.compare_html import compare_page

    page = compare_page(result, setup, real=real, bad_rows=bad,
                        fates=spool.path if spool is not None else None,
                        title=f"hil compare {Path(args.alerts).name}")
    Path(args.html).write_text(page)


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
