"""`hil run` stopped by a signal mid-scenario, as cron, systemd and CI (SIGTERM) or a user
(SIGINT) stop it: the process exits 143 / 130 with no child process and no temporary folder
left, the manifest and the history say `interrupted`, the reports show what finished, and
`hil run --resume` completes the same run into the same history row.

About 20 s in all on this shared 2-core machine (`hil run` is spawned three times)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
BOARD = "emulated-chub"
# reboot_loop is the longest on this board (about 2 s): the one the signal lands in
SCENARIOS = ["stuck_sensor", "reboot_loop", "quiet_device"]


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...


def _descendants(pid: int) -> set[int]:
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _proc_stat(int(d.name))) is not None:
            parent[int(d.name)] = int(st[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, p in parent.items() if p in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


def _wait_mid_scenario(p: subprocess.Popen[str], out: Path) -> None:
    """Until the first scenario has its result and the second is well under way."""
    first = out / "results" / f"{BOARD}__{SCENARIOS[0]}.json"
    log = out / "console" / BOARD / f"{SCENARIOS[1]}.log"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and p.poll() is None:
        if first.exists() and log.exists() and log.read_text().count(" ALERT ") >= 20:
            return
        time.sleep(0.02)
    p.kill()
    pytest.fail(f"the run never reached {SCENARIOS[1]}: {p.communicate()}")


def _history(db: Path) -> tuple[list[tuple[str, str, int]], int]:
    con = sqlite3.connect(db)
    try:
        runs = con.execute("SELECT run_id, status, total FROM runs").fetchall()
        return runs, con.execute("SELECT count(*) FROM results").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_scenario_stops_cleanly_and_resume_completes(tmp_path: Path,
                                                                  sig: signal.Signals) -> None:
    out, db, tmp = tmp_path / "night", tmp_path / "h.sqlite", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}  # the flash folders go here, to be counted
    cmd = [sys.executable, "-m", "hil.cli", "run", "--board", BOARD,
           *(a for s in SCENARIOS for a in ("--scenario", s)), "--out", str(out),
           "--history", str(db)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=ROOT, env=env)
    _wait_mid_scenario(p, out)
    children = _descendants(p.pid)
    flash = [q.name for q in tmp.iterdir()]
    assert children and any(n.startswith(f"hil-{BOARD}-flash-") for n in flash)  # live ones
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=60)  # a guard, not a measure: it stops in seconds

    assert p.returncode == 128 + sig, (stdout, stderr)
    assert "Traceback" not in stderr
    assert f"interrupted ({sig.name}); continue with: hil run --resume {out}" in stdout
    assert [c for c in children if _alive(c)] == []
    assert list(tmp.iterdir()) == []
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    done = {q.name: q.read_bytes() for q in (out / "results").glob("*.json")}
    assert f"{BOARD}__{SCENARIOS[0]}.json" in done
    assert f"{BOARD}__{SCENARIOS[1]}.json" not in done  # in flight: left for --resume
    assert not [q for q in (out / "results").iterdir() if q.name not in done]  # no temp file
    built = json.loads((out / "results.json").read_text())
    assert len(built["results"]) == len(done) and built["manifest"]["status"] == "interrupted"
    assert (out / "index.html").exists() and (out / "junit.xml").exists()
    assert (out / "trend.html").exists()
    assert _history(db) == ([(manifest["run_id"], "interrupted", len(done))], len(done))
    if sig != signal.SIGTERM:
        return  # resuming does not depend on which signal stopped the run: once is enough

    r = subprocess.run(cmd[:4] + ["--resume", str(out)], capture_output=True, text=True,
                       timeout=120, cwd=ROOT, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"({len(SCENARIOS) - len(done)} to run)" in r.stdout
    after = {q.name: q.read_bytes() for q in (out / "results").glob("*.json")}
    assert len(after) == len(SCENARIOS)
    assert all(after[k] == v for k, v in done.items())  # what finished was not run again
    resumed = json.loads((out / "manifest.json").read_text())
    assert (resumed["status"], resumed["run_id"]) == ("complete", manifest["run_id"])
    # the history the run started with, not the default one; the same row, now complete
    assert _history(db) == ([(manifest["run_id"], "complete", len(SCENARIOS))], len(SCENARIOS))
    default = ROOT / "reports" / "history.sqlite"
    if default.exists():  # and not into the default one as well
        con = sqlite3.connect(default)
        assert (manifest["run_id"],) not in con.execute("SELECT run_id FROM runs").fetchall()
        con.close()
    assert list(tmp.iterdir()) == []


def test_a_first_signal_asks_to_stop_a_second_stops_now() -> None:
    import threading

    from hil.harness.signals import StopOnSignals

    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignals(stop) as s:
        os.kill(os.getpid(), signal.SIGTERM)  # handled before kill() returns to Python code
        assert stop.is_set() and (s.received, s.exit_status, s.name) == (
            signal.SIGTERM, 143, "SIGTERM")
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # not reached: the handler raises at the next bytecode
        assert s.exit_status == 143  # the first signal is the one reported
    assert signal.getsignal(signal.SIGTERM) == before  # the process's own handlers are back
