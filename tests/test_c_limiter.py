"""The C port's limiter (ports/c/src/limiter.c, snapshot.c) against every limiter vector, through
the shared-library build and the same runner the Python limiter passes (vectors/limiter_runner.py),
plus its layout (docs/limiter.md: slot_t 52 bytes, limiter_t 1000 for 16 slots) and CRC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import c_port
from vectors.limiter_runner import run_vector

VECTORS = sorted((c_port.ROOT / "vectors" / "limiter").glob("*.json"))


@pytest.fixture(scope="module")
def lm() -> c_port.CLimiterModule:
    path = c_port.build("lib")
    if isinstance(path, str):
        pytest.skip(path)
    return c_port.CLimiterModule(c_port.load(path))


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(lm: c_port.CLimiterModule, path: Path) -> None:
    v = json.loads(path.read_text())
    got = run_vector(v, lm)
    assert got == v["expect"]


def test_layout_and_crc(lm: c_port.CLimiterModule) -> None:
    assert lm.lib.as_sizeof_slot() == 52
    assert lm.lib.as_sizeof_limiter() == 1000
    assert lm.lib.as_crc16(b"123456789", 9) == 0x29B1
