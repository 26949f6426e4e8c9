"""A virtual clock: the board's time moves only when the harness says so (ADVANCE), so a
scenario of hours runs in the time its round trips take, at exactly its scheduled times."""

from __future__ import annotations

from firmware_model import wire
from hil.board.client import Reply
from hil.board.errors import BoardError
from hil.harness.drive.clock import ScenarioClock
from hil.harness.drive.context import DriveContext, expect_ok
from hil.harness.pacing import TimePlan

MAX_ADVANCE = 86_400_000  # the protocol's ADVANCE limit


class VirtualClock(ScenarioClock):
    def __init__(self, ctx: DriveContext, plan: TimePlan) -> None:
        super().__init__(ctx, plan)
        self.now = 0  # scenario ms the board has been advanced to

    def advance_to(self, t_ms: int) -> None:
        while t_ms > self.now:
            step = min(t_ms - self.now, MAX_ADVANCE)
            r = self.ctx.client.command("ADVANCE", str(step))
            if not r.ok and r.code == wire.E_UNSUPPORTED:
                raise BoardError("board cannot advance virtual time", "unsupported")
            expect_ok(r, "ADVANCE")
            self.now += step

    def wall_clock_set(self) -> None:
        pass  # its seconds are scenario time: wall_elapsed_s

    def start(self) -> None:
        pass  # t=0 is where the board is: nothing advanced yet

    def until_reset(self, t_ms: int, kind: str) -> None:
        self.advance_to(t_ms)

    def await_reboot(self) -> None:
        self.ctx.client.drain(0.2)

    def wall_elapsed_s(self) -> int:
        return self.now // 1000

    def until_alert(self, t_ms: int) -> None:
        self.advance_to(t_ms)

    def alert_time(self, reply: Reply, t_ms: int) -> int:
        return t_ms  # the board's time is the schedule's

    def run_tail(self) -> None:
        self.advance_to(self.now + self.plan.tail_ms)

    def tick_start(self) -> int | None:
        return self.plan.ticks_start
