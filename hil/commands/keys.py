"""Make the project's test PKI: `hil keys generate DIR` writes an ECDSA P-256 Digital Signing and
Key Agreement key pair for every system title in the board files (each device and each
recipient, e.g. the DCC's 90B3D51F30010000), with keys.toml saying whose each is
(emulator/keystore.py has the layout, docs/frames.md section 11 what the keys are for).

These are test keys, made fresh on every call: never real device keys, and never to be
committed. Give the directory to `hil run --keys DIR` (the emulated boards MAC and sign their
frames with it, the harness verifies them) or to `hil decode --keys DIR`. DIR must not hold a
key set already (keys are never overwritten). Exit status 0, or 2 on a usage or input error."""

from __future__ import annotations

import argparse

from hil.errors import InputError

HELP = "make a test key set (ECDSA P-256 signing and key agreement keys per system title)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    g = sub.add_parser("generate", help="write a new test key set into DIR",
                       description="write a new test key set into DIR")
    g.add_argument("directory", metavar="DIR")
    g.add_argument("--board", action="append", metavar="NAME|PATH",
                   help="only the titles of these boards (default: every board file)")


def run(args: argparse.Namespace) -> int:
    from emulator.keystore import KeyStoreError, generate
    from hil.board.registry import all_boards, load_board

    boards = [load_board(b) for b in args.board] if args.board else all_boards()
    owners: dict[bytes, list[str]] = {}
    for b in boards:
        for dev, title in sorted(b.spec.titles.items()):
            owners.setdefault(title, []).append(f"{b.name} {dev}")
    if not owners:
        raise InputError("no system titles in the selected board files ([titles])")
    try:
        written = generate(args.directory, owners)
    except KeyStoreError as e:
        raise InputError(str(e)) from None
    print(f"hil keys: {len(owners)} titles, {len(written)} files in {args.directory} "
          "(test keys: do not commit them)")
    return 0
