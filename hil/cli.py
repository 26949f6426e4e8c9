"""`hil`: the host tool's command line. Each subcommand lives in its own module under
`hil.commands` exposing `HELP`, `add_arguments(parser)` and `run(args) -> int`, so that
importing the CLI does not import every layer."""

from __future__ import annotations

import argparse
import importlib
import sys

from hil.errors import HilError

# name -> module under hil.commands; order is the order shown by --help.
COMMANDS: dict[str, str] = {
    "decode": "hil.commands.decode",
    "compare": "hil.commands.compare",
    "run": "hil.commands.run",
    "conformance": "hil.commands.conformance",
    "boards": "hil.commands.boards",
    "deploy": "hil.commands.deploy",
    "report": "hil.commands.report",
    "history": "hil.commands.history",
    "keys": "hil.commands.keys",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hil",
        description="Alert-storm protection for GB smart metering: decode GBCS alert frames, "
        "model the DSP's SECMP0062 filter, compare it with the device limiter, and run the "
        "hardware-in-the-loop nightly on real or emulated boards.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(name, help=mod.HELP, description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except HilError as exc:
        print(f"hil {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print(f"hil {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
