"""The HIL harness against emulated boards with faults injected into the link: the run
completes, every result is classified correctly, and nothing recorded is lost."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from link_wrap import AdapterWrapper

from firmware_model import wire
from hil.board.adapters import BoardAdapter
from hil.board.errors import CannotTakeCode, DeployError
from hil.board.registry import load_board
from hil.harness.options import RunOptions
from hil.harness.results import ERROR, PASS, SKIPPED, TOO_LARGE, RunFolder
from hil.harness.runner import run_matrix
from hil.harness.scenarios import SCENARIOS, Scenario

pytestmark = pytest.mark.timeout(120)

CHUB = "emulated-chub"
STUCK = SCENARIOS["stuck_sensor"]
COMPARED = ("offered", "device_forwarded", "device_suppressed", "alert_frames",
            "summary_frames", "wan_frames", "summary_reported", "divergences", "critical_lost")


class FaultyLink(AdapterWrapper):
    """Wraps a board adapter and damages the link on purpose: flips a byte in every Nth line
    from the board (CRC error -> RESEND), prefixes noise to lines (resync at the mark), garbles
    every Nth line to the board (`NAK -` -> the client sends the same seq again), kills the
    emulator process at a given line (the port vanishes), or resets the board behind the
    harness's back."""

    def __init__(self, inner: BoardAdapter, *, corrupt_every: int = 0, noise_every: int = 0,
                 garble_tx_every: int = 0, kill_at: int | None = None,
                 reset_at: int | None = None, reset_kind: str = "hard",
                 drop: tuple[int, int] | None = None,
                 rewrite: tuple[str, str] | None = None) -> None:
        super().__init__(inner, corrupt_every=corrupt_every, noise_every=noise_every,
                         garble_tx_every=garble_tx_every, kill_at=kill_at, reset_at=reset_at,
                         reset_kind=reset_kind, drop=drop, rewrite=rewrite, rx=0, tx=0,
                         events=[])

    def write(self, data: bytes) -> None:
        self.tx += 1
        if self.garble_tx_every and self.tx % self.garble_tx_every == 0:
            data = data[:2] + b"~" + data[3:]
            self.events.append("garbled tx")
        self.inner.write(data)

    def read_line(self, timeout: float) -> bytes | None:
        while True:
            line = self.inner.read_line(timeout)
            if line is None:
                return None
            self.rx += 1
            if self.drop is None or not self.drop[0] <= self.rx < self.drop[1]:
                break
            self.events.append("dropped")  # lost on the wire: ACKs and FRAMEs alike
        if self.rewrite is not None and self.rewrite[0].encode() in line:
            # a board that says something else, with a valid CRC
            seq, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
            text = " ".join(args).replace(*self.rewrite)
            line = wire.encode(wire.DEVICE_MARK, seq, verb, text).rstrip(b"\n")
            self.events.append("rewritten")
        if self.kill_at is not None and self.rx == self.kill_at:
            self.inner.kill_process()
            self.events.append("killed")
        if self.reset_at is not None and self.rx == self.reset_at:
            self.inner.write(wire.encode(wire.HOST_MARK, 777777, "RESET", self.reset_kind))
            self.events.append("reset")
        if self.corrupt_every and self.rx % self.corrupt_every == 0 and len(line) > 8:
            i = len(line) // 2
            line = line[:i] + bytes([line[i] ^ 0x01]) + line[i + 1:]
            self.events.append("corrupted rx")
        elif self.noise_every and self.rx % self.noise_every == 0:
            line = b"\x07garbage\xff " + line
            self.events.append("noise rx")
        return line


def _run(tmp_path: Path, scenarios: list[Scenario], wrapper: Any = None,
         board: str = CHUB, **opts: Any) -> tuple[RunFolder, list[Any]]:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True, exist_ok=True)
    results = run_matrix([load_board(board)], scenarios, folder,
                         RunOptions(adapter_wrapper=wrapper, **opts))
    return folder, results


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    _, rs = _run(tmp_path_factory.mktemp("clean"), [STUCK])
    assert rs[0].verdict == PASS, rs[0].reasons
    return rs[0].metrics


def test_serial_noise_mid_run_is_repaired_and_nothing_is_lost(tmp_path: Path,
                                                             clean: dict[str, Any]) -> None:
    links: list[FaultyLink] = []

    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        links.append(FaultyLink(a, corrupt_every=97, noise_every=53, garble_tx_every=89))
        return links[-1]

    folder, rs = _run(tmp_path, [STUCK], wrap)
    r = rs[0]
    assert r.verdict == PASS, r.reasons
    assert r.attempts == 1
    assert {"corrupted rx", "noise rx", "garbled tx"} <= set(links[0].events)
    assert r.link["crc_errors"] > 0 and r.link["resends"] > 0
    assert r.link["nak_stream"] > 0 and r.link["retries"] > 0
    assert r.link["noise_bytes"] > 0 and r.link["lost_lines"] == 0
    for k in COMPARED:  # exactly what the clean run recorded: no alert repeated, no frame lost
        assert r.metrics[k] == clean[k], k
    log = (folder.path / r.console).read_text()
    assert "RESEND" in log and "NAK - E_CRC" in log


def test_lines_lost_on_the_wire_are_recovered_by_resend(tmp_path: Path,
                                                        clean: dict[str, Any]) -> None:
    made: list[FaultyLink] = []

    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        made.append(FaultyLink(a, drop=(700, 702)))
        return made[-1]

    _, rs = _run(tmp_path, [STUCK], wrap, step_timeout=0.5)
    r = rs[0]
    assert made[0].events.count("dropped") == 2
    assert r.verdict == PASS, r.reasons
    assert r.attempts == 1 and r.link["lost_lines"] == 0
    assert r.link["retries"] > 0 and r.link["resends"] > 0  # silence -> same seq -> dup -> RESEND
    for k in COMPARED:
        assert r.metrics[k] == clean[k], k


def test_port_vanishing_and_coming_back_is_recovered(tmp_path: Path,
                                                    clean: dict[str, Any]) -> None:
    made: list[FaultyLink] = []

    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        made.append(FaultyLink(a, kill_at=600 if not made else None))
        return made[-1]

    folder, rs = _run(tmp_path, [STUCK], wrap)
    r = rs[0]
    assert made[0].events == ["killed"]
    assert r.verdict == PASS, r.reasons
    assert r.attempts == 2  # one error, retried after the first rung of the ladder
    for k in COMPARED:
        assert r.metrics[k] == clean[k], k
    log = (folder.path / r.console).read_text()
    assert "port gone" in log and "recovery rung 1: reconnect" in log


def test_port_that_never_comes_back_marks_board_unhealthy(tmp_path: Path) -> None:
    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        return FaultyLink(a, kill_at=5)  # every start dies: the ladder runs out

    folder, rs = _run(tmp_path, [STUCK, SCENARIOS["quiet_device"]], wrap)
    by = {r.scenario: r for r in rs}
    first = by["stuck_sensor"]
    assert first.verdict == ERROR and first.attempts == 3
    assert "port gone" in first.reasons[0]
    second = by["quiet_device"]
    assert second.verdict == ERROR and second.reasons == ["board unhealthy (port gone)"]
    log = (folder.path / first.console).read_text()
    for rung in ("reconnect", "soft reset"):
        assert f"recovery rung {rung == 'soft reset' and 2 or 1}: {rung}" in log
    assert {p.name for p in (folder.path / "results").iterdir()} == {
        "emulated-chub__stuck_sensor.json", "emulated-chub__quiet_device.json"}


@pytest.mark.parametrize("kind", ["soft", "hard"])
def test_board_reset_mid_scenario_is_seen_and_the_run_completes(tmp_path: Path,
                                                                kind: str) -> None:
    made: list[FaultyLink] = []

    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        made.append(FaultyLink(a, reset_at=900, reset_kind=kind))
        return made[-1]

    _, rs = _run(tmp_path, [SCENARIOS["reboot_loop"]], wrap)
    r = rs[0]
    assert made[0].events == ["reset"]
    assert r.attempts == 1
    # the scenario's own 5 resets plus the one behind the harness's back
    assert r.link["boots"] >= 6
    assert r.link["lost_lines"] == 0
    assert r.metrics["critical_lost"] == 0
    # the board reports every boot with its cause and time, so the model replays this reset
    # too: the board still decides exactly as the model, and every divergence has a cause
    seen = r.divergence["resets"]
    assert len(seen) == 6 and [x[1] for x in seen].count(kind) == {"soft": 3, "hard": 2}[kind]
    assert r.metrics["model_mismatch"] == 0 and r.metrics["divergences_unknown"] == 0
    assert r.verdict == PASS, r.reasons


def test_deploy_failures_are_classified_not_passed(tmp_path: Path) -> None:
    def too_large(board: Any, adapter: Any) -> None:
        raise CannotTakeCode("MemoryError: memory allocation failed", "too large")

    _, rs = _run(tmp_path / "a", [STUCK, SCENARIOS["quiet_device"]], deployer=too_large)
    assert [r.verdict for r in rs] == [TOO_LARGE, TOO_LARGE]
    assert "MemoryError" in rs[0].reasons[0] and rs[0].attempts == 1

    calls = []

    def broken(board: Any, adapter: Any) -> None:
        calls.append(1)
        raise DeployError("raw REPL transfer failed: port closed")

    _, rs = _run(tmp_path / "b", [STUCK], deployer=broken)
    assert rs[0].verdict == ERROR and rs[0].reasons[0].startswith("deploy failed")
    assert len(calls) == 3  # errors are retried, with the ladder


def test_resume_after_an_interrupted_run(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    board = load_board(CHUB)
    scens = [SCENARIOS["quiet_device"], SCENARIOS["ticks_wrap"], SCENARIOS["tamper_burst"]]
    stop = threading.Event()

    class StopAfterFirst:
        def step(self, r: Any) -> None:
            stop.set()  # as Ctrl-C would: nothing after the scenario in flight

    first = run_matrix([board], scens, folder, RunOptions(stop=stop), StopAfterFirst())  # type: ignore[arg-type]
    assert [r.scenario for r in first] == ["quiet_device"]
    kept = folder.result_path(board.name, "quiet_device")
    before = kept.read_bytes()
    second = run_matrix([board], scens, folder, RunOptions())
    assert [r.scenario for r in second] == ["ticks_wrap", "tamper_burst"]
    assert kept.read_bytes() == before  # not run again
    assert {r.scenario for r in folder.results()} == {s.name for s in scens}
    assert all(r.verdict == PASS for r in folder.results())


def test_absent_real_board_is_skipped(tmp_path: Path) -> None:
    _, rs = _run(tmp_path, [STUCK], board="pico")
    assert rs[0].verdict == SKIPPED and "no attached serial port" in rs[0].reasons[0]


def test_cli_run_and_resume_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hil.cli import main

    out = tmp_path / "night"
    rc = main(["run", "--board", CHUB, "--scenario", "quiet_device", "--scenario",
               "ticks_wrap", "--out", str(out), "--history", str(tmp_path / "h.sqlite")])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "quiet_device" in text and "wall time" in text and "2/2" in text
    data = json.loads((out / "results.json").read_text())
    assert data["summary"]["counts"]["pass"] == 2
    assert (out / "junit.xml").exists() and (out / "index.html").exists()
    (out / "results" / "emulated-chub__ticks_wrap.json").unlink()  # as if interrupted
    rc = main(["run", "--resume", str(out), "--history", ""])
    text = capsys.readouterr().out
    assert rc == 0 and "(1 to run)" in text
    assert len(json.loads((out / "results.json").read_text())["results"]) == 2


def test_cli_errors_are_typed(capsys: pytest.CaptureFixture[str]) -> None:
    from hil.cli import main

    assert main(["run", "--board", "no-such-board"]) == 2
    assert main(["run", "--scenario", "no-such-scenario", "--board", CHUB]) == 2
    err = capsys.readouterr().err
    assert "no such board file" in err and "unknown scenario" in err
    assert "Traceback" not in err


def test_ctrl_c_keeps_finished_results_and_resume_completes(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "night"
    cmd = [sys.executable, "-m", "hil.cli", "run", "--board", "emulated-chub", "--board",
           "emulated-esme", "--out", str(out), "--history", ""]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some, not all, results exist
        if len(list(out.glob("results/*.json"))) >= 3:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert f"hil run --resume {out}" in stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    done = {q.name: q.read_bytes() for q in (out / "results").glob("*.json")}
    total = 2 * len(SCENARIOS)
    assert 3 <= len(done) < total
    for q in done.values():  # every file there is whole and decided
        assert json.loads(q)["verdict"] == PASS
    assert not [q for q in (out / "results").iterdir() if q.name.startswith(".")]  # no temp
    r = subprocess.run(cmd[:4] + ["--resume", str(out), "--history", ""], capture_output=True,
                       text=True, timeout=240, cwd=Path(__file__).resolve().parent.parent,
                       env={**os.environ})
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"({total - len(done)} to run)" in r.stdout
    after = {q.name: q.read_bytes() for q in (out / "results").glob("*.json")}
    assert len(after) == total
    assert all(after[k] == v for k, v in done.items())  # finished results were not redone
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


@pytest.mark.parametrize("rewrite,reason", [
    (("proto=1", "proto=2"), "protocol version"),
    (("fw=sha256:", "fw=sha256:00"), "firmware mismatch"),
])
def test_wrong_hello_is_an_error_not_a_verdict_on_the_firmware(
        tmp_path: Path, rewrite: tuple[str, str], reason: str) -> None:
    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        return FaultyLink(a, rewrite=rewrite)

    _, rs = _run(tmp_path, [STUCK, SCENARIOS["quiet_device"]], wrap)
    assert [r.verdict for r in rs] == [ERROR, ERROR]
    assert rs[0].reasons[0].startswith(reason) and rs[0].attempts == 3
    assert rs[1].reasons == [f"board unhealthy ({reason})"]


def test_silent_board_is_no_hello(tmp_path: Path) -> None:
    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        return FaultyLink(a, drop=(0, 10**9))

    _, rs = _run(tmp_path, [STUCK], wrap, step_timeout=0.2, retries=0)
    assert rs[0].verdict == ERROR and rs[0].reasons[0].startswith("no hello")
