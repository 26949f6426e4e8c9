"""The device-vs-DSP comparison (hil/compare/): divergence classes, cause attribution by
replay (no "unknown" bucket), metrics, partitioning, the check against real DSP results, and
the device replay pinned to the board firmware it replays (firmware_model/board.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.boardfile import load
from emulator.clock import VirtualClock
from emulator.engine import create_engine
from emulator.flash import FlashFs
from firmware_model import limiter, wire
from firmware_model.board import RESET_KINDS
from firmware_model.ticks import TICKS_PERIOD
from hil.compare import (
    CLASSES,
    CLOCK_SKEW,
    CONFIG_DIFFERENCE,
    COUNT_MISMATCH,
    CRITICAL_LOST,
    DEVICE_RESET,
    EXTRA_WAN,
    LOST_AT_DEVICE,
    TABLE_EVICTION,
    UNKNOWN,
    WAN_LATENCY,
    WINDOW_ALIGNMENT,
    CompareResult,
    DeviceReplay,
    DeviceRun,
    Latency,
    Perturbations,
    RealCheck,
    Setup,
    compare_device,
    compare_stream,
    decisions,
    partition_of,
    run_pair,
    sessions,
)
from hil.errors import ConfigError
from hil.frames import decode_fast
from hil.model.dsp import FORWARD
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert, DspResult

ROOT = Path(__file__).resolve().parent.parent

CFG = PolicyConfig(device_window_ms=10_000, amber_threshold=5, red_threshold=10,
                   code_window_ms=10_000, code_limit=3, throttle_n=4, summary_interval_ms=5_000)
CODES = (0x8F01, 0x8F02, 0x8F03, 0x8F04, 0x8F3F)


def storm(devices: tuple[str, ...] = ("D1",), n: int = 1500, seed: int = 1,
          codes: tuple[int, ...] = CODES) -> list[Alert]:
    rng = random.Random(seed)
    out, t = [], 1_000_000
    for i in range(n):
        t += rng.choice((5, 20, 100, 400, 1500, 6000))
        out.append(Alert(i, rng.choice(devices), t, rng.choice(codes), None, i + 1))
    return out


def causes_of(r: CompareResult) -> set[str]:
    return {c for d in r.causes.values() for c in d}


def diverged(r: CompareResult) -> int:
    return sum(r.counters[c] for c in CLASSES)


def test_aligned_run_agrees_and_metrics_add_up() -> None:
    r = compare_stream(storm(("D1", "D2")), Setup(CFG, CFG))
    c = r.counters
    assert diverged(r) == 0 and r.metrics()["agreement_rate"] == 1.0
    assert c["device_forwarded"] + c["device_suppressed"] == c["alerts"] == 1500
    assert c["device_wan_frames"] == c["device_forwarded"] + c["device_summary_frames"]
    assert c["wan_frames_saved"] == c["alerts"] - c["device_wan_frames"]
    assert c["device_suppressed"] > 0 and c["critical_alerts_lost"] == 0


@pytest.mark.parametrize("perturbations,cause", [
    (Perturbations(latency=Latency(0, 3000)), WAN_LATENCY),
    (Perturbations(skew_ppm=50_000), CLOCK_SKEW),
    (Perturbations(resets=(("D1", 1_100_000), ("D1", 1_200_000))), DEVICE_RESET),
    (Perturbations(resets=(("*", 1_100_000),), reset_mode="snapshot", snapshot_interval_ms=20_000),
     DEVICE_RESET),
    (Perturbations(slots=1), TABLE_EVICTION),
])
def test_each_perturbation_is_named_as_the_cause(perturbations: Perturbations, cause: str
                                                   ) -> None:
    r = compare_stream(storm(), Setup(CFG, CFG, perturbations))
    assert diverged(r) > 0
    assert causes_of(r) == {cause}


def test_fixed_latency_alone_changes_nothing() -> None:
    # a constant shift of every arrival moves every window by the same amount
    r = compare_stream(storm(), Setup(CFG, CFG, Perturbations(latency=Latency(250))))
    assert diverged(r) == 0


def test_config_differences_are_named() -> None:
    r = compare_stream(storm(), Setup(CFG, CFG.replace(code_window_ms=13_000)))
    assert diverged(r) > 0 and causes_of(r) == {WINDOW_ALIGNMENT}
    r = compare_stream(storm(), Setup(CFG, CFG.replace(throttle_n=2)))
    assert diverged(r) > 0 and causes_of(r) == {CONFIG_DIFFERENCE}
    # summary_interval_ms is device-only: it never makes a divergence
    r = compare_stream(storm(), Setup(CFG, CFG.replace(summary_interval_ms=60_000)))
    assert diverged(r) == 0


def test_critical_alert_suppressed_by_the_device_is_a_hard_failure() -> None:
    dev = CFG.replace(never_throttle=())   # the device would thin 0x8F3F; the DSP never does
    r = compare_stream(storm(codes=(0x8F3F,)), Setup(CFG, dev))
    assert r.counters[CRITICAL_LOST] > 0 and r.hard_failures > 0
    assert r.counters["critical_alerts_lost"] > 0
    assert causes_of(r) == {CONFIG_DIFFERENCE}


def test_classes_lost_and_extra() -> None:
    # a device that thins harder than the DSP loses alerts; a laxer one costs WAN frames
    r = compare_stream(storm(), Setup(CFG, CFG.replace(throttle_n=8)))
    assert r.counters[LOST_AT_DEVICE] > 0 and r.counters[EXTRA_WAN] == 0
    r = compare_stream(storm(), Setup(CFG, CFG.replace(throttle_n=2)))
    assert r.counters[EXTRA_WAN] > 0 and r.counters[LOST_AT_DEVICE] == 0


def test_combined_perturbations_leave_no_unknown() -> None:
    sc = Perturbations(latency=Latency(100, 2000), skew_ppm=20_000, slots=2,
                  resets=(("D1", 1_150_000),))
    r = compare_stream(storm(("D1", "D2"), n=2500), Setup(CFG, CFG.replace(throttle_n=5), sc))
    assert diverged(r) > 0
    assert UNKNOWN not in causes_of(r)
    assert len(causes_of(r)) >= 2


perturbations = st.builds(
    lambda lat, jit, skew, slots, reset, mode, seed: Perturbations(
        latency=Latency(lat, jit), skew_ppm=skew, slots=slots,
        resets=(("D1", 1_000_000 + reset),) if reset else (), reset_mode=mode, seed=seed,
        snapshot_interval_ms=5_000),
    st.integers(0, 500), st.sampled_from((0, 0, 800, 5000)), st.sampled_from((0, 0, 3000, -40_000)),
    st.sampled_from((16, 16, 1, 2)), st.sampled_from((0, 0, 30_000, 150_000)),
    st.sampled_from(("lost", "snapshot")), st.integers(0, 3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sc=perturbations, seed=st.integers(0, 10**6),
       dev_n=st.sampled_from((4, 4, 3, 6)))
def test_every_divergence_carries_a_named_cause(sc: Perturbations, seed: int, dev_n: int) -> None:
    r = compare_stream(storm(("D1",), n=400, seed=seed),
                       Setup(CFG, CFG.replace(throttle_n=dev_n), sc))
    assert UNKNOWN not in causes_of(r), r.examples
    total = sum(sum(d.values()) for d in r.causes.values())
    assert total == diverged(r)


def test_fates_per_alert() -> None:
    rows: list[dict] = []
    alerts = storm(n=300)
    compare_stream(alerts, Setup(CFG, CFG.replace(throttle_n=2)), on_fates=rows.extend)
    assert sorted(r["seq"] for r in rows) == list(range(300))
    kinds = {(r["dsp"], r["device"], r["device_to_dsp"]) for r in rows}
    assert {k[:2] for k in kinds} >= {("discarded", "forwarded"),   # extra WAN traffic
                                      ("forwarded", "forwarded")}
    assert ("discarded", "suppressed", "suppressed_at_device") in kinds
    fwd = [r for r in rows if r["dsp"] == "forwarded" and r["sequence_id"]]
    assert fwd and all(r["throttled_count"] is not None for r in fwd)
    assert all(r["divergence"] is None or r["causes"] == [CONFIG_DIFFERENCE] for r in rows)


def test_partition_and_merge_equal_one_run() -> None:
    alerts = storm(tuple(f"D{i}" for i in range(12)), n=4000, seed=3)
    setup = Setup(CFG, CFG.replace(throttle_n=3), Perturbations(latency=Latency(0, 1500)))
    whole = compare_stream(alerts, setup)
    parts = [compare_stream([a for a in alerts if partition_of(a.device, 3) == p], setup)
             for p in range(3)]
    merged = CompareResult()
    for p in parts:
        merged.merge(p)
    assert merged.counters == whole.counters
    assert merged.causes == whole.causes
    assert {partition_of(f"D{i}", 3) for i in range(12)} == {0, 1, 2}


def test_worker_processes_give_the_same_result() -> None:
    alerts = storm(tuple(f"D{i}" for i in range(6)), n=2000, seed=4)
    setup = Setup(CFG, CFG.replace(throttle_n=3), Perturbations(skew_ppm=10_000))
    assert compare_stream(alerts, setup, jobs=2).counters == compare_stream(alerts, setup).counters


def test_sessions_cut_at_idle_gaps_and_reject_backwards_time() -> None:
    a = [Alert(0, "A", 4, 1, None, 1), Alert(1, "B", 5, 1, None, 2),
         Alert(2, "A", 3, 1, None, 3),      # A back in time: a bad row
         Alert(3, "A", 10, 1, None, 4), Alert(4, "A", 10 + 101, 1, None, 5)]
    errors: list = []
    got = list(sessions(a, horizon_ms=100, errors=errors, path="x"))
    assert sorted([x.seq for x in s] for s in got) == [[0, 3], [1], [4]]
    assert [e.line for e in errors] == [3]


def test_session_result_is_independent_of_other_devices() -> None:
    alerts = storm(("D1", "D2"), n=1000)
    d1 = [a for a in alerts if a.device == "D1"]
    setup = Setup(CFG, CFG, Perturbations(latency=Latency(0, 900)))
    both: list[dict] = []
    compare_stream(alerts, setup, on_fates=both.extend)
    alone, rows = compare_device(d1, setup, fates=True)
    assert [r for r in both if r["device_id"] == "D1"] == rows


def test_real_dsp_results_check() -> None:
    alerts = storm(n=200)
    rows: list[dict] = []
    compare_stream(alerts, Setup(CFG, CFG), on_fates=rows.extend)
    real_rows = []
    for i, f in enumerate(sorted(rows, key=lambda r: r["seq"])):
        fwd = f["dsp"] == "forwarded"
        if i == 50:
            fwd = not fwd                     # the "real" DSP disagrees here
        real_rows.append(DspResult(f["device_id"], int(f["alert_code"], 16), f["t_ms"], fwd,
                                   f["throttled_count"] if fwd else None, f["sequence_id"],
                                   None, i + 2))
    real_rows.pop(10)                          # an alert the real DSP never reported
    real_rows.append(DspResult("ZZ", 1, 5, True, 0, None, None, 999))   # and one extra row
    check = RealCheck.load(real_rows)
    compare_stream(alerts, Setup(CFG, CFG), on_fates=check)
    check.finish()
    c = check.counters
    assert c["model_disagrees"] == 1 and c["model_agrees"] == 198
    assert c["alerts_without_result"] == 1 and c["results_without_alert"] == 1
    lines = {e["result_line"] for e in check.examples}
    assert {52, 999} <= lines


def test_healthy_session_shortcut_matches_the_full_pipelines() -> None:
    # sessions shorter than red_threshold skip the pipelines; the full run must agree
    sc = Perturbations(latency=Latency(0, 4000), skew_ppm=30_000, resets=(("D1", 1_000_050),))
    setup = Setup(CFG, CFG.replace(throttle_n=2), sc)
    alerts = [Alert(i, "D1", 1_000_000 + 20 * i, CODES[i % 5], None, i + 1) for i in range(9)]
    full = run_pair(alerts, setup)
    assert full.dsp == [FORWARD] * 9 and full.dev.dec == [FORWARD] * 9
    assert full.dev.wan == [(a.t_ms, i) for i, a in enumerate(alerts)]   # no summary frame
    r, rows = compare_device(alerts, setup, fates=True)
    assert r.counters["agree"] == r.counters["device_to_dsp_delivered"] == 9
    assert [x["arrival_ms"] for x in rows] == full.arrivals


# -- resets as the board does them (firmware_model/board.py) -----------------------------------


def _dev_decisions(sc: Perturbations, alerts: list[Alert] | None = None) -> list[int]:
    return decisions(alerts or storm(n=600, seed=3), Setup(CFG, CFG, sc))[1]


def test_a_soft_reset_restores_the_exact_state() -> None:
    # the firmware flushes before an orderly restart: as if there had been no reset at all
    plain = _dev_decisions(Perturbations(tick_start=5))
    for ticks in ("continue", "restart"):
        soft = _dev_decisions(Perturbations(tick_start=5, reset_mode="snapshot",
                                            reset_ticks=ticks,
                                            resets=(("D1", 1_150_000, "soft"),
                                                    ("D1", 1_400_000, "soft"))))
        assert soft == plain


def test_an_unexpected_reset_loses_what_changed_since_the_last_write() -> None:
    plain = _dev_decisions(Perturbations(tick_start=5))
    kw: dict = {"tick_start": 5, "reset_mode": "snapshot", "snapshot_interval_ms": 60_000}
    hard = _dev_decisions(Perturbations(resets=(("D1", 1_150_000, "hard"),), **kw))
    assert hard != plain
    # only a soft reset gets to flush; the kind defaults to hard
    for kind in ("watchdog", "brownout"):
        assert _dev_decisions(Perturbations(resets=(("D1", 1_150_000, kind),), **kw)) == hard
    assert _dev_decisions(Perturbations(resets=(("D1", 1_150_000),), **kw)) == hard
    # without flash (mode lost) even a soft reset loses the state
    lost = _dev_decisions(Perturbations(tick_start=5, resets=(("D1", 1_150_000, "soft"),)))
    assert lost != plain


def test_reset_and_scenario_errors_are_typed() -> None:
    for bad in ({"resets": (("D1", 5, "reboot"),)}, {"resets": (("D1",),)},
                {"reset_ticks": "sometimes"}, {"snapshot_interval_ms": -1}):
        with pytest.raises(ConfigError):
            Perturbations(**bad)  # type: ignore[arg-type]


def test_a_reset_at_an_alerts_own_ms_can_fall_before_or_after_it() -> None:
    alerts = storm(n=600, seed=3)
    t = alerts[300].t_ms
    kw: dict = {"tick_start": 5, "reset_mode": "snapshot", "snapshot_interval_ms": 60_000}
    before = _dev_decisions(Perturbations(resets=(("D1", t, "hard", "before"),), **kw), alerts)
    after = _dev_decisions(Perturbations(resets=(("D1", t, "hard", "after"),), **kw), alerts)
    default = _dev_decisions(Perturbations(resets=(("D1", t, "hard"),), **kw), alerts)
    assert default == before
    # the alert at that ms is decided by the old state (after) or the restored one (before)
    assert before[:300] == after[:300] and before != after

def test_a_reset_after_the_last_alert_loses_unreported_counts() -> None:
    # a stuck code every 100 ms: suppressed alerts pile up between 5 s summaries
    alerts = [Alert(i, "D1", 1_000_000 + 100 * i, 0x8F01, None, i + 1) for i in range(300)]
    sc = Perturbations(resets=(("D1", alerts[-1].t_ms + 500, "hard"),))  # mode lost: no flash
    r = compare_stream(alerts, Setup(CFG, CFG, sc))
    assert r.counters[COUNT_MISMATCH] > 0 and causes_of(r) == {DEVICE_RESET}
    assert compare_stream(alerts, Setup(CFG, CFG)).counters[COUNT_MISMATCH] == 0


# -- the replay against the board itself ---------------------------------------------------------
# hil/harness/metrics.py trusts DeviceReplay to do what a board does, so that any difference is
# the board's defect; here the board is firmware_model/board.py itself (through the cpython
# engine: a reset boots a new Board from the emulated flash, as on a real MCU), driven as
# hil/harness/runner.py drives a virtual-clock board.

BOARD_CFG = PolicyConfig(device_window_ms=20_000, amber_threshold=5, red_threshold=10,
                         code_window_ms=15_000, code_limit=3, throttle_n=4,
                         summary_interval_ms=5_000)
PERSIST_MS = 5_000
POLL_MS = 1_000
TICKS0 = TICKS_PERIOD - 40_000  # the board's ticks wrap 40 s into the run
BOARD_CODES = (0x8F01, 0x8F02, 0x8F03, 0x8F04, 0x8F05, 0x8F06, 0x8F3F)
DECISION = {"S": limiter.SUPPRESS, "F": limiter.FORWARD,
            "T": limiter.FORWARD | limiter.STARTED}


class BoardUnderTest:
    """An emulated hub (limiter in the hub) on a virtual clock that starts at event time 0."""

    def __init__(self, tmp: Path, slots: int) -> None:
        spec = replace(load(ROOT / "boards" / "emulated-chub.toml"), slots=slots,
                       poll_ms=POLL_MS, persist_ms=PERSIST_MS, config=BOARD_CFG.to_device_dict())
        self.raw: list[bytes] = []
        self.lines: list[tuple[int, str, list[str]]] = []
        self.engine = create_engine("cpython", spec, self.raw.append, FlashFs(tmp / "flash"),
                                    VirtualClock(TICKS0))
        self.engine.start()
        self.seq = 0
        self.now = 0

    def cmd(self, verb: str, *args: str) -> list[tuple[int, str, list[str]]]:
        self.seq += 1
        self.engine.feed(wire.encode(wire.HOST_MARK, self.seq, verb, " ".join(args) or None))
        got = [wire.decode(b, wire.DEVICE_MARK)[:3] for b in self.raw]
        self.raw.clear()
        self.lines += got
        assert [x[1] for x in got if x[1] in ("ACK", "NAK") and x[2][0] == str(self.seq)] \
            == ["ACK"], got
        return got

    def advance_to(self, t: int) -> None:
        if t > self.now:
            self.cmd("ADVANCE", str(t - self.now))
            self.now = t

    def alert(self, t: int, code: int) -> int:
        self.advance_to(t)
        ack = self.cmd("ALERT", f"{code:04X}", "esme")[-1]
        return DECISION[dict(a.split("=", 1) for a in ack[2][1:])["hub"]]

    def reset(self, t: int, kind: str) -> None:
        self.advance_to(t)
        boot = self.cmd("RESET", kind)[-1]
        assert boot[1] == "EVENT" and f"cause={kind}" in boot[2], boot

    def frames(self) -> list[tuple[int, Any]]:
        """(event time, decoded frame) of every frame the board sent north."""
        return [((int(x[2][0]) - TICKS0) % TICKS_PERIOD, decode_fast(bytes.fromhex(x[2][1])))
                for x in self.lines if x[1] == "FRAME"]


def _replay_against_board(tmp: Path, alerts: list[Alert], resets: list[tuple[int, str, str]],
                          slots: int = 16) -> DeviceRun:
    """The same alerts and resets through the replay and through the board: the same decision
    per alert, the same suppressed count per code, the same frames north at the same times."""
    p = Perturbations(resets=tuple(("hub", *r) for r in resets), reset_mode="snapshot",
                      snapshot_interval_ms=PERSIST_MS, booted_ms=0, reset_ticks="continue",
                      slots=slots, poll_interval_ms=POLL_MS, tick_start=TICKS0)
    replay = DeviceReplay(BOARD_CFG, p)
    run = replay.run(alerts)

    board = BoardUnderTest(tmp, slots)
    pending = p.resets_for("hub")  # (t_ms, kind, after), in the order the replay takes them
    dec = []
    for a in alerts:
        while pending and (pending[0][0] < a.t_ms or (
                pending[0][0] == a.t_ms and not pending[0][2])):
            t, kind, _ = pending.pop(0)
            board.reset(t, kind)
        dec.append(board.alert(a.t_ms, a.code))
    for t, kind, _ in pending:
        board.reset(t, kind)
    board.advance_to(board.now + 3 * replay.tail_ms)  # long after every window has closed
    frames = board.frames()
    reported: dict[int, int] = {}
    for _, f in frames:
        if f.is_summary and f.summary_kind in (limiter.ONGOING, limiter.CLOSED):
            code = int(f.suppressed_code, 16)
            reported[code] = reported.get(code, 0) + f.suppressed_count

    assert dec.count(limiter.SUPPRESS) > 100 and len(reported) > 1  # thinned and reported
    for i, (mine, real) in enumerate(zip(run.dec, dec, strict=True)):
        assert mine == real, f"alert {i} at t={alerts[i].t_ms}: replay {mine}, board {real}"
    assert run.reported == reported
    assert [t for t, _ in run.wan] == [t for t, _ in frames]
    return run


def _edge_storm() -> list[Alert]:
    # 10 alerts/s for a minute, seven codes (more than a table of 4 slots holds) of which one
    # is never-throttle, two at the same ms now and then, and alerts at the edges used below
    rng = random.Random(9)
    times = sorted([*range(0, 60_001, 100), *range(0, 60_001, 3_700), 4_999, 19_999, 24_999,
                    29_998, 44_999, 45_001])
    return [Alert(i, "hub", t, rng.choice(BOARD_CODES), None, i + 1) for i, t in enumerate(times)]


EDGE_RESETS = [
    (4_999, "hard", "before"),     # nothing written yet: the board comes back empty
    (10_000, "soft", "before"),    # flushes: nothing lost; and the next write is due at 15 s
    (15_000, "hard", "before"),    # the write due at this very ms comes first (during ADVANCE)
    (19_999, "watchdog", "after"),  # 1 ms before the next write is due: back to 15 s
    (24_999, "brownout", "after"),  # due at this ms: written as the clock gets there, so the
                                    # reset after the alert loses that alert only
    (29_998, "hard", "after"),     # 1 ms short again
    (35_000, "hard", "before"),    # two resets at one ms, around the alert at that ms
    (35_000, "soft", "after"),
    (45_001, "watchdog", "before"),  # 1 ms after a write
    (62_500, "hard", "before"),    # after the last alert: unreported counts are lost
    (70_000, "soft", "before"),
]


@pytest.mark.parametrize("slots", [16, 4])
def test_the_replay_is_the_board_across_resets_of_every_kind(tmp_path: Path, slots: int) -> None:
    run = _replay_against_board(tmp_path, _edge_storm(), EDGE_RESETS, slots)
    assert (run.overflow_uses > 0) == (slots < len(BOARD_CODES))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_replay_is_the_board_on_random_storms_and_resets(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    alerts, t = [], 0
    for i in range(900):
        # mostly a storm; now and then a gap around persist_ms, or a long quiet
        storming = rng.random() < 0.95
        t += rng.choice((0, 1, 50, 100, 100, 100, 250, 250, 999, 1000, 1001)) if storming \
            else rng.choice((4_999, 5_000, 5_001, 30_000))
        alerts.append(Alert(i, "hub", t, rng.choice(BOARD_CODES), None, i + 1))
    resets = sorted({(rng.choice(alerts).t_ms + rng.choice((0, 0, 1, -1, PERSIST_MS, 333)),
                      rng.choice(RESET_KINDS), rng.choice(("before", "after")))
                     for _ in range(12)})
    _replay_against_board(tmp_path, alerts, resets, rng.choice((16, 4)))
