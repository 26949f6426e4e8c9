"""firmware_model/board.py runs in real MicroPython 1.27 and, fed the same lines, emits
byte-identical output to CPython: decisions, frames, summaries, stats, across the ticks wrap,
through a reset restored from flash. One VM start."""

from __future__ import annotations

import json
import tempfile

import pytest

from emulator import mpvm
from firmware_model import board as fw_board
from firmware_model import persist, wire

pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")

START = (1 << 30) - 20_000  # the storm crosses the ticks wrap

SCRIPT = r"""
class Clock:
    virtual = True
    def __init__(self, t):
        self.t = t
        self.w = 1767225600
    def ticks_ms(self):
        return self.t
    def advance(self, ms):
        self.t = (self.t + ms) & 0x3FFFFFFF
        self.w_ms = 0
    def wall_s(self):
        return self.w
    def set_wall(self, s):
        self.w = s

def session(board_mod, wire, fs, start):
    out = []
    clock = Clock(start)
    def make():
        return board_mod.Board(out.append, clock, fs, name="x", engine="e", fw="fw",
                               placement="both")
    b = make()
    b.boot("power")
    seq = [0]
    def cmd(v, a=None):
        seq[0] += 1
        b.handle_line(wire.encode(wire.HOST_MARK, seq[0], v, a))
    cmd("HELLO")
    cmd("CLOCK", "1767225600")
    for i in range(260):
        cmd("ALERT", "8F0C esme" if i % 3 else "8F3F gsme")
        cmd("ADVANCE", "150")
    cmd("SAVE")
    b = make()
    b.boot("hard")
    for i in range(40):
        cmd("ALERT", "8F0C esme")
    cmd("ADVANCE", "7200000")
    cmd("STATS")
    return out
"""

MP_PROGRAM = SCRIPT + r"""
import json, os
from firmware_model import board, wire, persist
os.mkdir("/flash")
out = session(board, wire, persist.OsFs("/flash/"), START)
from firmware_model import main  # the real-board entry compiles and its clock works here
c = main.RtcClock()
c.set_wall(1767225600)
assert c.wall_s() == 1767225600 and c.ticks_ms() >= 0
print(json.dumps([x.decode() for x in out]))
""".replace("START", str(START))


def test_board_output_is_identical_in_micropython() -> None:
    got = mpvm.run_json(MP_PROGRAM, files=mpvm.package_files("firmware_model"))
    ns: dict[str, object] = {}
    exec(SCRIPT, ns)  # the same session, on CPython
    with tempfile.TemporaryDirectory() as d:
        want = ns["session"](fw_board, wire, persist.OsFs(d + "/"), START)  # type: ignore[operator]
    want_text = [x.decode() for x in want]
    assert isinstance(got, list) and len(got) == len(want_text)
    assert got == want_text
    kinds = [wire.decode(x.encode(), wire.DEVICE_MARK)[1] for x in got]
    assert kinds.count("FRAME") > 100 and "STATS" in kinds
    json.dumps(got)
