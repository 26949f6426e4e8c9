# Ticks arithmetic with MicroPython's semantics: period 2**30, ticks_add/ticks_diff as in
# time.ticks_add/time.ticks_diff. Pure small-int operations, so every port (and C, with uint32_t
# and the same mask) gets identical results. Every intermediate stays inside MicroPython's
# small-int range (-2**30 .. 2**30-1 on 32-bit ports), so no call allocates heap.

TICKS_MAX = 0x3FFFFFFF  # 2**30 - 1; also the mask
TICKS_HALF = 0x20000000  # 2**29: ticks_diff results lie in [-TICKS_HALF, TICKS_HALF)
TICKS_PERIOD = TICKS_MAX + 1  # 2**30, for host code; the firmware itself only masks


def ticks_add(ticks, delta):
    # delta must lie in [-2**29, 2**29), as MicroPython enforces.
    if delta < -TICKS_HALF or delta >= TICKS_HALF:
        raise OverflowError("ticks interval overflow")
    if delta >= 0:
        # ticks + delta could exceed the small-int range; fold first.
        r = (ticks - TICKS_MAX) + (delta - 1)
        if r < 0:
            r = (r + TICKS_MAX) + 1
        return r
    r = ticks + delta
    if r < 0:
        r = (r + TICKS_MAX) + 1
    return r


def ticks_diff(end, start):
    # Signed distance end - start, valid while the true distance is below 2**29.
    r = (end - start) & TICKS_MAX
    if r >= TICKS_HALF:
        r = (r - TICKS_MAX) - 1
    return r


try:
    from time import ticks_ms  # MicroPython
except ImportError:  # CPython: a monotonic shim with the same period
    import time as _time

    # CPython only; mypy reads MicroPython's stubs, which lack time.monotonic.
    def ticks_ms():  # type: ignore[misc]
        return int(_time.monotonic() * 1000) & TICKS_MAX  # type: ignore[attr-defined]
