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


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="list every coverage gap; exit 1 if there is any",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("--history", default="reports/history.sqlite", metavar="DB",
                   help="SQLite history (default %(default)s)")
    c.add_argument("--every", type=float, default=24.0, metavar="HOURS",
                   help="a run is expected every HOURS (default %(default)g)")
    c.add_argument("--grace", type=float, default=None, metavar="HOURS",
                   help="how late a run may start before it counts as missed (default a "
                   "quarter of --every: 6 h for the nightly)")
    c.add_argument("--stale", type=float, default=2.0, metavar="HOURS",
                   help="a run still 'running' this long after its start has died "
                   "(default %(default)g)")
    c.add_argument("--last", type=int, default=14, metavar="N",
                   help="look at the last N runs (default %(default)s, the trend page's)")
    c.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from hil.report import coverage, history

    if args.every <= 0:
        raise InputError("--every must be more than 0 hours")
    if (args.grace is not None and args.grace < 0) or args.stale < 0:
        raise InputError("--grace and --stale must be 0 hours or more")
    if args.last < 1:
        raise InputError("--last must be at least 1")
    db = history.open_readonly(args.history)
    try:
        cov = coverage.check(db, args.every, args.grace, args.stale, args.last)
    finally:
        db.close()
    if args.json:
        print(json.dumps({"history": args.history, **cov.to_dict()}, indent=1))
    else:
        for g in cov.gaps:
            print(g.message)
        print(cov.summary())
    return 1 if cov.gaps else 0
