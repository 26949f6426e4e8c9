"""Boards behind one interface (the harness layer).

- `adapters`: how bytes reach a board -- an emulator process behind a pty, a real board on USB
  serial, a micro:bit under QEMU. One small class per transport, same interface.
- `client`: the wire protocol (docs/wire-protocol.md) over any adapter: commands with exactly-once
  retry, resync on garbage, RESEND by seq, CRC-error counting, and a timestamped console log.
- `registry`: board TOML files (boards/*.toml) -> adapters; matching of attached serial ports.
"""

from hil.board.adapters import BoardAdapter, EmulatorAdapter, QemuAdapter, SerialAdapter
from hil.board.client import ProtocolClient, Reply
from hil.board.errors import BoardError, PortGone, ProtocolError

__all__ = [
    "BoardAdapter", "BoardError", "EmulatorAdapter", "PortGone", "ProtocolClient",
    "ProtocolError", "QemuAdapter", "Reply", "SerialAdapter",
]
