"""Rig faults injected for real, as issue 13 found them: the emulator child of `hil run` killed
with SIGKILL mid-scenario, 256 random bytes every 20 ms into the board's pty, and an emulator
that dies at every start. The night must pass through the first two (the scenario in flight
reruns on a respawned board; noise is repaired by the protocol, not counted as timeouts), and
the third must still end with the board unhealthy and every scenario `error`, none lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from firmware_model import wire
from hil.board.adapters import BoardAdapter, EmulatorAdapter, QemuAdapter
from hil.board.client import ProtocolClient
from hil.board.errors import ProcessExited, ProtocolError
from hil.board.registry import load_board
from hil.harness.options import RunOptions
from hil.harness.results import ERROR, PASS, TOO_LARGE, RunFolder
from hil.harness.runner import run_matrix
from hil.harness.scenarios import SCENARIOS

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parent.parent
CHUB = "emulated-chub"


def _hil_run(out: Path, scenarios: list[str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "hil.cli", "run", "--board", CHUB, "--out", str(out),
           "--history", ""]
    for s in scenarios:
        cmd += ["--scenario", s]
    # stdin from /dev/null: the noise below goes only to ptys this process opened, and its
    # standard streams must not be one (a terminal)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def _kill_emulator_children(pid: int) -> list[int]:
    """SIGKILL the `python -m emulator` children of `pid` (Linux /proc), as a crash would:
    nobody but the harness reaps them. Through a pidfd taken before checking that the
    process is still that child, so a reused pid is never signalled."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    killed = []
    for k in kids:
        try:
            fd = os.pidfd_open(k)
        except OSError:
            continue
        try:
            stat = Path(f"/proc/{k}/stat").read_text()
            argv = Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid and b"emulator" in argv:
                signal.pidfd_send_signal(fd, signal.SIGKILL)
                killed.append(k)
        except OSError:
            continue
        finally:
            os.close(fd)
    return killed


def _results(out: Path) -> dict[str, dict[str, Any]]:
    return {json.loads(p.read_text())["scenario"]: json.loads(p.read_text())
            for p in (out / "results").glob("*.json")}


class _LogTail:
    """Counts a marker in a growing console log without rereading it."""

    def __init__(self, path: Path, marker: bytes) -> None:
        self.path, self.marker, self.pos, self.count, self._rest = path, marker, 0, 0, b""

    def poll(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        data = self._rest + data
        cut = data.rfind(b"\n") + 1
        self.count += data[:cut].count(self.marker)
        self._rest = data[cut:]
        return self.count


def test_emulator_killed_mid_scenario_is_respawned_and_the_night_passes(tmp_path: Path) -> None:
    """SIGKILL from outside (not reaped by anyone but the harness), once in each scenario,
    some 100 alerts in: each scenario reruns on a fresh board and passes."""
    out = tmp_path / "night"
    scens = ["stuck_sensor", "oscillation", "tamper_burst"]
    p = _hil_run(out, scens)
    tails: dict[str, _LogTail] = {}
    killed: dict[str, list[int]] = {}
    try:
        while p.poll() is None and len(killed) < len(scens):
            for log in (out / "console" / CHUB).glob("*.log"):
                name = log.stem
                if name in killed:
                    continue
                tail = tails.setdefault(name, _LogTail(log, b"> !"))
                if tail.poll() >= 100:
                    pids = _kill_emulator_children(p.pid)
                    if pids:
                        killed[name] = pids
            time.sleep(0.005)
        stdout, stderr = p.communicate(timeout=180)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert sorted(killed) == sorted(scens), (killed, stdout)
    assert all(len(v) == 1 for v in killed.values()), killed
    assert p.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr
    rs = _results(out)
    assert sorted(rs) == sorted(scens)
    for name, r in rs.items():
        assert r["verdict"] == PASS, (name, r["reasons"])
        assert r["attempts"] == 2, name  # the attempt in flight, then its rerun
        log = (out / r["console"]).read_text()
        pid = killed[name][0]
        # detected by its exit status, reaped, respawned on its flash (a power cycle)
        assert f"emulator pid={pid} exited: killed by SIGKILL" in log, log[-3000:]
        assert "recovery rung 1: reconnect" in log
        assert "respawn" in log


class _PtyNoise(threading.Thread):
    """256 random bytes every 20 ms into every pty the `hil run` process `pid` has open (the
    boards' ports: its standard streams are pipes and /dev/null). A pty is opened only while
    that process holds it, and our descriptor keeps its number from being reused, so nothing
    is ever written into anyone else's terminal."""

    def __init__(self, pid: int, size: int = 256, every: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.size, self.every = pid, size, every
        self.stop = threading.Event()
        self.fds: dict[str, int] = {}
        self.chunks = 0

    def _held(self) -> set[str]:
        held = set()
        try:
            for fd in Path(f"/proc/{self.pid}/fd").iterdir():
                if int(fd.name) <= 2:
                    continue
                try:
                    target = os.readlink(fd)
                except OSError:
                    continue
                if target.startswith("/dev/pts/"):
                    held.add(target)
        except OSError:
            pass
        return held

    def run(self) -> None:
        while not self.stop.wait(self.every):
            held = self._held()
            for path in held - set(self.fds):
                try:
                    self.fds[path] = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
                except OSError:
                    continue
            for path, fd in list(self.fds.items()):
                try:
                    os.write(fd, os.urandom(self.size))
                    self.chunks += 1
                except BlockingIOError:
                    continue
                except OSError:  # the board's side is gone (hung up)
                    if path not in held:
                        os.close(fd)
                        del self.fds[path]
        for fd in self.fds.values():
            os.close(fd)


def test_line_noise_256_bytes_every_20ms_is_repaired_and_the_night_passes(
        tmp_path: Path) -> None:
    out = tmp_path / "night"
    scens = ["stuck_sensor", "reboot_loop", "config_update"]
    p = _hil_run(out, scens)
    noise = _PtyNoise(p.pid)
    noise.start()
    try:
        stdout, stderr = p.communicate(timeout=200)
    finally:
        noise.stop.set()
        noise.join()
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert noise.chunks > 50, noise.chunks  # the noise really ran
    assert p.returncode == 0, stdout + stderr
    rs = _results(out)
    assert sorted(rs) == sorted(scens)
    for name, r in rs.items():
        assert r["verdict"] == PASS, (name, r["reasons"])
        assert r["attempts"] == 1, name  # repaired on the link: no scenario retried
        assert r["link"]["nak_stream"] > 0, name  # the board did answer the noise
        assert r["link"]["lost_lines"] == 0
        log = (out / r["console"]).read_text()
        assert "NAK - E_" in log
        assert "timeout" not in log  # nothing timed out, so nothing says it did


def test_emulator_that_dies_at_every_start_makes_the_board_unhealthy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A genuinely dead board: every emulator it starts is killed 0.2 s later. The ladder
    climbs, the first scenario ends `error` (not fail, not pass), the rest `board unhealthy`
    without being attempted, and every result is on disk."""
    spawn = EmulatorAdapter._spawn
    started: list[int] = []

    def dying_spawn(self: EmulatorAdapter) -> None:
        spawn(self)
        assert self.proc is not None
        started.append(self.proc.pid)
        # Popen.kill signals only a process it has not reaped yet
        threading.Timer(0.2, self.proc.kill).start()

    monkeypatch.setattr(EmulatorAdapter, "_spawn", dying_spawn)
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True)
    scens = [SCENARIOS["stuck_sensor"], SCENARIOS["quiet_device"], SCENARIOS["tamper_burst"]]
    rs = run_matrix([load_board(CHUB)], scens, folder, RunOptions(step_timeout=2.0))
    by = {r.scenario: r for r in rs}
    first = by["stuck_sensor"]
    assert first.verdict == ERROR and first.attempts == 3, first.reasons
    assert first.reasons[0].startswith("port gone"), first.reasons
    for name in ("quiet_device", "tamper_burst"):
        assert by[name].verdict == ERROR
        assert by[name].reasons == ["board unhealthy (port gone)"]
    assert {r.scenario for r in folder.results()} == {s.name for s in scens}
    log = (folder.path / first.console).read_text()
    assert "exited: killed by SIGKILL" in log
    assert "recovery rung 1: reconnect" in log and "recovery rung 2: soft reset" in log
    assert len(started) >= 3  # really respawned each time, not merely reopened


# -- the repair rule of docs/wire-protocol.md, on a scripted board ------------------------------

class ScriptedBoard(BoardAdapter):
    """A board in memory: `answer(seq, verb, args)` gives the lines it sends for each host
    line that parses (already encoded device lines); `garble(n)` says whether the n-th host
    line arrives damaged (answered `NAK - E_CRC` only). `noise_before` lines of `NAK -` precede
    every answer, as when line noise reaches the board just before our command."""

    name = "scripted"

    def __init__(self, answer: Any, garble: Any = None, noise_before: int = 0) -> None:
        super().__init__()
        self.answer, self.garble, self.noise_before = answer, garble, noise_before
        self.out: list[bytes] = []
        self.seq = 0
        self.written: list[tuple[int, str]] = []

    def emit(self, verb: str, args: str | None = None) -> bytes:
        line = wire.encode(wire.DEVICE_MARK, self.seq, verb, args)
        self.seq += 1
        return line

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _read(self, timeout: float) -> bytes:
        if not self.out:
            time.sleep(min(timeout, 0.01))
            return b""
        return self.out.pop(0)

    def _write(self, data: bytes) -> None:
        seq, verb, args, _ = wire.decode(data.rstrip(b"\n"), wire.HOST_MARK)
        self.written.append((seq, verb))
        for _ in range(self.noise_before):
            self.out.append(self.emit("NAK", "- E_NOISE 17"))
        if self.garble is not None and self.garble(len(self.written)):
            self.out.append(self.emit("NAK", "- E_CRC"))
            return
        self.out += self.answer(self, seq, verb, args)


def _ack_all(b: ScriptedBoard, seq: int, verb: str, args: list[str]) -> list[bytes]:
    return [b.emit("ACK", str(seq))]


def test_nak_answering_noise_does_not_use_up_retries() -> None:
    """Every command is preceded on the board by noise lines (each answered `NAK -`) and then
    answered: each is sent once, and the client counts the noise, not retries."""
    b = ScriptedBoard(_ack_all, noise_before=6)
    b.open()
    c = ProtocolClient(b, step_timeout=1.0, retries=2)
    for _ in range(20):
        assert c.command("STATS").ok
    assert [v for _, v in b.written] == ["STATS"] * 20  # nothing sent twice
    assert c.counters.nak_stream == 120 and c.counters.retries == 0


def test_damaged_command_line_is_sent_again_with_its_seq() -> None:
    """The board never saw our line (`NAK -` and no ACK): the same seq goes again."""
    b = ScriptedBoard(_ack_all, garble=lambda n: n == 1)
    b.open()
    c = ProtocolClient(b, step_timeout=5.0, retries=2)
    t0 = time.monotonic()
    assert c.command("STATS").ok
    assert b.written == [(1, "STATS"), (1, "STATS")]
    assert c.counters.retries == 1
    assert time.monotonic() - t0 < 5.0  # repaired after the NAK, not after a timeout


def test_a_line_that_only_noise_answers_is_link_noise_not_a_timeout() -> None:
    b = ScriptedBoard(_ack_all, garble=lambda n: True)
    b.open()
    c = ProtocolClient(b, step_timeout=0.3, retries=1)
    with pytest.raises(ProtocolError) as e:
        c.command("STATS")
    assert e.value.reason == "link noise", e.value
    assert "timeout" not in str(e.value)
    assert len(b.written) >= 2 and {s for s, _ in b.written} == {1}


def test_silence_is_a_timeout() -> None:
    b = ScriptedBoard(lambda *a: [])
    b.open()
    c = ProtocolClient(b, step_timeout=0.2, retries=2)
    with pytest.raises(ProtocolError) as e:
        c.command("STATS")
    assert e.value.reason == "timeout"
    assert len(b.written) == 3 and c.counters.timeouts == 3


def test_reset_whose_ack_is_lost_is_confirmed_by_the_boot_line_not_sent_again() -> None:
    """docs/wire-protocol.md 2: the seq memory does not survive a reset, so a RESET sent again
    would reset the board twice; its EVENT BOOT is the confirmation."""
    def answer(b: ScriptedBoard, seq: int, verb: str, args: list[str]) -> list[bytes]:
        if verb == "RESET":
            b.seq = 0
            return [b.emit("EVENT", "BOOT n=2 cause=soft restore=ok t=5")]  # the ACK lost
        return [b.emit("ACK", str(seq))]

    b = ScriptedBoard(answer)
    b.open()
    c = ProtocolClient(b, step_timeout=1.0, retries=2)
    assert c.command("STATS").ok
    assert c.command("RESET", "soft").ok
    assert [v for _, v in b.written] == ["STATS", "RESET"]
    assert c.counters.boots == 1


# -- the adapters: a dead process is known by its exit status -----------------------------------

def test_killed_emulator_is_known_by_its_exit_status_and_respawned_on_its_flash() -> None:
    a = load_board(CHUB).make_adapter()
    assert isinstance(a, EmulatorAdapter)
    try:
        a.open()
        c = ProtocolClient(a, step_timeout=5.0)
        assert c.hello()["boot"] == "1"
        assert a.proc is not None
        pid, flash = a.proc.pid, a.flash_dir
        a.proc.send_signal(signal.SIGKILL)  # a crash: nobody has reaped it yet
        with pytest.raises(ProcessExited) as e:
            c.command("STATS")
        assert e.value.status == -signal.SIGKILL and e.value.reason == "port gone"
        assert f"pid={pid} exited: killed by SIGKILL" in str(e.value)
        assert a.proc is None  # reaped
        a.reconnect()
        assert a.proc is not None and a.proc.pid != pid and a.flash_dir == flash
        # the boot count lives in flash: the second boot of the same flash, a power cycle
        assert ProtocolClient(a, step_timeout=5.0).hello()["boot"] == "2"
    finally:
        a.shutdown()


class _FakeQemu:
    """A launcher as emulator.qemu_microbit.Qemu looks to the adapter: start() gives a pty
    whose other end is held by a child process (`mb.proc`), stop() ends both."""

    def __init__(self) -> None:
        self.mb = self
        self.proc: subprocess.Popen[bytes] | None = None
        self.master: int | None = None

    def start(self) -> str:
        self.master, slave = os.openpty()
        path = os.ttyname(slave)
        os.close(slave)
        self.proc = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
        return path

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.master is not None:
            os.close(self.master)
            self.master = None


def test_dead_qemu_is_known_by_its_exit_status_and_booted_again() -> None:
    launched: list[_FakeQemu] = []

    def launcher() -> _FakeQemu:
        launched.append(_FakeQemu())
        return launched[-1]

    a = QemuAdapter("qemu-test", launcher)
    try:
        a.open()
        proc = launched[0].proc
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc_gone = time.monotonic() + 5
        while time.monotonic() < proc_gone:  # let it die, but do not reap it here
            if Path(f"/proc/{proc.pid}/stat").read_text().split(") ")[1][0] == "Z":
                break
            time.sleep(0.01)
        with pytest.raises(ProcessExited) as e:
            a.read_line(0.5)
        assert e.value.status == -signal.SIGKILL
        a.reconnect()
        assert len(launched) == 2 and a.is_open  # booted again, not a dead pty reopened
    finally:
        a.shutdown()


def test_when_the_run_is_out_of_time_nothing_is_retried_or_called_unhealthy(
        tmp_path: Path) -> None:
    """Past the run's limit a retry could only fail at once: the scenario in flight says which
    limit ran out, is not retried, and the board is not called unhealthy for it."""
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True)
    rs = run_matrix([load_board(CHUB)], [SCENARIOS["stuck_sensor"], SCENARIOS["quiet_device"]],
                    folder, RunOptions(run_timeout=0.5))
    first, second = rs
    assert first.verdict == ERROR and first.attempts == 1
    assert first.reasons == ["timeout: run over its 0.5 s limit"]
    assert second.verdict == ERROR
    assert second.reasons == ["timeout: run over its 0.5 s limit; not started"]


def test_a_qemu_boot_that_fails_once_is_booted_again(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One failed boot is the rig's trouble, not the board's end: the micro:bit is booted
    again and reported for what it is (here: too large)."""
    boots: list[int] = []

    class Launcher:
        def start(self) -> str:
            boots.append(1)
            if len(boots) == 1:
                raise RuntimeError("QEMU did not boot: no prompt")
            raise RuntimeError("micro:bit filesystem too small: ['limiter.py']")

        def stop(self) -> None:
            pass

    monkeypatch.setattr("hil.board.registry.launcher_for", lambda spec: Launcher())
    monkeypatch.setattr(QemuAdapter, "available", staticmethod(lambda: True))
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True)
    rs = run_matrix([load_board("qemu-microbit")], [SCENARIOS["stuck_sensor"]], folder,
                    RunOptions())
    assert len(boots) == 2
    assert rs[0].verdict == TOO_LARGE, rs[0].reasons
