"""Every frame a board sent north checked for authenticity (docs/frames.md section 11): with
a test key set (`hil run --keys DIR`, or the board file's `keys`), each frame's MAC or
signature is verified (hil.frames.security). A board whose HELLO says auth=none has no
security module: its frames are counted unauthenticated, not verified. Any frame of a board
that does authenticate that fails verification, or cannot be verified for want of a key for
its parties, fails the scenario."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.keystore import KeyStore
from hil.board.client import ProtocolClient
from hil.frames import FrameError, verify

NO_AUTH = "none"


@dataclass
class FrameAuth:
    valid: int = 0
    invalid: int = 0
    unauthenticated: int = 0  # frames of a board with no security module (HELLO auth=none)
    examples: list[str] = field(default_factory=list)  # a few frames that failed, why

    def metrics(self) -> dict[str, int]:
        return {"frames_auth_valid": self.valid, "frames_auth_invalid": self.invalid,
                "frames_auth_none": self.unauthenticated}


def check_frames(client: ProtocolClient, keys: KeyStore) -> FrameAuth:
    out = FrameAuth()
    authenticating = client.hello_info.get("auth", NO_AUTH) != NO_AUTH
    for ln in client.lines:
        if ln.verb != "FRAME":
            continue
        if not authenticating:
            out.unauthenticated += 1
            continue
        try:
            auth = verify(bytes.fromhex(ln.args[1]), keys)
        except (FrameError, ValueError, IndexError):
            continue  # counted, and failed, as a frame that does not decode (reported.py)
        if auth.valid:
            out.valid += 1
            continue
        out.invalid += 1
        if len(out.examples) < 3:
            why = "no key for its parties" if auth.valid is None else f"{auth.kind} invalid"
            out.examples.append(f"seq {ln.seq}: {why}")
    return out
