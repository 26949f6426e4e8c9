"""The proof that the two independent implementations agree: with the same configuration, one
device, no reset, no latency and no skew, the device limiter (firmware_model/limiter.py) and
the DSP model (hil/model/dsp.py) decide identically alert by alert (docs/policy.md), including the
STARTED flag, across random storms, random configurations and random tick starts (so the
device's 2**30 tick wrap is crossed), and the device's summaries report exactly what the DSP
discarded."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil.compare import Perturbations, Setup, compare_device, decisions
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert

CODES = (0x8F01, 0x8F02, 0x8F03, 0x8F3F, 0x8F1C, 0x0000)  # two never-throttle, one code 0

# windows and gaps on a 250 ms grid half the time, so alerts land exactly on window boundaries
windows = st.one_of(st.integers(1000, 6000), st.integers(4, 24).map(lambda k: k * 250))
configs = st.builds(
    lambda dw, cw, amber, red_extra, limit, mode, n, period, never: PolicyConfig(
        device_window_ms=dw, code_window_ms=cw, amber_threshold=amber,
        red_threshold=amber + red_extra, code_limit=limit, throttle_mode=mode, throttle_n=n,
        throttle_period_ms=period, never_throttle=never, summary_interval_ms=1000),
    windows, windows, st.integers(1, 8), st.integers(0, 8), st.integers(0, 6),
    st.sampled_from((1, 2)), st.integers(1, 6), st.integers(1000, 4000),
    st.sampled_from(((0x8F3F, 0x8F1C), (), (0x8F01,))))

# gaps: bursts (0..50 ms), mid gaps, and gaps around window lengths
gaps = st.one_of(st.integers(0, 50), st.integers(0, 1500), st.sampled_from(
    (999, 1000, 1001, 1999, 2000, 2001, 4000, 6000, 12001)), st.integers(0, 24).map(
    lambda k: k * 250))
grid_gaps = st.integers(0, 24).map(lambda k: k * 250)
storms = st.one_of(
    st.lists(st.tuples(gaps, st.sampled_from(CODES)), min_size=1, max_size=250),
    st.lists(st.tuples(grid_gaps, st.sampled_from(CODES)), min_size=1, max_size=250))


def _alerts(storm: list[tuple[int, int]], t0: int) -> list[Alert]:
    out, t = [], t0
    for i, (gap, code) in enumerate(storm):
        t += gap
        out.append(Alert(i, "dev", t, code, None, i + 1))
    return out


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, storm=storms, t0=st.integers(0, 10**12),
       tick_start=st.one_of(st.none(), st.integers((1 << 30) - 20_000, (1 << 30) - 1)))
def test_device_and_dsp_decide_identically(cfg: PolicyConfig, storm: list[tuple[int, int]],
                                           t0: int, tick_start: int | None) -> None:
    alerts = _alerts(storm, t0)
    setup = Setup(cfg, cfg, Perturbations(tick_start=tick_start))
    dsp, dev = decisions(alerts, setup)
    for i, (a, b) in enumerate(zip(dsp, dev, strict=True)):
        assert a == b, f"alert {i} (t={alerts[i].t_ms}, code {alerts[i].code:#06x}): " \
                       f"DSP {a}, device {b}"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs, storm=storms)
def test_aligned_comparison_has_no_divergence_of_any_class(cfg: PolicyConfig,
                                                           storm: list[tuple[int, int]]) -> None:
    res, _ = compare_device(_alerts(storm, 5_000), Setup(cfg, cfg, Perturbations()))
    c = res.counters
    assert c["agree"] == c["alerts"]
    assert c["lost_at_device"] == c["extra_wan_traffic"] == 0
    assert c["suppressed_count_mismatch"] == 0, res.examples
    assert c["critical_alerts_lost"] == 0
