"""The micropython engine end to end: `python -m emulator` with firmware_model running in real
MicroPython 1.27 (node), driven over its pty with pyserial as the harness drives it."""

from __future__ import annotations

from pathlib import Path

import pytest
from emu_client import ROOT, Emu

from emulator import engine_micropython
from firmware_model import wire

pytestmark = [
    pytest.mark.skipif(not engine_micropython.available(),
                       reason="node or the MicroPython npm package missing (scripts/setup.sh)"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def mpvm(tmp_path: Path):
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path / "flash"))
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


def hello_fields(out: list[tuple[int, str, list[str]]]) -> dict[str, str]:
    line = next(x for x in out if x[1] == "HELLO")
    return dict(a.split("=", 1) for a in line[2])


def test_pyserial_gets_hello_from_micropython(mpvm: Emu) -> None:
    hello = hello_fields(mpvm.cmd("HELLO"))
    assert hello["engine"] == "micropython" and hello["board"] == "mpvm-chub"
    # the VM hashes the files it imports from its flash: the same bytes as the host's
    assert hello["fw"] == wire.firmware_hash(str(ROOT / "firmware_model"))


STORM = [("ALERT", "8F0C esme"), ("ADVANCE", "100")] * 120 + [
    ("ALERT", "8F3F hub"), ("ADVANCE", "120000"), ("STATS",), ("ALERT", "8F0C esme")]


def _run_storm(emu: Emu) -> list[tuple[str, list[str]]]:
    lines = []
    for c in STORM:
        lines += [(verb, args) for _, verb, args in emu.cmd(*c)]
    # the power-on boot line arrives whenever the engine is up: before the first reply or
    # after it, depending on load; it is not part of what the storm is compared on
    return [(v, a) for v, a in lines if not (v == "EVENT" and "cause=power" in a)]


def test_storm_gives_the_same_lines_as_the_cpython_engine(mpvm: Emu, tmp_path: Path) -> None:
    cpy = Emu("emulated-chub.toml", "--flash", str(tmp_path / "cflash"))
    try:
        want = _run_storm(cpy)
    finally:
        cpy.stop()
    got = _run_storm(mpvm)
    assert any(v == "FRAME" for v, _ in got)
    assert sum(1 for v, a in got if v == "ACK" and a[-1].endswith("S")) > 0, "storm not throttled"
    assert got == want


def test_ctrl_c_gives_the_repl_and_ctrl_d_boots_the_app_again(mpvm: Emu) -> None:
    assert mpvm.cmd("HELLO")
    mpvm.port.write(b"\x03")
    got = mpvm.raw_until(b">>> ")
    assert b"KeyboardInterrupt" in got and b"MicroPython v1.27" in got
    mpvm.port.write(b"print(app.boot_n * 10)\r")
    assert b"10" in mpvm.raw_until(b">>> ")
    mpvm.port.write(b"\x04")  # soft reset at the friendly prompt: main.py runs again
    assert b"soft reboot" in mpvm.raw_until(b"soft reboot\r\n")
    seq, verb, args = mpvm.readline()
    assert (seq, verb) == (0, "EVENT") and args[:3] == ["BOOT", "n=2", "cause=soft"]
    assert hello_fields(mpvm.cmd("HELLO"))["boot"] == "2"


def test_reset_from_the_protocol_reboots_with_flash_kept(mpvm: Emu) -> None:
    mpvm.cmd("ALERT", "8F0C", "esme")
    mpvm.cmd("SAVE")
    mpvm.cmd("RESET", "hard")
    seq, verb, args = mpvm.readline()
    assert (seq, verb) == (0, "EVENT")
    assert args[:4] == ["BOOT", "n=2", "cause=hard", "restore=ok"]


def test_garbled_line_gets_a_typed_nak(mpvm: Emu) -> None:
    mpvm.port.write(b"!5 HELLO*0000\n")
    _, verb, args = mpvm.readline()
    assert verb == "NAK" and args[:2] == ["-", wire.E_CRC]
    assert hello_fields(mpvm.cmd("HELLO"))["engine"] == "micropython"
