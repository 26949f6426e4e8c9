"""The nightly history's schema as the first release wrote it (hil/report/history.py has moved
on since): what the tests that read or migrate an older history start from."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_V1 = """
CREATE TABLE runs(run_id TEXT PRIMARY KEY, started_utc TEXT, git_commit TEXT, host TEXT,
    total INTEGER, passed INTEGER, failed INTEGER, errors INTEGER, too_large INTEGER,
    skipped INTEGER, wall_s REAL);
CREATE TABLE results(run_id TEXT, board TEXT, scenario TEXT, verdict TEXT, reasons TEXT,
    wall_s REAL, fw TEXT, proto TEXT, wan_reduction_pct REAL, divergences INTEGER,
    critical_lost INTEGER, PRIMARY KEY (run_id, board, scenario));
"""


def write_v1_history(path: Path, rows: str) -> None:
    """A history file in the first schema, with `rows` (SQL INSERTs) in it."""
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1 + rows)
    db.commit()
    db.close()
