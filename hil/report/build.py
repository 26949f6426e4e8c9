"""Every report of a run folder, written by `build`: results.json (machine-readable, written
here), junit.xml (hil.report.junit), index.html (hil.report.html), and, with a history db, the
run recorded in it and trend.html across nights (hil.report.history).

Everything is rebuilt from the per-scenario result files and the manifest, so `hil report DIR`
can regenerate it after a crash, a resume, or a change of template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hil.harness.results import RunFolder, ScenarioResult, atomic_write, atomic_write_json
from hil.report import coverage, history
from hil.report.html import html_report, trend_html
from hil.report.junit import junit_xml
from hil.report.plot import trend_pngs
from hil.report.totals import summary


def write_results_json(folder: RunFolder, manifest: dict[str, Any],
                       results: list[ScenarioResult]) -> Path:
    p = folder.path / "results.json"
    atomic_write_json(p, {"manifest": manifest, "summary": summary(results),
                          "results": [r.to_dict() for r in results]})
    return p


def build(folder: RunFolder, history_db: str | Path | None = None,
          record: bool = True) -> dict[str, Path]:
    """Write results.json, junit.xml, index.html (and, with a history db, record the run and
    write trend.html). Returns the paths written."""
    manifest = folder.manifest()
    results = folder.results()
    paths = {"results": write_results_json(folder, manifest, results)}
    paths["junit"] = folder.path / "junit.xml"
    atomic_write(paths["junit"], junit_xml(manifest, results))
    paths["html"] = folder.path / "index.html"
    atomic_write(paths["html"], html_report(manifest, results))
    if history_db is not None:
        db = history.connect(history_db)
        try:
            if record:
                history.record_run(db, str(manifest.get("run_id", folder.path.name)), manifest,
                                   results, folder.path)
            paths["trend"] = folder.path / "trend.html"
            t, root = history.trend(db), Path(history_db).parent
            cov, plots = coverage.check(db), trend_pngs(t)
            # the same page twice, its links relative to where each copy sits
            for page in (paths["trend"], root / "trend.html"):
                atomic_write(page, trend_html(t, cov, plots, page.parent, root))
        finally:
            db.close()
    return paths
