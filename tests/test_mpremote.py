"""Unmodified mpremote (the venv's, as a subprocess) against the micropython engine's pty: the
emulated board must look like a real MicroPython board to it (raw REPL, raw-paste, errno
numbers in tracebacks, soft reset with files kept in flash)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
