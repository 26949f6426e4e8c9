"""Run the port kit against a board over its serial link, using only the wire protocol: every
limiter vector (vectors/limiter/*.json) through the board's limiter-under-test verbs, and every
wire transcript (vectors/wire/*.json) on its raw link. The board is a board name (boards/) or a
board file; docs/porting.md says how to attach one.

Prints one line per vector that fails (the first differing event or step, both sides) or errs,
then the vectors the board cannot be asked (not applicable: an optional verb it answers
E_UNSUPPORTED, a capability its HELLO lacks; never counted as passed), and ends with the line
`N/M vectors pass`: N passing of the M applicable.

Exit status: 0 every applicable vector passes; 1 one fails or errs, or none was applicable (a
board that can be asked nothing has shown nothing); 2 bad input: a malformed vector file (the
message names the file and the field), an unknown board, a board that is not attached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the limiter and wire-protocol conformance vectors against a board"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--board", required=True, metavar="NAME|PATH",
                        help="a board name (boards/NAME.toml) or a board file")
    parser.add_argument("--vectors", metavar="DIR",
                        help="directory of vector files, searched recursively (default: the "
                             "checkout's vectors/: limiter/ and wire/)")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML for CI")
    parser.add_argument("--step-timeout", type=float, default=10.0, metavar="S",
                        help="seconds to wait for each answer (default 10)")


def _na_lines(outcomes: list) -> list[str]:
    by_reason: dict[str, list[str]] = {}
    for o in outcomes:
        if not o.applicable:
            by_reason.setdefault(o.message, []).append(o.name)
    lines = []
    for reason, names in by_reason.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        lines.append(f"n/a   {shown}: {reason}")
    return lines


def run(args: argparse.Namespace) -> int:
    # imported here, not at the top: `hil --help` must not import the harness (hil.cli)
    from hil.board.registry import load_board
    from hil.conformance import (
        ERROR,
        FAIL,
        PASS,
        ConformanceSession,
        Outcome,
        conformance_junit,
        load_suite,
    )
    from hil.conformance.vectors import SUITE_DIRS
    from hil.paths import ROOT

    vectors = (load_suite(Path(args.vectors)) if args.vectors else
               load_suite(ROOT / "vectors", SUITE_DIRS))
    board = load_board(args.board)

    def report(o: Outcome) -> None:
        if o.status in (FAIL, ERROR):
            print(f"{o.status.upper():5s} {o.name}: {o.message}", flush=True)
        elif o.status == PASS and o.message:
            print(f"note  {o.name}: passes; {o.message}", flush=True)

    session = ConformanceSession(board, step_timeout=args.step_timeout, on_outcome=report)
    outcomes = session.run(vectors)
    hello = session.hello
    ident = " ".join(f"{k}={hello[k]}" for k in ("fw", "engine", "caps") if k in hello)
    print(f"board {board.name}" + (f": {ident}" if ident else ""))
    for line in _na_lines(outcomes):
        print(line)
    applicable = [o for o in outcomes if o.applicable]
    passed = sum(o.status == PASS for o in applicable)
    if args.junit:
        Path(args.junit).write_text(conformance_junit(board.name, hello, outcomes))
    print(f"{passed}/{len(applicable)} vectors pass")
    return 0 if applicable and passed == len(applicable) else 1
