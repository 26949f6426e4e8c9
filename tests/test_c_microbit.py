"""The C port on the micro:bit under QEMU (ports/c/platform/microbit, emulator/qemu_c.py,
boards/qemu-microbit-c.toml): the platform on its own through the smoke image (UART, virtual
clock, power-on ticks, NVMC flash across resets, reset causes, WFI idling), then the firmware
image's footprint and `hil conformance` on the board. Skipped with the reason where QEMU or
the cross toolchain is missing."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator import qemu_c
from hil.board.registry import default_boards, load_board
from hil.cli import main

pytestmark = pytest.mark.skipif(
    qemu_c.unavailable_reason() is not None or shutil.which(qemu_c.CC) is None,
    reason=str(qemu_c.unavailable_reason() or f"{qemu_c.CC} not installed"))


class Link:
    """The smoke image's UART: one-letter commands, one answer line each."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.buf = b""

    def line(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line from the micro:bit (got {self.buf!r})")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if r:
                self.buf += os.read(self.fd, 4096)
        out, self.buf = self.buf.split(b"\n", 1)
        return out.decode()

    def drain(self, quiet: float = 0.3) -> None:
        """Forget what has come, once nothing more has for `quiet` seconds."""
        while select.select([self.fd], [], [], quiet)[0]:
            os.read(self.fd, 4096)
        self.buf = b""

    def ask(self, cmd: str) -> str:
        os.write(self.fd, cmd.encode())
        return self.line()

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def smoke() -> Iterator[tuple[qemu_c.QemuC, Link]]:
    mb = qemu_c.QemuC(ticks_start=2**30 - 500, target="microbit-smoke")
    path = mb.start()
    link = Link(path)
    # the boot line may have gone out before the pty was open, or be going out as it opens:
    # let it finish, forget it, and a hard reset says it again whole
    link.drain()
    mb.hard_reset()
    try:
        yield mb, link
    finally:
        link.close()
        mb.stop()


def test_smoke_image_boots_and_keeps_clock_flash_and_cause_across_resets(
        smoke: tuple[qemu_c.QemuC, Link]) -> None:
    mb, link = smoke
    boot = link.line()
    assert boot.startswith("SMOKE engine=nrf51 cause=2 ")  # the monitor's reset: hard
    assert link.ask("t") == str(2**30 - 500)                 # the launcher's power-on ticks
    assert link.ask("t") == str(2**30 - 500)                 # virtual: time stands still
    assert link.ask("a") == "1"                               # ADVANCE 1000: supported
    assert link.ask("t") == "500"                             # across the 2**30 wrap
    assert link.ask("e") == "1" and link.ask("w") == "1" and link.ask("r") == "OK!"
    os.write(link.fd, b"s")                                   # plat_reset(SOFT)
    assert link.line() == "SMOKE engine=nrf51 cause=1 t=500"
    assert link.ask("r") == "OK!"                             # the NVMC's flash survived
    os.write(link.fd, b"h")                                   # plat_reset(HARD)
    assert link.line() == "SMOKE engine=nrf51 cause=2 t=500"
    mb.hard_reset()                                           # QEMU's monitor
    assert link.line() == "SMOKE engine=nrf51 cause=2 t=500"
    assert link.ask("c") == "2" and link.ask("r") == "OK!"
    assert 0 < mb.stack_used() < 512


def test_a_waiting_micro_bit_sleeps_in_wfi(smoke: tuple[qemu_c.QemuC, Link]) -> None:
    mb, link = smoke
    link.line()
    assert mb.proc is not None
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = Path(f"/proc/{mb.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()  # type: ignore[union-attr]
        return (int(fields[11]) + int(fields[12])) / ticks

    before = cpu_s()
    time.sleep(1.5)
    assert cpu_s() - before < 0.5  # a polling loop would spend the whole 1.5 s


def test_board_file_is_in_the_nightly_and_reached_through_qemu() -> None:
    b = load_board("qemu-microbit-c")
    assert b.is_qemu and b.emulated and not b.real_clock
    assert b.absent_reason() is None
    assert "qemu-microbit-c" in [d.name for d in default_boards()]


def _image_size() -> tuple[int, int, int]:
    image = qemu_c.build()
    out = subprocess.run(["arm-none-eabi-size", str(image)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    return int(out[0]), int(out[1]), int(out[2])


def test_firmware_image_fits_the_chip_and_the_flash_goal() -> None:
    text, data, bss = _image_size()
    assert text + data <= 32 * 1024, f"flash {text + data} bytes"
    # the chip's 16 KB: static data plus the 2 KB of stack the linker script keeps (the storm
    # in bench_c_port uses about 1 KB of it)
    assert data + bss + 2048 <= 16 * 1024, f"RAM {data + bss} bytes static"


@pytest.mark.xfail(strict=True, reason="the 8 KB RAM goal is not met: three limiters, an "
                   "8-line RESEND ring of 600-byte lines, the 1 KB line buffer and the limiter "
                   "under test take about 14 KB (docs/c-port.md section 6)")
def test_firmware_image_fits_the_ram_goal() -> None:
    _, data, bss = _image_size()
    # RAM: static data plus at least the stack the linker script keeps (2 KB) within 8 KB
    assert data + bss + 2048 <= 8 * 1024, f"RAM {data + bss} bytes static"


def test_conformance_passes_on_the_micro_bit(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["conformance", "--board", "qemu-microbit-c"])
    out = capsys.readouterr().out
    assert rc == 0, out
    last = out.strip().splitlines()[-1]
    n, m = last.split()[0].split("/")
    assert n == m and int(m) > 30, last
