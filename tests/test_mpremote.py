"""Unmodified mpremote (the venv's: as a subprocess, and its SerialTransport in-process)
against the micropython engine's pty: the emulated board must look like a real MicroPython
board to it (raw REPL, raw-paste with output streamed while a program runs, Ctrl-C of a
running program, errno numbers in tracebacks, soft reset with files kept in flash, what a 1.27
port has: asyncio.run, module and function types, machine)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mpremote.transport_serial import SerialTransport  # type: ignore[import-untyped]

from emulator import engine_micropython
from firmware_model import wire

ROOT = Path(__file__).resolve().parent.parent
MPREMOTE = Path(sys.executable).parent / "mpremote"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from emu_client import Emu  # noqa: E402
from test_engine_micropython import hello_fields  # noqa: E402

pytestmark = [
    pytest.mark.skipif(not engine_micropython.available(),
                       reason="node or the MicroPython npm package missing (scripts/setup.sh)"),
    pytest.mark.skipif(not MPREMOTE.exists(), reason="mpremote not in the venv (scripts/setup.sh)"),
    pytest.mark.timeout(120),
]


@pytest.fixture
def board(tmp_path: Path):
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path / "flash"))
    emu.flash = tmp_path / "flash"  # type: ignore[attr-defined]
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


def mpremote(emu: Emu, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    # the harness's port is closed while mpremote holds it (it opens the port exclusively)
    was_open = emu.port.is_open
    if was_open:
        emu.port.close()
    try:
        r = subprocess.run([str(MPREMOTE), "connect", emu.path, *args], capture_output=True,
                           text=True, timeout=60)
    finally:
        if was_open:
            emu.port.open()
    if ok:
        assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def test_exec_and_eval(board: Emu) -> None:
    assert mpremote(board, "exec", "print(6*7)").stdout.strip() == "42"
    assert mpremote(board, "eval", "sum(range(10))").stdout.strip() == "45"
    big = "x = [" + ",".join(str(i) for i in range(600)) + "]\nprint(sum(x))"
    assert len(big) > 2000  # several raw-paste windows
    assert mpremote(board, "exec", big).stdout.strip() == str(sum(range(600)))


def test_exception_reaches_mpremote_with_status(board: Emu) -> None:
    r = mpremote(board, "exec", "raise ValueError('boom')", ok=False)
    assert r.returncode == 1 and "ValueError: boom" in (r.stdout + r.stderr)


def test_cp_survives_soft_reset_and_reaches_flash(board: Emu, tmp_path: Path) -> None:
    src = tmp_path / "probe.py"
    src.write_text("VALUE = 31337\n" + "# padding\n" * 200)
    mpremote(board, "fs", "cp", str(src), ":probe.py")
    assert (board.flash / "probe.py").read_bytes() == src.read_bytes()  # type: ignore[attr-defined]
    ls = mpremote(board, "fs", "ls").stdout
    assert f"{src.stat().st_size} probe.py" in ls and "firmware_model/" in ls
    r = mpremote(board, "soft-reset", "exec", "import probe; print(probe.VALUE)")
    assert r.stdout.strip() == "31337"
    r = mpremote(board, "fs", "sha256sum", ":probe.py")
    import hashlib

    assert hashlib.sha256(src.read_bytes()).hexdigest() in r.stdout


def test_errno_numbers_are_micropythons(board: Emu) -> None:
    r = mpremote(board, "fs", "cat", ":missing.py", ok=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr, r.stderr
    mpremote(board, "fs", "mkdir", ":d1")
    r = mpremote(board, "fs", "mkdir", ":d1", ok=False)
    assert "File exists" in r.stderr, r.stderr
    r = mpremote(board, "exec", "import errno\ntry:\n open('nope')\nexcept OSError as e:\n"
                 " print(e.errno == errno.ENOENT, e.errno)")
    assert r.stdout.split() == ["True", "2"]
    mpremote(board, "fs", "rm", ":probe_absent.py", ok=False)
    mpremote(board, "fs", "rmdir", ":d1")
    assert not (board.flash / "d1").exists()  # type: ignore[attr-defined]


def test_board_returns_to_the_protocol_after_mpremote(board: Emu) -> None:
    assert hello_fields(board.cmd("HELLO"))["boot"] == "1"
    mpremote(board, "exec", "print(1)")
    # mpremote leaves a real board at the friendly prompt; Ctrl-D soft-resets into main.py
    board.buf = b""
    board.port.reset_input_buffer()
    board.port.write(b"\r\x04")
    board.raw_until(b"soft reboot\r\n")
    seq, verb, args = board.readline()
    assert verb == "EVENT" and args[:3] == ["BOOT", "n=2", "cause=soft"]
    board.hseq += 1
    assert hello_fields(board.cmd("HELLO"))["fw"] == wire.firmware_hash(str(ROOT / "firmware_model"))


def test_files_survive_a_power_cycle(board: Emu, tmp_path: Path) -> None:
    src = tmp_path / "cal.py"
    src.write_text("GAIN = 7\n")
    mpremote(board, "fs", "cp", str(src), ":cal.py")
    assert board.stop() == 0
    again = Emu("mpvm-chub.toml", "--flash", str(board.flash))  # type: ignore[attr-defined]
    try:
        assert mpremote(again, "exec", "import cal; print(cal.GAIN)").stdout.strip() == "7"
        # the power-on boot count came back from flash too: this is the second boot
        again.port.write(b"\r\x04")
        again.raw_until(b"soft reboot\r\n")
        assert again.readline()[2][:2] == ["BOOT", "n=3"]
    finally:
        again.stop()


# -- a real 1.27 board's behaviour, through mpremote's own transport --------------------------

def transport(emu: Emu) -> SerialTransport:
    if emu.port.is_open:
        emu.port.close()  # mpremote opens the port exclusively
    return SerialTransport(emu.path, baudrate=115200)


def test_exec_of_a_program_longer_than_10_s_streams_its_output(board: Emu) -> None:
    # pyboard.py/mpremote give up when the raw-paste end acknowledgement takes over 10 s, and
    # print what arrives as it arrives: one line every 0.5 s for 10.5 s
    board.port.close()
    code = "import time\nfor i in range(22):\n    print('tick', i)\n    time.sleep(0.5)\n"
    t0 = time.monotonic()
    p = subprocess.Popen([str(MPREMOTE), "connect", board.path, "exec", code],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None
    seen = [(time.monotonic() - t0, line) for line in iter(p.stdout.readline, b"")]
    assert p.wait(30) == 0, p.stderr.read() if p.stderr else b""
    assert [ln for _, ln in seen] == [b"tick %d\r\n" % i for i in range(22)]  # a UART REPL's CRLF
    first, last = seen[0][0], seen[-1][0]
    assert last - first > 10.0 and first < 5.0, (first, last)


def test_ctrl_c_stops_a_busy_loop(board: Emu) -> None:
    t = transport(board)
    try:
        t.enter_raw_repl()
        t.exec_raw_no_follow("n = 0\nwhile True:\n    n += 1\n")
        time.sleep(0.5)
        t.serial.write(b"\x03")
        out, err = t.follow(5)
        assert out == b"" and err.endswith(b"KeyboardInterrupt: \r\n"), err
        assert t.eval("n > 1000") is True  # the board kept running: RAM is still there
    finally:
        t.close()


def test_soft_reset_clears_ram_and_keeps_the_raw_repl(board: Emu) -> None:
    t = transport(board)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec("marker = 1")
        t.enter_raw_repl(soft_reset=True)  # Ctrl-D: "soft reboot", then the raw REPL again
        assert t.eval("'marker' in globals()") is False
        assert t.eval("__import__('machine').reset_cause()") == 5  # machine.SOFT_RESET
    finally:
        t.close()


def test_the_port_has_what_a_real_127_port_has(board: Emu) -> None:
    code = ("import asyncio, os, time, machine\n"
            "async def twice(x):\n    await asyncio.sleep_ms(20)\n    return 2 * x\n"
            "async def main():\n    return sum(await asyncio.gather(twice(1), twice(20)))\n"
            "print(asyncio.run(main()))\n"
            "print(type(os).__name__, type(open).__name__, type(os.stat).__name__,"
            " type(time.sleep).__name__)\n")
    out = mpremote(board, "exec", code).stdout.split()
    assert out == ["42", "module", "function", "function", "function"]
