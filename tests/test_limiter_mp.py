"""The limiter in real MicroPython 1.27: the conformance vectors give the same results as on
CPython (flat micro:bit-style layout, one VM start for all vectors), and offer()/poll() allocate
no heap in steady state (gc.mem_alloc measured in the VM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import mpvm

ROOT = Path(__file__).resolve().parent.parent
VEC = ROOT / "vectors" / "limiter"
pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")


def flat_files() -> dict[str, str]:
    names = ("crc.py", "limiter.py", "ticks.py")
    files = {n: (ROOT / "firmware_model" / n).read_text() for n in names}
    files["limiter_runner.py"] = (ROOT / "vectors" / "limiter_runner.py").read_text()
    return files


def test_all_vectors_match_in_micropython_flat_layout() -> None:
    vectors = {p.stem: json.loads(p.read_text()) for p in sorted(VEC.glob("*.json"))}
    files = flat_files()
    files["vectors.json"] = json.dumps(vectors)
    code = """
import json, sys
import limiter
from limiter_runner import run_vector
vs = json.load(open('/lib/vectors.json'))
out = {}
for name in vs:
    out[name] = run_vector(vs[name], limiter)
print(json.dumps(out))
"""
    got = mpvm.run_json(code, files)
    assert isinstance(got, dict) and set(got) == set(vectors)
    for name, v in vectors.items():
        for key, want in v["expect"].items():
            assert got[name][key] == want, f"{name}: {key} differs in MicroPython"


ALLOC = """
import gc, json
from firmware_model.limiter import Config, Limiter
from firmware_model.ticks import ticks_add
cfg = Config.from_dict({"red_threshold": 20, "amber_threshold": 10, "code_limit": 3,
                        "throttle_n": 4, "device_window_ms": 10000, "code_window_ms": 10000,
                        "summary_interval_ms": 1000, "never_throttle": ["0x8F3F"],
                        "throttle_mode": MODE})
def phase(lim, t0, n, codes, step, pop=True):
    t = t0
    for k in range(n):
        lim.offer(codes[k % len(codes)], t)
        if k % 16 == 0:
            lim.poll(t)
            while pop and lim.pop_summary() is not None:
                pass
        t = ticks_add(t, step)  # (t + step) & mask would make a big int near the wrap
    return t
res = {}
for name, codes, step in (("healthy", (0x100, 0x101), 1000), ("storm", (0x100, 0x101, 0x8F3F), 3),
                         ("overflow", tuple(range(0x200, 0x220)), 2)):
    lim = Limiter(cfg, 16)
    # warm up (episodes open, slots taken), ending 1000 steps before the 2**30 wrap, so the
    # measured phase crosses it
    t = phase(lim, ticks_add(0x3FFFFFFF, -3000 * step), 2000, codes, step)
    gc.collect()
    before = gc.mem_alloc()
    phase(lim, t, 3000, codes, step, pop=False)  # pop_summary builds a tuple: off the hot path
    res[name] = [gc.mem_alloc() - before, lim.stats()["suppressed"], lim.stats()["overflow_uses"]]
print(json.dumps(res))
"""


@pytest.mark.parametrize("mode", ["one_in_n", "one_per_period"])
def test_offer_and_poll_allocate_nothing_in_steady_state(mode: str) -> None:
    files = mpvm.package_files("firmware_model", ["__init__.py", "crc.py", "limiter.py",
                                                  "ticks.py"])
    res = mpvm.run_json(ALLOC.replace("MODE", repr(mode)), files)
    assert isinstance(res, dict)
    for name, (delta, _suppressed, _overflow) in res.items():
        assert delta == 0, f"{name}: {delta} heap bytes in steady state"
    assert res["storm"][1] > 0, "the storm phase must actually suppress"
    assert res["overflow"][2] > 0, "the overflow phase must actually use the overflow slot"
