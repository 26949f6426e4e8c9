"""python -m emulator: run an emulated board behind a pseudo-terminal.

Prints one machine-readable line, `PORT <path>`, then serves the wire protocol
(docs/wire-protocol.md) on that pty until SIGTERM/SIGINT. Open the path with pyserial (any
baud rate) and start with a HELLO."""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import tempfile
from types import FrameType

from emulator.boardfile import BoardFileError, load
from emulator.clock import RealClock, VirtualClock
from emulator.engine import ENGINES, EngineError, create_engine
from emulator.flash import FlashFs
from emulator.qemu_microbit import MicrobitError, QemuMicrobit
from emulator.uart import PtyUart
from firmware_model.ticks import TICKS_PERIOD


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m emulator",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--board", required=True, help="board file, e.g. boards/emulated-chub.toml")
    p.add_argument("--engine", choices=sorted(ENGINES),
                   help="override the board file's engine")
    p.add_argument("--flash", metavar="DIR",
                   help="flash directory (kept between runs; default: a fresh temporary one)")
    p.add_argument("--ticks-start", type=int, metavar="N",
                   help="ticks_ms at power-on, 0..2**30-1 (e.g. 1073741000: wrap in 824 ms)")
    p.add_argument("--baud", type=int, metavar="N",
                   help="pace the serial line like a UART at N baud, both ways "
                        "(0: as fast as possible; default: the board file's `baud`)")
    p.add_argument("--keys", metavar="DIR",
                   help="a test key set (`hil keys generate DIR`): the board MACs and signs its "
                   "frames with it (cpython engine; others say auth=none)")
    p.add_argument("--real-time", action="store_true",
                   help="ticks follow the host clock; ADVANCE is refused")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        spec = load(args.board)
    except BoardFileError as e:
        print(f"emulator: error: {e}", file=sys.stderr)
        return 2
    if spec.kind != "emulated":
        print(f"emulator: error: {spec.path}: kind = {spec.kind!r}: a real board, not emulated",
              file=sys.stderr)
        return 2
    if args.keys is not None:
        spec = dataclasses.replace(spec, keys=args.keys)
    if (args.engine or spec.engine) == "qemu":
        return _serve_qemu(spec.baud if args.baud is None else args.baud)
    ticks = spec.ticks_start if args.ticks_start is None else args.ticks_start
    if not 0 <= ticks < TICKS_PERIOD:
        print("emulator: error: --ticks-start must be in 0..2**30-1", file=sys.stderr)
        return 2
    real = args.real_time or spec.clock == "real"
    clock = RealClock(ticks) if real else VirtualClock(ticks)
    tmp = None
    if args.flash is None:
        tmp = tempfile.TemporaryDirectory(prefix="alertstorm-flash-")
    flash = FlashFs(args.flash or tmp.name)  # type: ignore[union-attr]
    uart = PtyUart(spec.baud if args.baud is None else args.baud)
    stop = _stop_on_signals()
    try:
        engine = create_engine(args.engine or spec.engine, spec, uart.write, flash, clock)
        direct = engine.take_uart(uart)
        engine.start()
    except EngineError as e:
        print(f"emulator: error: {e}", file=sys.stderr)
        uart.close()
        return 2
    print(f"PORT {uart.path}", flush=True)
    try:
        while not stop:
            if direct:
                signal.pause()  # the engine serves the pty
                continue
            data = uart.read(0.05)
            with uart.held():  # one chunk's reply leaves as one write
                if data:
                    engine.feed(data)
                else:
                    engine.idle()
    finally:
        engine.stop()
        uart.close()
        if tmp is not None:
            tmp.cleanup()
    return 0


class _StopFlag:
    """False until SIGTERM or SIGINT arrives; the serving loops poll it."""

    def __init__(self) -> None:
        self.set = False

    def __bool__(self) -> bool:
        return self.set


def _stop_on_signals() -> _StopFlag:
    flag = _StopFlag()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        flag.set = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return flag


def _serve_qemu(baud: int) -> int:
    """A QEMU board is a whole machine with its own UART: boot it and hand out its pty (paced
    at `baud` when the board file says so), as a real board's USB port. Deploying code is the
    harness's job (raw REPL), as on hardware."""
    stop = _stop_on_signals()
    mb = QemuMicrobit(baud=baud)
    try:
        path = mb.start()
    except MicrobitError as e:
        print(f"emulator: error: {e}", file=sys.stderr)
        mb.stop()
        return 2
    print(f"PORT {path}", flush=True)
    try:
        while not stop:
            signal.pause()
    finally:
        mb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
