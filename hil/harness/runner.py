"""The nightly runner: every board x scenario, each driven over the wire protocol
(hil.harness.drive), compared with the DSP model on the same input and given a verdict with
reasons. This module keeps what lies around one drive: a board's adapter lifecycle, the
retries with the recovery ladder between them (hil.harness.recovery), and the verdict on an
error by its type (hil.board.errors).

Verdicts (hil.harness.results): pass / fail (a scenario property violated, or BoardFailed:
the firmware raised or refused a genuine config update) / error (any other BoardError:
infrastructure: port gone, no hello, CRC errors past the limit, deploy failed, timeout) /
too-large (CannotTakeCode: the board cannot take the firmware) / skipped (board absent, or
cannot run this scenario). Only errors are retried, each retry one rung higher on the
ladder: reconnect -> soft reset -> hard reset; a board that still errors once the ladder has
reset it is unhealthy for the rest of the run (its remaining scenarios are reported as
`error: board unhealthy` without being attempted).

Each scenario runs on a freshly started board state (an emulated board is started per
scenario with an empty flash), so scenarios are independent and can be resumed singly.
Boards run in parallel threads (bounded by --jobs); scenarios of one board run in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from hil.board.adapters import BoardAdapter, ConsoleLog, SerialAdapter
from hil.board.client import ProtocolClient
from hil.board.deploy import deploy_serial, firmware_files
from hil.board.errors import BoardError, BoardFailed, CannotTakeCode
from hil.board.registry import BoardDef
from hil.harness.drive import ConfigCounter, DriveContext, ScenarioDriver
from hil.harness.options import RunOptions
from hil.harness.pacing import TimeScaleError, plan_for
from hil.harness.recovery import RecoveryLadder
from hil.harness.results import ERROR, FAIL, PASS, SKIPPED, TOO_LARGE, RunFolder, ScenarioResult
from hil.harness.scenarios import Scenario


def deploy_to_serial_board(board: BoardDef, adapter: BoardAdapter) -> None:
    """Real MicroPython board: free the port, deploy over the raw REPL (hash-checked), let
    main.py start (soft reset on leaving the raw REPL), reopen for the protocol."""
    if not isinstance(adapter, SerialAdapter):
        return
    adapter.close()
    port = adapter.find()
    deploy_serial(port, firmware_files(board.spec.firmware), board.spec.baud or 115200,
                  log=lambda m: adapter.console.log("#", m))


class BoardSession:
    """One board across the scenarios of a run: its adapter's lifecycle, the retries of a
    scenario with the recovery ladder between them, and the verdict on an error's type."""

    def __init__(self, board: BoardDef, folder: RunFolder, opts: RunOptions) -> None:
        self.board = board
        self.folder = folder
        self.opts = opts
        self.unhealthy: str | None = None
        self.too_large: str | None = None
        self.run_deadline = time.monotonic() + opts.run_timeout
        self.deployed = False
        self.adapter: BoardAdapter | None = None
        self.client: ProtocolClient | None = None
        self.console = ConsoleLog(None)
        self.ladder = RecoveryLadder(opts.step_timeout)
        self.config_counter = ConfigCounter()

    # -- adapter lifecycle --------------------------------------------------------------------
    def _fresh_adapter(self, scenario: Scenario, ticks_start: int | None) -> BoardAdapter:
        self.shutdown()
        a = self.board.make_adapter(ticks_start=ticks_start, keys=self.opts.keys)
        if self.opts.adapter_wrapper is not None:
            a = self.opts.adapter_wrapper(a, self.board.name, scenario.name)
        return a

    def shutdown(self) -> None:
        if self.adapter is not None:
            self.adapter.shutdown()
            self.adapter = None

    def _connect(self) -> ProtocolClient:
        assert self.adapter is not None
        self.adapter.console = self.console
        self.adapter.open()
        self.client = ProtocolClient(self.adapter, step_timeout=self.opts.step_timeout)
        return self.client

    def _deploy(self) -> None:
        if self.deployed:
            return
        assert self.adapter is not None
        deployer = self.opts.deployer
        if deployer is None and not self.board.emulated:
            deployer = deploy_to_serial_board
        if deployer is not None:
            self.console.log("#", "deploy")
            deployer(self.board, self.adapter)
        self.deployed = True

    # -- one scenario --------------------------------------------------------------------------
    def run_scenario(self, scenario: Scenario) -> ScenarioResult:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        t0 = time.monotonic()
        rel = self.folder.console_path(self.board.name, scenario.name)
        res = ScenarioResult(self.board.name, scenario.name, ERROR, started_utc=started,
                             console=str(rel.relative_to(self.folder.path)))
        if self.unhealthy:
            res.reasons = [f"board unhealthy ({self.unhealthy})"]
            return res
        if time.monotonic() > self.run_deadline:
            res.reasons = [f"timeout: run over its {self.opts.run_timeout:g} s limit; "
                           "not started"]
            return res
        if self.too_large:
            res.verdict, res.reasons = TOO_LARGE, [self.too_large]
            return res
        if self.board.is_qemu and not self.deployed:
            # booting the micro:bit deploys the firmware: whether it fits is the finding,
            # reported before anything that needs the protocol; a boot that fails for the
            # rig's reasons is tried again like any attempt, not taken as the board's end
            for boot in range(self.opts.retries + 1):
                try:
                    self.adapter = self._fresh_adapter(scenario, scenario.ticks_start)
                    self.adapter.console = self.console
                    self.adapter.open()
                    self.deployed = True
                    break
                except CannotTakeCode as e:
                    self.too_large = f"{e.reason}: {e}"
                    res.verdict, res.reasons = TOO_LARGE, [self.too_large]
                    res.wall_s = round(time.monotonic() - t0, 3)
                    return res
                except BoardError as e:
                    res.reasons = [f"{e.reason}: {e}"]
                    if boot == self.opts.retries or self.opts.stop.is_set():
                        self.unhealthy = e.reason
                        res.wall_s = round(time.monotonic() - t0, 3)
                        return res
        why_not = self.board.cannot_run(scenario)
        if why_not:
            res.verdict, res.reasons = SKIPPED, [why_not]
            return res
        try:
            plan = plan_for(scenario, self.board.time_scale(self.opts.time_scale),
                            self.board.real_clock)
        except TimeScaleError as e:  # the run's settings, not the board: no retry helps
            res.reasons = [f"time scale: {e}"]
            return res
        self.console.close()
        self.console = ConsoleLog(rel)
        attempt = 0
        while True:
            attempt += 1
            res.attempts = attempt
            try:
                if attempt > 1 and self.adapter is not None:
                    # the ladder: the board must answer again (a board whose process died is
                    # respawned on its flash by the first rung: its exit status says so)
                    self.ladder.climb(self.adapter, attempt - 1, self.console)
                    self._connect().hello()
                if attempt == 1 or self.board.emulated:
                    # a scenario starts from a known state: an emulated board from an empty
                    # flash (a retry must not inherit the failed attempt's limiter state)
                    if attempt > 1:
                        self.console.log("#", f"attempt {attempt}: {scenario.name} from its "
                                              "start, on a fresh board (empty flash)")
                    self.adapter = self._fresh_adapter(scenario, plan.power_on_ticks)
                self._deploy()
                # each attempt gets the scenario's whole limit (a rerun must not inherit the
                # time its failed attempt used, or its "timeout" would be no timeout); a
                # paced scenario's own schedule is not overhead: the limit is on top of it
                deadline = time.monotonic() + self.opts.scenario_timeout + plan.paced_s
                limit = f"scenario over its {self.opts.scenario_timeout:g} s limit" + (
                    " beyond its schedule" if plan.paced_s else "")
                if deadline > self.run_deadline:
                    deadline = self.run_deadline
                    limit = f"run over its {self.opts.run_timeout:g} s limit"
                ctx = DriveContext(self._connect(), self.console, self.opts, deadline, limit)
                ScenarioDriver(ctx, self.board, plan).run(scenario, res, self.config_counter)
                break
            except CannotTakeCode as e:
                self.too_large = f"{e.reason}: {e}"
                res.verdict, res.reasons = TOO_LARGE, [self.too_large]
                break
            except BoardFailed as e:  # a finding about the firmware: retrying would hide it
                res.verdict, res.reasons = FAIL, [f"{e.reason}: {e}"]
                break
            except BoardError as e:
                res.verdict = ERROR
                res.reasons = [f"{e.reason}: {e}"]
                self.console.log("#", f"error (attempt {attempt}): {e.reason}: {e}")
                if self.opts.stop.is_set():
                    break
                if time.monotonic() > self.run_deadline:
                    # the run's time is up: a retry could only "time out" at once, which says
                    # nothing about the board
                    break
                if attempt > self.opts.retries:
                    if self.ladder.unhealthy_after(attempt - 1):
                        self.unhealthy = e.reason
                    break
        if self.client is not None:
            res.link = self.client.counters.as_dict()
        res.wall_s = round(time.monotonic() - t0, 3)
        self.console.log("#", f"verdict {res.verdict}: {'; '.join(res.reasons)}")
        return res


# ---------------------------------------------------------------------------------------------


class Progress:
    """Plain-text progress: one line per finished scenario (no TTY tricks)."""

    def __init__(self, total: int, out: Callable[[str], None] = print) -> None:
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._out = out

    def step(self, r: ScenarioResult) -> None:
        with self._lock:
            self.done += 1
            width = 20
            fill = width * self.done // max(1, self.total)
            why = ""
            if r.verdict not in (PASS,):
                why = " -- " + "; ".join(x for x in r.reasons if not x.startswith("held"))[:160]
            self._out(f"[{'#' * fill}{'.' * (width - fill)}] {self.done:3d}/{self.total} "
                      f"{r.board:22s} {r.scenario:16s} {r.verdict:9s} {r.wall_s:6.1f}s{why}")


def run_matrix(boards: list[BoardDef], scenarios: list[Scenario], folder: RunFolder,
               opts: RunOptions, progress: Progress | None = None) -> list[ScenarioResult]:
    """Run what has no result yet in `folder`; returns the results written by this call.

    Stopping: once `opts.stop` is set (a signal, hil.harness.signals; or Ctrl-C reaching this
    thread as KeyboardInterrupt), no scenario starts, the one in flight on each board ends
    without a result (left for --resume), and every board's processes and temporary folders
    are gone before this returns (or re-raises). A board worker that raises stops the others
    too, so the error is reported at once rather than after the whole matrix."""
    written: list[ScenarioResult] = []
    lock = threading.Lock()

    def one_board(b: BoardDef) -> None:
        if opts.stop.is_set():
            return
        todo = [s for s in scenarios if not folder.has_result(b.name, s.name)]
        if not todo:
            return
        absent = b.absent_reason()
        session = BoardSession(b, folder, opts)
        try:
            for sc in todo:
                if opts.stop.is_set():
                    return
                if absent:
                    r = ScenarioResult(b.name, sc.name, SKIPPED, [absent],
                                       started_utc=datetime.now(UTC).isoformat(timespec="seconds"))
                else:
                    try:
                        r = session.run_scenario(sc)
                    except Exception as e:  # noqa: BLE001 (a harness bug must not lose the run)
                        r = ScenarioResult(b.name, sc.name, ERROR,
                                           [f"harness error: {type(e).__name__}: {e}"])
                    if opts.stop.is_set() and r.verdict == ERROR:
                        return  # interrupted: leave it for --resume
                folder.write_result(r)
                with lock:
                    written.append(r)
                if progress is not None:
                    progress.step(r)
        finally:
            # the board's processes (emulator, QEMU, node) and its flash folder: on every way
            # out, a stop included
            session.shutdown()
            session.console.close()

    jobs = max(1, opts.jobs)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hil-board") as ex:
        futures = [ex.submit(one_board, b) for b in boards]
        try:
            for f in futures:
                while True:
                    try:
                        f.result(timeout=0.5)
                        break
                    except TimeoutError:
                        continue
        except BaseException:  # Ctrl-C here, or a worker's error: every other board stops too
            opts.stop.set()
            for f in futures:
                f.cancel()
            raise  # once the pool has joined the workers (their cleanup done)
    return written
