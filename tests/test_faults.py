"""emulator/faults.py: the storm models are pure functions of their seed and arguments."""

from __future__ import annotations

from itertools import islice

import pytest

from emulator import faults


@pytest.mark.parametrize("name", sorted(faults.SCENARIOS))
def test_same_seed_same_stream_times_non_decreasing(name: str) -> None:
    gen = faults.SCENARIOS[name]
    a = list(islice(gen(7), 300))
    b = list(islice(gen(7), 300))
    assert a == b and len(a) > 0
    assert all(x[0] <= y[0] for x, y in zip(a, a[1:], strict=False))
    assert all(0 <= c <= 0xFFFF and s in ("esme", "gsme", "hub") for _, c, s in a)


def test_different_seeds_differ() -> None:
    assert list(islice(faults.stuck_sensor(1), 50)) != list(islice(faults.stuck_sensor(2), 50))


def test_models_say_what_they_are() -> None:
    assert {c for _, c, _ in islice(faults.reboot_loop(1), 20)} == {0x81B2}
    assert {c for _, c, _ in islice(faults.clock_alerts(1), 20)} == {0x8F0C}
    burst = list(faults.tamper_burst(1, n=30))
    assert len(burst) == 30 and {c for _, c, _ in burst} == {0x8F3F}
    codes = {c for _, c, _ in islice(faults.many_codes(1, distinct=40), 40)}
    assert len(codes) == 40 > 16  # one round covers every code: more than the slots
    quiet = list(islice(faults.healthy(1), 200))
    per_hour = len(quiet) / (quiet[-1][0] / 3600000)
    assert per_hour < 5  # far below any amber threshold


def test_count_and_take_until() -> None:
    assert len(list(faults.stuck_sensor(1, count=12))) == 12
    assert len(list(faults.oscillating_threshold(1, count=33))) == 33
    s = list(faults.take_until(faults.stuck_sensor(3, period_ms=100, jitter=0), 1000))
    assert [t for t, _, _ in s] == list(range(0, 1000, 100))


def test_merge_orders_by_time_and_keeps_everything() -> None:
    a = list(faults.stuck_sensor(1, count=50))
    b = list(faults.tamper_burst(2, n=20, start_ms=5000))
    m = list(faults.merge(a, b))
    assert sorted(m, key=lambda e: e[0]) == m
    assert sorted(m) == sorted(a + b)
