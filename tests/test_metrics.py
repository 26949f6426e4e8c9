"""hil.harness.metrics: a board's run set against the DSP model and the in-process limiter. Here the
"board" is firmware_model's limiter itself (its decisions and summaries, as the board would
send them), so each test knows the truth and tampers with it where it must."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from emulator import faults
from hil.compare import DeviceReplay, Perturbations
from hil.harness.metrics import NOT_COMPARABLE, BoardRun, evaluate
from hil.harness.scenarios import NAMED_CAUSES
from hil.model.policy import load_config
from hil.model.streams import Alert

LETTER = {0: "S", 1: "F", 3: "T"}


def _board(events: list[tuple[int, int, str]], resets: list[tuple[int, str]] | None = None,
           slots: int = 16) -> BoardRun:
    """What a faithful board would have recorded: the limiter's decisions and summaries."""
    cfg = load_config(None)
    alerts = [Alert(i, "hub", t, c, None, 0) for i, (t, c, _) in enumerate(events)]
    sc = Perturbations(resets=tuple(("*", t, k) for t, k in resets or ()),
                       reset_mode="snapshot", booted_ms=0, reset_ticks="continue",
                       slots=slots, poll_interval_ms=1000, tick_start=0)
    dev = DeviceReplay(cfg, sc, skew=False).run(alerts)
    frames: list[Any] = [SimpleNamespace(is_summary=True, summary_kind=2, alert_code=None,
                                         suppressed_code=f"0x{code:04X}", suppressed_count=n,
                                         originator_title=None)
                         for code, n in dev.reported.items()]
    frames += [SimpleNamespace(is_summary=False, alert_code=f"0x{events[i][1]:04X}")
               for _, i in dev.wan if i >= 0]
    return BoardRun(events=events, decisions=[LETTER[d] for d in dev.dec], frames=frames,
                    config={}, slots=slots, resets=list(resets or ()))


def _diversity() -> list[tuple[int, int, str]]:
    return list(faults.many_codes(seed=5, distinct=40, period_ms=250, count=1200))


def test_table_eviction_is_named_and_nothing_is_unknown() -> None:
    ev = evaluate(_board(_diversity()))
    m, d = ev.metrics, ev.divergence
    assert m["model_mismatch"] == 0 and m["divergences_unknown"] == 0
    assert m["divergences"] > 0 and m["divergences"] == sum(
        n for cls, n in d["classes"].items() if cls != "suppressed_count_mismatch")
    assert {c for by in d["causes"].values() for c in by} == {"table_eviction"}
    # the overflow slot reports under 0x0000, which the DSP never discards: listed per code
    rows = {r["alert_code"]: r for r in d["count_mismatches"]}
    assert rows["0x0000"]["overflow_slot"] and rows["0x0000"]["dsp_discarded"] == 0
    assert m["count_mismatches"] == len(rows) > 1
    assert NAMED_CAUSES.check(m)[0] is True


def test_with_enough_slots_board_and_dsp_agree() -> None:
    ev = evaluate(_board(_diversity(), slots=64))
    assert ev.metrics["divergences"] == ev.metrics["count_mismatches"] == 0
    assert ev.divergence["causes"] == {}


def test_a_board_that_decides_otherwise_than_the_model_is_unknown_and_fails() -> None:
    run = _board(list(faults.stuck_sensor(seed=1, period_ms=1000, count=1200)))
    assert evaluate(run).metrics["divergences"] == 0  # aligned: device and DSP agree
    i = run.decisions.index("S")
    run.decisions[i] = "F"  # one alert forwarded that the limiter suppressed
    ev = evaluate(run)
    assert ev.metrics["model_mismatch"] == 1
    assert ev.metrics["divergences"] == ev.divergence["classes"]["extra_wan_traffic"] == 1
    assert ev.divergence["causes"]["extra_wan_traffic"] == {"unknown": 1}
    assert ev.metrics["divergences_unknown"] >= 1
    assert NAMED_CAUSES.check(ev.metrics)[0] is False


def test_a_board_that_under_reports_has_unknown_count_mismatches() -> None:
    run = _board(list(faults.stuck_sensor(seed=1, period_ms=1000, count=1200)))
    assert evaluate(run).metrics["count_mismatches"] == 0
    for f in run.frames:
        if f.is_summary:
            f.suppressed_count -= 1
    ev = evaluate(run)
    assert ev.metrics["count_mismatches"] == 1 and ev.metrics["divergences_unknown"] == 1
    assert ev.metrics["unaccounted_beyond_reset_loss"] == 1


def test_resets_are_replayed_and_their_loss_is_bounded() -> None:
    events = list(faults.stuck_sensor(seed=1, period_ms=1000, count=1200))
    resets = [(300_000, "soft"), (600_000, "hard"), (900_000, "watchdog")]
    run = _board(events, resets)
    ev = evaluate(run)
    m = ev.metrics
    assert m["model_mismatch"] == 0 and m["divergences_unknown"] == 0
    assert {c for by in ev.divergence["causes"].values() for c in by} <= {"device_reset"}
    # two unexpected resets: what was suppressed in the 61 s before each is at risk
    assert 0 < m["suppressed_at_reset_risk"] <= 2 * 61
    assert m["unaccounted_suppressed"] <= m["suppressed_at_reset_risk"]
    assert m["unaccounted_beyond_reset_loss"] == 0
    # the same board with the resets unreported to the model: it no longer matches
    blind = BoardRun(**{**run.__dict__, "resets": []})
    assert evaluate(blind).metrics["model_mismatch"] > 0


def test_two_limiters_on_the_path_are_not_compared_alert_by_alert() -> None:
    run = _board(_diversity())
    run.decisions = [d + d for d in run.decisions]  # meter and hub letters
    ev = evaluate(run)
    assert ev.metrics["model_mismatch"] is None and ev.metrics["divergences_unknown"] is None
    assert NAMED_CAUSES.check(ev.metrics)[0] is None
    assert {c for by in ev.divergence["causes"].values() for c in by} == {NOT_COMPARABLE}
