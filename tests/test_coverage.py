"""Coverage gaps in the history (`hil history check`, hil.report.coverage) and the trend page
that shows them above the figures across nights: a gap of each kind is found, a clean history
reports none, bad history files are one line and exit 2, and a `hil run` killed mid-run is a
gap the check sees."""

from __future__ import annotations

import base64
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from history_v1 import write_v1_history

from hil.cli import main
from hil.harness.results import ScenarioResult
from hil.report import coverage, history
from hil.report.html import trend_html
from hil.report.plot import trend_pngs

NOW = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)
BOARDS = ("chub", "esme")
SCEN = ("stuck", "quiet", "wrap")


def _night(db: sqlite3.Connection, run_id: str, days_ago: float, *,
           boards: tuple[str, ...] = BOARDS, scenarios: tuple[str, ...] = SCEN,
           status: str = "complete", missing: tuple[tuple[str, str], ...] = (),
           out_dir: Path | None = None, wan: float = 80.0) -> None:
    """A run recorded as hil run records one: at its start (planned matrix), then at its end
    (unless it is to stay `running`), with a result for every planned pair not in `missing`."""
    start = (NOW - timedelta(days=days_ago)).isoformat(timespec="seconds")
    m: dict[str, Any] = {"started_utc": start, "git_commit": "c", "host": "rig",
                         "boards": list(boards), "scenarios": list(scenarios)}
    history.record_start(db, run_id, m, out_dir or f"/nonexistent/{run_id}")
    if status == "running":
        return
    rs = [ScenarioResult(b, s, "pass", [], wall_s=2.0 + i,
                         metrics={"wan_reduction_pct": wan - i, "divergences": i,
                                  "count_mismatches": 1, "divergences_unknown": 0})
          for i, (b, s) in enumerate((b, s) for b in boards for s in scenarios)
          if (b, s) not in missing]
    end = (NOW - timedelta(days=days_ago) + timedelta(minutes=2)).isoformat(timespec="seconds")
    history.record_run(db, run_id, {**m, "status": status, "finished_utc": end}, rs,
                       out_dir or f"/nonexistent/{run_id}")


def _clean(db: sqlite3.Connection) -> None:
    for n in (3, 2, 1):  # a night a day, the last one an hour ago
        _night(db, f"n{n}", n - 1 + 1 / 24)


def test_a_clean_history_has_no_gaps(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _clean(db)
    cov = coverage.check(db, now=NOW)
    assert cov.gaps == []
    assert cov.summary().startswith("no coverage gaps in the last 3 runs")
    # a run still in progress (started 10 min ago) is not a gap either
    _night(db, "n0", 10 / 1440, status="running")
    assert coverage.check(db, now=NOW).gaps == []


def test_every_kind_of_gap_is_found(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _night(db, "a", 9)
    _night(db, "b", 8, boards=("chub",))                     # esme absent
    _night(db, "c", 7, missing=(("esme", "wrap"),))          # esme back; no verdict for wrap
    _night(db, "d", 6, scenarios=("stuck", "quiet"))         # wrap absent on both boards
    # 6 -> 3 days ago: a hole of 3 days (two nights missed)
    _night(db, "e", 3, status="interrupted", missing=(("chub", "wrap"), ("esme", "wrap")))
    _night(db, "f", 2, status="running")                     # died: never finished
    # and nothing for the last 2 days
    by_kind: dict[str, list[coverage.Gap]] = {}
    for g in coverage.check(db, now=NOW).gaps:
        by_kind.setdefault(g.kind, []).append(g)
    assert set(by_kind) == set(coverage.KINDS)
    assert [g.board for g in by_kind["board-absent"]] == ["esme"]
    assert by_kind["board-absent"][0].run_id == "b"
    assert [(g.run_id, g.scenario, g.board) for g in by_kind["scenario-absent"]] == [
        ("d", "wrap", "chub,esme")]
    assert [(g.run_id, g.board, g.scenario) for g in by_kind["no-verdict"]] == [
        ("c", "esme", "wrap")]  # not e: an interrupted run is one 'unfinished' gap
    unfinished = {g.run_id: g.message for g in by_kind["unfinished"]}
    assert set(unfinished) == {"e", "f"}
    assert "interrupted" in unfinished["e"] and "4 of 6 planned results" in unfinished["e"]
    assert "still 'running' 48.0 h after its start" in unfinished["f"]
    missed = [g.message for g in by_kind["missed"]]
    assert len(missed) == 2
    assert "no run between 2026-01-04 03:00 UTC and 2026-01-07 03:00 UTC" in missed[0]
    assert "about 2 runs missing" in missed[0]
    assert "no run since 2026-01-08 03:00 UTC (48.0 h ago" in missed[1]


def test_grace_every_stale_and_the_window(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _night(db, "a", 2 + 5 / 24)  # 29 h before the next: late, within the default 6 h grace
    _night(db, "b", 1)
    _night(db, "c", 1 / 24, status="running")  # 1 h old
    assert coverage.check(db, now=NOW).gaps == []
    assert [g.kind for g in coverage.check(db, grace=4, now=NOW).gaps] == ["missed"]
    assert [g.kind for g in coverage.check(db, every=12, now=NOW).gaps] == ["missed"] * 2
    assert [g.run_id for g in coverage.check(db, stale=0.5, now=NOW).gaps] == ["c"]
    # a hole long before the window stops being news
    _night(db, "old", 30)
    assert [g.kind for g in coverage.check(db, now=NOW).gaps] == ["missed"]
    assert coverage.check(db, last=3, now=NOW).gaps == []


def test_no_runs_at_all_is_a_gap(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    gaps = coverage.check(db, now=NOW).gaps
    assert [g.kind for g in gaps] == ["missed"] and "no run recorded" in gaps[0].message


def test_cli_lists_each_gap_on_a_line_and_exits_1(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.sqlite"
    db = history.connect(path)
    now = datetime.now(UTC)
    for run_id, hours_ago, boards in (("a", 49, BOARDS), ("b", 25, ("chub",)), ("c", 1, BOARDS)):
        m = {"started_utc": (now - timedelta(hours=hours_ago)).isoformat(timespec="seconds"),
             "boards": list(boards), "scenarios": ["stuck"]}
        history.record_start(db, run_id, m, tmp_path)
        history.record_run(db, run_id, {**m, "status": "complete"},
                           [ScenarioResult(b, "stuck", "pass") for b in boards])
    db.close()
    assert main(["history", "check", "--history", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["board-absent: esme in run a, absent from run b",
                     "1 coverage gap in the last 3 runs (a run expected every 24 h, grace 6 h)"]
    assert main(["history", "check", "--history", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(g["kind"], g["run_id"], g["board"]) for g in data["gaps"]] == [
        ("board-absent", "b", "esme")]
    assert data["every_h"] == 24 and data["grace_h"] == 6
    # the same history, looked at from run b on: clean
    assert main(["history", "check", "--history", str(path), "--last", "2"]) == 0
    assert capsys.readouterr().out.startswith("no coverage gaps in the last 2 runs")


@pytest.mark.parametrize("content", [None, b"not a database at all\n" * 40, b""])
def test_cli_on_a_missing_or_foreign_history_is_one_line_and_exit_2(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], content: bytes | None) -> None:
    path = tmp_path / "h.sqlite"
    if content is not None:
        path.write_bytes(content)
    r = subprocess.run([sys.executable, "-m", "hil.cli", "history", "check", "--history",
                        str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1, r.stderr
    assert r.stderr.startswith("hil history: error: ") and "Traceback" not in r.stderr
    # only read: nothing created, nothing changed
    assert (path.read_bytes() if path.exists() else None) == content


def test_cli_on_a_history_damaged_past_its_schema_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    db = history.connect(path)
    for n in range(40):  # some pages of results
        _night(db, f"r{n}", n)
    db.close()
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    for off in range(2 * page, len(data), page):  # the schema (page 1) readable, the rest not
        data[off:off + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    r = subprocess.run([sys.executable, "-m", "hil.cli", "history", "check", "--history",
                        str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.splitlines() == [f"hil history: error: {path}: unreadable history "
                                     "(database disk image is malformed)"]


@pytest.mark.parametrize("option", [["--every", "0"], ["--every", "nan"], ["--grace", "-1"],
                                    ["--stale", "inf"], ["--every", "1e300"], ["--last", "0"],
                                    ["--last", str(10**30)]])
def test_cli_bad_option_values_are_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _clean(db)
    db.close()
    assert main(["history", "check", "--history", str(tmp_path / "h.sqlite"), *option]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"hil history: error: {option[0]} ")


def test_cli_reads_an_older_history_without_changing_it(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_history(path, """
        INSERT INTO runs VALUES ('o1', '2026-01-08T03:00:00+00:00', 'c', 'h', 2,2,0,0,0,0,1.0);
        INSERT INTO runs VALUES ('o2', '2026-01-09T03:00:00+00:00', 'c', 'h', 1,1,0,0,0,0,1.0);
        INSERT INTO results VALUES ('o1','chub','stuck','pass','',1.0,'','',80.0,0,0);
        INSERT INTO results VALUES ('o1','chub','wrap','pass','',1.0,'','',80.0,0,0);
        INSERT INTO results VALUES ('o2','chub','stuck','pass','',1.0,'','',79.0,2,0);
    """)
    before = path.read_bytes()
    db = history.open_readonly(path)
    gaps = coverage.check(db, now=NOW).gaps
    assert [(g.kind, g.scenario) for g in gaps] == [("scenario-absent", "wrap")]
    f = history.figures(db, ["o2"])[("chub", "stuck")]["o2"]
    assert f == {"wan_reduction_pct": 79.0, "divergences_all": 2.0, "divergences_unknown": None,
                 "wall_s": 1.0}  # only the columns: no metrics JSON in an older row
    db.close()
    assert path.read_bytes() == before


# -- the trend page ---------------------------------------------------------------------------


class _TrendPage(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []  # ids of the page's parts, in order
        self.gaps: list[dict[str, str]] = []
        self.no_gaps = False
        self.plots: list[dict[str, str]] = []
        self.links: dict[tuple[str, str], str] = {}  # (run, verdict) -> href
        self._cell: dict[str, str] | None = None
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.order.append(a["id"])
        if tag == "li" and a.get("class") == "gap":
            self.gaps.append(a)
        if a.get("class") == "no-gaps":
            self.no_gaps = True
        if tag == "img" and "trend-plot" in a.get("class", ""):
            self.plots.append(a)
        if tag == "td" and "data-run" in a:
            self._cell = a
        if tag == "a" and self._cell is not None:
            self._href = a["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self._href is not None:
            self.links[(self._cell["data-run"], data)] = self._href
            self._href = None


def _page(db: sqlite3.Connection, page_dir: Path, root: Path,
          plots: dict[str, str] | None = None) -> _TrendPage:
    t = history.trend(db)
    p = _TrendPage()
    p.feed(trend_html(t, coverage.check(db, now=NOW), trend_pngs(t) if plots is None else plots,
                      page_dir, root))
    return p


def test_trend_page_shows_the_gaps_first_in_red_then_a_plot_per_scenario(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    reports = []
    for n, days in ((1, 4), (2, 3), (3, 1 / 24)):  # a night missed between 2 and 3
        out = tmp_path / f"night{n}"
        out.mkdir()
        (out / "index.html").write_text("<html></html>")
        reports.append(out)
        _night(db, f"n{n}", days, out_dir=out, wan=80.0 - 10 * n,
               boards=BOARDS if n != 3 else ("chub",))
    page = _page(db, tmp_path, tmp_path)
    assert page.order.index("coverage") < page.order.index("flagged-boards")
    assert [g["data-kind"] for g in page.gaps] == ["missed", "board-absent"]
    assert not page.no_gaps
    text = trend_html(history.trend(db), coverage.check(db, now=NOW), {}, tmp_path, tmp_path)
    assert "#coverage .gap{color:#a00" in text  # red
    assert sorted(p["data-scenario"] for p in page.plots) == sorted(SCEN)
    for img in page.plots:
        png = base64.b64decode(img["src"].split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # verdict cells link to that night's report, relative beside the history
    assert all(page.links[(f"n{n}", "pass")].startswith(f"night{n}/index.html#")
               for n in (1, 2, 3))
    # the copy inside a run folder links up and across; a report elsewhere: a file: URI
    inner = _page(db, reports[2], tmp_path, plots={})
    assert inner.links[("n1", "pass")].startswith("../night1/index.html#")
    other = _page(db, tmp_path, tmp_path / "elsewhere", plots={})
    assert other.links[("n1", "pass")].startswith((reports[0] / "index.html").as_uri())
    # a report that is gone: the verdict stays, without a link
    (reports[0] / "index.html").unlink()
    assert ("n1", "pass") not in _page(db, tmp_path, tmp_path, plots={}).links


def test_trend_page_of_a_clean_history_says_so_in_green(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _clean(db)
    t = history.trend(db)
    text = trend_html(t, coverage.check(db, now=NOW), {}, tmp_path, tmp_path)
    page = _TrendPage()
    page.feed(text)
    assert page.no_gaps and page.gaps == []
    assert "#coverage .no-gaps{color:#070" in text  # green
    assert "no coverage gaps in the last 3 runs" in text


def test_trend_figures_come_from_the_metrics(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _night(db, "a", 2, wan=90.0)
    _night(db, "b", 1, wan=70.0)
    f = history.trend(db).figures
    assert f[("chub", "stuck")]["a"] == {"wan_reduction_pct": 90.0, "divergences_all": 1.0,
                                        "divergences_unknown": 0.0, "wall_s": 2.0}
    assert f[("esme", "wrap")]["b"]["wan_reduction_pct"] == 65.0
    assert f[("esme", "wrap")]["b"]["divergences_all"] == 6.0  # 5 per alert + 1 count


# -- end to end: a real run, and a run killed mid-way ------------------------------------------


def _running_row(path: Path, timeout: float = 60.0) -> str:
    """The run id of the run `running` in the history, once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
                row = db.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchone()
                db.close()
            except sqlite3.OperationalError:
                row = None  # the schema is being created
            if row:
                return str(row[0])
        time.sleep(0.05)
    raise AssertionError("the run never appeared in the history")


@pytest.mark.timeout(240)
def test_a_run_killed_mid_way_is_a_gap_and_the_trend_page_shows_it(tmp_path: Path) -> None:
    hist = tmp_path / "history.sqlite"
    base = [sys.executable, "-m", "hil.cli", "run", "--board", "emulated-chub", "--history",
            str(hist)]
    ok = subprocess.run(base + ["--scenario", "quiet_device", "--out", str(tmp_path / "n1")],
                        capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stderr
    # the second night: killed (SIGKILL, no chance to record anything) once it has started
    p = subprocess.Popen(base + ["--scenario", "stuck_sensor", "--scenario", "oscillation",
                                 "--out", str(tmp_path / "n2")], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        killed = _running_row(hist)
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the run and its emulator: our own process group
        p.wait(timeout=30)
    r = subprocess.run([sys.executable, "-m", "hil.cli", "history", "check", "--history",
                        str(hist), "--stale", "0", "--json"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    gaps = json.loads(r.stdout)["gaps"]
    assert ("unfinished", killed) in [(g["kind"], g["run_id"]) for g in gaps]
    assert ("scenario-absent", "quiet_device") in [(g["kind"], g["scenario"]) for g in gaps]
    # within the default --stale the killed run may still be running: not a gap, the rest is
    r = subprocess.run([sys.executable, "-m", "hil.cli", "history", "check", "--history",
                        str(hist)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout.startswith("scenario-absent: quiet_device")
    # the first night's trend page, rebuilt: the gap at its top, the plots, the links
    assert main(["report", str(tmp_path / "n1"), "--history", str(hist), "--no-record"]) == 0
    page = _TrendPage()
    page.feed((tmp_path / "trend.html").read_text())
    assert [g["data-kind"] for g in page.gaps] == ["scenario-absent"]
    assert {p["data-scenario"] for p in page.plots} == {"quiet_device"}
    first = json.loads((tmp_path / "n1" / "manifest.json").read_text())["run_id"]
    assert page.links[(first, "pass")].startswith("n1/index.html#emulated-chub--quiet_device")
