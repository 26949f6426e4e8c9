"""Clocks an engine gives the firmware: `ticks_ms()` with MicroPython semantics (period 2**30,
compare with ticks_diff), and a wall clock in UTC seconds.

VirtualClock only moves when told (the harness's ADVANCE), so a run is deterministic and as
fast as the host can go; it can start anywhere on the ticks circle, e.g. just before the wrap,
to put every storm across it. RealClock follows the host's monotonic clock (real-time mode)."""

from __future__ import annotations

import time

from firmware_model.ticks import TICKS_MAX, TICKS_PERIOD

DEFAULT_WALL_S = 1767225600  # 2026-01-01T00:00:00Z, until the host sends CLOCK


class VirtualClock:
    virtual = True

    def __init__(self, ticks_start: int = 0, wall_s: int = DEFAULT_WALL_S) -> None:
        if not 0 <= ticks_start < TICKS_PERIOD:
            raise ValueError(f"ticks start {ticks_start} outside 0..2**30-1")
        self._start = ticks_start
        self.elapsed_ms = 0  # unbounded: the host's view of virtual time
        self._wall_base = wall_s
        self._wall_at = 0

    def ticks_ms(self) -> int:
        return (self._start + self.elapsed_ms) & TICKS_MAX

    def advance(self, ms: int) -> None:
        if ms < 0:
            raise ValueError("virtual time never goes backwards")
        self.elapsed_ms += ms

    def wall_s(self) -> int:
        return self._wall_base + (self.elapsed_ms - self._wall_at) // 1000

    def set_wall(self, unix_s: int) -> None:
        self._wall_base = unix_s
        self._wall_at = self.elapsed_ms


class RealClock(VirtualClock):
    """Real time: ticks follow time.monotonic(); ADVANCE is refused (virtual = False)."""

    virtual = False

    def __init__(self, ticks_start: int = 0, wall_s: int | None = None) -> None:
        super().__init__(ticks_start, int(time.time()) if wall_s is None else wall_s)
        self._t0 = time.monotonic()

    def _sync(self) -> None:
        self.elapsed_ms = int((time.monotonic() - self._t0) * 1000)

    def ticks_ms(self) -> int:
        self._sync()
        return super().ticks_ms()

    def wall_s(self) -> int:
        self._sync()
        return super().wall_s()

    def set_wall(self, unix_s: int) -> None:
        self._sync()
        super().set_wall(unix_s)

    def advance(self, ms: int) -> None:
        raise RuntimeError("a real-time clock cannot be advanced")
