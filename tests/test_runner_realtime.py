"""Real-clock boards: scenarios compressed by time_scale (hil.harness.pacing), paced on the host clock,
compared at the times the board measured. End to end on boards/emulated-chub-realtime.toml
(the cpython engine with a real clock: ADVANCE refused, as on a Pico), plus the scaling and
the board-time reconstruction on their own."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from link_wrap import AdapterWrapper

from emulator.boardfile import BoardFileError, load
from firmware_model import wire
from firmware_model.limiter import Config, Limiter
from hil.board.adapters import BoardAdapter
from hil.board.registry import load_board
from hil.errors import InputError
from hil.harness.options import RunOptions
from hil.harness.pacing import (
    TICKS_PERIOD,
    BoardTimes,
    TimeScaleError,
    max_time_scale,
    plan_for,
    scaled_config,
    scaled_ticks_start,
)
from hil.harness.results import ERROR, PASS, RunFolder
from hil.harness.runner import run_matrix
from hil.harness.scenarios import SCENARIOS, Scenario
from hil.model.policy import PolicyConfig

pytestmark = pytest.mark.timeout(120)

RT = "emulated-chub-realtime"
LETTER = {"S": 0, "F": 1, "T": 3}


# -- scaling --------------------------------------------------------------------------------


def test_scaled_config_divides_time_keys_only_and_merges_the_scenario_config() -> None:
    d = scaled_config({"red_threshold": 40, "amber_threshold": 20, "throttle_mode": "one_per_period",
                       "code_window_ms": 1_800_000}, 60)
    assert d["device_window_ms"] == 60_000 and d["code_window_ms"] == 30_000
    assert d["throttle_period_ms"] == 60_000 and d["summary_interval_ms"] == 15_000
    # counts and the rest unchanged (scenario's values, defaults elsewhere)
    assert d["red_threshold"] == 40 and d["amber_threshold"] == 20 and d["code_limit"] == 10
    assert d["throttle_mode"] == "one_per_period" and d["throttle_n"] == 10
    assert d["never_throttle"] == PolicyConfig().to_dict()["never_throttle"]
    # both sides read it: the board's limiter and the DSP model's config
    assert Config.from_dict(d).summary_interval_ms == 15_000
    assert PolicyConfig.from_dict(d).device_window_ms == 60_000


def test_a_scale_that_makes_a_time_key_too_short_is_a_typed_error() -> None:
    assert max_time_scale({}) == 900  # summary_interval_ms 900000 -> 1000 ms, the minimum
    scaled_config({}, 900)
    with pytest.raises(TimeScaleError, match="summary_interval_ms 900000 ms would become 998 ms"
                       ".*largest time_scale for this configuration is 900"):
        scaled_config({}, 901)
    with pytest.raises(TimeScaleError, match="device_window_ms"):
        scaled_config({"device_window_ms": 1000, "summary_interval_ms": 86_400_000}, 2)
    for bad in (0, -3, True):
        with pytest.raises(TimeScaleError, match="integer >= 1"):
            scaled_config({}, bad)
    assert issubclass(TimeScaleError, InputError)  # the CLI's one-line error, exit 2
    with pytest.raises(TimeScaleError, match="scenario stuck_sensor"):
        plan_for(SCENARIOS["stuck_sensor"], 10_000, True)


def test_plan_scales_events_resets_tail_and_ticks_start() -> None:
    sc = SCENARIOS["reboot_loop"]
    p = plan_for(sc, 60, real_clock=True)
    assert p.scale == 60 and p.real_clock and p.send_config
    assert [e[0] for e in p.events] == [t // 60 for t, _, _ in sc.events()]
    assert [e[1:] for e in p.events] == [e[1:] for e in sc.events()]
    assert p.resets == tuple((t // 60, k) for t, k in sc.resets)
    assert p.tail_ms == sc.tail_ms // 60
    assert p.config == scaled_config({}, 60)
    assert p.paced_s == pytest.approx((p.events[-1][0] + p.tail_ms) / 1000)
    # the wrap comes 60 times sooner: 300 s before it becomes 5 s
    w = plan_for(SCENARIOS["ticks_wrap"], 60, real_clock=True)
    assert w.ticks_start == TICKS_PERIOD - 5000
    assert scaled_ticks_start(123, 1) == 123
    # a real clock at scale 1 still gets the (default) config: a board keeps an applied one
    one = plan_for(sc, 1, real_clock=True)
    assert one.send_config and one.config == PolicyConfig().to_dict() and one.paced_s > 0


def test_virtual_board_at_scale_one_runs_the_scenario_as_written() -> None:
    for sc in SCENARIOS.values():
        p = plan_for(sc, 1, real_clock=False)
        assert p.events == sc.events() and p.resets == sc.resets
        assert p.tail_ms == sc.tail_ms and p.ticks_start == sc.ticks_start
        assert p.config == sc.config and p.send_config == bool(sc.config)
        assert p.paced_s == 0


def test_board_file_time_scale() -> None:
    assert load_board("emulated-chub").spec.time_scale == 1
    assert load_board("pico").spec.time_scale == 60  # real clock default
    assert load_board(RT).spec.time_scale == 900
    assert load_board("emulated-chub").time_scale(7) == 7  # --time-scale wins


@pytest.mark.parametrize("value", ["0", "-1", "\"60\"", "true", "1.5"])
def test_board_file_bad_time_scale_names_the_key(tmp_path: Path, value: str) -> None:
    p = tmp_path / "b.toml"
    p.write_text(f'name = "b"\nkind = "emulated"\nrole = "chub"\nlimiter = "hub"\n'
                 f'clock = "real"\ntime_scale = {value}\n')
    with pytest.raises(BoardFileError, match="time_scale: must be an integer"):
        load(p)


def test_real_clock_boards_are_no_longer_skipped() -> None:
    pico = load_board("pico")
    assert pico.cannot_run(SCENARIOS["stuck_sensor"]) is None
    assert "emulated boards only" in str(pico.cannot_run(SCENARIOS["ticks_wrap"]))
    assert load_board(RT).cannot_run(SCENARIOS["ticks_wrap"]) is None


# -- board times ----------------------------------------------------------------------------


def test_board_times_follow_the_ticks_across_the_wrap() -> None:
    bt = BoardTimes()
    ticks = [TICKS_PERIOD - 7, TICKS_PERIOD - 2, 3, 40, 41]
    ts = [bt.alert(k, i * 0.01, 500 + i, 1) for i, k in enumerate(ticks)]
    assert ts == [500, 505, 510, 547, 548]  # the first at its schedule, then the board's clock
    assert bt.tick_start is not None
    assert all((bt.tick_start + t) % TICKS_PERIOD == k for t, k in zip(ts, ticks, strict=True))
    assert bt.wraps == 1 and bt.restarts == 0
    assert bt.at(0.04 + 0.25, 0) == 548 + 250


def test_board_times_across_a_reboot() -> None:
    bt = BoardTimes()
    bt.alert(10_000, 100.0, 0, 1)
    # the ticks kept counting through the reset (agree with the host's 1.2 s): exact
    assert bt.alert(11_203, 101.2, 5, 2) == 1203 and bt.restarts == 0
    # ticks restarted with the board (hard reset): the gap comes from the host clock
    assert bt.alert(650, 102.5, 9, 3) == 1203 + 1300 and bt.restarts == 1
    assert bt.alert(700, 102.55, 9, 3) == 2553  # and the board's clock again after it


# -- end to end on the emulated real-clock board ---------------------------------------------


class Tap(AdapterWrapper):
    """Wraps an adapter: records each ALERT sent and the ACK's t= and decisions, and can delay
    chosen writes (latency on the link: the board then sees alerts off schedule)."""

    def __init__(self, inner: BoardAdapter, delay: Any = None) -> None:
        super().__init__(inner, delay=delay, sent={}, acks={}, n=0)

    def write(self, data: bytes) -> None:
        seq, verb, args, _ = wire.decode(data, wire.HOST_MARK)
        if verb == "ALERT":
            self.n += 1
            self.sent[seq] = int(args[0], 16)
            if self.delay is not None:
                time.sleep(self.delay(self.n))
        self.inner.write(data)

    def read_line(self, timeout: float) -> bytes | None:
        line = self.inner.read_line(timeout)
        if line:
            try:
                _, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
            except wire.WireError:
                return line
            if verb == "ACK" and args and args[0].isdigit() and int(args[0]) in self.sent:
                kv = dict(a.split("=", 1) for a in args if "=" in a)
                self.acks[int(args[0])] = (int(kv["t"]), kv["hub"])
        return line

    def board_stream(self) -> list[tuple[int, int, str]]:
        """(ticks, code, decision) of every alert, in order."""
        return [(self.acks[s][0], code, self.acks[s][1]) for s, code in self.sent.items()]


def _run(tmp_path: Path, scenarios: list[Scenario], board: str = RT, **opts: Any) -> list[Any]:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True, exist_ok=True)
    return run_matrix([load_board(board)], scenarios, folder, RunOptions(**opts))


def _replay(stream: list[tuple[int, int, str]], cfg: dict[str, Any]) -> list[int]:
    lim = Limiter(Config.from_dict(dict(cfg)), 16)
    return [lim.offer(code, ticks) for ticks, code, _ in stream]


def test_paced_run_with_link_latency_compares_at_the_boards_own_times(tmp_path: Path) -> None:
    sc = SCENARIOS["config_update"]
    taps: list[Tap] = []

    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        # every 50th alert is held up 40 ms (36 s of scenario time at scale 900): the board
        # falls behind, then gets the backlog at once
        taps.append(Tap(a, lambda n: 0.04 if n % 50 == 0 else 0.0))
        return taps[-1]

    r = _run(tmp_path, [sc], adapter_wrapper=wrap)[0]
    assert r.verdict == PASS, r.reasons
    m = r.metrics
    assert m["time_scale"] == 900 and m["forged_config_refused"] == 1
    assert m["offered"] == 680 and m["divergences"] == 0 and m["model_mismatch"] == 0
    stream = taps[-1].board_stream()
    board = [LETTER[d] for _, _, d in stream]
    scaled = plan_for(sc, 900, real_clock=True)
    # the latency was real: lag is measured when an alert goes out, so the alert after a
    # held-up one is late by the 40 ms less the schedule's gap between the two
    gaps = [scaled.events[k + 1][0] - scaled.events[k][0]
            for k in range(49, len(scaled.events) - 1, 50)]
    assert m["pacing_lag_max_ms"] >= 40 - min(gaps)
    # the board runs the scaled config it was sent: replaying its own ticks through the
    # limiter under that config gives its decisions; the unscaled config decides otherwise
    assert _replay(stream, scaled.config) == board
    assert _replay(stream, sc.config) != board
    # and its times are not the schedule: at the scheduled times the same limiter would
    # decide otherwise, so a comparison at scheduled times would have found mismatches
    t0 = stream[0][0]
    sched = [((t0 + t) % TICKS_PERIOD, code, "") for t, code, _ in scaled.events]
    assert [k for k, _, _ in stream] != [k for k, _, _ in sched]
    assert _replay(sched, scaled.config) != board


def test_cli_time_scale_override_and_the_ticks_wrap(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from hil.cli import main

    out = tmp_path / "night"
    rc = main(["run", "--board", RT, "--scenario", "ticks_wrap", "--time-scale", "600",
               "--out", str(out), "--history", ""])
    text = capsys.readouterr().out
    assert rc == 0, text
    res = json.loads((out / "results" / f"{RT}__ticks_wrap.json").read_text())
    assert res["verdict"] == PASS, res["reasons"]
    m = res["metrics"]
    assert m["time_scale"] == 600 and m["ticks_wraps"] == 1  # the storm crossed 2**30
    assert m["divergences"] == 0 and m["model_mismatch"] == 0
    assert json.loads((out / "manifest.json").read_text())["options"]["time_scale"] == 600
    log = (out / "console" / RT / "ticks_wrap.log").read_text()
    assert "time_scale 600: config in force" in log and "ADVANCE" not in log


def test_cli_rejects_a_time_scale_the_config_cannot_take(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hil.cli import main

    assert main(["run", "--board", RT, "--time-scale", "1000", "--out", str(tmp_path / "a"),
                 "--history", ""]) == 2
    assert main(["run", "--board", RT, "--time-scale", "0", "--history", ""]) == 2
    err = capsys.readouterr().err
    assert "summary_interval_ms" in err and "at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()  # nothing started


def _slow_storm() -> Scenario:
    from emulator import faults

    return Scenario("slow_storm", "test", lambda: faults.stuck_sensor(seed=1, count=300),
                    (), tail_ms=60_000)


def test_a_board_slower_than_the_schedule_hits_the_scenario_timeout(tmp_path: Path) -> None:
    # 300 alerts due within 0.33 s at scale 900; the link holds each 20 ms (6 s in all)
    def wrap(a: BoardAdapter, board: str, scenario: str) -> Any:
        return Tap(a, lambda n: 0.02)

    t = time.monotonic()
    r = _run(tmp_path, [_slow_storm()], adapter_wrapper=wrap, scenario_timeout=1.0,
             retries=0)[0]
    assert r.verdict == ERROR and r.reasons[0].startswith("timeout"), r.reasons
    # the limit is the schedule (0.4 s) plus --scenario-timeout, not the board's pace
    assert 1.0 < r.wall_s < 3.0 and time.monotonic() - t < 5.0


def _long_tail() -> Scenario:
    from emulator import faults

    # 10 alerts, then a 10 h tail: 40 s of waiting at scale 900
    return Scenario("long_tail", "test", lambda: faults.stuck_sensor(seed=1, count=10),
                    (), tail_ms=36_000_000)


def test_the_tail_wait_honours_the_run_deadline(tmp_path: Path) -> None:
    r = _run(tmp_path, [_long_tail()], run_timeout=2.0, retries=0)[0]
    assert r.verdict == ERROR and r.reasons[0].startswith("timeout"), r.reasons
    assert r.wall_s < 4.0


def test_the_tail_wait_stops_at_once_on_ctrl_c(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    stop = threading.Event()
    done: list[float] = []

    def go() -> None:
        run_matrix([load_board(RT)], [_long_tail()], folder, RunOptions(stop=stop))
        done.append(time.monotonic())

    th = threading.Thread(target=go)
    th.start()
    time.sleep(2.0)  # well into the tail
    stopped = time.monotonic()
    stop.set()
    th.join(10)
    assert done and done[0] - stopped < 1.0
    assert not folder.has_result(RT, "long_tail")  # left for --resume, as any interruption
