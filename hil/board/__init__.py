"""Boards behind one interface (the harness layer).

- `adapters`: how bytes reach a board -- an emulator process behind a pty, a real board on USB
  serial, a micro:bit under QEMU. One module per transport, same interface.
- `client`: the wire protocol (docs/wire-protocol.md) over any adapter: commands with exactly-once
  retry, resync on garbage, RESEND by seq, CRC-error counting, and a timestamped console log.
- `registry`: board TOML files (boards/*.toml) -> adapters; matching of attached serial ports.
- `deploy`: firmware_model onto a MicroPython board over its raw REPL, hash-checked (its
  deploy() is not re-exported here: hil.board.deploy must stay the module).
- `errors`: the typed errors the harness decides by (retry, finding, or end of a board's night).
"""

from hil.board.adapters import (
    BoardAdapter,
    ConsoleLog,
    EmulatorAdapter,
    PortAdapter,
    QemuAdapter,
    SerialAdapter,
)
from hil.board.client import DeviceLine, ProtocolClient, Reply
from hil.board.deploy import DeployReport, deploy_serial, firmware_files, local_firmware_hash
from hil.board.errors import (
    BoardAbsent,
    BoardError,
    BoardFailed,
    CannotTakeCode,
    ConfigRefused,
    DeployError,
    FirmwareMismatch,
    FirmwareRaised,
    Interrupted,
    PortGone,
    ProtocolError,
    ScenarioTimeout,
)
from hil.board.registry import (
    BoardDef,
    all_boards,
    attached_ports,
    default_boards,
    load_board,
)

__all__ = [
    "BoardAbsent", "BoardAdapter", "BoardDef", "BoardError", "BoardFailed", "CannotTakeCode",
    "ConfigRefused", "ConsoleLog", "DeployError", "DeployReport", "DeviceLine",
    "EmulatorAdapter", "FirmwareMismatch", "FirmwareRaised", "Interrupted", "PortAdapter",
    "PortGone", "ProtocolClient", "ProtocolError", "QemuAdapter", "Reply", "ScenarioTimeout",
    "SerialAdapter", "all_boards", "attached_ports", "default_boards", "deploy_serial",
    "firmware_files", "load_board", "local_firmware_hash",
]
