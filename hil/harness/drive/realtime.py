"""A real clock: the board's ticks_ms runs on its own, so the harness paces the scenario on
the host's monotonic clock (in scaled time, hil.harness.pacing) and takes the times the board
measured (the t= of each ALERT ACK, BoardTimes) for the comparison, so pacing jitter cannot
create a divergence (docs/harness.md, "Real-clock boards").

Every wait keeps reading the board (summaries fall due on a real clock; a board whose output
is not read stalls on flow control) and stops on the run's stop event and the deadline, as
between commands."""

from __future__ import annotations

import time
from typing import Any

from firmware_model.ticks import ticks_diff
from hil.board.client import Reply
from hil.board.errors import BoardError, Interrupted, ScenarioTimeout
from hil.harness.drive.clock import ScenarioClock
from hil.harness.drive.context import DriveContext
from hil.harness.pacing import BoardTimes, TimePlan


class RealClock(ScenarioClock):
    def __init__(self, ctx: DriveContext, plan: TimePlan) -> None:
        super().__init__(ctx, plan)
        self.times = BoardTimes()
        self._wall_set = 0.0  # host time the board's wall clock was set
        self._start = 0.0  # host time of scenario t=0
        self._last_ack = 0.0  # host time the last ALERT was acknowledged
        self._lags: list[float] = []  # how late each alert went out (s)
        # when each commanded reset happened, estimated on the host clock (used only if the
        # board's ticks restarted, which puts its boot lines in another time base)
        self._reset_estimates: list[tuple[Any, ...]] = []

    def wall_clock_set(self) -> None:
        self._wall_set = time.monotonic()

    def start(self) -> None:
        if self.plan.ticks_start is not None:
            self._wait_for_ticks(self.plan.ticks_start)
        self._start = time.monotonic()
        self._last_ack = self._start

    def until_reset(self, t_ms: int, kind: str) -> None:
        self._wait(self._start + t_ms / 1000)
        self._reset_estimates.append((self.times.at(time.monotonic(), t_ms), kind))

    def await_reboot(self) -> None:
        """Read until the board's EVENT BOOT (up to 2 s; HELLO follows, which has its own
        retries if the board is slower): the scenario's clock runs on meanwhile."""
        until = min(time.monotonic() + 2.0, self.ctx.deadline)
        while time.monotonic() < until:
            if any(ln.verb == "EVENT" and ln.args[:1] == ["BOOT"]
                   for ln in self.ctx.client.drain(0.01)):
                return

    def wall_elapsed_s(self) -> int:
        return int(time.monotonic() - self._wall_set)

    def until_alert(self, t_ms: int) -> None:
        due = self._start + t_ms / 1000
        self._wait(due)
        self._lags.append(time.monotonic() - due)

    def alert_time(self, reply: Reply, t_ms: int) -> int:
        self._last_ack = time.monotonic()
        ticks = reply.kv().get("t", "")
        if not ticks.isdigit():
            raise BoardError(f"ALERT acknowledged without t=<ticks>: {reply.args}",
                             "protocol error")
        return self.times.alert(int(ticks), self._last_ack, t_ms, self.ctx.client.counters.boots)

    def run_tail(self) -> None:
        self._wait(self._last_ack + self.plan.tail_ms / 1000)

    def tick_start(self) -> int | None:
        return self.times.tick_start  # None when no alert was sent: nothing is compared

    def resets(self, reported: list[tuple[int, str, str]]) -> list[tuple[Any, ...]]:
        # once the board's ticks restarted its boot lines are in another time base: the
        # host's estimates instead
        return list(self._reset_estimates) if self.times.restarts else list(reported)

    def metrics(self) -> dict[str, Any]:
        """How faithfully the board was paced: how late alerts went out (host ms after due;
        a board slower than the schedule makes them late, never reordered or dropped)."""
        ms = sorted(x * 1000 for x in self._lags)
        out: dict[str, Any] = {"pacing_lag_max_ms": round(ms[-1], 2) if ms else 0.0,
                               "pacing_lag_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2)
                               if ms else 0.0,
                               "ticks_wraps": self.times.wraps}
        if self.times.restarts:
            out["ticks_restarts"] = self.times.restarts
        return out

    def _wait(self, due: float) -> None:
        """Until host time `due`, reading what the board sends meanwhile."""
        ctx = self.ctx
        while True:
            if ctx.opts.stop.is_set():
                raise Interrupted("run interrupted")
            now = time.monotonic()
            if now > ctx.deadline:
                raise ScenarioTimeout(ctx.limit)
            if now >= due:
                return
            ctx.client.drain(min(due - now, 0.25, ctx.deadline - now + 0.001))

    def _wait_for_ticks(self, ticks: int) -> None:
        """Start the scenario when the board's ticks_ms reaches `ticks` (its ticks_start):
        the board was powered on POWER_ON_LEAD_MS before it (hil.harness.pacing)."""
        r = self.ctx.client.command("STATS")
        now = next((ln.kv().get("t", "") for ln in r.lines if ln.verb == "STATS"), "")
        if not now.isdigit():
            raise BoardError("STATS without t=<ticks>", "protocol error")
        ahead = ticks_diff(ticks, int(now))
        self.ctx.console.log("#", f"ticks {now}, scenario starts at ticks {ticks}: "
                             f"waiting {max(0, ahead)} ms")
        if ahead > 0:
            self._wait(time.monotonic() + ahead / 1000)
