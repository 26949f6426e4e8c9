"""The nightly runner: every board x scenario, driven over the wire protocol, compared with
the DSP model on the same input, and given a verdict with reasons.

Verdicts (hil.harness.results): pass / fail (a scenario property violated) / error (infrastructure:
port gone, no hello, CRC errors past the limit, deploy failed, timeout) / too-large (the board
cannot take the firmware) / skipped (board absent, or cannot run this scenario). Only errors
are retried. Between retries the recovery ladder climbs one rung: reconnect -> soft reset ->
hard reset; a board that errors past the top rung is unhealthy for the rest of the run (its
remaining scenarios are reported as `error: board unhealthy` without being attempted).

Each scenario runs on a freshly started board state (an emulated board is started per
scenario with an empty flash), so scenarios are independent and can be resumed singly.
Boards run in parallel threads (bounded by --jobs); scenarios of one board run in order."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firmware_model import wire
from firmware_model.board import RESET_KINDS
from firmware_model.ticks import TICKS_PERIOD
from hil.board.adapters import BoardAdapter, ConsoleLog, EmulatorAdapter
from hil.board.client import ProtocolClient, Reply
from hil.board.deploy import deploy_serial, firmware_files
from hil.board.errors import (
    BoardError,
    BoardFailed,
    CannotTakeCode,
    ConfigRefused,
    FirmwareRaised,
    Interrupted,
    ScenarioTimeout,
)
from hil.board.registry import BoardDef
from hil.harness.metrics import BoardRun, evaluate
from hil.harness.pacing import POWER_ON_LEAD_MS, BoardTimes, TimePlan, TimeScaleError, plan_for
from hil.harness.results import ERROR, FAIL, PASS, SKIPPED, TOO_LARGE, RunFolder, ScenarioResult
from hil.harness.scenarios import Event, Scenario

WALL_S = 1_767_225_600  # 2026-01-01T00:00:00Z: every run sets the same wall clock
MAX_ADVANCE = 86_400_000  # the protocol's ADVANCE limit


@dataclass
class RunOptions:
    step_timeout: float = 10.0  # one command's answer
    scenario_timeout: float = 240.0  # one scenario, all steps
    retries: int = 2  # error retries per scenario (ladder rungs)
    # the link is bad (error, not a verdict on the firmware) when CRC/format errors exceed
    # both this count and this fraction of the lines received in a scenario
    crc_error_limit: int = 20
    crc_error_rate: float = 0.02
    jobs: int = 2
    run_timeout: float = 1800.0  # the whole matrix; scenarios not started by then: error
    # scenario time compression for every board (hil.harness.pacing); None: each board file's
    # time_scale (1 for a virtual clock: scenarios as written)
    time_scale: int | None = None
    adapter_wrapper: Callable[[BoardAdapter, str, str], BoardAdapter] | None = None  # tests
    # deploys the firmware before a board's first scenario; None: hil.board.deploy for boards that
    # need it (real MicroPython boards), nothing for emulated ones
    deployer: Callable[[BoardDef, BoardAdapter], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def deploy_to_serial_board(board: BoardDef, adapter: BoardAdapter) -> None:
    """Real MicroPython board: free the port, deploy over the raw REPL (hash-checked), let
    main.py start (soft reset on leaving the raw REPL), reopen for the protocol."""
    from hil.board.adapters import SerialAdapter

    if not isinstance(adapter, SerialAdapter):
        return
    adapter.close()
    port = adapter.find()
    deploy_serial(port, firmware_files(board.spec.firmware), board.spec.baud or 115200,
                  log=lambda m: adapter.console.log("#", m))


# ---------------------------------------------------------------------------------------------


def board_resets(client: ProtocolClient, tick_start: int, events: list[Event],
                 alert_acks: list[float]) -> list[tuple[int, str, str]]:
    """(t_ms, kind, order) of every reset the board reported (EVENT BOOT cause=soft|hard|
    watchdog|brownout t=<ticks>) in this scenario: the ones the scenario asked for and any
    behind the harness's back, which the model must know about to replay the board. order:
    "after" when the board restarted after the alert acknowledged at that same ms, else
    "before" (lines arrive in the order the board wrote them; alert_acks: host receipt time of
    each ALERT's answer)."""
    out = []
    for ln in client.boot_events:
        kv = ln.kv()
        if kv.get("cause") in RESET_KINDS and kv.get("t", "").isdigit():
            t = (int(kv["t"]) - tick_start) % TICKS_PERIOD
            k = bisect.bisect_right(alert_acks, ln.t)  # alerts answered before this boot
            after = k > 0 and events[k - 1][0] == t
            out.append((t, kv["cause"], "after" if after else "before"))
    return sorted(out)


class BoardSession:
    """One board across the scenarios of a run, with its recovery ladder."""

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
        self._last_counter = 0  # config update counters sent in this session

    # -- adapter lifecycle --------------------------------------------------------------------
    def _fresh_adapter(self, scenario: Scenario, ticks_start: int | None) -> BoardAdapter:
        self.shutdown()
        a = self.board.make_adapter(ticks_start=ticks_start)
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

    def recover(self, rung: int) -> None:
        """Climb the ladder to `rung` (1 reconnect, 2 soft reset, 3 hard reset)."""
        a = self.adapter
        assert a is not None
        self.console.log("#", f"recovery rung {rung}: "
                         + ("reconnect", "soft reset", "hard reset")[min(rung, 3) - 1])
        if rung == 1:
            a.reconnect()
        elif rung == 2:
            a.reconnect()
            c = ProtocolClient(a, step_timeout=self.opts.step_timeout)
            c.command("RESET", "soft")
            c.drain(1.0)
        else:
            if not a.hard_reset():
                a.reconnect()
                c = ProtocolClient(a, step_timeout=self.opts.step_timeout)
                c.command("RESET", "hard")
                c.drain(1.0)

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
            res.reasons = [f"timeout: run over its {self.opts.run_timeout:.0f} s limit; "
                           "not started"]
            return res
        if self.too_large:
            res.verdict, res.reasons = TOO_LARGE, [self.too_large]
            return res
        if self.board.is_qemu and not self.deployed:
            # booting the micro:bit deploys the firmware: whether it fits is the finding,
            # reported before anything that needs the protocol
            try:
                self.adapter = self._fresh_adapter(scenario, scenario.ticks_start)
                self.adapter.console = self.console
                self.adapter.open()
                self.deployed = True
            except CannotTakeCode as e:
                self.too_large = f"{e.reason}: {e}"
                res.verdict, res.reasons = TOO_LARGE, [self.too_large]
                res.wall_s = round(time.monotonic() - t0, 3)
                return res
            except BoardError as e:
                self.unhealthy = e.reason
                res.reasons = [f"{e.reason}: {e}"]
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
        power_on_ticks = plan.ticks_start
        if plan.real_clock and plan.ticks_start is not None:
            power_on_ticks = (plan.ticks_start - POWER_ON_LEAD_MS) % TICKS_PERIOD
        self.console.close()
        self.console = ConsoleLog(rel)
        attempt = 0
        while True:
            attempt += 1
            res.attempts = attempt
            try:
                if attempt > 1 and self.adapter is not None:
                    self.recover(attempt - 1)  # the ladder: the board must answer again
                    self._connect().hello()
                if attempt == 1 or self.board.emulated:
                    # a scenario starts from a known state: an emulated board from an empty
                    # flash (a retry must not inherit the failed attempt's limiter state)
                    self.adapter = self._fresh_adapter(scenario, power_on_ticks)
                self._deploy()
                self._drive(scenario, res, t0, plan)
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
                if attempt > self.opts.retries:
                    if attempt >= 3:
                        self.unhealthy = e.reason
                    break
        if self.client is not None:
            res.link = self.client.counters.as_dict()
        res.wall_s = round(time.monotonic() - t0, 3)
        self.console.log("#", f"verdict {res.verdict}: {'; '.join(res.reasons)}")
        return res

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

    def _drive(self, sc: Scenario, res: ScenarioResult, t0: float, plan: TimePlan) -> None:
        client = self._connect()
        # a paced scenario's own schedule is not overhead: the limit is on top of it
        deadline = min(t0 + self.opts.scenario_timeout + plan.paced_s, self.run_deadline)
        info = client.hello()
        res.board_info = dict(info)
        self.board.check_firmware(info)
        clock = info.get("clock", self.board.spec.clock)
        if clock != self.board.spec.clock:
            raise BoardError(f"{self.board.name}: HELLO says clock={clock}, the board file "
                             f"says {self.board.spec.clock}", "clock mismatch")
        # a known starting state: a real board would otherwise carry the previous scenario's
        # windows and episodes (in RAM and in its flash snapshot) into this one
        self._expect_ok(client.command("CLEAR"), "CLEAR")
        real = plan.real_clock
        scheduled = plan.events
        role = info.get("role", self.board.role)
        if role in ("esme", "gsme"):  # a lone meter raises every alert itself
            scheduled = [(t, c, role) for t, c, _ in scheduled]
        self._expect_ok(client.command("CLOCK", str(WALL_S)), "CLOCK")
        wall_set = time.monotonic()
        res.metrics["time_scale"] = plan.scale
        counter = self._config_counter()
        if sc.forged_config_first:
            res.metrics["forged_config_refused"] = self._forged_config(client, plan.config,
                                                                       counter)
        if plan.send_config:
            self._apply_config(client, plan.config, counter)
            if real or plan.scale != 1:
                self.console.log("#", f"time_scale {plan.scale}: config in force "
                                 f"{plan.config}; schedule {plan.span_ms} ms")
        decisions: list[str] = []
        now = 0  # virtual clock: scenario ms the board has been advanced to
        resets = list(plan.resets)
        # real clock: when each commanded reset happened, estimated on the host clock (used
        # only if the board's ticks restarted, which puts its boot lines in another time base)
        reset_estimates: list[tuple[Any, ...]] = []
        alert_acks: list[float] = []
        board_times = BoardTimes()
        measured: list[Event] = []  # real clock: the alerts at the board's own times
        lags: list[float] = []  # real clock: how late each alert went out (s)

        def advance_to(t: int) -> None:
            nonlocal now
            while t > now:
                step = min(t - now, MAX_ADVANCE)
                r = client.command("ADVANCE", str(step))
                if not r.ok and r.code == wire.E_UNSUPPORTED:
                    raise BoardError("board cannot advance virtual time", "unsupported")
                self._expect_ok(r, "ADVANCE")
                now += step

        if real and plan.ticks_start is not None:
            self._wait_for_ticks(client, plan.ticks_start, deadline)
        start = time.monotonic()  # real clock: scenario t=0 on the host clock
        last_ack = start
        for t, code, src in scheduled:
            if self.opts.stop.is_set():
                raise Interrupted("run interrupted")
            if time.monotonic() > deadline:
                raise ScenarioTimeout(f"scenario over {self.opts.scenario_timeout:.0f}s")
            while resets and resets[0][0] <= t:
                rt, kind = resets.pop(0)
                if real:
                    self._wait(client, start + rt / 1000, deadline)
                    reset_estimates.append((board_times.at(time.monotonic(), rt), kind))
                else:
                    advance_to(rt)
                self._expect_ok(client.command("RESET", kind), "RESET")
                if real:  # the scenario's clock runs on: go on as soon as the board is back
                    self._await_boot(client, deadline)
                else:
                    client.drain(0.2)
                client.hello()
                wall = WALL_S + (int(time.monotonic() - wall_set) if real else now // 1000)
                self._expect_ok(client.command("CLOCK", str(wall)), "CLOCK")
            if real:
                due = start + t / 1000
                self._wait(client, due, deadline)
                lags.append(time.monotonic() - due)
            else:
                advance_to(t)
            r = client.command("ALERT", f"{code:04X} {src}")
            alert_acks.append(time.monotonic())
            self._expect_ok(r, "ALERT")
            decisions.append("".join(a.split("=", 1)[1] for a in r.args if "=" in a
                                     and a.split("=", 1)[0] in ("hub", "esme", "gsme")))
            if real:
                last_ack = time.monotonic()
                ticks = r.kv().get("t", "")
                if not ticks.isdigit():
                    raise BoardError(f"ALERT acknowledged without t=<ticks>: {r.args}",
                                     "protocol error")
                measured.append((board_times.alert(int(ticks), last_ack, t,
                                                   client.counters.boots), code, src))
            bad = client.counters.crc_errors
            if bad > self.opts.crc_error_limit and bad > self.opts.crc_error_rate * len(
                    client.lines):
                raise BoardError(f"{client.counters.crc_errors} CRC/format errors on the link",
                                 "crc errors")
        if real:
            self._wait(client, last_ack + plan.tail_ms / 1000, deadline)
        else:
            advance_to(now + plan.tail_ms)
        stats = client.command("STATS")
        for ln in stats.lines:
            if ln.verb == "STATS":
                res.metrics["board_stats"] = ln.kv()
        if client.counters.lost_lines:
            raise BoardError(f"{client.counters.lost_lines} device lines lost before RESEND",
                             "lines lost")
        # what the comparison gets: the alerts at the times the board's limiter saw them, the
        # config in force on the board, the ticks at scenario t=0, the resets it went through
        if real:
            events = measured
            tick_start = board_times.tick_start
            if tick_start is None:  # no alert: nothing is compared
                tick_start = self.board.spec.ticks_start
            res.metrics.update(_pacing_metrics(lags, board_times))
        else:
            events = scheduled
            tick_start = (plan.ticks_start if plan.ticks_start is not None
                          else self.board.spec.ticks_start)
        # the board's own boot lines: exact, and they include resets behind our back; once its
        # ticks restarted they are in another time base: the host's estimates instead
        resets_done = (reset_estimates if real and board_times.restarts
                       else board_resets(client, tick_start, events, alert_acks))
        frames, frame_ticks, frame_errors, errs = self._frames(client)
        per_source = len({s for _, _, s in events}) > 1 and self.board.role != "chub"
        spec = self.board.spec
        ev = evaluate(BoardRun(
            events=events, decisions=decisions, frames=frames, config=plan.config,
            per_source=per_source, frame_errors=frame_errors, critical=tuple(spec.critical or ()),
            slots=spec.slots, tick_start=tick_start, resets=resets_done,
            persist_ms=spec.persist_ms, poll_ms=spec.poll_ms, ticks_continue=self.board.emulated,
            titles={k: v.hex().upper() for k, v in (spec.titles or {}).items()},
            frame_t_ms=[(t - tick_start) % TICKS_PERIOD for t in frame_ticks]))
        res.metrics.update(ev.metrics)
        res.series = ev.series
        res.divergence = ev.divergence
        reasons, verdict = [], PASS
        for p in sc.properties:  # res.metrics: also what the drive measured (forged config)
            ok, why = p.check(res.metrics)
            if ok is False:
                verdict = FAIL
                reasons.append("violated: " + why)
            elif ok is True:
                reasons.append("held: " + why)
        if frame_errors:
            verdict = FAIL
            reasons.append(f"{frame_errors} frames sent north do not decode: {errs[:3]}")
        res.verdict, res.reasons = verdict, reasons

    @staticmethod
    def _frames(client: ProtocolClient) -> tuple[list[Any], list[int], int, list[str]]:
        """(decoded frames, the board's ticks when each was sent, undecodable count, errors)."""
        from hil.frames import FrameError, decode_fast

        out, ticks, bad, errs = [], [], 0, []
        for ln in sorted((x for x in client.lines if x.verb == "FRAME"),
                         key=lambda x: (x.boot, x.seq)):
            try:
                out.append(decode_fast(bytes.fromhex(ln.args[1])))
                ticks.append(int(ln.args[0]))
            except (FrameError, ValueError, IndexError) as e:
                bad += 1
                errs.append(str(e))
        return out, ticks, bad, errs

    def _config_counter(self) -> int:
        """A fresh counter for a config update: strictly increasing per device, also across
        runs (a real board keeps the last accepted counter in flash)."""
        self._last_counter = max(int(time.time()), self._last_counter + 1)
        return self._last_counter

    @staticmethod
    def _config_message(config: dict[str, Any], counter: int, key: bytes) -> bytes:
        from firmware_model import config_update
        from firmware_model.limiter import Config

        return bytes(config_update.build(Config.from_dict(dict(config)), counter, key))

    def _apply_config(self, client: ProtocolClient, config: dict[str, Any],
                      counter: int) -> None:
        from firmware_model import config_update

        r = client.command("CONFIG", wire.hexlify(
            self._config_message(config, counter, config_update.TEST_KEY)))
        if not r.ok and r.code in (wire.E_AUTH, wire.E_CONFIG):
            # the firmware's own decision on a genuine update: a verdict, not a rig error
            raise ConfigRefused(f"the board refused the update: {r.code} "
                                f"{' '.join(r.args[1:])}")
        self._expect_ok(r, "CONFIG")

    def _forged_config(self, client: ProtocolClient, config: dict[str, Any],
                       counter: int) -> int:
        """The genuine update's content and counter, MAC'd with a wrong key: 1 if the board
        refuses it as unauthentic (E_AUTH), else 0. Same counter as the genuine one that
        follows, which must then still be accepted (a refused message consumes nothing)."""
        from firmware_model import config_update

        wrong = bytes(b ^ 0x5A for b in config_update.TEST_KEY)
        r = client.command("CONFIG", wire.hexlify(self._config_message(config, counter, wrong)))
        if r.ok or r.code == wire.E_INTERNAL:
            self._expect_ok(r, "forged CONFIG")  # raising on the firmware: a fail
            self.console.log("#", "forged CONFIG accepted")
            return 0
        self.console.log("#", f"forged CONFIG refused: {r.code} {' '.join(r.args[1:])}")
        return 1 if r.code == wire.E_AUTH else 0

    def _wait(self, client: ProtocolClient, due: float, deadline: float) -> None:
        """Until host time `due`, reading what the board sends meanwhile (summaries fall due
        on a real clock; a board whose output is not read stalls on flow control). Stops on
        the run's stop event and the scenario's deadline, as between commands."""
        while True:
            if self.opts.stop.is_set():
                raise Interrupted("run interrupted")
            now = time.monotonic()
            if now > deadline:
                raise ScenarioTimeout(f"scenario over {self.opts.scenario_timeout:.0f}s "
                                      "beyond its schedule")
            if now >= due:
                return
            client.drain(min(due - now, 0.25, deadline - now + 0.001))

    def _await_boot(self, client: ProtocolClient, deadline: float) -> None:
        """After a RESET: read until the board's EVENT BOOT (up to 2 s; HELLO follows, which
        has its own retries if the board is slower)."""
        until = min(time.monotonic() + 2.0, deadline)
        while time.monotonic() < until:
            if any(ln.verb == "EVENT" and ln.args[:1] == ["BOOT"]
                   for ln in client.drain(0.01)):
                return

    def _wait_for_ticks(self, client: ProtocolClient, ticks: int, deadline: float) -> None:
        """Start the scenario when the board's ticks_ms reaches `ticks` (its ticks_start):
        the board was powered on POWER_ON_LEAD_MS before it."""
        from firmware_model.ticks import ticks_diff

        r = client.command("STATS")
        now = next((ln.kv().get("t", "") for ln in r.lines if ln.verb == "STATS"), "")
        if not now.isdigit():
            raise BoardError("STATS without t=<ticks>", "protocol error")
        ahead = ticks_diff(ticks, int(now))
        self.console.log("#", f"ticks {now}, scenario starts at ticks {ticks}: "
                         f"waiting {max(0, ahead)} ms")
        if ahead > 0:
            self._wait(client, time.monotonic() + ahead / 1000, deadline)

    @staticmethod
    def _expect_ok(r: Reply, what: str) -> None:
        if not r.ok and r.code == wire.E_INTERNAL:
            # the firmware raised: a defect of the code under test, not of the rig
            raise FirmwareRaised(f"{what}: the firmware raised {' '.join(r.args[1:])}")
        if not r.ok:
            raise BoardError(f"{what} refused: {r.code} {' '.join(r.args[1:])}",
                             "command refused")


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
    """Run what has no result yet in `folder`; returns the results written by this call."""
    written: list[ScenarioResult] = []
    lock = threading.Lock()

    def one_board(b: BoardDef) -> None:
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
        except KeyboardInterrupt:
            opts.stop.set()
            for f in futures:
                f.cancel()
            raise
    return written


def _pacing_metrics(lags: list[float], times: BoardTimes) -> dict[str, Any]:
    """How faithfully a real-clock board was paced: how late alerts went out (host ms after
    due; a board slower than the schedule makes them late, never reordered or dropped)."""
    ms = sorted(x * 1000 for x in lags)
    out: dict[str, Any] = {"pacing_lag_max_ms": round(ms[-1], 2) if ms else 0.0,
                           "pacing_lag_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2)
                           if ms else 0.0,
                           "ticks_wraps": times.wraps}
    if times.restarts:
        out["ticks_restarts"] = times.restarts
    return out


def ensure_dir(path: str | Path) -> Path:
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


__all__ = ["EmulatorAdapter", "Progress", "RunOptions", "run_matrix"]
