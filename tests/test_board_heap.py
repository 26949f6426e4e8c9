"""Heap per ALERT round trip through firmware_model/board.py in real MicroPython 1.27 (gc
disabled while measuring, so mem_alloc deltas are exact and repeatable).

The limiter's part is 0. The FRAME line is built in place (wire.Emitter.emit_hex): its only
allocation is the line itself, which the RESEND ring keeps. What remains per round trip
(about 1.1 KB, measured by benchmarks/bench_limiter.py): that FRAME line (~250 B for an
85-byte frame), the ACK line and its decision text, the copy of the input line, the parsed
command (list of str), and the GBCS 64-bit originator counter (a long int on 32-bit ports).
Before the in-place build it was about 2.36 KB."""

from __future__ import annotations

import pytest

from benchmarks.bench_limiter import board_alert_heap
from emulator import mpvm

pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")

ROUNDTRIP_BOUND = 1200  # bytes per ALERT round trip (measured 1120 with MicroPython 1.27)


def test_alert_roundtrip_heap_is_bounded() -> None:
    res = board_alert_heap()
    assert res["limiter_heap_bytes"] == 0
    # the FRAME line costs its own bytes plus the bytearray object, no copies
    assert res["frame_line_heap_bytes"] <= res["frame_line_bytes"] + 64, res
    assert res["heap_bytes_per_alert_roundtrip"] <= ROUNDTRIP_BOUND, res
