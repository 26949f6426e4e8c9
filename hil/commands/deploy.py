"""Deploy firmware_model (and the board's main.py) to a MicroPython board through its raw
REPL, writing only files whose SHA-256 on the board differs, then check the board's HELLO:
protocol version and firmware hash. A board that cannot take the code (MemoryError,
ImportError) is reported as such (exit status 3), distinct from a transfer failure (2)."""

from __future__ import annotations

import argparse

from hil.errors import InputError

HELP = "deploy firmware_model to a MicroPython board (hash-checked) and verify its HELLO"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--board", required=True, metavar="NAME|PATH",
                   help="board name (boards/NAME.toml) or board file")
    p.add_argument("--port", metavar="PATH",
                   help="serial port (default: found from the board file's USB match)")
    p.add_argument("--no-hello", action="store_true", help="skip the HELLO check afterwards")


def run(args: argparse.Namespace) -> int:
    from hil.board import (
        BoardError,
        CannotTakeCode,
        ProtocolClient,
        SerialAdapter,
        deploy_serial,
        firmware_files,
        load_board,
    )

    board = load_board(args.board)
    if board.emulated:
        raise InputError(f"{board.name} is emulated: it runs firmware_model from this checkout; "
                         "nothing to deploy")
    adapter = SerialAdapter(board.name, board.spec.match, board.spec.baud, board.quirk(),
                            port_path=args.port)
    try:
        port = args.port or adapter.find()
        rep = deploy_serial(port, firmware_files(board.spec.firmware), board.spec.baud or 115200,
                            log=print)
        print(f"{board.name}: wrote {len(rep.written)} files, {len(rep.unchanged)} unchanged; "
              f"firmware {rep.firmware_hash}")
        if args.no_hello:
            return 0
        adapter.open()
        try:
            info = ProtocolClient(adapter).hello()
        finally:
            adapter.close()
        board.check_firmware(info)
        print(f"{board.name}: HELLO proto={info.get('proto')} fw={info.get('fw')}: ok")
        return 0
    except CannotTakeCode as e:
        print(f"hil deploy: {board.name}: {e.reason}: {e}")
        return 3
    except BoardError as e:
        raise InputError(f"{board.name}: {e.reason}: {e}") from None
