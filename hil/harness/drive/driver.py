"""The scenario driver: one scenario on a connected board, whatever its clock, from HELLO to
the verdict. What every board shares is here: the HELLO checks, CLEAR, CLOCK, the config
update (and its forged copy), sending each alert and each commanded reset, the link checks,
collecting what the board sent north, and the BoardRun the metrics and the verdict are
computed from. How time passes between those steps is the clock strategy's
(hil.harness.drive.clock): ADVANCE on a virtual clock, pacing on a real one.

Errors are raised as their type (hil.board.errors) for the runner to decide on: a finding
about the firmware (BoardFailed) or a rig error (any other BoardError, retried)."""

from __future__ import annotations

import time

from emulator.keystore import KeyStore
from firmware_model.ticks import TICKS_PERIOD
from hil.board.errors import BoardError, Interrupted, ScenarioTimeout
from hil.board.registry import BoardDef
from hil.harness.drive.auth import check_frames
from hil.harness.drive.clock import ScenarioClock
from hil.harness.drive.config import ConfigCounter, send_config, send_forged_config
from hil.harness.drive.context import DriveContext, expect_ok
from hil.harness.drive.realtime import RealClock
from hil.harness.drive.reported import board_frames, board_resets
from hil.harness.drive.virtual import VirtualClock
from hil.harness.metrics import BoardRun, evaluate
from hil.harness.pacing import TimePlan
from hil.harness.results import FAIL, PASS, ScenarioResult
from hil.harness.scenarios import Event, Scenario

WALL_S = 1_767_225_600  # 2026-01-01T00:00:00Z: every run sets the same wall clock


def clock_for(ctx: DriveContext, plan: TimePlan) -> ScenarioClock:
    return RealClock(ctx, plan) if plan.real_clock else VirtualClock(ctx, plan)


class ScenarioDriver:
    """One attempt at one scenario on a connected board, whatever its clock; `plan` is the
    scenario as it runs on this board (hil.harness.pacing)."""

    def __init__(self, ctx: DriveContext, board: BoardDef, plan: TimePlan) -> None:
        self.ctx = ctx
        self.board = board
        self.plan = plan
        self.clock = clock_for(ctx, plan)
        self.decisions: list[str] = []  # the board's decision letters, one string per alert
        self.events: list[Event] = []  # the alerts at the times the board handled them
        self.alert_acks: list[float] = []  # host receipt time of each ALERT's answer

    def run(self, sc: Scenario, res: ScenarioResult, counter: ConfigCounter) -> None:
        """Drive `sc` and give `res` its board info, metrics, series, divergence, verdict and
        reasons; errors are raised as their type, for the runner to decide on."""
        scheduled = self._set_up(sc, res, counter)
        self._send(scheduled)
        self.clock.run_tail()
        self._read_stats(res)
        self._judge(sc, res)

    # -- before the first alert ----------------------------------------------------------------
    def _set_up(self, sc: Scenario, res: ScenarioResult, counter: ConfigCounter) -> list[Event]:
        """HELLO checked, a known state, the wall clock and the config in force; returns the
        alerts to send, with their sources as this board raises them."""
        client, plan = self.ctx.client, self.plan
        info = client.hello()
        res.board_info = dict(info)
        self.board.check_firmware(info)
        clock = info.get("clock", self.board.spec.clock)
        if clock != self.board.spec.clock:
            raise BoardError(f"{self.board.name}: HELLO says clock={clock}, the board file "
                             f"says {self.board.spec.clock}", "clock mismatch")
        # a known starting state: a real board would otherwise carry the previous scenario's
        # windows and episodes (in RAM and in its flash snapshot) into this one
        expect_ok(client.command("CLEAR"), "CLEAR")
        scheduled = plan.events
        role = info.get("role", self.board.role)
        if role in ("esme", "gsme"):  # a lone meter raises every alert itself
            scheduled = [(t, c, role) for t, c, _ in scheduled]
        expect_ok(client.command("CLOCK", str(WALL_S)), "CLOCK")
        self.clock.wall_clock_set()
        res.metrics["time_scale"] = plan.scale
        n = counter.next()
        if sc.forged_config_first:
            res.metrics["forged_config_refused"] = send_forged_config(self.ctx, plan.config, n)
        if plan.send_config:
            send_config(self.ctx, plan.config, n)
            if not plan.as_written:
                self.ctx.console.log("#", f"time_scale {plan.scale}: config in force "
                                     f"{plan.config}; schedule {plan.span_ms} ms")
        return scheduled

    # -- the schedule --------------------------------------------------------------------------
    def _send(self, scheduled: list[Event]) -> None:
        ctx, resets = self.ctx, list(self.plan.resets)
        self.clock.start()
        for t, code, src in scheduled:
            if ctx.opts.stop.is_set():
                raise Interrupted("run interrupted")
            if time.monotonic() > ctx.deadline:
                raise ScenarioTimeout(ctx.limit)
            while resets and resets[0][0] <= t:
                self._reset(*resets.pop(0))
            self.clock.until_alert(t)
            self._alert(t, code, src)
            self._check_link()

    def _reset(self, t: int, kind: str) -> None:
        client = self.ctx.client
        self.clock.until_reset(t, kind)
        expect_ok(client.command("RESET", kind), "RESET")
        self.clock.await_reboot()
        client.hello()
        expect_ok(client.command("CLOCK", str(WALL_S + self.clock.wall_elapsed_s())), "CLOCK")

    def _alert(self, t: int, code: int, src: str) -> None:
        r = self.ctx.client.command("ALERT", f"{code:04X} {src}")
        self.alert_acks.append(time.monotonic())
        expect_ok(r, "ALERT")
        self.decisions.append("".join(a.split("=", 1)[1] for a in r.args if "=" in a
                                      and a.split("=", 1)[0] in ("hub", "esme", "gsme")))
        self.events.append((self.clock.alert_time(r, t), code, src))

    def _check_link(self) -> None:
        opts, counters = self.ctx.opts, self.ctx.client.counters
        bad = counters.crc_errors
        if bad > opts.crc_error_limit and bad > opts.crc_error_rate * len(self.ctx.client.lines):
            raise BoardError(f"{counters.crc_errors} CRC/format errors on the link",
                             "crc errors")

    # -- after the tail ------------------------------------------------------------------------
    def _read_stats(self, res: ScenarioResult) -> None:
        client = self.ctx.client
        stats = client.command("STATS")
        for ln in stats.lines:
            if ln.verb == "STATS":
                res.metrics["board_stats"] = ln.kv()
        if client.counters.lost_lines:
            raise BoardError(f"{client.counters.lost_lines} device lines lost before RESEND",
                             "lines lost")

    def _board_run(self) -> tuple[BoardRun, list[str]]:
        """What the comparison gets: the alerts at the times the board's limiter saw them,
        the config in force on the board, the ticks at scenario t=0, the resets it went
        through; and the errors of the frames that do not decode."""
        spec, events = self.board.spec, self.events
        tick_start = self.clock.tick_start()
        if tick_start is None:
            tick_start = spec.ticks_start
        resets = self.clock.resets(board_resets(self.ctx.client, tick_start, events,
                                                self.alert_acks))
        frames, frame_ticks, frame_errors, errs = board_frames(self.ctx.client)
        per_source = len({s for _, _, s in events}) > 1 and self.board.role != "chub"
        return BoardRun(
            events=events, decisions=self.decisions, frames=frames, config=self.plan.config,
            per_source=per_source, frame_errors=frame_errors, critical=tuple(spec.critical or ()),
            slots=spec.slots, tick_start=tick_start, resets=resets,
            persist_ms=spec.persist_ms, poll_ms=spec.poll_ms, ticks_continue=self.board.emulated,
            titles={k: v.hex().upper() for k, v in (spec.titles or {}).items()},
            frame_t_ms=[(t - tick_start) % TICKS_PERIOD for t in frame_ticks]), errs

    def _judge(self, sc: Scenario, res: ScenarioResult) -> None:
        res.metrics.update(self.clock.metrics())
        run, errs = self._board_run()
        ev = evaluate(run)
        res.metrics.update(ev.metrics)
        res.series = ev.series
        res.divergence = ev.divergence
        reasons: list[str] = []
        verdict = PASS
        for p in sc.properties:  # res.metrics: also what the drive measured (forged config)
            ok, why = p.check(res.metrics)
            if ok is False:
                verdict = FAIL
                reasons.append("violated: " + why)
            elif ok is True:
                reasons.append("held: " + why)
        if run.frame_errors:
            verdict = FAIL
            reasons.append(f"{run.frame_errors} frames sent north do not decode: {errs[:3]}")
        keys = self.ctx.opts.keys or self.board.spec.keys
        if keys:  # authenticity: its own check, on the raw frames (hil.harness.drive.auth)
            auth = check_frames(self.ctx.client, KeyStore(keys))
            res.metrics.update(auth.metrics())
            if auth.invalid:
                verdict = FAIL
                reasons.append(f"{auth.invalid} frames sent north fail verification: "
                               f"{auth.examples}")
            elif auth.valid:
                reasons.append(f"held: all {auth.valid} frames sent north verify")
        res.verdict, res.reasons = verdict, reasons

