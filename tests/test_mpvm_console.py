"""The emulated MicroPython board's console at the byte level, with pyserial: what a real
board's UART REPL sends (CRLF line endings, raw-REPL and raw-paste framing with flow control,
output streamed while a program runs, Ctrl-C of a running program, soft reset), and a serial
line paced at a baud rate. mpremote's view of the same board: tests/test_mpremote.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from emu_client import Emu

from emulator import engine_micropython
from hil.board.deploy import deploy_serial, firmware_files

pytestmark = [
    pytest.mark.skipif(not engine_micropython.available(),
                       reason="node or the MicroPython npm package missing (scripts/setup.sh)"),
    pytest.mark.timeout(120),
]

RAW = b"raw REPL; CTRL-B to exit\r\n>"


@pytest.fixture
def board(tmp_path: Path):
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path / "flash"))
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


def to_repl(emu: Emu) -> None:
    emu.port.write(b"\x03")  # application mode (main.py) -> KeyboardInterrupt -> REPL
    emu.raw_until(b">>> ")


def to_raw(emu: Emu) -> None:
    to_repl(emu)
    emu.port.write(b"\x01")
    emu.raw_until(RAW)


def raw_paste(emu: Emu, code: bytes) -> None:
    """Raw-paste as pyboard.py/mpremote do it, checking every acknowledgement."""
    emu.port.write(b"\x05A\x01")
    assert emu.raw_until(b"R\x01", 5) == b"R\x01"
    while len(emu.buf) < 2:
        emu.buf += emu.port.read(1)
    window = emu.buf[0] | emu.buf[1] << 8  # little-endian window size
    emu.buf = emu.buf[2:]
    assert window == 128
    sent = 0
    credit = window
    while sent < len(code):
        if credit == 0:
            assert emu.raw_until(b"\x01", 5) == b"\x01"  # one more window granted
            credit += window
        part = code[sent:sent + credit]
        emu.port.write(part)
        sent += len(part)
        credit -= len(part)
    emu.port.write(b"\x04")


def test_print_ends_lines_with_crlf_as_a_uart_repl_does(board: Emu) -> None:
    to_repl(board)
    board.port.write(b"print('a'); print('b')\r")
    assert board.raw_until(b">>> ") == b"print('a'); print('b')\r\na\r\nb\r\n>>> "
    board.port.write(b"import sys; sys.stdout.write('x\\ny\\n')\r")
    assert board.raw_until(b">>> ").endswith(b"\r\nx\r\ny\r\n4\r\n>>> ")
    board.port.write(b"1/0\r")
    assert b"\r\nZeroDivisionError: divide by zero\r\n>>> " in board.raw_until(b">>> ")


def test_protocol_lines_stay_lf_only(board: Emu) -> None:
    # the firmware writes through sys.stdout.buffer on a board: raw bytes, no CR added
    board.port.write(b"!1 HELLO*81BB\n!2 RESET soft*8DC3\n")
    lines = [board.raw_until(b"\n") for _ in range(4)]  # HELLO, ACK, ACK, EVENT BOOT
    assert lines[0].startswith(b"@1 HELLO") and lines[3].startswith(b"@0 EVENT BOOT")
    assert all(ln.endswith(b"\n") and not ln.endswith(b"\r\n") for ln in lines), lines


def test_raw_paste_acknowledges_at_once_and_streams_the_output(board: Emu) -> None:
    to_raw(board)
    code = (b"import time\n" + b"# " + b"p" * 300 + b"\n"  # > 2 windows of 128
            b"print('START TEST')\ntime.sleep(0.6)\nprint('late')\n")
    t0 = time.monotonic()
    raw_paste(board, code)
    assert board.raw_until(b"\x04", 5) == b"\x04"  # end of data acknowledged, before running
    acked = time.monotonic() - t0
    first = board.raw_until(b"START TEST\r\n", 5)
    t_first = time.monotonic() - t0
    rest = board.raw_until(b"\x04\x04>", 5)
    t_end = time.monotonic() - t0
    assert first == b"START TEST\r\n" and rest == b"late\r\n\x04\x04>"
    assert acked < 0.5 and t_first < 0.5 and t_end - t_first > 0.5, (acked, t_first, t_end)


def test_standard_raw_mode_says_ok_then_output_then_eofs(board: Emu) -> None:
    to_raw(board)
    board.port.write(b"print(1)\nraise ValueError('v')\x04")
    assert board.raw_until(b"\x04>", 5) == (
        b"OK1\r\n\x04Traceback (most recent call last):\r\n"
        b"  File \"<stdin>\", line 2, in <module>\r\nValueError: v\r\n\x04>")


def test_ctrl_c_interrupts_a_busy_loop_and_the_ram_survives(board: Emu) -> None:
    to_raw(board)
    board.port.write(b"n = 0\nwhile True:\n    n += 1\n\x04")
    assert board.raw_until(b"OK", 5) == b"OK"
    time.sleep(0.4)
    board.port.write(b"\x03")
    out = board.raw_until(b"\x04>", 5)
    assert out.endswith(b"KeyboardInterrupt: \r\n\x04>") and b"line 3" in out, out
    board.port.write(b"print(n > 1000)\x04")
    assert board.raw_until(b"\x04>", 5) == b"OKTrue\r\n\x04\x04>"


def test_ctrl_c_ends_a_sleep_at_once(board: Emu) -> None:
    to_raw(board)
    board.port.write(b"import time\ntime.sleep(30)\n\x04")
    board.raw_until(b"OK", 5)
    time.sleep(0.3)
    t0 = time.monotonic()
    board.port.write(b"\x03")
    assert board.raw_until(b"\x04>", 5).endswith(b"KeyboardInterrupt: \r\n\x04>")
    assert time.monotonic() - t0 < 2


def test_soft_reset_from_raw_repl_stays_raw_and_clears_ram(board: Emu) -> None:
    to_raw(board)
    board.port.write(b"x = 5\x04")
    board.raw_until(b"\x04>")
    board.port.write(b"\x04")  # Ctrl-D at an empty raw prompt
    assert board.raw_until(RAW, 10) == b"OK\r\nMPY: soft reboot\r\n" + RAW
    board.port.write(b"print('x' in globals())\x04")
    assert board.raw_until(b"\x04>") == b"OKFalse\r\n\x04\x04>"


def test_serial_line_paced_at_115200_baud(tmp_path: Path) -> None:
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path / "flash"), "--baud", "115200")
    try:
        to_raw(emu)
        # output: 2300 bytes take 0.2 s at 11520 bytes/s
        emu.port.write(b"print('x' * 2300)\x04")
        emu.raw_until(b"OK", 5)
        t0 = time.monotonic()
        emu.raw_until(b"\r\n\x04", 10)
        out_s = time.monotonic() - t0
        emu.raw_until(b"\x04>")
        # input: a 2300-byte paste reaches the board at the line rate, window by window
        t0 = time.monotonic()
        raw_paste(emu, b"#" * 2290 + b"\nprint(7)\n")
        emu.raw_until(b"\x04", 10)
        in_s = time.monotonic() - t0
        assert emu.raw_until(b"\x04>", 5) == b"7\r\n\x04\x04>"
    finally:
        emu.stop()
    assert 0.18 < out_s < 2.0, out_s
    assert 0.18 < in_s < 3.0, in_s


def test_input_reads_a_line_from_the_console(board: Emu) -> None:
    to_repl(board)
    board.port.write(b"x = input('? ')\r")
    board.raw_until(b"\r\n? ")
    board.port.write(b"abd\x7fc\r")  # typed with a backspace, echoed as readline does
    assert board.raw_until(b">>> ") == b"abd\x08 \x08c\r\n>>> "
    board.port.write(b"print(repr(x))\r")
    assert board.raw_until(b">>> ").endswith(b"\r\n'abc'\r\n>>> ")


def test_the_harness_deploy_paces_itself_for_a_115200_line(tmp_path: Path) -> None:
    # hil's deploy (mpremote's transport: raw-paste windows, chunked file writes) against the
    # board behind a line paced like a real UART: everything arrives, nothing is rewritten
    files = {**firmware_files({"files": "firmware_model"}),
             "extra/cal.py": b"GAIN = 7\n" + b"# calibration table\n" * 120}
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path / "flash"), "--baud", "115200")
    emu.port.close()
    try:
        rep = deploy_serial(emu.path, files)
    finally:
        emu.stop()
    assert rep.written == ["extra/cal.py"] and len(rep.unchanged) == len(files) - 1
    assert (tmp_path / "flash" / "extra" / "cal.py").read_bytes() == files["extra/cal.py"]
