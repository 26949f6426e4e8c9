"""The recovery ladder: what the runner does to a board between the retries of a scenario
that ended in error, one rung higher per retry (docs/harness.md, "Recovery ladder").

    1 reconnect    close and reopen the port (a board process that died, known by its exit
                   status, is reaped and respawned on its flash: hil.board.adapters.process)
    2 soft reset   RESET soft
    3 hard reset   the adapter's own (respawn, EN pulse); else RESET hard

Which errors are retried at all is the runner's decision, by the type of the error
(hil.board.errors); the ladder only brings the board back far enough to answer again."""

from __future__ import annotations

from hil.board.adapters import BoardAdapter, ConsoleLog
from hil.board.client import ProtocolClient

RUNGS = ("reconnect", "soft reset", "hard reset")


class RecoveryLadder:
    """Climbs to one rung on request; rungs past the top repeat the top one."""

    # a board that still errors once the ladder has reset it (a rung this high or higher)
    # is unhealthy for the rest of the run
    UNHEALTHY_FROM = 2

    def __init__(self, step_timeout: float) -> None:
        self.step_timeout = step_timeout

    def climb(self, adapter: BoardAdapter, rung: int, console: ConsoleLog) -> None:
        """Rung `rung` (1 reconnect, 2 soft reset, 3 hard reset) on `adapter`."""
        console.log("#", f"recovery rung {rung}: " + RUNGS[min(rung, 3) - 1])
        if rung == 1:
            adapter.reconnect()
        elif rung == 2:
            self._reset_command(adapter, "soft")
        elif not adapter.hard_reset():  # no reset line of its own: ask the firmware
            self._reset_command(adapter, "hard")

    def unhealthy_after(self, rung: int) -> bool:
        """Whether a board that errored with `rung` the last rung climbed is given up on."""
        return rung >= self.UNHEALTHY_FROM

    def _reset_command(self, adapter: BoardAdapter, kind: str) -> None:
        adapter.reconnect()
        c = ProtocolClient(adapter, step_timeout=self.step_timeout)
        c.command("RESET", kind)
        c.drain(1.0)
