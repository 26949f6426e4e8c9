"""`python -m emulator` end to end: a real pty opened with pyserial, as the harness does."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from emu_client import ROOT, Emu

from firmware_model import wire

pytestmark = pytest.mark.timeout(60)  # a hung pty must fail fast, not stall the suite


@pytest.fixture
def chub() -> Iterator[Emu]:
    emu = Emu("emulated-chub.toml")
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


@pytest.mark.parametrize("board,role", [("emulated-chub.toml", "chub"),
                                        ("emulated-esme.toml", "esme"),
                                        ("emulated-gsme.toml", "gsme")])
def test_pyserial_gets_hello_from_every_emulated_board(board: str, role: str) -> None:
    emu = Emu(board)
    try:
        out = emu.cmd("HELLO")
        hello = dict(a.split("=", 1) for a in out[-2][2])
        assert out[-2][1] == "HELLO" and hello["role"] == role and hello["proto"] == "1"
        assert hello["engine"] == "cpython"
    finally:
        assert emu.stop() == 0


def test_port_can_be_closed_and_reopened(chub: Emu) -> None:
    first = chub.cmd("HELLO")
    chub.port.close()
    time.sleep(0.1)
    chub.port = serial.Serial(chub.path, 115200, timeout=5)
    again = chub.cmd("HELLO")
    assert again[0][0] == first[-1][0] + 1  # the session carried on; nothing was lost
    assert chub.proc.poll() is None


def test_storm_frames_decode_with_the_host_codec(chub: Emu) -> None:
    frames_mod = pytest.importorskip("hil.frames")
    chub.cmd("CLOCK", "1767225600")
    decisions = []
    frames = []
    for _ in range(260):
        out = chub.cmd("ALERT", "8F0C", "esme")
        decisions.append(dict(a.split("=") for a in out[-1][2][1:])["hub"])
        frames += [bytes.fromhex(x[2][1]) for x in out if x[1] == "FRAME"]
        chub.cmd("ADVANCE", "100")
    for _ in range(2):
        out = chub.cmd("ADVANCE", "86400000")
        frames += [bytes.fromhex(x[2][1]) for x in out if x[1] == "FRAME"]
    decoded = [frames_mod.decode(f) for f in frames]
    alerts = [d for d in decoded if d.alert_code == "0x8F0C" and not d.is_summary]
    summaries = [d for d in decoded if d.is_summary]
    assert len(alerts) + len(summaries) == len(decoded)
    assert {d.originator_title for d in alerts} == {"00DB1234567890A1"}  # the meter's own
    assert {d.encoding for d in alerts} == {"dlms"}
    assert decoded[0].alert_time == "2026-01-01T00:00:00Z"  # the wall clock we set
    assert len(alerts) == 260 - decisions.count("S")
    assert summaries and {d.suppressed_code for d in summaries} == {"0x8F0C"}
    assert [d.summary_kind for d in summaries][0] == 0  # STARTED first, CLOSED last
    assert summaries[-1].summary_kind == 2
    reported = sum(d.suppressed_count for d in summaries)
    assert reported == decisions.count("S") > 0  # every suppression is accounted for


def test_noise_on_the_line_resyncs_and_loses_nothing(chub: Emu) -> None:
    chub.cmd("HELLO")
    chub.port.write(os.urandom(300).replace(b"\n", b"") + b"\n")
    chub.port.write(b"!77 ALERT 8F")  # a line cut off ...
    out = chub.cmd("ALERT", "8F0C", "hub")  # ... glued to the next
    kinds = [x[1] for x in out]
    assert kinds[-1] == "ACK" and kinds.count("NAK") >= 1 and "FRAME" in kinds
    assert all(x[2][0] == "-" for x in out if x[1] == "NAK")
    # device numbering has no gap: nothing emitted was lost on the way
    seqs = [x[0] for x in out]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_sigterm_stops_cleanly(chub: Emu) -> None:
    chub.cmd("HELLO")
    assert chub.stop() == 0


def test_help_and_typed_errors(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "emulator", "--help"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "--ticks-start" in r.stdout and "PORT" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "emulated"\nrole = "chub"\nlimiter = "sideways"\n')
    for board, msg in [(bad, "limiter"), (tmp_path / "none.toml", "no such board file"),
                       (ROOT / "boards" / "pico.toml", "real board")]:
        r = subprocess.run([sys.executable, "-m", "emulator", "--board", str(board)], cwd=ROOT,
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr


def test_flash_dir_survives_a_power_cycle_of_the_emulator(tmp_path: Path) -> None:
    flash = str(tmp_path / "flash")
    emu = Emu("emulated-chub.toml", "--flash", flash)
    try:
        for _ in range(150):
            emu.cmd("ALERT", "8F0C", "esme")
        emu.cmd("SAVE")
    finally:
        assert emu.stop() == 0
    emu = Emu("emulated-chub.toml", "--flash", flash)
    try:
        hello = dict(a.split("=", 1) for a in emu.cmd("HELLO")[-2][2])
        assert hello["boot"] == "2"
        stats = dict(a.split("=", 1) for a in emu.cmd("STATS")[-2][2])
        assert stats["hub.offered"] == "150" and int(stats["hub.suppressed"]) > 0
    finally:
        assert emu.stop() == 0


def test_real_time_mode_refuses_advance() -> None:
    emu = Emu("emulated-chub.toml", "--real-time")
    try:
        hello = dict(a.split("=", 1) for a in emu.cmd("HELLO")[-2][2])
        assert hello["clock"] == "real"
        out = emu.cmd("ADVANCE", "1000")
        assert out[-1][1] == "NAK" and out[-1][2][1] == wire.E_UNSUPPORTED
    finally:
        assert emu.stop() == 0


def test_baud_pacing_is_never_faster_than_the_line() -> None:
    from emulator.uart import PtyUart

    u = PtyUart(baud=96000)  # 9600 bytes/s
    try:
        fd = os.open(u.path, os.O_RDWR | os.O_NOCTTY)
        t0 = time.monotonic()
        for _ in range(10):
            u.write(b"x" * 99 + b"\n")  # 1000 bytes: at least 0.1 s on the line
        dt = time.monotonic() - t0
        got = b""
        while len(got) < 1000 and select.select([fd], [], [], 2)[0]:
            got += os.read(fd, 4096)
        os.close(fd)
        assert dt >= 0.09 and got == (b"x" * 99 + b"\n") * 10
    finally:
        u.close()
