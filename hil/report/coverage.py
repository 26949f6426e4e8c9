"""Gaps in the nightly's coverage, found in the history: what did not run, as opposed to what
ran and failed (that is the trend's business). `hil history check` lists them and the trend
page shows them at its top.

Five kinds, each found from the runs' start times, statuses and planned matrices
(`boards` x `scenarios`, recorded when a run starts) and their results:

- `missed`: an expected run that did not happen -- two runs further apart than `every` +
  `grace` hours, or none in the last `every` + `grace` hours, or no run at all;
- `unfinished`: a run that did not finish -- `interrupted`, any status other than `complete`,
  or still `running` more than `stale` hours after its start (it died without a word);
- `board-absent`: a board in one run's matrix and absent from the next run's;
- `scenario-absent`: a board x scenario pair in one run and absent from the next, the board
  still there (one gap per scenario, naming the boards);
- `no-verdict`: a pair a finished run planned and recorded no result (or no verdict) for.

Only the last `last` runs are looked at (the trend page's window), so a deliberate change of
the matrix is reported until it leaves the window and a hole long past stops being news."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hil.harness.results import VERDICTS
from hil.report.history import LAST_RUNS, RunRecord, run_records, verdicts

MISSED, UNFINISHED, BOARD_ABSENT, SCENARIO_ABSENT, NO_VERDICT = (
    "missed", "unfinished", "board-absent", "scenario-absent", "no-verdict")
KINDS = (MISSED, UNFINISHED, BOARD_ABSENT, SCENARIO_ABSENT, NO_VERDICT)

EVERY_H = 24.0  # the nightly
# A run may start late (a queued CI job, a rig busy with a manual run): up to a quarter of the
# period is still that period's run, not a missed one (6 h for the nightly).
GRACE_FRACTION = 0.25
# `hil run` stops itself after --timeout (30 min by default) and then builds its reports: a
# run still `running` two hours after its start has died.
STALE_H = 2.0


@dataclass(frozen=True)
class Gap:
    kind: str      # one of KINDS
    when: str      # UTC ISO time the gap starts at (for the order of the listing)
    message: str   # one line, for a person
    run_id: str = ""
    board: str = ""
    scenario: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _time(s: str | None) -> datetime | None:
    try:
        t = datetime.fromisoformat(s) if s else None
    except ValueError:
        return None
    if t is not None and t.tzinfo is None:
        t = t.replace(tzinfo=UTC)  # hil run writes UTC; an older row may lack the offset
    return t


def _show(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _hours(d: timedelta) -> str:
    return f"{d.total_seconds() / 3600:.1f} h"


def _missed(records: list[RunRecord], every: float, grace: float,
            now: datetime) -> list[Gap]:
    starts = sorted(t for t in (_time(r.started_utc) for r in records) if t is not None)
    due = f"one expected every {every:g} h, grace {grace:g} h"
    if not starts:
        return [Gap(MISSED, now.isoformat(timespec="seconds"),
                    f"missed: no run recorded in the history ({due})")]
    limit = timedelta(hours=every + grace)
    out = []
    for a, b in zip(starts, starts[1:], strict=False):
        if b - a > limit:
            n = max(1, round((b - a) / timedelta(hours=every)) - 1)
            out.append(Gap(MISSED, a.isoformat(timespec="seconds"),
                           f"missed: no run between {_show(a)} and {_show(b)} ({_hours(b - a)}, "
                           f"about {n} run{'s' if n > 1 else ''} missing; {due})"))
    if now - starts[-1] > limit:
        out.append(Gap(MISSED, starts[-1].isoformat(timespec="seconds"),
                       f"missed: no run since {_show(starts[-1])} ({_hours(now - starts[-1])} "
                       f"ago; {due})"))
    return out


def _planned(r: RunRecord) -> set[tuple[str, str]]:
    return {(b, s) for b in r.boards for s in r.scenarios}


def _in_progress(r: RunRecord, stale: float, now: datetime) -> bool:
    t = _time(r.started_utc)
    return (r.status == "running" and r.finished_utc is None and t is not None
            and now - t <= timedelta(hours=stale))


def _unfinished(r: RunRecord, done: dict[tuple[str, str], str | None], stale: float,
                now: datetime) -> list[Gap]:
    if r.status in ("complete", None) or _in_progress(r, stale, now):
        return []  # None: a run recorded before statuses were kept (it did end)
    planned = _planned(r)
    have = f"{len(planned & set(done))} of {len(planned)} planned results" if planned else \
        f"{len(done)} results"
    start = _time(r.started_utc)
    if r.status == "running":
        age = f"{_hours(now - start)} after its start" if start else "with no start time"
        why = f"still 'running' {age}, no finish recorded: it died"
    elif r.status == "interrupted":
        end = _time(r.finished_utc)
        why = f"interrupted at {_show(end) if end else 'an unknown time'}"
    else:
        why = f"ended with status {r.status!r}"
    return [Gap(UNFINISHED, r.started_utc, f"unfinished: run {r.run_id} (started "
                f"{_show(start) if start else r.started_utc or '?'}) {why}; {have}",
                run_id=r.run_id)]


def _matrix(r: RunRecord, done: dict[tuple[str, str], str | None]) -> set[tuple[str, str]]:
    return _planned(r) | set(done)


def _absent(prev: RunRecord, cur: RunRecord, prev_done: dict[tuple[str, str], str | None],
            cur_done: dict[tuple[str, str], str | None]) -> list[Gap]:
    before, after = _matrix(prev, prev_done), _matrix(cur, cur_done)
    boards_before = set(prev.boards) | {b for b, _ in before}
    boards_after = set(cur.boards) | {b for b, _ in after}
    where = f"in run {prev.run_id}, absent from run {cur.run_id}"
    out = [Gap(BOARD_ABSENT, cur.started_utc, f"board-absent: {b} {where}", run_id=cur.run_id,
               board=b) for b in sorted(boards_before - boards_after)]
    lost: dict[str, list[str]] = {}
    for b, s in sorted(before - after):
        if b in boards_after:
            lost.setdefault(s, []).append(b)
    out += [Gap(SCENARIO_ABSENT, cur.started_utc,
                f"scenario-absent: {s} on {', '.join(bs)} {where}", run_id=cur.run_id,
                board=",".join(bs), scenario=s) for s, bs in sorted(lost.items())]
    return out


def _no_verdict(r: RunRecord, done: dict[tuple[str, str], str | None]) -> list[Gap]:
    if r.status not in ("complete", None):
        return []  # an unfinished run is one gap already, its missing results said there
    missing: dict[str, list[str]] = {}
    for b, s in sorted(_planned(r) | set(done)):
        if done.get((b, s)) not in VERDICTS:
            missing.setdefault(b, []).append(s)
    return [Gap(NO_VERDICT, r.started_utc, f"no-verdict: run {r.run_id}, {b}: "
                f"{', '.join(ss)} ({len(ss)} of {len(r.scenarios) or len(ss)} planned)",
                run_id=r.run_id, board=b, scenario=",".join(ss))
            for b, ss in sorted(missing.items())]


@dataclass(frozen=True)
class Coverage:
    """The gaps found, oldest first, and what was checked to find them."""

    gaps: list[Gap]
    runs: int        # runs looked at
    every: float
    grace: float
    stale: float
    last: int | None

    def summary(self) -> str:
        """What was checked, in one line: after the gaps, or alone when there are none."""
        n = len(self.gaps)
        head = f"{n} coverage gap{'s' if n != 1 else ''}" if n else "no coverage gaps"
        scope = f"the last {self.runs} run{'s' if self.runs != 1 else ''}"
        return f"{head} in {scope} (a run expected every {self.every:g} h, grace " \
               f"{self.grace:g} h)"

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "every_h": self.every, "grace_h": self.grace, "stale_h": self.stale,
                "last": self.last, "gaps": [g.to_dict() for g in self.gaps]}


def check(db: sqlite3.Connection, every: float = EVERY_H, grace: float | None = None,
          stale: float = STALE_H, last: int | None = LAST_RUNS,
          now: datetime | None = None) -> Coverage:
    """Every gap in the last `last` runs, up to `now`. Hours for `every`, `grace` (default
    GRACE_FRACTION of `every`) and `stale`."""
    now = now or datetime.now(UTC)
    grace = every * GRACE_FRACTION if grace is None else grace
    records = run_records(db, last)
    done = verdicts(db, [r.run_id for r in records])
    gaps = _missed(records, every, grace, now)
    for i, r in enumerate(records):
        gaps += _unfinished(r, done[r.run_id], stale, now)
        if i:
            gaps += _absent(records[i - 1], r, done[records[i - 1].run_id], done[r.run_id])
        gaps += _no_verdict(r, done[r.run_id])
    epoch = datetime.min.replace(tzinfo=UTC)
    gaps.sort(key=lambda g: (_time(g.when) or epoch, KINDS.index(g.kind)))
    return Coverage(gaps, len(records), every, grace, stale, last)
