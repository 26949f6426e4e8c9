"""Rebuild a run folder's reports (results.json, junit.xml, index.html) from its per-scenario
result files, record the run in its history again, and rebuild the trend page (trend.html).
Without DIR: the most recent run folder under reports/. Without --history: the history the run
was started with (its manifest says), else reports/history.sqlite.

A folder or a history that cannot be read (not a run folder, a damaged manifest or result
file, a file that is not a SQLite history) is one line and exit status 2, never a traceback;
no result file and no history row is changed by it."""

from __future__ import annotations

import argparse
from pathlib import Path

from hil.errors import InputError

HELP = "rebuild a run's HTML/JUnit/JSON reports and the trend page"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", nargs="?", metavar="DIR", help="run folder (default: latest in reports/)")
    p.add_argument("--history", metavar="DB",
                   help="SQLite history (default: the run's own, as its manifest says, else "
                   "reports/history.sqlite; '' for none)")
    p.add_argument("--no-record", action="store_true",
                   help="do not (re)record this run in the history, only read it")


def run(args: argparse.Namespace) -> int:
    from hil import report
    from hil.commands.run import DEFAULT_HISTORY
    from hil.harness.results import RunFolder

    d = args.dir
    if d is None:
        runs = sorted(p.parent for p in Path("reports").glob("*/manifest.json"))
        if not runs:
            raise InputError("no run folder under reports/ (give DIR)")
        d = runs[-1]
    folder = RunFolder(d)
    db = args.history
    if db is None:
        db = folder.manifest().get("history", DEFAULT_HISTORY) or ""
    paths = report.build(folder, db or None, record=not args.no_record)
    for k, p in paths.items():
        print(f"{k}: {p}")
    return 0
