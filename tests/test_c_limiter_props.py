"""Property test: thousands of random storms (random configs and table sizes, tick starts near
the 2**30 wrap, mid-stream configure, clear, snapshot + restore) through the C limiter (the
shared-library build, ctypes) and firmware_model's, event by event: identical decisions, polls,
levels, summaries, stats and snapshots -- modulo the narrowings docs/limiter.md documents (a
code window's count stored as min(x, 65536); the report sequence of a slot with no pending
report, which neither side reads). STORMS=N for more (default 2000)."""

from __future__ import annotations

import os
import random
import struct

import pytest

from firmware_model import limiter as py
from tests import c_port

STORMS = int(os.environ.get("STORMS", "2000"))
TICKS = 1 << 30


@pytest.fixture(scope="module")
def cm() -> c_port.CLimiterModule:
    path = c_port.build("lib")
    if isinstance(path, str):
        pytest.skip(path)
    return c_port.CLimiterModule(c_port.load(path))


def random_config(rng: random.Random) -> dict:
    red = rng.choice([1, 2, 3, 5, 10, 40])
    return {
        "device_window_ms": rng.choice([1000, 5000, 20000, 60000]),
        "red_threshold": red, "amber_threshold": rng.randint(1, red),
        "code_window_ms": rng.choice([1000, 3000, 10000, 60000]),
        "code_limit": rng.choice([0, 1, 2, 5]),
        "throttle_mode": rng.choice([1, 2]), "throttle_n": rng.choice([1, 2, 3, 10]),
        "throttle_period_ms": rng.choice([1000, 2500, 10000]),
        "summary_interval_ms": rng.choice([1000, 4000, 30000]),
        "never_throttle": rng.sample([0x8F3F, 0x8F1C, 0x0001, 0x0002], rng.randint(0, 2)),
    }


def normalise(snap: bytes) -> bytes:
    """A snapshot with the narrowed fields put in the C port's form."""
    b = bytearray(snap[:-2])
    used = b[5]
    for k in range(used):
        q = 61 + 62 * k + 6
        for off in (4, 8):  # c_count, c_prev
            v = struct.unpack_from("<I", b, q + off)[0]
            struct.pack_into("<I", b, q + off, min(v, 65536))
        if not (b[q - 1] >> 2) & 3:  # no pending report: its sequence number is stale
            struct.pack_into("<I", b, q + 52, 0)
    return bytes(b)


def run_storm(cm: c_port.CLimiterModule, seed: int) -> None:
    rng = random.Random(seed)
    cfg_d = random_config(rng)
    slots = rng.choice([1, 2, 3, 16])
    pc, cc = py.Config.from_dict(cfg_d), cm.Config.from_dict(cfg_d)
    a, b = py.Limiter(pc, slots), cm.Limiter(cc, slots)
    t = rng.choice([0, TICKS - rng.randint(1, 60000), rng.randrange(TICKS)])
    codes = [rng.randrange(0x8F00, 0x8F40) for _ in range(rng.randint(1, 6))] + [0x8F3F, 0]
    for step in range(rng.randint(50, 300)):
        t = (t + rng.choice([0, 0, 1, 10, 100, 400, 1500, 5000, 30000])) % TICKS
        op = rng.random()
        where = f"seed {seed} step {step}"
        if op < 0.75:
            code = rng.choice(codes)
            assert a.offer(code, t) == b.offer(code, t), where
        elif op < 0.85:
            assert a.poll(t) == b.poll(t), where
        elif op < 0.90:
            while True:
                x, y = a.pop_summary(), b.pop_summary()
                assert x == y, where
                if x is None:
                    break
        elif op < 0.93:
            assert a.level(t) == b.level(t), where
        elif op < 0.96:
            assert normalise(a.snapshot(t)) == normalise(b.snapshot(t)), where
            boot = rng.randrange(TICKS)
            blob = a.snapshot(t)  # each restores the other's snapshot
            cblob = b.snapshot(t)
            a, b = py.Limiter(pc, slots), cm.Limiter(cc, slots)
            a.restore(cblob, boot)
            b.restore(blob, boot)
            t = boot
        elif op < 0.98:
            cfg_d = random_config(rng)
            pc, cc = py.Config.from_dict(cfg_d), cm.Config.from_dict(cfg_d)
            a.configure(pc)
            b.configure(cc)
        elif op < 0.985:
            a.clear()
            b.clear()
        assert a.stats() == b.stats(), where
    assert normalise(a.snapshot(t)) == normalise(b.snapshot(t)), f"seed {seed} end"


def test_random_storms_decide_identically(cm: c_port.CLimiterModule) -> None:
    for seed in range(STORMS):
        run_storm(cm, seed)


def test_saturated_code_counts_restore_to_the_same_decisions(cm: c_port.CLimiterModule) -> None:
    # the narrowing of proof 1: a code counted 2**30 - 1 times in the Python snapshot is 65536
    # in the C limiter's, and both keep deciding alike
    cfg = {"red_threshold": 1, "amber_threshold": 1, "code_limit": 3, "throttle_n": 2}
    a, b = py.Limiter(py.Config.from_dict(cfg), 2), cm.Limiter(cm.Config.from_dict(cfg), 2)
    for t in range(0, 100, 10):
        assert a.offer(0x8F01, t) == b.offer(0x8F01, t)
    blob = bytearray(a.snapshot(100))
    q = 61 + 6
    struct.pack_into("<I", blob, q + 4, py.SAT_MAX)
    from firmware_model.crc import crc16
    c = crc16(blob, len(blob) - 2)
    blob[-2:] = bytes([c >> 8, c & 0xFF])
    a, b = py.Limiter(py.Config.from_dict(cfg), 2), cm.Limiter(cm.Config.from_dict(cfg), 2)
    a.restore(bytes(blob), 100)
    b.restore(bytes(blob), 100)
    assert struct.unpack_from("<I", b.snapshot(100), q + 4)[0] == 65536
    for t in range(100, 200, 7):
        assert a.offer(0x8F01, t) == b.offer(0x8F01, t)
    assert a.stats() == b.stats()
