"""The limiter-under-test verbs (firmware_model/lut.py): announced by HELLO caps=lut, answered
E_UNSUPPORTED by a board built without the module, and byte-identical in MicroPython 1.27 and
CPython for a session that makes, drives, snapshots, corrupts and restores a limiter (one VM
start). The whole vector set over the wire: tests/test_conformance.py."""

from __future__ import annotations

import tempfile

import pytest

from emulator import mpvm
from firmware_model import board as fw_board
from firmware_model import persist, wire

SCRIPT = r"""
class Clock:
    virtual = True
    def ticks_ms(self):
        return 0
    def wall_s(self):
        return 1767225600
    def set_wall(self, s):
        pass

def session(board_mod, wire, fs):
    out = []
    b = board_mod.Board(out.append, Clock(), fs, name="x", engine="e", fw="fw")
    b.boot("power")
    seq = [0]
    def cmd(v, a=None):
        seq[0] += 1
        b.handle_line(wire.encode(wire.HOST_MARK, seq[0], v, a))
    cmd("HELLO")
    cmd("LOFFER", "1 2")
    cmd("LNEW", "0")
    cmd("LNEW", "2 red_threshold=2 amber_threshold=1 code_limit=0 throttle_n=3 "
        "never_throttle=36671,5 summary_interval_ms=1000 device_window_ms=10000 "
        "code_window_ms=10000")
    cmd("LNEW", "2 throttle_mode=sometimes")
    cmd("LNEW", "2 red_threshold=2 amber_threshold=1 code_limit=0 throttle_n=3 "
        "summary_interval_ms=1000 device_window_ms=10000 code_window_ms=10000")
    t = 1073741000  # across the ticks wrap
    for i in range(40):
        cmd("LOFFER", "%d %d" % ((t + 97 * i) & 0x3FFFFFFF, (1, 2, 3, 36671)[i % 4]))
        if i % 7 == 0:
            cmd("LPOLL", str((t + 97 * i) & 0x3FFFFFFF))
            cmd("LPOP")
    cmd("LLEVEL", "2000")
    cmd("LSTATS")
    cmd("LSNAP", "3000")
    cmd("LPUT", "0 4153")
    cmd("LPUT", "2 01")
    cmd("LRESTORE", "3100")
    cmd("LSTATS")
    cmd("LCONF", "throttle_mode=one_per_period throttle_period_ms=1000 red_threshold=2 "
        "amber_threshold=1 code_limit=0")
    cmd("LCONF", "code_limit=65536")
    cmd("LCLEAR")
    cmd("LFAULT")
    cmd("LPOLL", "9000")
    cmd("LPUT", "0")
    cmd("LRESTORE", "9000")
    return out
"""

MP_PROGRAM = SCRIPT + r"""
import json, os
from firmware_model import board, wire, persist
os.mkdir("/flash")
print(json.dumps([x.decode() for x in session(board, wire, persist.OsFs("/flash/"))]))
"""


def _cpython() -> list[str]:
    ns: dict[str, object] = {}
    exec(SCRIPT, ns)
    with tempfile.TemporaryDirectory() as d:
        out = ns["session"](fw_board, wire, persist.OsFs(d + "/"))  # type: ignore[operator]
    return [x.decode() for x in out]


def _replies(lines: list[str]) -> list[tuple[str, list[str]]]:
    return [wire.decode(x.encode(), wire.DEVICE_MARK)[1:3] for x in lines]


def test_the_session_says_what_the_verbs_promise() -> None:
    r = _replies(_cpython())
    hello = dict(a.split("=", 1) for a in r[1][1] if "=" in a)
    assert hello["caps"] == "lut"
    naks = [args[1:] for verb, args in r if verb == "NAK"]
    assert naks[:3] == [["E_ARG", "no", "limiter", "(LNEW", "first)"], ["E_ARG", "slots"],
                        ["E_CONFIG", "throttle_mode"]]
    assert ["E_CONFIG", "code_limit"] in naks and ["E_ARG", "snapshot"] in naks
    assert any(a[:2] == ["E_INTERNAL", "RuntimeError"] for a in naks)
    decisions = [a[1] for v, a in r if v == "ACK" and len(a) == 2 and a[1].startswith("d=")]
    assert len(decisions) == 40 and {"d=0", "d=1", "d=3"} <= set(decisions)
    assert any(v == "LSUM" for v, _ in r) and any(v == "LBLOB" for v, _ in r)


def test_without_the_module_every_l_verb_is_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fw_board, "lut", None)
    r = _replies(_cpython())
    hello = dict(a.split("=", 1) for a in r[1][1] if "=" in a)
    assert hello["caps"] == "none"
    l_replies = [a for v, a in r[3:] if v in ("ACK", "NAK")]
    assert l_replies and all(a[1] == "E_UNSUPPORTED" for a in l_replies)


@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_the_verbs_are_byte_identical_in_micropython() -> None:
    got = mpvm.run_json(MP_PROGRAM, files=mpvm.package_files("firmware_model"))
    assert got == _cpython()
