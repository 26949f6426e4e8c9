"""wire.py runs in real MicroPython 1.27 and produces byte-identical lines and CRCs to
CPython's (one VM start for the whole batch)."""

from __future__ import annotations

import json

import pytest

from emulator import mpvm
from firmware_model import wire

pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")

PROGRAM = r"""
import json
from firmware_model import crc, wire
res = {}
res["crc"] = crc.crc16(b"123456789")
res["lines"] = [wire.encode(wire.DEVICE_MARK, s, "FRAME", "%d DF09" % s).decode() for s in (0, 7, 1073741823)]
res["decode"] = list(wire.decode(b"!5 ALE" + wire.encode(wire.HOST_MARK, 6, "ALERT", "8F0C esme"), wire.HOST_MARK)[:3])
errs = []
for bad in (b"noise\n", b"!1 HELLO*0000\n", b"!1 HELLO\n"):
    try:
        wire.decode(bad, wire.HOST_MARK)
    except wire.WireError as e:
        errs.append(e.code)
res["errors"] = errs
out = []
r = wire.LineReader(16)
r.feed(b"ab\n" + b"x" * 40 + b"\nok\r\n", out.append)
res["reader"] = [None if x is None else x.decode() for x in out]
sent = []
em = wire.Emitter(sent.append, ring=4)
for i in range(6):
    em.emit("X", str(i))
sent.clear()
try:
    em.resend(0)
except wire.WireError as e:
    res["gone"] = [e.code, e.detail, len(sent)]
res["hex"] = [wire.hexlify(b"\x01\xab"), list(wire.unhexlify("01AB"))]
import os
try:
    os.mkdir("/fw")
except OSError:
    pass
f = open("/fw/a.py", "w"); f.write("x = 1\n"); f.close()
res["fw"] = wire.firmware_hash("/fw")
print(json.dumps(res))
"""


def test_wire_in_micropython_matches_cpython(tmp_path) -> None:
    got = mpvm.run_json(PROGRAM, files=mpvm.package_files("firmware_model", ["__init__.py", "crc.py",
                                                                       "wire.py"]))
    assert isinstance(got, dict)
    assert got["crc"] == 0x29B1
    assert got["lines"] == [wire.encode(wire.DEVICE_MARK, s, "FRAME", f"{s} DF09").decode()
                            for s in (0, 7, 1073741823)]
    assert got["decode"] == [6, "ALERT", ["8F0C", "esme"]]
    assert got["errors"] == [wire.E_NOISE, wire.E_CRC, wire.E_FORMAT]
    assert got["reader"] == ["ab", None, "ok\r"]
    assert got["gone"] == [wire.E_GONE, "oldest=2", 4]
    assert got["hex"] == ["01AB", [1, 0xAB]]
    (tmp_path / "a.py").write_text("x = 1\n")
    assert got["fw"] == wire.firmware_hash(str(tmp_path))
    json.dumps(got)
