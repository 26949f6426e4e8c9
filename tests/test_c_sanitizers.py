"""The C port under AddressSanitizer + UndefinedBehaviorSanitizer (`make -C ports/c san`):
every conformance vector (limiter and wire) through the sanitized host build, and fuzzed wire
lines (tests/c_fuzz.py: 20,000 here; the slow test and `python -m tests.c_fuzz` run 1,000,000).
Any finding aborts the firmware with a report on stderr, which fails the test."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from emulator import engine_native
from tests import c_fuzz, c_port

pytestmark = pytest.mark.skipif(engine_native.unavailable() is not None,
                                reason=str(engine_native.unavailable()))


@pytest.fixture(scope="module")
def san_binary() -> str:
    path = c_port.build("all", san=True)
    if isinstance(path, str):
        pytest.skip(path)
    return str(path)


def test_conformance_under_sanitizers(san_binary: str) -> None:
    env = dict(os.environ, ALERTSTORM_NATIVE_BUILD="san")
    r = subprocess.run([sys.executable, "-m", "hil.cli", "conformance", "--board", "native-chub"],
                       cwd=c_port.ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAIL" not in r.stdout


def test_fuzzed_wire_lines_under_sanitizers(san_binary: str) -> None:
    status, err = c_fuzz.run(c_port.Path(san_binary), 20_000, seed=3)
    assert status == 0 and not err, err[-2000:]


@pytest.mark.slow
def test_a_million_fuzzed_wire_lines_under_sanitizers(san_binary: str) -> None:
    status, err = c_fuzz.run(c_port.Path(san_binary), 1_000_000, seed=1)
    assert status == 0 and not err, err[-2000:]
