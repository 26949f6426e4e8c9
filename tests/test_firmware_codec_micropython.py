"""firmware_model/gbcs.py inside real MicroPython 1.27 (WebAssembly, node): it builds the same
bytes and parses the same fields (and rejects the same frames at the same offsets) as on
CPython, where the host decoders check it in turn (tests/test_codec_properties.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from emulator import mpvm
from firmware_model import gbcs

ROOT = Path(__file__).resolve().parent.parent
SRC = (ROOT / "firmware_model" / "gbcs.py").read_text()
DATA = ROOT / "tests" / "data" / "rtds-sample"

pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node + MicroPython npm package "
                                "missing (scripts/setup.sh installs them)")

# (ciphered, counter, orig, recip, msg, code, encoding, t2000, ic, invoke) -- includes values
# above 2**30 and 2**32, which are long ints on MicroPython
BUILDS = [
    (True, 2000, "00DB1234567890A0", "90B3D51F30010000", 0x1001, 0x810E, 1, 473385600, 0, 0),
    (False, 3000, "00DB1234567890A1", "90B3D51F30010000", 0x1000, 0x8F30, 2, 473385600, 0, 7),
    (True, 2**40 + 5, "0011223344556677", "8899AABBCCDDEEFF", 0x1001, 0x8F75, 1, 0xFFFFFFFF,
     0xFFFFFFFF, 0x80000001),
    (False, 2**64 - 1, "FFFFFFFFFFFFFFFF", "0000000000000000", 0x0067, 0x8F36, 2, 2**30 + 1, 1,
     2**31),
]
SUMMARIES = [
    (7, "00DB1234567890A0", "90B3D51F30010000", 820454400, 0x8F75, 5, 9, 820454400, 820458000,
     1),
    (2**33, "00DB1234567890A2", "90B3D51F30010000", 2**31 + 3, 0x0000, 2**32 - 1, 2**31, 0,
     2**32 - 1, 2),
]

PROGRAM = """
import json, ubinascii, gbcs
def h(b):
    return ubinascii.hexlify(b).decode()
builds = json.loads(BUILDS)
sums = json.loads(SUMMARIES)
frames = json.loads(FRAMES)
buf = bytearray(200)
built = []
for c, ctr, o, r, msg, code, enc, t, ic, inv in builds:
    n = gbcs.build_alert(buf, c, ctr, ubinascii.unhexlify(o), ubinascii.unhexlify(r), msg, code,
                         enc, t, ic, inv)
    built.append(h(buf[:n]))
for ctr, o, r, t, code, cnt, tot, first, last, kind in sums:
    n = gbcs.build_summary(buf, ctr, ubinascii.unhexlify(o), ubinascii.unhexlify(r), t, code,
                           cnt, tot, first, last, kind)
    built.append(h(buf[:n]))
out = [0] * gbcs.N_FIELDS
parsed = []
for f in frames:
    b = ubinascii.unhexlify(f)
    try:
        parsed.append(gbcs.fields(b, gbcs.parse(b, -1, out)))
    except gbcs.FrameError as e:
        parsed.append(["error", e.offset])
print(json.dumps({"built": built, "parsed": parsed}))
"""


def cpython_results(frames: list[str]) -> dict:
    buf = bytearray(200)
    built = []
    for c, ctr, o, r, msg, code, enc, t, ic, inv in BUILDS:
        n = gbcs.build_alert(buf, c, ctr, bytes.fromhex(o), bytes.fromhex(r), msg, code, enc, t,
                             ic, inv)
        built.append(buf[:n].hex())
    for ctr, o, r, t, code, cnt, tot, first, last, kind in SUMMARIES:
        n = gbcs.build_summary(buf, ctr, bytes.fromhex(o), bytes.fromhex(r), t, code, cnt, tot,
                               first, last, kind)
        built.append(buf[:n].hex())
    parsed = []
    for f in frames:
        b = bytes.fromhex(f)
        try:
            parsed.append(gbcs.fields(b, gbcs.parse(b)))
        except gbcs.FrameError as e:
            parsed.append(["error", e.offset])
    return {"built": built, "parsed": parsed}


def test_gbcs_codec_identical_in_micropython() -> None:
    samples = [p.read_text().strip().lower() for p in sorted(DATA.glob("*.HEX"))]
    rnd = random.Random(7)
    frames = list(samples)
    for _ in range(300):  # mutated frames: the error paths must behave the same too
        b = bytearray(bytes.fromhex(rnd.choice(samples)))
        for _ in range(rnd.randint(1, 2)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        frames.append(bytes(b[:rnd.randrange(len(b) // 2, len(b) + 1)]).hex())
    expected = cpython_results(frames)
    frames += expected["built"]  # and parse what was built
    expected = cpython_results(frames)
    code = (f"BUILDS = {json.dumps(json.dumps(BUILDS))}\n"
            f"SUMMARIES = {json.dumps(json.dumps(SUMMARIES))}\n"
            f"FRAMES = {json.dumps(json.dumps(frames))}\n" + PROGRAM)
    got = mpvm.run_json(code, files={"gbcs.py": SRC})
    assert got["built"] == expected["built"]
    assert len(got["parsed"]) == len(frames)
    for frame, mp, cp in zip(frames, got["parsed"], expected["parsed"], strict=True):
        assert mp == cp, frame
    errors = sum(1 for p in expected["parsed"] if isinstance(p, list))
    assert 0 < errors < len(frames)  # both paths exercised
