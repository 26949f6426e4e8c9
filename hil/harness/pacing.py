"""Scenario time on a board: time compression (time_scale) and the board's own clock.

A scenario spans tens of minutes to hours of policy time (1 h windows, a summary every 15 min,
a 1 h tail: docs/policy.md). A board with a virtual clock is driven through it with ADVANCE; a
board with a real clock cannot be, so the harness runs the scenario compressed by an integer
`time_scale`: every event time, reset time, the tail, and every time key of the effective
configuration (policy defaults merged with the scenario's `config`) divided by it; count
thresholds unchanged. Every rule of the policy compares alert times with those time keys
only, so that is the same policy in scaled time. The board gets the scaled configuration
through the authenticated CONFIG message before the first alert.

On a real clock the harness sends each alert when it is due, and the times handed to the
comparison are the board's own (`BoardTimes`, from the `t=` of each ALERT ACK): pacing jitter
moves the alerts, but the device model and the DSP model see exactly the times the board's
limiter saw. docs/harness.md, "Real-clock boards"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware_model.ticks import TICKS_PERIOD, ticks_diff
from hil.errors import InputError
from hil.harness.scenarios import Event, Scenario
from hil.model.policy import load_config

TIME_KEYS = ("device_window_ms", "code_window_ms", "throttle_period_ms", "summary_interval_ms")
MIN_TIME_MS = 1000  # docs/policy.md: the smallest valid value of every time key
# A real-clock emulated board whose scenario sets ticks_ms is powered on this long before the
# scenario's ticks_start; the harness starts the scenario when the board's ticks reach it, so
# emulator start-up and the setup commands do not eat into the wait for the wrap.
POWER_ON_LEAD_MS = 1000


class TimeScaleError(InputError):
    """A time_scale that cannot be used (below 1, or a time key scaled below its minimum)."""


def max_time_scale(config: dict[str, Any]) -> int:
    """The largest time_scale that keeps every time key of this configuration valid."""
    cfg = load_config(config or None)
    return min(getattr(cfg, k) for k in TIME_KEYS) // MIN_TIME_MS


def scaled_config(config: dict[str, Any], scale: int) -> dict[str, Any]:
    """The policy defaults merged with `config`, every time key divided by `scale` (floor);
    the vocabulary form (docs/policy.md) that both the board and the DSP model read."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise TimeScaleError(f"time_scale must be an integer >= 1, got {scale!r}")
    cfg = load_config(config or None)
    changes: dict[str, int] = {}
    for key in TIME_KEYS:
        v = getattr(cfg, key)
        changes[key] = v // scale
        if changes[key] < MIN_TIME_MS:
            raise TimeScaleError(
                f"time_scale {scale}: {key} {v} ms would become {changes[key]} ms, below its "
                f"minimum {MIN_TIME_MS} ms (docs/policy.md); the largest time_scale for this "
                f"configuration is {max_time_scale(config)}")
    return cfg.replace(**changes).to_dict()


def scaled_ticks_start(ticks_start: int, scale: int) -> int:
    """ticks_ms at scenario start such that the wrap (2**30) comes `scale` times sooner: a
    scenario that starts 300 s before the wrap starts 300/scale s before it."""
    return (TICKS_PERIOD - (TICKS_PERIOD - ticks_start) // scale) % TICKS_PERIOD


@dataclass(frozen=True)
class TimePlan:
    """A scenario as it runs on one board: in scenario milliseconds after scaling."""

    scale: int
    real_clock: bool  # paced on the host clock (no ADVANCE); times measured by the board
    events: list[Event]
    resets: tuple[tuple[int, str], ...]
    tail_ms: int
    config: dict[str, Any]  # what is in force on the board (vocabulary keys)
    send_config: bool  # CONFIG it before the first alert
    ticks_start: int | None  # ticks_ms at scenario start (emulated boards only)

    @property
    def as_written(self) -> bool:
        """The scenario's own times and config: a virtual board at scale 1."""
        return self.scale == 1 and not self.real_clock

    @property
    def power_on_ticks(self) -> int | None:
        """ticks_ms to power the board on at: on a real clock POWER_ON_LEAD_MS before the
        scenario's ticks_start, so start-up and setup do not eat into the wait for it."""
        if self.real_clock and self.ticks_start is not None:
            return (self.ticks_start - POWER_ON_LEAD_MS) % TICKS_PERIOD
        return self.ticks_start

    @property
    def span_ms(self) -> int:
        """Scenario time from start to the end of the tail."""
        last = max([self.events[-1][0] if self.events else 0]
                   + [t for t, _ in self.resets])
        return last + self.tail_ms

    @property
    def paced_s(self) -> float:
        """Wall time the schedule itself takes on a real clock (0 in virtual time): the
        scenario's time limit is this plus --scenario-timeout."""
        if not self.real_clock:
            return 0.0
        lead = POWER_ON_LEAD_MS if self.ticks_start is not None else 0
        return (self.span_ms + lead) / 1000


def plan_for(sc: Scenario, scale: int, real_clock: bool) -> TimePlan:
    """The scenario at `scale`. A virtual board at scale 1 runs it exactly as written
    (its config sent only if it has one); anything else runs the scaled configuration, always
    sent: a real board keeps an applied config in flash, so the defaults are sent too."""
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise TimeScaleError(f"time_scale must be an integer >= 1, got {scale!r}")
    events = sc.events()
    if scale == 1 and not real_clock:
        return TimePlan(1, False, events, tuple(sc.resets), sc.tail_ms, dict(sc.config),
                        bool(sc.config), sc.ticks_start)
    try:
        config = scaled_config(sc.config, scale)
    except TimeScaleError as e:
        raise TimeScaleError(f"scenario {sc.name}: {e}") from None
    return TimePlan(
        scale, real_clock,
        [(t // scale, code, src) for t, code, src in events],
        tuple((t // scale, kind) for t, kind in sc.resets),
        sc.tail_ms // scale, config, True,
        None if sc.ticks_start is None else scaled_ticks_start(sc.ticks_start, scale))


class BoardTimes:
    """Scenario times of the alerts a real-clock board handled, from the ticks it reported.

    The first alert is placed at its scheduled time; each later one at the previous time plus
    ticks_diff of their ticks (period 2**30), which equals ticks_diff(tick_i, tick_first) +
    first time while the scenario lasts under 2**29 ms, and keeps going past that. So
    (tick_start + t_i) mod 2**30 == tick_i, with tick_start the ticks at scenario t=0.

    Across a reboot of the board its ticks may have restarted (a hard reset on most ports)
    or not (a soft reset, the emulator): the gap is taken from the ticks when they agree with
    the host's clock, else from the host's clock (an estimate, good to a round trip)."""

    TOLERANCE_MS = 250  # plus 5 %: two round trips and host scheduling, far from a restart

    def __init__(self) -> None:
        self.tick_start: int | None = None
        self.wraps = 0  # ticks_ms wrapped (2**30) between two alerts
        self.restarts = 0  # the board's ticks restarted (gap taken from the host clock)
        self._last: tuple[int, int, float, int] | None = None  # (t_ms, ticks, host_s, boot)

    def alert(self, ticks: int, host_s: float, scheduled_ms: int, boot: int) -> int:
        """The scenario time of an alert the board handled at `ticks`, acknowledged at host
        time `host_s` (seconds) in boot epoch `boot` (ProtocolClient counts boots)."""
        if self._last is None:
            t = scheduled_ms
            self.tick_start = (ticks - scheduled_ms) % TICKS_PERIOD
        else:
            t0, k0, h0, b0 = self._last
            d = ticks_diff(ticks, k0)
            if boot != b0 or d < 0:
                host_ms = round((host_s - h0) * 1000)
                if abs(d - host_ms) > self.TOLERANCE_MS + host_ms // 20:
                    d = max(0, host_ms)
                    self.restarts += 1
            if ticks < k0 and d >= 0 and boot == b0:
                self.wraps += 1
            t = t0 + d
        self._last = (t, ticks, host_s, boot)
        return t

    def at(self, host_s: float, default_ms: int) -> int:
        """The board's scenario time at host time `host_s`, from the last alert (an estimate
        good to a round trip); `default_ms` before the first alert."""
        if self._last is None:
            return default_ms
        t0, _, h0, _ = self._last
        return t0 + max(0, round((host_s - h0) * 1000))
