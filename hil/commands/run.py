"""Run the HIL matrix: every selected board x scenario, with verdicts, reports and history.

Default: all emulated boards (boards/*.toml with kind = "emulated") and all scenarios, into
reports/<UTC timestamp>/, recorded in reports/history.sqlite. Results are written per scenario
as they are decided, so an interrupted run continues with `hil run --resume DIR`.

Before the first scenario the boards, scenarios and time scales are checked, the run folder is
written to, and the run is recorded in the history as `running`: any of these that fails is
one line and exit status 2, with nothing run.

SIGINT (Ctrl-C) or SIGTERM (cron, systemd, CI) stops the run cleanly: the scenario in flight
on each board ends without a result (it runs again on --resume), the boards' processes and
temporary folders are removed, the manifest and the history say `interrupted`, the reports
are built from what finished, and the exit status is 130 (SIGINT) or 143 (SIGTERM).

--resume DIR continues the run in DIR with its own matrix, run id, time scale and history:
--board and --scenario there choose part of that matrix (never other boards or scenarios),
--history may only name the run's own ('' records nothing this time). A result file that
cannot be read is set aside (results/<name>.json.unreadable) and its scenario runs again.

Exit status: 0 when nothing failed or errored, 1 otherwise (too-large and skipped are
reported but do not fail the night; a history that cannot be written at the end is a
warning), 2 on a usage or input error, 130 / 143 when stopped by SIGINT / SIGTERM."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hil.errors import HilError, InputError
from hil.paths import ROOT

if TYPE_CHECKING:  # the types only: the modules themselves load when a run starts
    from hil.board.registry import BoardDef
    from hil.harness.results import RunFolder
    from hil.harness.scenarios import Scenario
    from hil.harness.signals import StopOnSignals

    Run = tuple[RunFolder, dict[str, Any], list[BoardDef], list[Scenario], str]

HELP = "run the HIL nightly matrix (boards x scenarios) and write its reports"
DEFAULT_HISTORY = "reports/history.sqlite"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", action="append", metavar="NAME|PATH",
                   help="board name (boards/NAME.toml) or a board file; repeatable "
                   "(default: every emulated board)")
    p.add_argument("--scenario", action="append", metavar="NAME",
                   help="scenario name, or replay:FILE (JSONL/CSV alert log); repeatable "
                   "(default: all; see `hil run --list-scenarios`)")
    p.add_argument("--out", metavar="DIR", help="run folder (default reports/<UTC timestamp>)")
    p.add_argument("--resume", metavar="DIR",
                   help="continue an interrupted run in DIR (runs what has no result yet, "
                   "within its matrix, into its own history)")
    p.add_argument("--jobs", type=int, default=2, metavar="N",
                   help="boards run in parallel (default 2)")
    p.add_argument("--history", metavar="DB",
                   help=f"SQLite history to record the run in (default {DEFAULT_HISTORY}; "
                   "with --resume: the run's own; '' for none)")
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
    p.add_argument("--keys", metavar="DIR",
                   help="a test key set (`hil keys generate DIR`): the emulated boards MAC and "
                   "sign their frames with it and every frame is verified; a frame that fails "
                   "verification fails its scenario (metrics frames_auth_valid/_invalid)")
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


def scenario_arg(name: str) -> str:
    """What selects a scenario again on --resume: a replay's file by its absolute path (its
    scenario name keeps only the file's name)."""
    if name.startswith("replay:"):
        return "replay:" + os.path.abspath(name[len("replay:"):])
    return name


def new_run(args: argparse.Namespace) -> Run:
    """A new run: its folder, manifest (not yet written), boards, scenarios and history."""
    from hil.board.registry import default_boards, load_board
    from hil.harness import scenarios
    from hil.harness.results import RUNNING, RunFolder, new_run_id

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = RunFolder(args.out or os.path.join("reports", stamp))
    if folder.manifest_path.exists():
        raise InputError(f"{folder.path} already holds a run; use --resume {folder.path}")
    boards = [load_board(b) for b in args.board] if args.board else default_boards()
    scens = scenarios.select(list(args.scenario) if args.scenario else None)
    if not boards:
        raise InputError("no boards selected (boards/*.toml has no emulated board?)")
    db = DEFAULT_HISTORY if args.history is None else args.history
    manifest = {"run_id": new_run_id(),
                "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "git_commit": git_commit(), "host": socket.gethostname(),
                "boards": [b.name for b in boards], "board_files": [b.spec.path for b in boards],
                "scenarios": [s.name for s in scens],
                "scenario_args": [scenario_arg(a) for a in args.scenario or []] or None,
                "status": RUNNING,
                "options": {"jobs": args.jobs, "retries": args.retries,
                            "scenario_timeout": args.scenario_timeout,
                            "time_scale": args.time_scale},
                # where --resume records: the run's own history, whatever it is given
                "history": os.path.abspath(db) if db else None}
    return folder, manifest, boards, scens, db


def resumed_run(args: argparse.Namespace) -> Run:
    """The run in --resume DIR: its folder and manifest, the boards and scenarios to run now
    (all of its matrix, or the part --board/--scenario choose), and its history."""
    from hil.board.registry import default_boards, load_board
    from hil.harness import scenarios
    from hil.harness.results import RUNNING, RunFolder

    folder = RunFolder(args.resume)
    manifest = folder.manifest()
    where = f"the run in {folder.path}"
    manifest.setdefault("run_id", folder.path.name)  # from before run ids: its old row
    files = manifest.get("board_files") or manifest.get("boards")
    boards = [load_board(b) for b in files] if files else default_boards()
    scens = scenarios.select(manifest.get("scenario_args") or manifest.get("scenarios"))
    manifest.setdefault("boards", [b.name for b in boards])
    manifest.setdefault("scenarios", [s.name for s in scens])
    # a part of the matrix, by name: the manifest's list stays what its results are part of
    if args.board:
        want = {load_board(b).name for b in args.board}
        if want - set(manifest["boards"]):
            raise InputError(f"--board {', '.join(sorted(want - set(manifest['boards'])))}: "
                             f"not in {where} (boards: {', '.join(manifest['boards'])}); a "
                             "resumed run keeps its matrix: start a new run for other boards")
        boards = [b for b in boards if b.name in want]
    if args.scenario:
        want = {s.name for s in scenarios.select(list(args.scenario))}
        if want - set(manifest["scenarios"]):
            raise InputError(f"--scenario {', '.join(sorted(want - set(manifest['scenarios'])))}"
                             f": not in {where} (scenarios: {', '.join(manifest['scenarios'])})")
        scens = [s for s in scens if s.name in want]
    options = manifest.setdefault("options", {})
    if args.time_scale is None:  # a resumed run keeps the time scale it started with
        args.time_scale = options.get("time_scale")
    elif "time_scale" in options and args.time_scale != options["time_scale"]:
        was = options["time_scale"] or "each board file's own"
        raise InputError(f"--time-scale {args.time_scale}: {where} runs at time scale {was}; "
                         "its results would not compare (resume without --time-scale)")
    own = manifest.get("history", os.path.abspath(DEFAULT_HISTORY))
    if args.history is None:
        db = own or ""
    elif args.history == "":
        db = ""  # nothing recorded this time: the history keeps the run as it last saw it
    elif own is None or os.path.abspath(args.history) != own:
        raise InputError(f"--history {args.history}: {where} records into "
                         f"{own or 'no history'}; resume without --history (or with "
                         "--history '' to record nothing this time)")
    else:
        db = args.history
    manifest["history"] = own
    manifest["status"] = RUNNING
    return folder, manifest, boards, scens, db


def history_step(step: Callable[[], object], lost: str) -> None:
    """One write to the history at the end of a run; if it fails, a warning that says what
    is lost and how to redo it: the history must not fail a night that passed."""
    try:
        step()
    except Exception as e:  # noqa: BLE001 (checked at the start; whatever broke it since)
        print(f"hil run: warning: {e}; {lost}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from hil.harness import scenarios
    from hil.harness.signals import StopOnSignals

    if args.list_scenarios:
        for s in scenarios.SCENARIOS.values():
            props = ", ".join(f"{p.metric} {p.op} {p.bound:g}" for p in s.properties)
            print(f"{s.name:16s} {s.description}\n{'':16s} must hold: {props}")
        return 0
    if args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    if args.time_scale is not None and args.time_scale < 1:
        raise InputError("--time-scale must be at least 1")
    if args.keys:
        from emulator.keystore import KeyStore, KeyStoreError  # cryptography: only with --keys

        try:
            KeyStore(args.keys)
        except KeyStoreError as e:
            raise InputError(f"--keys: {e}") from None
    stop = threading.Event()
    # from here a signal only asks the run to stop: what is recorded stays consistent
    with StopOnSignals(stop, note="hil run: stopping: the scenarios in flight end, then the "
                       "reports are written") as signals:
        try:
            return run_to_end(args, stop, signals)
        except KeyboardInterrupt:  # a second signal outside the matrix and the reports
            if signals.received is None:
                raise
            print("hil run: stopped again; every result written is kept; continue with: hil "
                  "run --resume DIR", file=sys.stderr)
            return signals.exit_status


def run_to_end(args: argparse.Namespace, stop: threading.Event,
               signals: StopOnSignals) -> int:
    """Check, record the start, run the matrix, then record the end whatever stopped it."""
    import signal

    from hil import report
    from hil.harness.options import RunOptions
    from hil.harness.results import COMPLETE, INTERRUPTED
    from hil.harness.runner import Progress, run_matrix
    from hil.report import history
    from hil.report.build import record_in_history, write_trend

    folder, manifest, boards, scens, db = resumed_run(args) if args.resume else new_run(args)
    check_time_scales(boards, scens, args.time_scale)
    folder.check_writable()
    if db:  # the history's first write: a bad file is found now, before anything runs
        conn = history.connect(db)
        try:
            history.record_start(conn, str(manifest["run_id"]), manifest, folder.path)
        finally:
            conn.close()
    folder.write_manifest(manifest)
    for p, why in folder.set_aside_unreadable():
        print(f"hil run: {p} was unreadable ({why}); kept as {p.name}.unreadable, that "
              "scenario runs again", flush=True)
    opts = RunOptions(step_timeout=args.step_timeout, scenario_timeout=args.scenario_timeout,
                      retries=args.retries, jobs=args.jobs, run_timeout=args.timeout,
                      time_scale=args.time_scale, stop=stop,
                      keys=os.path.abspath(args.keys) if args.keys else None)
    todo = len(folder.missing([b.name for b in boards], [s.name for s in scens]))
    print(f"hil run: {len(boards)} boards x {len(scens)} scenarios ({todo} to run) -> "
          f"{folder.path}", flush=True)
    t0 = time.monotonic()
    failure: HilError | None = None
    ctrl_c = False
    try:
        run_matrix(boards, scens, folder, opts, Progress(todo, lambda s: print(s, flush=True)))
    except KeyboardInterrupt:  # a second signal, or Ctrl-C with no handler of ours: a stop too
        ctrl_c = True
    except HilError as e:  # a result that cannot be written: the run stops, as on a signal
        failure = e
    wall = time.monotonic() - t0
    # the manifest says what the results say: complete only with a result for every pair
    left = folder.missing(manifest["boards"], manifest["scenarios"])
    manifest["wall_s"] = round(float(manifest.get("wall_s") or 0) + wall, 3)
    manifest["status"] = INTERRUPTED if left else COMPLETE
    manifest["finished_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
    folder.write_manifest(manifest)
    results = [r for r in folder.results()
               if r.board in manifest["boards"] and r.scenario in manifest["scenarios"]]
    print_summary(results, wall)
    stopped = bool(left) and (signals.received is not None or ctrl_c)
    how = signals.name if signals.received is not None else signal.SIGINT.name
    built = False
    try:
        # the history first: it is quick, and a run stopped again (or killed) while the plots
        # are drawn is then already recorded as what it is
        if db:
            history_step(lambda: record_in_history(folder, db), "the run is not recorded in "
                         f"the history; record it with: hil report {folder.path} --history {db}")
        try:
            paths = report.build(folder)
            print(f"reports: {paths['html']} {paths['junit']} {paths['results']}")
            built = True
        except Exception as e:  # noqa: BLE001 (the results are on disk: say so, never a traceback)
            print(f"hil run: the reports could not be built ({type(e).__name__}: {e}); every "
                  f"result is kept in {folder.path / 'results'}; rebuild with: hil report "
                  f"{folder.path}", file=sys.stderr)
        if db:
            history_step(lambda: write_trend(folder, db), "trend.html is not written")
    except KeyboardInterrupt:  # a second signal: what is left to write waits for `hil report`
        print(f"hil run: stopped again; what finished is recorded; write the reports with: "
              f"hil report {folder.path}", file=sys.stderr)
    if failure is not None:
        raise failure
    if stopped:
        print(f"hil run: interrupted ({how}); continue with: hil run --resume {folder.path}")
        return 128 + signal.Signals[how]
    if not built:
        return 1
    if left:
        print(f"hil run: {len(left)} board x scenario of this run still to run; continue "
              f"with: hil run --resume {folder.path}")
    return 0 if report.summary(results)["ok"] else 1
