"""SQLite history of nightly runs (reports/history.sqlite by default) and the trend across
nights that tells a failing board (board health: the rig or the hardware) from a failing
scenario (the firmware or the policy).

Schema (docs/harness.md, "History"):

    runs(run_id TEXT PRIMARY KEY,      -- unique per run (hil.harness.results.new_run_id),
                                       -- never derived from the folder's name
         started_utc TEXT, git_commit TEXT, host TEXT,
         total INTEGER, passed INTEGER, failed INTEGER, errors INTEGER,
         too_large INTEGER, skipped INTEGER, wall_s REAL,
         finished_utc TEXT,            -- NULL while running or if the run died
         status TEXT,                  -- running | complete | interrupted
         out_dir TEXT,                 -- the run folder
         boards TEXT, scenarios TEXT)  -- JSON lists: the matrix the run set out to do
    results(run_id TEXT REFERENCES runs, board TEXT, scenario TEXT,
            verdict TEXT,                -- pass | fail | error | too-large | skipped
            reasons TEXT,                -- "; "-joined
            wall_s REAL, fw TEXT, proto TEXT,
            wan_reduction_pct REAL, divergences INTEGER, critical_lost INTEGER,
            metrics TEXT,                -- JSON: the result's whole metrics dict
            causes TEXT,                 -- JSON: cause -> divergences it explains
            PRIMARY KEY (run_id, board, scenario))

A run is recorded when it starts (`record_start`: status running, its planned matrix) and
again when it ends (`record_run`), so a run that dies half-way is still in the history, as
`running` with no finish time, and one stopped by a signal is `interrupted` with what it
finished; `hil run --resume` records into the same row. Recording a run again replaces its
results (idempotent; `hil report` may rebuild). An older database gains the new columns when
opened (`connect`). A file that is not a SQLite history, or cannot be written, is an
InputError (one line), never a traceback: `hil run` meets it before its first scenario.

Trend rules: a board is *unhealthy on a night* if any of its scenarios ended in `error`
(infrastructure), or if at least half of its attempted scenarios failed (something board-wide).
A board is flagged when it was unhealthy on each of the last `nights` (default 2) runs that
included it. A scenario is flagged when it failed (verdict `fail`) on a board that was healthy
that night, on each of the last `nights` runs: that is the code, not the rig.

Reading (`open_readonly`, `run_records`, `verdicts`, `figures`) never writes: `hil history
check` may look at a history it must not change (another rig's, a copy, an older schema), and
a file that is not a history is a one-line error, not a traceback."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.errors import InputError
from hil.harness.results import (
    COMPLETE,
    ERROR,
    FAIL,
    PASS,
    RUNNING,
    SKIPPED,
    TOO_LARGE,
    ScenarioResult,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
    run_id TEXT PRIMARY KEY, started_utc TEXT, git_commit TEXT, host TEXT,
    total INTEGER, passed INTEGER, failed INTEGER, errors INTEGER,
    too_large INTEGER, skipped INTEGER, wall_s REAL,
    finished_utc TEXT, status TEXT, out_dir TEXT, boards TEXT, scenarios TEXT);
CREATE TABLE IF NOT EXISTS results(
    run_id TEXT REFERENCES runs(run_id), board TEXT, scenario TEXT, verdict TEXT,
    reasons TEXT, wall_s REAL, fw TEXT, proto TEXT, wan_reduction_pct REAL,
    divergences INTEGER, critical_lost INTEGER, metrics TEXT, causes TEXT,
    PRIMARY KEY (run_id, board, scenario));
"""
# columns added since the first schema: an older database gains them on connect
ADDED_COLUMNS = {"runs": ("finished_utc", "status", "out_dir", "boards", "scenarios"),
                 "results": ("metrics", "causes")}


def connect(path: str | Path) -> sqlite3.Connection:
    """The history at `path`, created if absent. InputError if it is not a SQLite history or
    cannot be opened."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), timeout=30)
    except (OSError, sqlite3.Error) as e:
        raise InputError(f"history {path}: cannot be opened: {e}") from None
    try:
        db.executescript(SCHEMA)
        for table, cols in ADDED_COLUMNS.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for c in cols:
                if c not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {c} TEXT")
    except sqlite3.Error as e:
        db.close()
        raise InputError(f"history {path}: not a usable SQLite history: {e}") from None
    return db


@contextmanager
def _recording(db: sqlite3.Connection, run_id: str) -> Iterator[None]:
    """One transaction of recording; a database that refuses it is an InputError."""
    try:
        with db:
            yield
    except sqlite3.Error as e:
        raise InputError(f"history: cannot record run {run_id}: {e}") from None


def record_start(db: sqlite3.Connection, run_id: str, manifest: dict[str, Any],
                 out_dir: str | Path) -> None:
    """The run as it starts: in the history from its first minute, so a run that dies is a
    gap that can be seen, not a night that never was. A resumed run keeps its first row.
    This is the run's first write to the history, so `hil run` calls it before its first
    scenario: a history that cannot be written is found then (InputError), not at the end."""
    with _recording(db, run_id):
        db.execute(
            "INSERT OR IGNORE INTO runs (run_id, started_utc, git_commit, host, total, passed, "
            "failed, errors, too_large, skipped, wall_s, status, out_dir, boards, scenarios) "
            "VALUES (?,?,?,?,0,0,0,0,0,0,0,?,?,?,?)",
            (run_id, manifest.get("started_utc", ""), manifest.get("git_commit", ""),
             manifest.get("host", ""), RUNNING, str(out_dir),
             json.dumps(manifest.get("boards", [])), json.dumps(manifest.get("scenarios", []))))
        db.execute("UPDATE runs SET status = ?, finished_utc = NULL WHERE run_id = ?",
                   (RUNNING, run_id))


def record_run(db: sqlite3.Connection, run_id: str, manifest: dict[str, Any],
               results: list[ScenarioResult], out_dir: str | Path | None = None) -> None:
    """The run as it ended (or as `hil run` stopped it, or as `hil report` rebuilds it): counts,
    the manifest's status (`interrupted` stays interrupted) and every result so far."""
    n = {v: sum(1 for r in results if r.verdict == v) for v in (PASS, FAIL, ERROR, TOO_LARGE,
                                                                 SKIPPED)}
    status = manifest.get("status", COMPLETE)
    finished = manifest.get("finished_utc") if status != RUNNING else None
    with _recording(db, run_id):
        db.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
        db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (
            run_id, manifest.get("started_utc", ""), manifest.get("git_commit", ""),
            manifest.get("host", ""), len(results), n[PASS], n[FAIL], n[ERROR], n[TOO_LARGE],
            n[SKIPPED], float(manifest.get("wall_s") or sum(r.wall_s for r in results)),
            finished, status, str(out_dir) if out_dir is not None else None,
            json.dumps(manifest.get("boards", [])), json.dumps(manifest.get("scenarios", []))))
        db.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", [
            (run_id, r.board, r.scenario, r.verdict, "; ".join(r.reasons), r.wall_s,
             r.board_info.get("fw", ""), r.board_info.get("proto", ""),
             r.metrics.get("wan_reduction_pct"), r.metrics.get("divergences"),
             r.metrics.get("critical_lost"), json.dumps(r.metrics, sort_keys=True,
                                                        default=str),
             json.dumps(divergence_causes(r), sort_keys=True))
            for r in results])


def divergence_causes(r: ScenarioResult) -> dict[str, int]:
    """cause -> how many of the result's divergences it explains, over every class (a per-alert
    divergence or a per-code count mismatch): what the trend plots night by night."""
    out: dict[str, int] = defaultdict(int)
    by_class = r.divergence.get("causes") if isinstance(r.divergence, dict) else None
    for per_cause in (by_class or {}).values():
        if isinstance(per_cause, dict):
            for cause, n in per_cause.items():
                if isinstance(n, int) and not isinstance(n, bool):
                    out[str(cause)] += n
    return dict(out)


# -- reading ---------------------------------------------------------------------------------


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """An existing history, opened read-only; InputError if it is missing, not SQLite, or not a
    history (no runs and results tables)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such history file")
    try:
        db = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as e:
        raise InputError(f"{p}: not an SQLite history ({e})") from None
    if not {"runs", "results"} <= tables:
        db.close()
        raise InputError(f"{p}: an SQLite file but not a HIL history (no runs/results tables)")
    return db


def _select(db: sqlite3.Connection, table: str, cols: tuple[str, ...]) -> str:
    """The column list for `cols`, NULL for a column an older, unmigrated history lacks (a
    read-only history cannot gain them)."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    return ", ".join(c if c in have else f"NULL AS {c}" for c in cols)


def _json_list(text: str | None) -> list[str]:
    try:
        v = json.loads(text) if text else []
    except json.JSONDecodeError:
        return []
    return [str(x) for x in v] if isinstance(v, list) else []


@dataclass(frozen=True)
class RunRecord:
    """One row of `runs`, as coverage and the trend page read it."""

    run_id: str
    started_utc: str
    finished_utc: str | None
    status: str | None       # running | complete | interrupted; None: recorded before statuses
    out_dir: str | None      # the run folder, as `hil run` was given it
    boards: list[str]        # the planned matrix; [] when not recorded (older rows)
    scenarios: list[str]


def run_records(db: sqlite3.Connection, last: int | None = None) -> list[RunRecord]:
    """The last `last` runs (all if None), oldest first."""
    cols = _select(db, "runs", ("run_id", "started_utc", "finished_utc", "status", "out_dir",
                                "boards", "scenarios"))
    rows = db.execute(f"SELECT {cols} FROM runs ORDER BY started_utc DESC, run_id DESC "
                      "LIMIT ?", (-1 if last is None else last,)).fetchall()
    return [RunRecord(str(r[0]), r[1] or "", r[2], r[3], r[4], _json_list(r[5]),
                      _json_list(r[6])) for r in reversed(rows)]


def verdicts(db: sqlite3.Connection,
             run_ids: list[str]) -> dict[str, dict[tuple[str, str], str | None]]:
    """run_id -> (board, scenario) -> verdict, for every result recorded for those runs."""
    out: dict[str, dict[tuple[str, str], str | None]] = {r: {} for r in run_ids}
    if run_ids:
        marks = ",".join("?" * len(run_ids))
        for run_id, board, scenario, verdict in db.execute(
                f"SELECT run_id, board, scenario, verdict FROM results WHERE run_id IN ({marks})",
                run_ids):
            out[run_id][(board, scenario)] = verdict
    return out


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def figures(db: sqlite3.Connection,
            run_ids: list[str]) -> dict[tuple[str, str], dict[str, dict[str, float | None]]]:
    """(board, scenario) -> run_id -> the figures the trend page plots across nights:
    `wan_reduction_pct`, `divergences_all` (every device-vs-DSP divergence: per alert and
    per-code count mismatches), `divergences_unknown` (those of them with no named cause) and
    `wall_s`; None where not measured. From a result's metrics JSON, or, for a row recorded
    before it was kept, from the columns (the per-alert divergences only)."""
    out: dict[tuple[str, str], dict[str, dict[str, float | None]]] = defaultdict(dict)
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    cols = _select(db, "results", ("run_id", "board", "scenario", "wall_s", "wan_reduction_pct",
                                   "divergences", "metrics"))
    for run_id, board, scenario, wall, wan, div, text in db.execute(
            f"SELECT {cols} FROM results WHERE run_id IN ({marks})", run_ids):
        try:
            m = json.loads(text) if text else {}
        except json.JSONDecodeError:
            m = {}
        m = m if isinstance(m, dict) else {}
        per_alert = _num(m.get("divergences", div))
        counts = _num(m.get("count_mismatches"))
        out[(board, scenario)][run_id] = {
            "wan_reduction_pct": _num(m.get("wan_reduction_pct", wan)),
            "divergences_all": None if per_alert is None else per_alert + (counts or 0.0),
            "divergences_unknown": _num(m.get("divergences_unknown")),
            "wall_s": _num(wall),
        }
    return dict(out)


def causes(db: sqlite3.Connection,
           run_ids: list[str]) -> dict[tuple[str, str], dict[str, dict[str, int]]]:
    """(board, scenario) -> run_id -> cause -> divergences it explains; absent for rows
    recorded before causes were kept."""
    out: dict[tuple[str, str], dict[str, dict[str, int]]] = defaultdict(dict)
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    cols = _select(db, "results", ("run_id", "board", "scenario", "causes"))
    for run_id, board, scenario, text in db.execute(
            f"SELECT {cols} FROM results WHERE run_id IN ({marks})", run_ids):
        try:
            c = json.loads(text) if text else None
        except json.JSONDecodeError:
            c = None
        if isinstance(c, dict):
            out[(board, scenario)][run_id] = {str(k): v for k, v in c.items()
                                              if isinstance(v, int) and not isinstance(v, bool)}
    return dict(out)


# -- the trend ---------------------------------------------------------------------------------


@dataclass
class Trend:
    runs: list[str]  # run ids, oldest first
    cells: dict[tuple[str, str], dict[str, str]]  # (board, scenario) -> run_id -> verdict
    board_nights: dict[str, dict[str, bool]]  # board -> run_id -> unhealthy that night
    flagged_boards: dict[str, str]  # board -> why
    flagged_scenarios: dict[str, str]  # scenario -> why
    records: dict[str, RunRecord]  # run_id -> its row (start, status, folder)
    figures: dict[tuple[str, str], dict[str, dict[str, float | None]]]  # see figures()
    causes: dict[tuple[str, str], dict[str, dict[str, int]]]  # see causes()


LAST_RUNS = 14  # the trend page's window (and the coverage check's)


def trend(db: sqlite3.Connection, last: int = LAST_RUNS, nights: int = 2) -> Trend:
    records = run_records(db, last)
    runs = [r.run_id for r in records]
    cells: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    per_board: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    fails: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for run_id, by_pair in verdicts(db, runs).items():
        for (board, scenario), verdict in by_pair.items():
            v = verdict or ""
            cells[(board, scenario)][run_id] = v
            per_board[board][run_id].append(v)
            if v == FAIL:
                fails[scenario][run_id].append(board)
    board_nights: dict[str, dict[str, bool]] = {}
    for board, by_run in per_board.items():
        nightly = {}
        for run_id, night in by_run.items():
            attempted = [v for v in night if v != SKIPPED]
            if not attempted:
                continue
            nfail = sum(1 for v in attempted if v == FAIL)
            nightly[run_id] = ERROR in attempted or nfail * 2 >= len(attempted) > 1
        board_nights[board] = nightly
    flagged_boards = {}
    for board, nightly in board_nights.items():
        seq = [nightly[r] for r in runs if r in nightly]
        if len(seq) >= nights and all(seq[-nights:]):
            streak = 0
            for bad in reversed(seq):
                if not bad:
                    break
                streak += 1
            flagged_boards[board] = f"unhealthy on the last {streak} consecutive runs"
    flagged_scenarios = {}
    for scenario, by_run in fails.items():
        present = [r for r in runs if any(r in v for (_, sc), v in cells.items()
                                          if sc == scenario)]
        seq = []
        for r in present:
            healthy_fails = [b for b in by_run.get(r, [])
                             if not board_nights.get(b, {}).get(r, False)]
            seq.append(bool(healthy_fails))
        if len(seq) >= nights and all(seq[-nights:]):
            flagged_scenarios[scenario] = (f"failed on healthy boards on the last {nights}+ "
                                           "consecutive runs")
    return Trend(runs, dict(cells), board_nights, flagged_boards, flagged_scenarios,
                 {r.run_id: r for r in records}, figures(db, runs), causes(db, runs))
