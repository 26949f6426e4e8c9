"""emulator/flash.py: write counting, torn writes at a chosen byte, PowerLoss semantics."""

from __future__ import annotations

import pytest

from emulator.flash import FlashFs, PowerLoss


def test_write_read_rename_and_counters(tmp_path) -> None:
    fs = FlashFs(tmp_path / "flash")
    with fs.open("a.tmp", "wb") as f:
        f.write(b"hello")
        f.write(bytearray(b" world"))
    fs.rename("a.tmp", "a")
    assert fs.listdir() == ["a"]
    with fs.open("a", "rb") as f:
        assert f.read() == b"hello world"
    assert (fs.writes, fs.bytes_written) == (2, 11)
    fs.remove("a")
    assert not fs.exists("a")


@pytest.mark.parametrize("cut", [0, 1, 4, 7, 9])
def test_power_cut_tears_the_write_at_the_chosen_byte(tmp_path, cut: int) -> None:
    fs = FlashFs(tmp_path)
    fs.arm_powercut(cut)
    assert fs.powercut_armed
    with pytest.raises(PowerLoss):
        with fs.open("x", "wb") as f:
            f.write(b"0123")
            f.write(b"456789")
    assert (tmp_path / "x").read_bytes() == b"0123456789"[:cut]
    assert not fs.powercut_armed  # one cut per arming
    with fs.open("y", "wb") as f:
        f.write(b"after")
    assert (tmp_path / "y").read_bytes() == b"after"


def test_power_cut_beyond_the_write_stays_armed(tmp_path) -> None:
    fs = FlashFs(tmp_path)
    fs.arm_powercut(10)
    with fs.open("x", "wb") as f:
        f.write(b"12345")
    assert fs.powercut_armed
    with pytest.raises(PowerLoss), fs.open("y", "wb") as f:
        f.write(b"abcdefgh")
    assert (tmp_path / "y").read_bytes() == b"abcde"


def test_power_loss_is_not_an_ordinary_error() -> None:
    # firmware that survives `except Exception` must not swallow a power cut
    assert not issubclass(PowerLoss, Exception)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".."])
def test_names_stay_inside_the_flash(tmp_path, name: str) -> None:
    fs = FlashFs(tmp_path)
    with pytest.raises(OSError):
        fs.open(name, "wb")
