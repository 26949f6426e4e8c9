"""A nightly's history never loses a run, and bad files are found early, as one line:

- two runs with the same folder name are two runs; `--resume` keeps the run's id and records
  into the history the run started with; it runs only within the run's own matrix;
- a history that is not SQLite, or an `--out` that cannot be written: exit 2 before anything
  runs; a history that goes bad during the run does not fail a night that passed;
- `hil report` on a damaged history or run folder: one line, exit 2, nothing lost;
- a truncated result file in a resumed folder is set aside and its scenario run again;
- every report file is readable by others (0644)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hil.cli import main

pytestmark = pytest.mark.timeout(120)

CHUB, ESME = "emulated-chub", "emulated-esme"
QUICK = "quiet_device"  # the shortest scenario: these tests are about the records, not it


def _run(*args: str) -> int:
    return main(["run", "--board", CHUB, "--scenario", QUICK, *args])


def _runs(db: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT run_id, status, total, out_dir FROM runs "
                           "ORDER BY started_utc, run_id").fetchall()
    finally:
        con.close()


def _one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert all(w in err for w in words), err
    return err


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small finished run with a history beside it (copied by the tests that damage it)."""
    base = tmp_path_factory.mktemp("night")
    assert main(["run", "--board", CHUB, "--scenario", QUICK, "--scenario", "ticks_wrap",
                 "--out", str(base / "night"), "--history", str(base / "h.sqlite")]) == 0
    return base / "night"


# -- run ids, resume into the run's own history and matrix -------------------------------------

def test_two_runs_with_the_same_folder_name_are_two_runs(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    assert _run("--out", str(tmp_path / "A" / "nightly"), "--history", str(db)) == 0
    assert _run("--out", str(tmp_path / "B" / "nightly"), "--history", str(db)) == 0
    runs = _runs(db)
    assert len(runs) == 2 and runs[0][0] != runs[1][0]
    assert {r[3] for r in runs} == {str(tmp_path / "A" / "nightly"),
                                    str(tmp_path / "B" / "nightly")}
    assert all(r[1:3] == ("complete", 1) for r in runs)


def test_resume_records_into_the_runs_own_history_under_its_id(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "mine.sqlite", tmp_path / "night"
    assert _run("--out", str(out), "--history", str(db)) == 0
    run_id = json.loads((out / "manifest.json").read_text())["run_id"]
    (out / "results" / f"{CHUB}__{QUICK}.json").unlink()  # as if it never finished
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # a resume from elsewhere, without --history
    capsys.readouterr()
    assert main(["run", "--resume", str(out)]) == 0
    assert "(1 to run)" in capsys.readouterr().out
    assert not (tmp_path / "elsewhere" / "reports").exists()  # not the default history
    assert json.loads((out / "manifest.json").read_text())["run_id"] == run_id
    assert _runs(db) == [(run_id, "complete", 1, str(out))]
    # naming another history on resume is a usage error; the run's own one is fine
    (out / "results" / f"{CHUB}__{QUICK}.json").unlink()
    assert main(["run", "--resume", str(out), "--history", str(tmp_path / "other.sqlite")]) == 2
    _one_line_error(capsys, "records into", str(db))
    assert not (tmp_path / "other.sqlite").exists()
    assert not (out / "results" / f"{CHUB}__{QUICK}.json").exists()  # nothing ran
    assert main(["run", "--resume", str(out), "--history", str(db)]) == 0
    assert _runs(db) == [(run_id, "complete", 1, str(out))]
    # `hil report` without --history also reads and records the run's own history
    (tmp_path / "trend.html").unlink()
    assert main(["report", str(out)]) == 0
    assert (tmp_path / "trend.html").exists() and not (tmp_path / "elsewhere" / "reports").exists()
    assert _runs(db) == [(run_id, "complete", 1, str(out))]


def test_resume_runs_only_within_the_runs_matrix(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "h.sqlite", tmp_path / "night"
    assert main(["run", "--board", CHUB, "--board", ESME, "--scenario", QUICK, "--out",
                 str(out), "--history", str(db)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    for b in (CHUB, ESME):
        (out / "results" / f"{b}__{QUICK}.json").unlink()
    capsys.readouterr()
    # a board outside the matrix: refused, nothing changed
    assert main(["run", "--resume", str(out), "--board", "emulated-gsme"]) == 2
    _one_line_error(capsys, "emulated-gsme", "not in")
    assert main(["run", "--resume", str(out), "--scenario", "stuck_sensor"]) == 2
    _one_line_error(capsys, "stuck_sensor", "not in")
    assert json.loads((out / "manifest.json").read_text()) == manifest
    # a board of the matrix: only it runs; the manifest keeps both, and is not complete
    assert main(["run", "--resume", str(out), "--board", CHUB]) == 0
    text = capsys.readouterr().out
    assert "1 boards x 1 scenarios (1 to run)" in text and "still to run" in text
    m = json.loads((out / "manifest.json").read_text())
    assert m["boards"] == [CHUB, ESME] and m["status"] == "interrupted"
    assert sorted(q.name for q in (out / "results").glob("*.json")) == [f"{CHUB}__{QUICK}.json"]
    assert _runs(db)[0][:3] == (manifest["run_id"], "interrupted", 1)
    assert main(["run", "--resume", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert _runs(db)[0][:3] == (manifest["run_id"], "complete", 2)


def test_resume_keeps_the_runs_time_scale(night: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "night"
    shutil.copytree(night, out)
    assert main(["run", "--resume", str(out), "--time-scale", "5", "--history", ""]) == 2
    _one_line_error(capsys, "--time-scale 5")


# -- bad files before the first scenario -------------------------------------------------------

def _not_sqlite(p: Path) -> Path:
    p.write_text("this is not a database\n")
    return p


def _directory(p: Path) -> Path:
    p.mkdir()
    return p


def _under_a_file(p: Path) -> Path:
    p.write_text("a file, not a folder\n")
    return p / "history.sqlite"


def _truncated(p: Path) -> Path:
    con = sqlite3.connect(p)
    con.executescript("CREATE TABLE t(a); INSERT INTO t VALUES (1);")
    con.close()
    p.write_bytes(p.read_bytes()[:50])
    return p


BAD_HISTORIES: dict[str, Callable[[Path], Path]] = {
    "not-sqlite": _not_sqlite, "a-directory": _directory, "under-a-file": _under_a_file,
    "truncated-sqlite": _truncated}


@pytest.mark.parametrize("make", BAD_HISTORIES.values(), ids=BAD_HISTORIES.keys())
def test_a_bad_history_is_found_before_anything_runs(tmp_path: Path,
                                                     make: Callable[[Path], Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    db = make(tmp_path / "h.sqlite")
    before = db.read_bytes() if db.is_file() else None
    out = tmp_path / "night"
    assert _run("--out", str(out), "--history", str(db)) == 2
    _one_line_error(capsys, "history", str(db))
    assert not (out / "manifest.json").exists() and not (out / "results").exists()
    assert (db.read_bytes() if db.is_file() else None) == before  # not clobbered
    assert "to run" not in capsys.readouterr().out


def test_an_out_that_cannot_be_written_is_found_before_anything_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    db = tmp_path / "h.sqlite"
    assert _run("--out", str(tmp_path / "file" / "night"), "--history", str(db)) == 2
    _one_line_error(capsys, str(tmp_path / "file" / "night"), "cannot be written")
    assert not db.exists() or _runs(db) == []  # no run recorded that never ran


def test_a_history_gone_bad_during_the_run_does_not_fail_a_night_that_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from hil.harness import runner

    db, out = tmp_path / "h.sqlite", tmp_path / "night"
    step = runner.Progress.step

    def corrupt_after(self: runner.Progress, r: Any) -> None:
        step(self, r)
        db.write_bytes(b"\x00garbage" * 512)  # the disk, another process, a bad copy...

    monkeypatch.setattr(runner.Progress, "step", corrupt_after)
    assert _run("--out", str(out), "--history", str(db)) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not recorded in the history" in err
    assert f"hil report {out} --history {db}" in err
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert (out / "index.html").exists()
    assert json.loads((out / "results" / f"{CHUB}__{QUICK}.json").read_text())["verdict"] == "pass"


# -- hil report on damaged files ---------------------------------------------------------------

@pytest.mark.parametrize("make", BAD_HISTORIES.values(), ids=BAD_HISTORIES.keys())
def test_report_on_a_bad_history_is_one_line(night: Path, tmp_path: Path,
                                             make: Callable[[Path], Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "night"
    shutil.copytree(night, out)
    kept = {q.name: q.read_bytes() for q in (out / "results").glob("*.json")}
    db = make(tmp_path / "bad.sqlite")
    assert main(["report", str(out), "--history", str(db)]) == 2
    _one_line_error(capsys, "history", str(db))
    assert {q.name: q.read_bytes() for q in (out / "results").glob("*.json")} == kept


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        p = out / name
        p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return damage


def _cut(name: str) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        p = out / name
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return damage


def _edit(name: str, **fields: Any) -> Callable[[Path], None]:
    def damage(out: Path) -> None:
        p = out / name
        p.write_text(json.dumps({**json.loads(p.read_text()), **fields}))
    return damage


RESULT = f"results/{CHUB}__{QUICK}.json"
BAD_FOLDERS: dict[str, tuple[Callable[[Path], None], str]] = {
    "no-manifest": (lambda out: (out / "manifest.json").unlink(), "not a run folder"),
    "manifest-cut": (_cut("manifest.json"), "manifest.json: unreadable"),
    "manifest-a-list": (_write("manifest.json", "[1, 2]"), "not a JSON object"),
    "manifest-binary": (_write("manifest.json", b"\xff\xfe\x00\x01"), "manifest.json"),
    "manifest-boards": (_edit("manifest.json", boards="emulated-chub"), "'boards'"),
    "manifest-status": (_edit("manifest.json", status="done?"), "unknown status"),
    "result-cut": (_cut(RESULT), "unreadable result"),
    "result-binary": (_write(RESULT, b"\x89PNG\r\n\x1a\n\x00"), "unreadable result"),
    "result-a-number": (_write(RESULT, "42"), "not a result"),
    "result-verdict": (_edit(RESULT, verdict="maybe"), "unknown verdict"),
    "result-wall": (_edit(RESULT, wall_s="slow"), "'wall_s'"),
    "result-reasons": (_edit(RESULT, reasons=[1, 2]), "'reasons'"),
    "result-metrics": (_edit(RESULT, metrics=[]), "'metrics'"),
    "result-no-board": (_write(RESULT, '{"scenario": "x", "verdict": "pass"}'), "missing"),
    "result-divergence": (_edit(RESULT, divergence={"classes": 3, "causes": "x"}),
                          "cannot read"),
}


@pytest.mark.parametrize("damage,words", BAD_FOLDERS.values(), ids=BAD_FOLDERS.keys())
def test_report_on_a_damaged_folder_is_one_line(night: Path, tmp_path: Path,
                                                damage: Callable[[Path], None], words: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "night"
    shutil.copytree(night, out)
    damage(out)
    assert main(["report", str(out), "--history", ""]) == 2
    _one_line_error(capsys, words)


def test_resume_sets_a_truncated_result_aside_and_reruns_it(
        night: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "night"
    shutil.copytree(night, out)
    bad = out / RESULT
    bad.write_bytes(bad.read_bytes()[:100])
    cut = bad.read_bytes()
    other = out / "results" / f"{CHUB}__ticks_wrap.json"
    kept = other.read_bytes()
    (out / "results" / f".{CHUB}__ticks_wrap.json.x1y2z3").write_text('{"half": ')  # killed
    assert main(["report", str(out), "--history", ""]) == 2  # a report cannot use it...
    _one_line_error(capsys, "unreadable result", f"hil run --resume {out}")
    assert main(["run", "--resume", str(out), "--history", ""]) == 0  # ...a resume repairs it
    text = capsys.readouterr().out
    assert f"{bad} was unreadable" in text and "runs again" in text and "(1 to run)" in text
    assert (out / (RESULT + ".unreadable")).read_bytes() == cut  # kept to look at
    assert json.loads(bad.read_text())["verdict"] == "pass"
    assert other.read_bytes() == kept  # nothing else lost or rerun
    assert sorted(q.name for q in (out / "results").iterdir()) == sorted(
        [bad.name, other.name, bad.name + ".unreadable"])
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


# -- file modes --------------------------------------------------------------------------------

def test_report_files_are_readable_by_others(night: Path) -> None:
    files = [night / n for n in ("manifest.json", "results.json", "junit.xml", "index.html",
                                 "trend.html")]
    files += [*(night / "results").glob("*.json"), night.parent / "trend.html"]
    assert len(files) == 8
    assert {str(f): oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {
        str(f): oct(0o644) for f in files}
