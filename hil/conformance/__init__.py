"""Conformance of a board to the port kit (the harness level): the limiter vectors run over the
wire through the board's limiter-under-test verbs, and the wire transcripts played on its raw
link, against any board a board file describes (`hil conformance --board`, docs/porting.md).

- `vectors`: the vector files, found, told apart and checked (bad input names file and field)
- `limiter_vectors`: one limiter vector over the L verbs, compared event by event
- `transcripts`: the transcript format (placeholders) and its player
- `session`: one board's lifecycle across the vectors
- `outcome`: pass / fail / n/a / error of one vector; `junit`: the CI report
"""

from hil.conformance.junit import conformance_junit
from hil.conformance.outcome import (
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    Mismatch,
    NotApplicable,
    Outcome,
)
from hil.conformance.session import ConformanceSession
from hil.conformance.vectors import LIMITER, WIRE, Vector, VectorError, load_suite, load_vector

__all__ = [
    "ERROR", "FAIL", "LIMITER", "NOT_APPLICABLE", "PASS", "WIRE", "ConformanceSession",
    "Mismatch", "NotApplicable", "Outcome", "Vector", "VectorError", "conformance_junit",
    "load_suite", "load_vector",
]
