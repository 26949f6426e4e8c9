"""Every report of a run folder: results.json (machine-readable, written here), junit.xml
(hil.report.junit), index.html (hil.report.html) by `write_reports`; the run recorded in the
history by `record_in_history`, and trend.html across nights (hil.report.history) by
`write_trend`; `build` does all three, as `hil report` does. `hil run` calls them one by one,
the history first, so that a run stopped while its plots are drawn is already recorded.

Everything is rebuilt from the per-scenario result files and the manifest, so `hil report DIR`
can regenerate it after a crash, a resume, or a change of template. A folder or a history that
cannot be read is an InputError naming the file (one line from the CLI), never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hil.errors import InputError
from hil.harness.results import RunFolder, atomic_write, atomic_write_json
from hil.report import coverage, history
from hil.report.html import html_report, trend_html
from hil.report.junit import junit_xml
from hil.report.plot import trend_pngs
from hil.report.totals import summary


def write_reports(folder: RunFolder) -> dict[str, Path]:
    """results.json and junit.xml, then index.html (the slow one: a plot per result). Returns
    the paths written."""
    manifest = folder.manifest()
    results = folder.results()  # each checked field by field, but not what the fields hold
    paths = {"results": folder.path / "results.json", "junit": folder.path / "junit.xml",
             "html": folder.path / "index.html"}
    with _readable(folder):
        atomic_write_json(paths["results"], {"manifest": manifest, "summary": summary(results),
                                             "results": [r.to_dict() for r in results]})
        atomic_write(paths["junit"], junit_xml(manifest, results))
        atomic_write(paths["html"], html_report(manifest, results))
    return paths


@contextmanager
def _readable(folder: RunFolder) -> Iterator[None]:
    """A result that passed its field checks but holds the wrong thing inside one (a list
    for a table, text for a count): an InputError naming the folder, not a traceback."""
    try:
        yield
    except (LookupError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"{folder.path}: its result files hold what the reports cannot read "
                         f"({type(e).__name__}: {e}); rerun the scenario or restore the file"
                         ) from None


def record_in_history(folder: RunFolder, history_db: str | Path) -> None:
    """The run in the history as its folder has it now: the manifest's status (`interrupted`
    stays interrupted, never complete) and every result so far."""
    manifest = folder.manifest()
    db = history.connect(history_db)
    try:
        history.record_run(db, str(manifest.get("run_id", folder.path.name)), manifest,
                           folder.results(), folder.path)
    finally:
        db.close()


def write_trend(folder: RunFolder, history_db: str | Path) -> Path:
    """trend.html across the nights of the history, into the run folder and beside the
    history. Returns the run folder's copy."""
    db = history.connect(history_db)
    try:
        t, cov = history.trend(db), coverage.check(db)
    except sqlite3.Error as e:
        raise InputError(f"history {history_db}: cannot be read: {e}") from None
    finally:
        db.close()
    root = Path(history_db).parent
    plots = trend_pngs(t)
    p = folder.path / "trend.html"
    # the same page twice, its links relative to where each copy sits
    for page in (p, root / "trend.html"):
        atomic_write(page, trend_html(t, cov, plots, page.parent, root))
    return p


def build(folder: RunFolder, history_db: str | Path | None = None,
          record: bool = True) -> dict[str, Path]:
    """Write results.json, junit.xml, index.html (and, with a history db, record the run and
    write trend.html). Returns the paths written."""
    paths = write_reports(folder)
    if history_db is not None:
        if record:
            record_in_history(folder, history_db)
        paths["trend"] = write_trend(folder, history_db)
    return paths
