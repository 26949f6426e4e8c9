"""Typed errors of the board wing. The harness decides by type: what it retries (the rig's
trouble), what it records as a finding about the firmware under test (never retried), and what
ends a board's night. `reason` is the short tag a verdict's reason starts with."""

from __future__ import annotations

from hil.errors import HilError


class BoardError(HilError):
    """Trouble with a board. Plain BoardErrors are the rig's (port, link, timing): the harness
    retries them up its recovery ladder."""

    reason = "board error"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


# -- the rig ------------------------------------------------------------------------------------

class PortGone(BoardError):
    """The port vanished (process died, cable pulled, device re-enumerated)."""

    reason = "port gone"


class ProcessExited(PortGone):
    """The process that is the board (an emulator, QEMU) exited: seen by its exit status and
    reaped, not merely by a port that no longer opens. `status` is as subprocess gives it
    (negative: killed by that signal). The first rung of the ladder respawns it."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BoardAbsent(BoardError):
    """A real board's TOML matches no attached serial port."""

    reason = "board absent"


class ProtocolError(BoardError):
    """The board does not speak the protocol as expected (no answer, wrong version, ...)."""

    reason = "protocol error"


class ScenarioTimeout(BoardError):
    """A scenario ran past its time limit."""

    reason = "timeout"


class Interrupted(BoardError):
    """The run was asked to stop (Ctrl-C, a signal): not retried."""

    reason = "interrupted"


class DeployError(BoardError):
    """Deploying failed for a reason of the rig (port, transfer, REPL not answering)."""

    reason = "deploy failed"


class CannotTakeCode(DeployError):
    """The board ran out of memory (MemoryError) or lacks a module (ImportError): a property of
    the board, reported `too-large`, never retried."""

    reason = "too large"


class FirmwareMismatch(BoardError):
    """HELLO's firmware hash is not the host's firmware."""

    reason = "firmware mismatch"


# -- findings about the firmware under test: a FAIL verdict, never retried ----------------------

class BoardFailed(BoardError):
    """The firmware under test misbehaved; retrying would hide a defect."""

    reason = "board failed"


class FirmwareRaised(BoardFailed):
    """The firmware answered E_INTERNAL: it raised an exception."""

    reason = "firmware raised"


class ConfigRefused(BoardFailed):
    """The board refused a genuine, well-formed config update."""

    reason = "config refused"
