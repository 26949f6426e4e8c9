"""Alert sources and storm fault models: pure, seeded generators of (t_ms, code, source).

Same arguments, same sequence, on any machine: the harness replays them against the device
(ALERT/ADVANCE) and the DSP model alike. t_ms is virtual time from the start of the scenario
(non-decreasing); source is "esme", "gsme" or "hub" (docs/wire-protocol.md). Generators are
infinite unless given `count`/`duration_ms`; combine with `merge` and cut with `take_until`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator

Event = tuple[int, int, str]  # (t_ms from scenario start, alert code, source esme|gsme|hub)

STUCK_CODE = 0x8F75  # strong magnetic field: a known storm source
CLOCK_CODE = 0x8F0C  # clock not adjusted (outside tolerance)
TAMPER_CODE = 0x8F3F  # tamper detect: on every never-throttle list
RESET_CODE = 0x81B2  # unexpected hardware reset
QUIET_CODES = (0x8F0A, 0x8F1F, 0x810E, 0x8F66)


def _jitter(rng: random.Random, period_ms: int, jitter: float) -> int:
    if not jitter:
        return period_ms
    return max(1, int(period_ms * (1 + rng.uniform(-jitter, jitter))))


def stuck_sensor(seed: int, code: int = STUCK_CODE, source: str = "esme",
                 period_ms: int = 1000, jitter: float = 0.1, start_ms: int = 0,
                 count: int | None = None) -> Iterator[Event]:
    """A sensor stuck past its threshold: the same alert every period, forever."""
    rng = random.Random(seed)
    t = start_ms
    n = 0
    while count is None or n < count:
        yield (t, code, source)
        n += 1
        t += _jitter(rng, period_ms, jitter)


def oscillating_threshold(seed: int, code: int = STUCK_CODE, source: str = "esme",
                          burst: tuple[int, int] = (5, 40), gap_ms: tuple[int, int] = (
                              2000, 30000), spacing_ms: int = 200, start_ms: int = 0,
                          count: int | None = None) -> Iterator[Event]:
    """A value hovering at a threshold: bursts of crossings (each one an alert), then quiet."""
    rng = random.Random(seed)
    t = start_ms
    n = 0
    while count is None or n < count:
        for _ in range(rng.randint(*burst)):
            if count is not None and n >= count:
                return
            yield (t, code, source)
            n += 1
            t += rng.randint(spacing_ms // 2, spacing_ms * 2)
        t += rng.randint(*gap_ms)


def reboot_loop(seed: int, source: str = "hub", period_ms: int = 20000, jitter: float = 0.2,
                start_ms: int = 0, count: int | None = None) -> Iterator[Event]:
    """A device that keeps resetting: 0x81B2 after every boot. The harness may also RESET the
    board at each event's time to exercise persistence."""
    return stuck_sensor(seed, RESET_CODE, source, period_ms, jitter, start_ms, count)


def clock_alerts(seed: int, source: str = "hub", period_ms: int = 60000, jitter: float = 0.0,
                 start_ms: int = 0, count: int | None = None) -> Iterator[Event]:
    """A clock outside tolerance: 0x8F0C at every synchronisation attempt."""
    return stuck_sensor(seed, CLOCK_CODE, source, period_ms, jitter, start_ms, count)


def tamper_burst(seed: int, source: str = "esme", n: int = 50, spacing_ms: int = 100,
                 start_ms: int = 0) -> Iterator[Event]:
    """Someone at the meter: a burst of 0x8F3F, which must never be throttled."""
    rng = random.Random(seed)
    t = start_ms
    for _ in range(n):
        yield (t, TAMPER_CODE, source)
        t += rng.randint(1, 2 * spacing_ms)


def many_codes(seed: int, distinct: int = 40, source: str = "esme", period_ms: int = 500,
               first_code: int = 0x8F00, start_ms: int = 0,
               count: int | None = None) -> Iterator[Event]:
    """More distinct codes than the limiter has slots (16 by default): exercises the overflow
    slot. Codes are first_code .. first_code+distinct-1 in a seeded random order per round."""
    rng = random.Random(seed)
    codes = [first_code + i for i in range(distinct)]
    t = start_ms
    n = 0
    while True:
        rng.shuffle(codes)
        for c in codes:
            if count is not None and n >= count:
                return
            yield (t, c, source)
            n += 1
            t += period_ms


def healthy(seed: int, sources: tuple[str, ...] = ("esme", "gsme", "hub"),
            mean_gap_ms: int = 3600000, start_ms: int = 0,
            count: int | None = None) -> Iterator[Event]:
    """A healthy device: a few ordinary alerts an hour at most (never near amber)."""
    rng = random.Random(seed)
    t = start_ms
    n = 0
    while count is None or n < count:
        t += max(1, int(rng.expovariate(1 / mean_gap_ms)))
        yield (t, rng.choice(QUIET_CODES), rng.choice(sources))
        n += 1


def merge(*streams: Iterable[Event]) -> Iterator[Event]:
    """Interleave streams by time (stable: equal times keep argument order)."""
    keyed = [((e[0], i, k, e) for k, e in enumerate(s)) for i, s in enumerate(streams)]
    for _, _, _, e in heapq.merge(*keyed):
        yield e


def take_until(stream: Iterable[Event], end_ms: int) -> Iterator[Event]:
    """Events with t_ms < end_ms (stops reading the stream at the first later one)."""
    for e in stream:
        if e[0] >= end_ms:
            return
        yield e


SCENARIOS = {
    "stuck_sensor": stuck_sensor,
    "oscillating_threshold": oscillating_threshold,
    "reboot_loop": reboot_loop,
    "clock_alerts": clock_alerts,
    "tamper_burst": tamper_burst,
    "many_codes": many_codes,
    "healthy": healthy,
}
