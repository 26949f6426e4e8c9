"""What every step of driving one scenario shares: the board's protocol client, the scenario's
console log, the run's options and the scenario's deadline; and how the answer to a command
is judged (a firmware that raised is a finding, any other refusal a rig error)."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_model import wire
from hil.board.adapters import ConsoleLog
from hil.board.client import ProtocolClient, Reply
from hil.board.errors import BoardError, FirmwareRaised
from hil.harness.options import RunOptions


@dataclass
class DriveContext:
    """One attempt at a scenario: the driver's and its clock strategy's shared state."""

    client: ProtocolClient
    console: ConsoleLog
    opts: RunOptions
    deadline: float  # host monotonic time: the scenario's limit, schedule included
    limit: str  # what a ScenarioTimeout says: the attempt's limit or the run's


def expect_ok(r: Reply, what: str) -> None:
    """Raise unless the board acknowledged `what`."""
    if not r.ok and r.code == wire.E_INTERNAL:
        # the firmware raised: a defect of the code under test, not of the rig
        raise FirmwareRaised(f"{what}: the firmware raised {' '.join(r.args[1:])}")
    if not r.ok:
        raise BoardError(f"{what} refused: {r.code} {' '.join(r.args[1:])}", "command refused")
