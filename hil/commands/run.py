"""Run the HIL matrix: every selected board x scenario, with verdicts, reports and history.

Default: all emulated boards (boards/*.toml with kind = "emulated") and all scenarios, into
reports/<UTC timestamp>/. Results are written per scenario as they are decided, so an
interrupted run continues with `hil run --resume DIR`. Exit status: 0 when nothing failed or
errored, 1 otherwise (too-large and skipped are reported but do not fail the night)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime

from hil.errors import InputError
from hil.paths import ROOT

HELP = "run the HIL nightly matrix (boards x scenarios) and write its reports"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", action="append", metavar="NAME|PATH",
                   help="board name (boards/NAME.toml) or a board file; repeatable "
                   "(default: every emulated board)")
    p.add_argument("--scenario", action="append", metavar="NAME",
                   help="scenario name, or replay:FILE (JSONL/CSV alert log); repeatable "
                   "(default: all; see `hil run --list-scenarios`)")
    p.add_argument("--out", metavar="DIR", help="run folder (default reports/<UTC timestamp>)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue an interrupted run in DIR (runs what has no result yet)")
    p.add_argument("--jobs", type=int, default=2, metavar="N",
                   help="boards run in parallel (default 2)")
    p.add_argument("--history", default="reports/history.sqlite", metavar="DB",
                   help="SQLite history to record the run in (default %(default)s; "
                   "'' for none)")
    p.add_argument("--retries", type=int, default=2, metavar="N",
                   help="retries of a scenario that ends in a rig error, each after one "
                   "more rung of the recovery ladder: 1 reconnect (a dead emulator is "
                   "respawned on its flash), 2 soft reset, 3 hard reset; a board still "
                   "failing after rung 2 is unhealthy for the night (default 2)")
    p.add_argument("--scenario-timeout", type=float, default=240.0, metavar="S",
                   help="time limit of one attempt at a scenario in seconds, on top of a "
                   "paced scenario's schedule (default 240)")
    p.add_argument("--step-timeout", type=float, default=10.0, metavar="S",
                   help="silence after a command for S seconds is a timeout; the same seq is "
                   "tried 4 times in all (a NAK of line noise is repaired, not counted) "
                   "(default 10)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                   help="time limit of the whole run in seconds (default 1800); scenarios "
                   "not finished by then are errors")
    p.add_argument("--time-scale", type=int, metavar="N",
                   help="run every selected board's scenarios N times faster: event times, "
                   "resets, tail and the config's time keys divided by N, sent to the board "
                   "with CONFIG (default: each board file's time_scale: 1 for a virtual clock, "
                   "scenarios as written; 60 for a real clock unless the file says)")
    p.add_argument("--list-scenarios", action="store_true", help="list scenarios and exit")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, cwd=ROOT)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def print_summary(results: list, wall: float) -> None:
    from hil.report import summary

    s = summary(results)
    boards = sorted(s["wall_s_per_board"])
    verdicts = ("pass", "fail", "error", "too-large", "skipped")
    w = max([20, *(len(b) + 1 for b in boards), *(len(x) + 1 for x in s["wall_s_per_scenario"])])
    print()
    print(f"{'board':{w}s} " + " ".join(f"{v:>9s}" for v in verdicts) + f" {'wall s':>8s}")
    for b in boards:
        n = [sum(1 for r in results if r.board == b and r.verdict == v) for v in verdicts]
        print(f"{b:{w}s} " + " ".join(f"{x:9d}" for x in n)
              + f" {s['wall_s_per_board'][b]:8.1f}")
    print()
    print(f"{'scenario':{w}s} {'wall s':>8s}   (summed over boards)")
    for sc, t in s["wall_s_per_scenario"].items():
        print(f"{sc:{w}s} {t:8.1f}")
    print()
    print("total: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items())
          + f"; wall time {wall:.1f} s")


def check_time_scales(boards: list, scens: list, override: int | None) -> None:
    """Every board x scenario must be runnable at its time scale (a time key of the config
    scaled below its minimum is an InputError naming it), before anything starts."""
    from hil.harness.pacing import scaled_config

    for b in boards:
        scale = b.time_scale(override)
        if scale == 1 and not b.real_clock:
            continue
        for s in scens:
            try:
                scaled_config(s.config, scale)
            except InputError as e:
                raise InputError(f"{b.name}, scenario {s.name}: {e}") from None


def run(args: argparse.Namespace) -> int:
    from hil import report
    from hil.board.registry import default_boards, load_board
    from hil.harness import scenarios
    from hil.harness.options import RunOptions
    from hil.harness.results import RunFolder, new_run_id
    from hil.harness.runner import Progress, run_matrix
    from hil.report import history

    if args.list_scenarios:
        for s in scenarios.SCENARIOS.values():
            props = ", ".join(f"{p.metric} {p.op} {p.bound:g}" for p in s.properties)
            print(f"{s.name:16s} {s.description}\n{'':16s} must hold: {props}")
        return 0
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    if args.time_scale is not None and args.time_scale < 1:
        raise InputError("--time-scale must be at least 1")
    if args.resume:
        folder = RunFolder(args.resume)
        manifest = folder.manifest()
        board_args = args.board or manifest.get("board_files") or manifest.get("boards")
        scen_args = args.scenario or manifest.get("scenarios")
        if args.time_scale is None:  # a resumed run keeps the time scale it started with
            args.time_scale = (manifest.get("options") or {}).get("time_scale")
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = RunFolder(args.out or os.path.join("reports", stamp))
        if (folder.path / "manifest.json").exists():
            raise InputError(f"{folder.path} already holds a run; use --resume {folder.path}")
        manifest = {"run_id": new_run_id(),
                    "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                    "git_commit": git_commit(), "host": socket.gethostname()}
        board_args, scen_args = args.board, args.scenario
    boards = [load_board(b) for b in board_args] if board_args else default_boards()
    scens = scenarios.select(list(scen_args) if scen_args else None)
    if not boards:
        raise InputError("no boards selected (boards/*.toml has no emulated board?)")
    check_time_scales(boards, scens, args.time_scale)
    manifest.update({"boards": [b.name for b in boards],
                     "board_files": [b.spec.path for b in boards],
                     "scenarios": [s.name for s in scens], "status": "running",
                     "options": {"jobs": args.jobs, "retries": args.retries,
                                 "scenario_timeout": args.scenario_timeout,
                                 "time_scale": args.time_scale}})
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.write_manifest(manifest)
    if args.history:
        db = history.connect(args.history)
        try:
            history.record_start(db, str(manifest["run_id"]), manifest, folder.path)
        finally:
            db.close()
    opts = RunOptions(step_timeout=args.step_timeout, scenario_timeout=args.scenario_timeout,
                      retries=args.retries, jobs=args.jobs, run_timeout=args.timeout,
                      time_scale=args.time_scale)
    todo = sum(1 for b in boards for s in scens if not folder.has_result(b.name, s.name))
    print(f"hil run: {len(boards)} boards x {len(scens)} scenarios ({todo} to run) -> "
          f"{folder.path}", flush=True)
    t0 = time.monotonic()
    interrupted = False
    try:
        run_matrix(boards, scens, folder, opts, Progress(todo, lambda s: print(s, flush=True)))
    except KeyboardInterrupt:
        interrupted = True
    wall = time.monotonic() - t0
    manifest["wall_s"] = round(float(manifest.get("wall_s") or 0) + wall, 3)
    manifest["status"] = "interrupted" if interrupted else "complete"
    manifest["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    folder.write_manifest(manifest)
    results = [r for r in folder.results()
               if r.board in manifest["boards"] and r.scenario in manifest["scenarios"]]
    print_summary(results, wall)
    try:
        paths = report.build(folder, args.history or None, record=not interrupted)
        print(f"reports: {paths['html']} {paths['junit']} {paths['results']}")
    except Exception as e:  # noqa: BLE001 (the results are on disk: say so, never a traceback)
        print(f"hil run: the reports could not be built ({type(e).__name__}: {e}); every "
              f"result is kept in {folder.path / 'results'}; rebuild with: hil report "
              f"{folder.path}", file=sys.stderr)
        return 1 if not interrupted else 130
    if interrupted:
        print(f"hil run: interrupted; continue with: hil run --resume {folder.path}")
        return 130
    return 0 if report.summary(results)["ok"] else 1
