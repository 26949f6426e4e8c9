"""Every report of a run folder: results.json (machine-readable, written here), junit.xml
(hil.report.junit), index.html (hil.report.html) by `write_reports`; the run recorded in the
history and trend.html across nights (hil.report.history) by `write_history`; `build` does
both, as `hil report` does.

Everything is rebuilt from the per-scenario result files and the manifest, so `hil report DIR`
can regenerate it after a crash, a resume, or a change of template. A folder or a history that
cannot be read is an InputError naming the file (one line from the CLI), never a traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hil.errors import InputError
from hil.harness.results import RunFolder, ScenarioResult, atomic_write, atomic_write_json
from hil.report import history
from hil.report.html import html_report, trend_html
from hil.report.junit import junit_xml
from hil.report.totals import summary


def write_results_json(folder: RunFolder, manifest: dict[str, Any],
                       results: list[ScenarioResult]) -> Path:
    p = folder.path / "results.json"
    atomic_write_json(p, {"manifest": manifest, "summary": summary(results),
                          "results": [r.to_dict() for r in results]})
    return p


def write_reports(folder: RunFolder) -> dict[str, Path]:
    """results.json, junit.xml and index.html. Returns the paths written."""
    manifest = folder.manifest()
    results = folder.results()
    paths = {"results": write_results_json(folder, manifest, results)}
    paths["junit"] = folder.path / "junit.xml"
    atomic_write(paths["junit"], junit_xml(manifest, results))
    paths["html"] = folder.path / "index.html"
    atomic_write(paths["html"], html_report(manifest, results))
    return paths


def write_history(folder: RunFolder, history_db: str | Path,
                  record: bool = True) -> dict[str, Path]:
    """Record the run in the history (unless `record` is false) with the manifest's status,
    and write trend.html into the run folder and beside the history. Returns the paths
    written."""
    manifest = folder.manifest()
    db = history.connect(history_db)
    try:
        if record:
            history.record_run(db, str(manifest.get("run_id", folder.path.name)), manifest,
                               folder.results(), folder.path)
        try:
            text = trend_html(history.trend(db))
        except sqlite3.Error as e:
            raise InputError(f"history {history_db}: cannot be read: {e}") from None
    finally:
        db.close()
    paths = {"trend": folder.path / "trend.html"}
    atomic_write(paths["trend"], text)
    atomic_write(Path(history_db).parent / "trend.html", text)
    return paths


def build(folder: RunFolder, history_db: str | Path | None = None,
          record: bool = True) -> dict[str, Path]:
    """Write results.json, junit.xml, index.html (and, with a history db, record the run and
    write trend.html). Returns the paths written."""
    paths = write_reports(folder)
    if history_db is not None:
        paths.update(write_history(folder, history_db, record))
    return paths
