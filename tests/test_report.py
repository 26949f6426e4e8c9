"""Reports of a run: the HTML page is rendered from a real (small) run and parsed back; the
JUnit XML is structurally valid and tells failures from errors."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from hil.harness.results import RunFolder, ScenarioResult
from hil.report import build, junit_xml

pytestmark = pytest.mark.timeout(120)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[dict[str, str]] = []
        self.sections: list[dict[str, str]] = []
        self.metrics: list[tuple[str, str, str, str]] = []  # board, scenario, key, text
        self.external: list[str] = []
        self._metric: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.sections.append(a)
        elif tag == "img":
            self.imgs.append(a)
        elif tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.external.append(a.get("href") or a.get("src", ""))
        elif tag == "td" and "metric" in a.get("class", ""):
            self._metric = a

    def handle_data(self, data: str) -> None:
        if self._metric is not None:
            s = self.sections[-1]
            self.metrics.append((s["data-board"], s["data-scenario"], self._metric["data-key"],
                                 data.strip()))
            self._metric = None


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from hil.cli import main

    out = tmp_path_factory.mktemp("r") / "night"
    rc = main(["run", "--board", "emulated-chub", "--board", "emulated-esme", "--scenario",
               "stuck_sensor", "--scenario", "quiet_device", "--out", str(out),
               "--history", str(out.parent / "history.sqlite")])
    assert rc == 0
    return out


def test_html_report_has_plots_and_the_numbers_of_results_json(run_dir: Path) -> None:
    data = json.loads((run_dir / "results.json").read_text())
    page = _Page()
    page.feed((run_dir / "index.html").read_text())
    assert page.external == []  # self-contained
    assert len(page.sections) == len(data["results"]) == 4
    plots = [i for i in page.imgs if "plot" in i.get("class", "")]
    assert len(plots) == 4
    for img in plots:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    shown = {(b, s, k): v for b, s, k, v in page.metrics}
    checked = 0
    for r in data["results"]:
        for k in ("offered", "device_suppressed", "dsp_suppressed", "wan_frames",
                  "wan_frames_saved", "wan_reduction_pct", "divergences"):
            assert shown[(r["board"], r["scenario"], k)] == str(r["metrics"][k]), k
            checked += 1
    assert checked == 28
    for r in data["results"]:  # the WAN panel's data: every alert vs every frame sent north
        wan = r["series"]["wan"]
        assert sum(wan["without_device"]) == r["metrics"]["offered"]
        assert sum(wan["with_device"]) == r["metrics"]["wan_frames"] - r["metrics"]["frame_errors"]
    # the storm is visibly filtered, the quiet device is not
    by = {(r["board"], r["scenario"]): r for r in data["results"]}
    assert by[("emulated-chub", "stuck_sensor")]["metrics"]["wan_frames_saved"] > 0
    assert by[("emulated-chub", "quiet_device")]["metrics"]["device_suppressed"] == 0


def test_report_rebuild_and_trend_page(run_dir: Path) -> None:
    from hil.cli import main

    (run_dir / "index.html").unlink()
    assert main(["report", str(run_dir), "--history", str(run_dir.parent / "history.sqlite"),
                 "--no-record"]) == 0
    assert (run_dir / "index.html").exists() and (run_dir / "trend.html").exists()
    assert "emulated-esme" in (run_dir / "trend.html").read_text()


def test_junit_xml_from_a_real_run_is_valid(run_dir: Path) -> None:
    root = ET.parse(run_dir / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "4"
    suites = root.findall("testsuite")
    assert sorted(s.get("name") for s in suites) == ["emulated-chub", "emulated-esme"]
    for s in suites:
        props = {p.get("name"): p.get("value") for p in s.find("properties")}  # type: ignore[union-attr]
        assert set(props) == {"board", "firmware_hash", "protocol_version", "git_commit"}
        assert props["firmware_hash"].startswith("sha256:") and props["protocol_version"] == "1"
        assert len(props["git_commit"]) == 40
        assert len(s.findall("testcase")) == int(s.get("tests", "0")) == 2


def _r(board: str, scenario: str, verdict: str, reason: str) -> ScenarioResult:
    return ScenarioResult(board, scenario, verdict, [reason], wall_s=1.5,
                          board_info={"fw": "sha256:0123456789abcdef", "proto": "1"})


def test_junit_distinguishes_failure_error_and_skip() -> None:
    results = [_r("a", "s1", "pass", "held: x"), _r("a", "s2", "fail", "violated: y <&>"),
               _r("a", "s3", "error", "port gone: z"), _r("b", "s1", "skipped", "absent"),
               _r("b", "s2", "too-large", "too large: MemoryError")]
    root = ET.fromstring(junit_xml({"run_id": "x", "git_commit": "c"}, results).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("5", "1", "1", "2")
    a, b = root.findall("testsuite")
    cases = {tc.get("name"): tc for tc in a.findall("testcase")}
    assert cases["s1"].find("failure") is None and cases["s1"].find("error") is None
    assert cases["s2"].find("failure").get("message") == "violated: y <&>"  # type: ignore[union-attr]
    assert cases["s3"].find("error").get("type") == "infrastructure"  # type: ignore[union-attr]
    assert (a.get("failures"), a.get("errors")) == ("1", "1")
    bc = {tc.get("name"): tc for tc in b.findall("testcase")}
    assert bc["s1"].find("skipped") is not None
    assert bc["s2"].find("failure") is None and bc["s2"].find("skipped") is not None


def test_junit_too_large_is_a_skip_with_the_reason_and_the_run_keeps_the_verdict(
        tmp_path: Path) -> None:
    """A board that cannot take the firmware is a known property: JUnit skips it (red only for
    real failures) while results.json and the HTML keep `too-large`."""
    f = RunFolder(tmp_path)
    f.write_manifest({"run_id": "n1", "started_utc": "2026-01-01T00:00:00+00:00"})
    reason = "too large: the board ran out of memory loading the firmware: MemoryError"
    f.write_result(_r("qemu-microbit", "storm", "too-large", reason))
    f.write_result(_r("qemu-microbit", "quiet", "too-large", reason))
    f.write_result(_r("emulated-chub", "storm", "pass", "held: x"))
    paths: dict[str, Any] = build(f, None)
    root = ET.parse(paths["junit"]).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("3", "0", "0", "2")
    suite = next(s for s in root.findall("testsuite") if s.get("name") == "qemu-microbit")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "2")
    for tc in suite.findall("testcase"):
        assert tc.find("failure") is None and tc.find("error") is None
        skip = tc.find("skipped")
        assert skip is not None and skip.get("message") == reason
        assert (skip.text or "").startswith("too-large: ")
    data = json.loads(paths["results"].read_text())
    assert data["summary"]["counts"]["too-large"] == 2
    assert {r["verdict"] for r in data["results"] if r["board"] == "qemu-microbit"} == {
        "too-large"}
    assert "too-large" in paths["html"].read_text()


def test_build_from_results_only(tmp_path: Path) -> None:
    f = RunFolder(tmp_path)
    f.write_manifest({"run_id": "n1", "started_utc": "2026-01-01T00:00:00+00:00"})
    f.write_result(_r("a", "s1", "error", "no hello: x"))
    paths: dict[str, Any] = build(f, None)
    data = json.loads(paths["results"].read_text())
    assert data["summary"]["counts"]["error"] == 1 and data["summary"]["ok"] is False
    assert "no hello" in paths["html"].read_text()


class _Breakdown(HTMLParser):
    """The divergence tables of each result section: class counts, causes, per-code rows."""

    def __init__(self) -> None:
        super().__init__()
        self.section = ("", "")
        self.counts: dict[tuple[str, str, str], int] = {}
        self.causes: dict[tuple[str, str, str, str], int] = {}
        self.code_rows: dict[tuple[str, str], list[str]] = {}
        self._cell: tuple[str, str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "section":
            self.section = (a["data-board"], a["data-scenario"])
        elif tag == "td" and a.get("class") == "divergence-count":
            self._cell = ("count", a["data-class"])
        elif tag == "span" and a.get("class") == "cause":
            self.causes[(*self.section, a["data-class"], a["data-cause"])] = int(a["data-count"])
        elif tag == "tr" and "data-code" in a:
            self._row = []
            self.code_rows[(self.section[1], a["data-code"])] = self._row

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self.counts[(*self.section, self._cell[1])] = int(data)
            self._cell = None
        elif self._row is not None and data.strip():
            self._row.append(data.strip())


def test_divergence_breakdown_names_causes_and_matches_results_json(tmp_path: Path) -> None:
    from hil.cli import main

    out = tmp_path / "night"
    rc = main(["run", "--board", "emulated-chub", "--scenario", "code_diversity",
               "--scenario", "reboot_loop", "--out", str(out), "--history", ""])
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    by = {r["scenario"]: r for r in data["results"]}
    div = by["code_diversity"]["divergence"]
    # more codes than slots: every divergence is the overflow slot's doing, none unknown
    assert by["code_diversity"]["metrics"]["divergences"] > 0
    assert by["code_diversity"]["metrics"]["divergences_unknown"] == 0
    assert {c for d in div["causes"].values() for c in d} == {"table_eviction"}
    assert any(r["overflow_slot"] for r in div["count_mismatches"])
    # the board's five resets are replayed: the board matches the model through them
    rb = by["reboot_loop"]
    assert [x[1] for x in rb["divergence"]["resets"]] == ["soft", "hard", "watchdog",
                                                         "brownout", "soft"]
    assert rb["metrics"]["model_mismatch"] == 0 and rb["metrics"]["divergences_unknown"] == 0
    assert {c for d in rb["divergence"]["causes"].values() for c in d} <= {"device_reset"}

    page = _Breakdown()
    page.feed((out / "index.html").read_text())
    for r in data["results"]:
        key = (r["board"], r["scenario"])
        for cls, n in r["divergence"]["classes"].items():
            assert page.counts[(*key, cls)] == n, (key, cls)
        shown = {k[2:]: v for k, v in page.causes.items() if k[:2] == key}
        assert shown == {(cls, c): n for cls, d in r["divergence"]["causes"].items()
                         for c, n in d.items()}
        for row in r["divergence"]["count_mismatches"]:
            cells = page.code_rows[(r["scenario"], row["alert_code"])]
            assert cells[2:4] == [str(row["device_reported"]), str(row["dsp_discarded"])]
            assert cells[4] == ", ".join(row["causes"])


def test_a_report_that_cannot_be_built_loses_no_result(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from hil import report
    from hil.cli import main

    def broken(*a: Any, **k: Any) -> Any:
        raise RuntimeError("template exploded")

    monkeypatch.setattr(report, "build", broken)
    out = tmp_path / "night"
    rc = main(["run", "--board", "emulated-chub", "--scenario", "quiet_device", "--out",
               str(out), "--history", ""])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    assert "could not be built (RuntimeError: template exploded)" in err
    assert f"hil report {out}" in err
    kept = json.loads((out / "results" / "emulated-chub__quiet_device.json").read_text())
    assert kept["verdict"] == "pass"
    monkeypatch.undo()
    assert main(["report", str(out), "--history", ""]) == 0 and (out / "index.html").exists()
