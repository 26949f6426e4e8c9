"""The serial line of an emulated board paced at a baud rate (emulator/uart.py): bytes cross no
faster than a UART at that rate (10 bits per byte), both ways, and a relay paces another
board's pty (what the QEMU micro:bit gets)."""

from __future__ import annotations

import os
import select
import threading
import time
import tty

import pytest

from emulator.uart import PtyUart, UartRelay

BAUD = 115200
BYTE_S = 10 / BAUD


def _read_n(fd: int, n: int, timeout: float = 5.0) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            got += os.read(fd, 65536)
    return got


@pytest.fixture
def host_side():
    uart = PtyUart(BAUD)
    fd = os.open(uart.path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    yield uart, fd
    os.close(fd)
    uart.close()


def test_the_host_write_returns_at_once_and_the_board_gets_bytes_at_the_line_rate(
        host_side: tuple[PtyUart, int]) -> None:
    uart, fd = host_side
    data = bytes(range(256)) * 4
    t0 = time.monotonic()
    os.write(fd, data)  # buffered like a USB-serial adapter's FIFO
    wrote = time.monotonic() - t0
    got = b""
    while len(got) < len(data):
        got += uart.read(1.0)
    took = time.monotonic() - t0
    assert got == data and wrote < 0.02
    assert len(data) * BYTE_S * 0.9 < took < len(data) * BYTE_S * 3 + 0.3, took


def test_board_output_leaves_at_the_line_rate(host_side: tuple[PtyUart, int]) -> None:
    uart, fd = host_side
    data = b"x" * 1152  # 0.1 s of line
    t0 = time.monotonic()
    th = threading.Thread(target=uart.write, args=(data,))
    th.start()
    first = _read_n(fd, 1)
    t_first = time.monotonic() - t0
    rest = _read_n(fd, len(data) - len(first))
    took = time.monotonic() - t0
    th.join()
    assert first + rest == data
    assert t_first < 0.05 and 0.09 < took < 0.5, (t_first, took)


def test_unpaced_is_as_fast_as_the_pty() -> None:
    uart = PtyUart(0)
    fd = os.open(uart.path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    try:
        t0 = time.monotonic()
        uart.write(b"y" * 4096)
        assert _read_n(fd, 4096) == b"y" * 4096 and time.monotonic() - t0 < 0.2
    finally:
        os.close(fd)
        uart.close()


def test_relay_paces_another_pty_both_ways() -> None:
    board_master, board_slave = os.openpty()  # stands for QEMU's UART pty
    tty.setraw(board_master)
    tty.setraw(board_slave)
    relay = UartRelay(os.ttyname(board_slave), BAUD)
    host = os.open(relay.path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(host)
    try:
        data = b"to-board " * 128  # 1152 bytes: 0.1 s
        t0 = time.monotonic()
        os.write(host, data)
        assert _read_n(board_master, len(data)) == data
        to_board = time.monotonic() - t0
        t0 = time.monotonic()
        os.write(board_master, data.upper())
        assert _read_n(host, len(data)) == data.upper()
        to_host = time.monotonic() - t0
    finally:
        relay.close()
        os.close(host)
        os.close(board_master)
        os.close(board_slave)
    assert 0.09 < to_board < 1.0 and 0.09 < to_host < 1.0, (to_board, to_host)
