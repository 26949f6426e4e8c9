"""How scenario time passes on a board: the one interface between the scenario driver
(hil.harness.drive.driver) and a board's kind of clock, in the manner of labgrid's strategies.

The driver does what every board shares (setup, sending each alert, the resets' commands,
collecting what the board sent); a clock strategy owns everything that depends on how time
passes: bringing the board to an alert's or a reset's time, waiting for it to come back
after a reset, the scenario time it handled each alert at, the tail, the time base handed
to the comparison, and what it measured about its own pacing. Two of them:
hil.harness.drive.virtual (ADVANCE) and hil.harness.drive.realtime (paced on the host clock)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from hil.board.client import Reply
from hil.harness.drive.context import DriveContext
from hil.harness.pacing import TimePlan


class ScenarioClock(ABC):
    """Scenario time on one board for one scenario; times in scenario ms (after scaling)."""

    def __init__(self, ctx: DriveContext, plan: TimePlan) -> None:
        self.ctx = ctx
        self.plan = plan

    @abstractmethod
    def wall_clock_set(self) -> None:
        """The board's wall clock was just set for the scenario (before any config)."""

    @abstractmethod
    def start(self) -> None:
        """Scenario t=0: the first alert's time is counted from here."""

    @abstractmethod
    def until_reset(self, t_ms: int, kind: str) -> None:
        """Until a commanded reset of `kind` at `t_ms` is due (it is sent next)."""

    @abstractmethod
    def await_reboot(self) -> None:
        """After RESET: until the board is back (HELLO follows)."""

    @abstractmethod
    def wall_elapsed_s(self) -> int:
        """Seconds of the board's wall clock since it was set: the CLOCK after a reset."""

    @abstractmethod
    def until_alert(self, t_ms: int) -> None:
        """Until the alert scheduled at `t_ms` is due (it is sent next)."""

    @abstractmethod
    def alert_time(self, reply: Reply, t_ms: int) -> int:
        """The scenario time the board handled the alert scheduled at `t_ms` at (`reply`:
        its acknowledged ALERT): what the comparison gets."""

    @abstractmethod
    def run_tail(self) -> None:
        """Until the end of the tail after the last alert (episodes close, summaries)."""

    @abstractmethod
    def tick_start(self) -> int | None:
        """The board's ticks_ms at scenario t=0 (None: not known, the board file's)."""

    def resets(self, reported: list[tuple[int, str, str]]) -> list[tuple[Any, ...]]:
        """The resets the comparison gets: by default the board's own boot lines
        (`reported`, hil.harness.drive.reported.board_resets: exact, and they include resets
        behind the harness's back)."""
        return list(reported)

    def metrics(self) -> dict[str, Any]:
        """What the clock measured about the run (results' metrics)."""
        return {}
