"""SQLite history and the trend across nights: a board failing night after night is flagged
as board health, separately from a scenario that fails on healthy boards."""

from __future__ import annotations

from pathlib import Path

from history_v1 import write_v1_history

from hil.harness.results import ScenarioResult
from hil.report import history

SCEN = ("stuck", "quiet", "wrap", "mixed")


def _night(db: object, n: int, verdicts: dict[tuple[str, str], str]) -> None:
    rs = []
    for board in ("chub", "esme", "gsme"):
        for sc in SCEN:
            v = verdicts.get((board, sc), "pass")
            rs.append(ScenarioResult(board, sc, v, [v], wall_s=1.0,
                                     board_info={"fw": "sha256:x", "proto": "1"}))
    history.record_run(db, f"2026010{n}T020000Z",  # type: ignore[arg-type]
                       {"started_utc": f"2026-01-0{n}T02:00:00+00:00", "git_commit": "c"}, rs)


def test_trend_flags_board_failing_on_consecutive_nights_apart_from_scenarios(
        tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    # night 1: all pass. night 2: esme has a port error (one night only: not flagged).
    # nights 3-5: gsme errors (rig) every night -> board flagged;
    #             'wrap' fails on healthy chub every night -> scenario flagged.
    _night(db, 1, {})
    _night(db, 2, {("esme", "stuck"): "error"})
    for n in (3, 4, 5):
        _night(db, n, {("gsme", "stuck"): "error", ("gsme", "quiet"): "error",
                       ("chub", "wrap"): "fail"})
    t = history.trend(db)
    assert t.runs == [f"2026010{n}T020000Z" for n in range(1, 6)]
    assert set(t.flagged_boards) == {"gsme"}
    assert "3 consecutive" in t.flagged_boards["gsme"]
    assert set(t.flagged_scenarios) == {"wrap"}
    assert t.cells[("esme", "stuck")]["20260102T020000Z"] == "error"


def test_board_failing_most_scenarios_is_board_health_not_scenarios(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    for n in (1, 2):
        _night(db, n, {("chub", sc): "fail" for sc in SCEN})
    t = history.trend(db)
    assert set(t.flagged_boards) == {"chub"}
    assert t.flagged_scenarios == {}  # failing only on an unhealthy board


def test_recovered_board_is_not_flagged_and_recording_is_idempotent(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    _night(db, 1, {("esme", "stuck"): "error"})
    _night(db, 2, {("esme", "stuck"): "error"})
    _night(db, 3, {})
    _night(db, 3, {})  # recorded twice (hil report rebuild): replaces, not duplicates
    t = history.trend(db)
    assert t.flagged_boards == {}
    n = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]  # type: ignore[attr-defined]
    assert n == 3 * 3 * len(SCEN)


def test_a_run_is_in_the_history_from_its_start_and_ends_with_its_status(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    m = {"started_utc": "2026-01-01T02:00:00+00:00", "boards": ["chub"], "scenarios": ["stuck"]}
    history.record_start(db, "r1", m, tmp_path / "night")
    history.record_start(db, "r2", m, tmp_path / "night")  # same folder name: its own row
    rows = db.execute("SELECT run_id, status, finished_utc, out_dir, boards FROM runs "
                      "ORDER BY run_id").fetchall()
    assert rows == [("r1", "running", None, str(tmp_path / "night"), '["chub"]'),
                    ("r2", "running", None, str(tmp_path / "night"), '["chub"]')]
    r = ScenarioResult("chub", "stuck", "pass", [], wall_s=1.0, metrics={"divergences": 0})
    history.record_run(db, "r1", {**m, "status": "interrupted",
                                  "finished_utc": "2026-01-01T03:00:00+00:00"}, [r])
    assert db.execute("SELECT status, finished_utc, total FROM runs WHERE run_id = 'r1'"
                      ).fetchone() == ("interrupted", "2026-01-01T03:00:00+00:00", 1)
    assert db.execute("SELECT metrics FROM results").fetchone() == ('{"divergences": 0}',)
    assert db.execute("SELECT status FROM runs WHERE run_id = 'r2'").fetchone() == ("running",)


def test_an_older_history_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    write_v1_history(path, """
        INSERT INTO runs VALUES ('old', '2025-12-31T02:00:00+00:00', 'c', 'h', 0,0,0,0,0,0,1.0);
    """)
    db = history.connect(path)
    _night(db, 1, {})
    assert [r[0] for r in db.execute("SELECT run_id FROM runs ORDER BY started_utc")] == [
        "old", "20260101T020000Z"]
    assert db.execute("SELECT status FROM runs WHERE run_id = 'old'").fetchone() == (None,)


def test_divergences_by_cause_are_kept_per_result_and_read_back(tmp_path: Path) -> None:
    db = history.connect(tmp_path / "h.sqlite")
    div = {"causes": {"lost_at_device": {"device_reset": 3, "unknown": 1},
                      "suppressed_count_mismatch": {"device_reset": 2, "table_eviction": 4}}}
    rs = [ScenarioResult("chub", "reboot", "pass", [], wall_s=1.0, divergence=div),
          ScenarioResult("chub", "quiet", "pass", [], wall_s=1.0)]
    history.record_run(db, "r1", {"started_utc": "2026-01-01T02:00:00+00:00"}, rs)
    assert history.causes(db, ["r1"]) == {
        ("chub", "reboot"): {"r1": {"device_reset": 5, "table_eviction": 4, "unknown": 1}},
        ("chub", "quiet"): {"r1": {}}}
    t = history.trend(db)
    assert t.causes[("chub", "reboot")]["r1"]["device_reset"] == 5
