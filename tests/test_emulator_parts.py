"""Board files, clocks, devices table and the pty: the emulator's small parts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from emulator import boardfile, devices
from emulator.clock import RealClock, VirtualClock
from emulator.uart import PtyUart
from firmware_model import board as fw_board
from firmware_model.ticks import TICKS_PERIOD, ticks_diff

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", sorted((ROOT / "boards").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_board_file_loads(path: Path) -> None:
    spec = boardfile.load(path)
    assert spec.name == path.stem
    if spec.kind == "serial":
        assert spec.match  # found by USB identity


def test_usb_matching() -> None:
    pico = boardfile.load(ROOT / "boards" / "pico.toml")
    esp = boardfile.load(ROOT / "boards" / "esp32.toml")
    assert any(m.matches(0x2E8A, 0x0005, "E6614") for m in pico.match)
    assert not any(m.matches(0x10C4, 0xEA60, None) for m in pico.match)
    assert any(m.matches(0x1A86, 0x7523, None) for m in esp.match)
    assert any(m.matches(0x10C4, 0xEA60, None) for m in esp.match)


BASE = 'name = "x"\nkind = "emulated"\nrole = "chub"\nlimiter = "hub"\n'


@pytest.mark.parametrize("extra,key", [
    ('colour = "red"\n', "colour"),
    ("slots = 0\n", "slots"),
    ('slots = "16"\n', "slots"),
    ("ticks_start = 1073741824\n", "ticks_start"),
    ('[titles]\nhub = "00DB"\n', "titles.hub"),
    ('[titles]\nmoon = "00DB1234567890A0"\n', "titles.moon"),
    ("[config]\nred_threshold = 0\n", "red_threshold"),
    ("[config]\nbogus = 1\n", "bogus"),
    ('critical = ["0x1FFFF"]\n', "critical"),
])
def test_invalid_board_files_name_the_key(tmp_path: Path, extra: str, key: str) -> None:
    f = tmp_path / "b.toml"
    f.write_text(BASE + extra)
    with pytest.raises(boardfile.BoardFileError) as ei:
        boardfile.load(f)
    assert key in str(ei.value) and str(f) in str(ei.value)


@pytest.mark.parametrize("text,key", [
    ('name = "x"\nkind = "serial"\nrole = "chub"\nlimiter = "hub"\n', "match"),
    ('name = "x"\nkind = "emulated"\nrole = "esme"\nlimiter = "hub"\n', "limiter"),
    ('name = "x"\nkind = "emulated"\nrole = "chub"\n', "limiter"),
    ("name = [\n", "not valid TOML"),
])
def test_structural_errors(tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "b.toml"
    f.write_text(text)
    with pytest.raises(boardfile.BoardFileError, match=key):
        boardfile.load(f)


def test_virtual_clock_wraps_like_micropython() -> None:
    c = VirtualClock(TICKS_PERIOD - 10)
    t0 = c.ticks_ms()
    c.advance(25)
    assert c.ticks_ms() == 15 and ticks_diff(c.ticks_ms(), t0) == 25
    c.set_wall(1000)
    c.advance(2500)
    assert c.wall_s() == 1002
    with pytest.raises(ValueError):
        c.advance(-1)
    with pytest.raises(ValueError):
        VirtualClock(TICKS_PERIOD)


def test_real_clock_refuses_advance() -> None:
    c = RealClock(5)
    assert not c.virtual and 0 <= ticks_diff(c.ticks_ms(), 5) < 1000
    with pytest.raises(RuntimeError):
        c.advance(1)


def test_devices_table_agrees_with_the_firmware() -> None:
    for role, devs in devices.BOARD_DEVICES.items():
        assert set(devs) == set(fw_board.sources_of(role))
    assert devices.path_of("chub", "gsme") == ["gsme", "hub"]
    assert devices.DEVICES["gsme"].encoding == "gbz"
    with pytest.raises(ValueError):
        devices.path_of("esme", "hub")


def test_pty_is_raw_and_survives_the_host_closing_it() -> None:
    u = PtyUart()
    try:
        fd = os.open(u.path, os.O_RDWR | os.O_NOCTTY)
        os.write(fd, b"!1 HELLO*81BB\n")
        assert u.read(1.0) == b"!1 HELLO*81BB\n"  # no CR/LF translation
        os.close(fd)
        u.write(b"@0 X*0000\n")  # nobody has the port open: still no error
        assert u.read(0.05) == b""  # and no echo came back to us
        fd = os.open(u.path, os.O_RDWR | os.O_NOCTTY)
        os.write(fd, b"again\n")
        assert u.read(1.0) == b"again\n"
        os.close(fd)
    finally:
        u.close()
