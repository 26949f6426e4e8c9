"""What running one vector against a board came to, and the two ways a runner stops early.

pass: every expectation held. fail: the first difference (Mismatch carries it: the event or
step, what was expected, what came). n/a: the board cannot be asked what the vector asks (an
optional verb it answers E_UNSUPPORTED, a HELLO that lacks a capability, a board that cannot
hold the firmware); never counted as passed. error: the rig's trouble (no answer, port gone);
counted as not passed, like a failure."""

from __future__ import annotations

from dataclasses import dataclass

PASS = "pass"
FAIL = "fail"
NOT_APPLICABLE = "n/a"
ERROR = "error"


class Mismatch(Exception):
    """The board's answer differs from the vector: the message names the event and both sides."""


class NotApplicable(Exception):
    """The board cannot be asked what the vector asks; the message says why."""


@dataclass
class Outcome:
    name: str  # "limiter/<stem>" or "wire/<stem>"
    status: str
    message: str = ""  # fail/error: the first difference; n/a: why; pass: what was skipped
    wall_s: float = 0.0

    @property
    def applicable(self) -> bool:
        return self.status != NOT_APPLICABLE
