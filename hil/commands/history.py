"""Read the history of nightly runs (reports/history.sqlite).

`hil history check` lists every gap in the nightly's coverage, one line each: a run that did
not happen (none for longer than --every + --grace hours), a run that did not finish
(interrupted, or still `running` --stale hours after its start), a board or a board x scenario
pair in one run and absent from the next, a planned pair with no verdict in a finished run. It
looks at the last --last runs (those of the trend page) and only reads the history.

Exit status: 0 no gap, 1 at least one gap, 2 the history is missing or not a HIL history.
Run it after the nightly, e.g. from cron:

    30 6 * * *  cd /srv/alertstorm && .venv/bin/hil history check || mail-the-rig-owner"""

from __future__ import annotations

import argparse
import json

from hil.errors import InputError

HELP = "check the history of nightly runs for gaps in coverage"
MAX_HOURS = 100_000  # about 11 years: far beyond any use, well within what datetime can add
MAX_RUNS = 1_000_000  # and within what SQLite's LIMIT takes


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="list every coverage gap; exit 1 if there is any",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--history", default="reports/history.sqlite", metavar="DB",
                   help="SQLite history (default %(default)s)")
    # the defaults live in hil.report.coverage (not imported here: CLI start-up); None = theirs
    c.add_argument("--every", type=float, metavar="HOURS",
                   help="a run is expected every HOURS (default 24)")
    c.add_argument("--grace", type=float, metavar="HOURS",
                   help="how late a run may start before it counts as missed (default a "
                   "quarter of --every: 6 h for the nightly)")
    c.add_argument("--stale", type=float, metavar="HOURS",
                   help="a run still 'running' this long after its start has died (default 2)")
    c.add_argument("--last", type=int, metavar="N",
                   help="look at the last N runs (default 14, the trend page's)")
    c.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    import sqlite3

    from hil.report import coverage, history

    given = {k: getattr(args, k) for k in ("every", "grace", "stale", "last")
             if getattr(args, k) is not None}
    for k in ("every", "grace", "stale"):  # NaN fails the comparison too
        if k in given and not 0 <= given[k] <= MAX_HOURS:
            raise InputError(f"--{k} must be between 0 and {MAX_HOURS} hours")
    if given.get("every") == 0:
        raise InputError("--every must be more than 0 hours")
    if not 1 <= given.get("last", 1) <= MAX_RUNS:
        raise InputError(f"--last must be between 1 and {MAX_RUNS}")
    db = history.open_readonly(args.history)
    try:
        cov = coverage.check(db, **given)
    except sqlite3.DatabaseError as e:  # a damaged page further in than the schema
        raise InputError(f"{args.history}: unreadable history ({e})") from None
    finally:
        db.close()
    if args.json:
        print(json.dumps({"history": args.history, **cov.to_dict()}, indent=1))
    else:
        for g in cov.gaps:
            print(g.message)
        print(cov.summary())
    return 1 if cov.gaps else 0
