"""Rebuild a run folder's reports (results.json, junit.xml, index.html) from its per-scenario
result files, and the trend page (trend.html) from the SQLite history. Without DIR: the most
recent run folder under reports/."""

from __future__ import annotations

import argparse
from pathlib import Path

from hil.errors import InputError

HELP = "rebuild a run's HTML/JUnit/JSON reports and the trend page"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", metavar="DIR", help="run folder (default: latest in reports/)")
    p.add_argument("--history", default="reports/history.sqlite", metavar="DB",
                   help="SQLite history (default %(default)s; '' for none)")
    p.add_argument("--no-record", action="store_true",
                   help="do not (re)record this run in the history, only read it")


def run(args: argparse.Namespace) -> int:
    from hil import report
    from hil.harness.results import RunFolder

    d = args.dir
    if d is None:
        runs = sorted(p.parent for p in Path("reports").glob("*/manifest.json"))
        if not runs:
            raise InputError("no run folder under reports/ (give DIR)")
        d = runs[-1]
    paths = report.build(RunFolder(d), args.history or None, record=not args.no_record)
    for k, p in paths.items():
        print(f"{k}: {p}")
    return 0
