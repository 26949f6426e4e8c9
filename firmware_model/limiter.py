# Device-side alert-storm limiter: docs/policy.md exactly, with the device-specific parts
# (slot table, overflow slot, summaries, snapshot) of docs/limiter.md.
#
# Runs unchanged on CPython 3.11 and MicroPython. Allocation-aware: all state lives in lists of
# small ints preallocated by __init__; offer() and poll() only read and write those lists, so the
# steady state allocates no heap (tests/test_limiter_mp.py measures it in MicroPython). Every
# counter saturates at SAT_MAX = 2**30 - 1, the largest small int on 32-bit ports, and every
# time is a ticks value compared with ticks_diff, so a run across the 2**30 wrap decides exactly
# like one that does not wrap -- provided poll() runs at least every 2**28 ms (3.1 days), which
# keeps every stored time within ticks_diff's unambiguous range.
#
# %-formatting, not f-strings: the micro:bit's MicroPython 1.9.2 has no f-strings.
# ruff: noqa: UP031

try:
    from firmware_model.ticks import ticks_add, ticks_diff
except ImportError:  # pragma: no cover  (flat layout: micro:bit; tests/test_limiter_mp.py)
    from ticks import ticks_add, ticks_diff
# [feature:snapshot]
try:
    from firmware_model.crc import crc16
except ImportError:  # pragma: no cover  (flat layout: micro:bit; tests/test_limiter_mp.py)
    from crc import crc16
# [/feature]
try:
    from micropython import const  # the compiler inlines const() names: no global lookup
except ImportError:

    # CPython. The stub's const is a positional-only TypeVar function; "/" would not parse on
    # MicroPython 1.9.2, so this variant's signature cannot match it exactly.
    def const(x):  # type: ignore[misc]
        return x

SUPPRESS = 0
FORWARD = 1
STARTED = 2  # or-ed into FORWARD: first forwarded alert of a new suppression episode
ONGOING = 1
CLOSED = 2
OVERFLOW_CODE = 0x0000
ONE_IN_N = 1
ONE_PER_PERIOD = 2
NORMAL = 0
AMBER = 1
RED = 2
# const() takes constant expressions only (no imported names), and only this module's const()
# names are inlined on the hot path, so these restate ticks.py: SAT_MAX is also the ticks mask
# (TICKS_MAX), _HALF is TICKS_HALF
SAT_MAX = const(0x3FFFFFFF)
_HALF = const(0x20000000)  # ticks_diff's range is [-_HALF, _HALF)
NEVER_THROTTLE_MAX = 16
_FREE = -1  # code of a free slot (real codes are 0..0xFFFF)

# Optional parts sit between "# [feature:<name>]" and "# [/feature]" lines: the derived build
# for small boards (emulator/flatbuild.py, docs/limiter.md "micro:bit") drops them, so the
# code it deploys is this code, minus whole features, never a second implementation.
# [feature:config]
_MODES = {"one_in_n": ONE_IN_N, "one_per_period": ONE_PER_PERIOD}

# vocabulary key -> (min, max); docs/policy.md "Configuration vocabulary"
_RANGES = {
    "device_window_ms": (1000, 86400000),
    "amber_threshold": (1, 65535),
    "red_threshold": (1, 65535),
    "code_window_ms": (1000, 86400000),
    "code_limit": (0, 65535),
    "throttle_mode": (ONE_IN_N, ONE_PER_PERIOD),
    "throttle_n": (1, 65535),
    "throttle_period_ms": (1000, 86400000),
    "summary_interval_ms": (1000, 86400000),
}
KEYS = (
    "device_window_ms", "amber_threshold", "red_threshold", "code_window_ms", "code_limit",
    "throttle_mode", "throttle_n", "throttle_period_ms", "never_throttle", "summary_interval_ms",
)
# [/feature]
# [feature:snapshot]
SNAPSHOT_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot that is torn, corrupt, of another version or of another table size."""


# [/feature]
# [feature:config]
def _int(key, v):
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and v[:2] in ("0x", "0X"):
            try:
                return int(v[2:], 16)
            except ValueError:
                pass
        raise ValueError("%s: not an integer: %r" % (key, v))
    return v


# [/feature]


class Config:
    """The vocabulary of docs/policy.md; attributes are named exactly as its keys."""

    def __init__(self):
        self.device_window_ms = 3600000
        self.amber_threshold = 50
        self.red_threshold = 100
        self.code_window_ms = 3600000
        self.code_limit = 10
        self.throttle_mode = ONE_IN_N
        self.throttle_n = 10
        self.throttle_period_ms = 3600000
        self.never_throttle = (0x8F3F, 0x8F1C, 0x8F1D, 0x8F35, 0x8F36, 0x8F74, 0x8F76)
        self.summary_interval_ms = 900000

    # [feature:config]
    @classmethod
    def from_dict(cls, d):
        cfg = cls()
        for key in d:
            if key not in KEYS:
                raise ValueError("%s: unknown key" % key)
            v = d[key]
            if key == "throttle_mode" and isinstance(v, str):
                if v not in _MODES:
                    raise ValueError("throttle_mode: must be one_in_n or one_per_period: %r" % v)
                v = _MODES[v]
            elif key == "never_throttle":
                if isinstance(v, (str, int)):
                    raise ValueError("never_throttle: must be a list of codes")
                v = tuple([_int(key, c) for c in v])
            else:
                v = _int(key, v)
            setattr(cfg, key, v)
        cfg.validate()
        return cfg

    def validate(self):
        for key in _RANGES:
            v = getattr(self, key)
            lo, hi = _RANGES[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
                raise ValueError("%s: %r outside %d..%d" % (key, v, lo, hi))
        if self.amber_threshold > self.red_threshold:
            raise ValueError("amber_threshold: %d above red_threshold %d"
                             % (self.amber_threshold, self.red_threshold))
        nt = self.never_throttle
        if not isinstance(nt, tuple) or len(nt) > NEVER_THROTTLE_MAX:
            raise ValueError("never_throttle: must be a tuple of at most %d codes" % NEVER_THROTTLE_MAX)
        for c in nt:
            if isinstance(c, bool) or not isinstance(c, int) or c < 0 or c > 0xFFFF:
                raise ValueError("never_throttle: code %r outside 0x0000..0xFFFF" % (c,))

    def to_dict(self):
        d = {}
        for key in KEYS:
            d[key] = getattr(self, key)
        d["never_throttle"] = list(self.never_throttle)
        return d

    def __eq__(self, other):
        return isinstance(other, Config) and self.to_dict() == other.to_dict()
    # [/feature]


class Limiter:
    """One device's limiter: offer() decides, poll() advances time, pop_summary() drains reports.

    Slot i < slots holds one alert code; slot `slots` is the overflow slot, shared by every code
    that finds no free slot and reported as OVERFLOW_CODE. Per slot: a code window (c_*), a
    suppression episode (e_*), and at most one unpopped report (r_*), which is the bounded
    summary queue: a report due while the slot's previous one is unpopped is merged into it.
    """

    def __init__(self, cfg=None, slots=16):
        if slots < 1 or slots > 255:
            raise ValueError("slots: %r outside 1..255" % (slots,))
        self.slots = slots
        n = slots + 1
        self._code = [_FREE] * slots
        self._c_open = [0] * n
        self._c_start = [0] * n
        self._c_count = [0] * n
        self._c_prev = [0] * n
        self._e_open = [0] * n
        self._e_aux = [0] * n  # one_in_n: alerts still to skip; one_per_period: last forward time
        self._e_total = [0] * n
        self._e_unrep = [0] * n  # suppressed since the episode's previous report
        self._e_first = [0] * n  # first suppressed time not yet reported
        self._e_last = [0] * n  # last suppressed time of the episode
        self._e_sum = [0] * n  # time of the episode's previous report (or its start)
        self._r_kind = [0] * n
        self._r_count = [0] * n
        self._r_total = [0] * n
        self._r_first = [0] * n
        self._r_last = [0] * n
        self._r_seq = [0] * n
        self._nt = ()
        # stats: offered, forwarded, suppressed, amber events, red events, overflow uses,
        # episodes, summaries merged
        self._st = [0] * 8
        self._now = 0  # time of the offer in progress (for _slot_for)
        # Healthy fast path: alerts the current device window can still take that can only be
        # FORWARD with no event (granted by the last healthy offer), and how many were granted.
        # Alerts taken through it are counted in bulk by _sync() before anything reads counts.
        self._fast = 0
        self._fast_n = 0
        self.configure(cfg if cfg is not None else Config())
        self._reset_state()

    def configure(self, cfg):
        """Apply a validated Config; counters and episodes carry on under the new values."""
        # [feature:config]
        cfg.validate()
        # [/feature]
        self._sync()  # the fast-path grant was for the old thresholds
        old_mode = getattr(self, "_mode", cfg.throttle_mode)
        self.cfg = cfg
        self._dw = cfg.device_window_ms
        self._amber = cfg.amber_threshold
        self._red = cfg.red_threshold
        self._cw = cfg.code_window_ms
        self._limit = cfg.code_limit
        self._mode = cfg.throttle_mode
        self._n = cfg.throttle_n
        self._period = cfg.throttle_period_ms
        self._si = cfg.summary_interval_ms
        self._rescan = True  # window lengths may have changed
        self._nt = cfg.never_throttle  # a validated tuple: `in` scans only the real codes
        if old_mode != self._mode:
            # an episode's skip counter means nothing in the other mode: forward the next one
            for i in range(self.slots + 1):
                self._e_aux[i] = 0
                if self._e_open[i] and self._mode == ONE_PER_PERIOD:
                    self._e_aux[i] = ticks_add(self._e_sum[i], -self._period)

    def _reset_state(self):
        self._fast = 0
        self._fast_n = 0
        self._d_open = 0
        self._d_start = 0
        self._d_count = 0
        self._d_prev = 0
        self._live = False  # any code window/episode open since the last clear
        self._rescan = True  # a slot may have freed since the table was last found full
        self._full_until = 0
        self._pending = 0
        self._seq = 0
        for i in range(self.slots + 1):
            self._clear_slot(i)
            self._r_kind[i] = 0
        for i in range(self.slots):
            self._code[i] = _FREE
        for j in range(8):
            self._st[j] = 0

    def _sync(self):
        # Count the alerts the healthy fast path took (each: offered, forwarded, device count
        # +1, and the amber event if the count passed amber_threshold) and withdraw the grant.
        k = self._fast_n - self._fast
        self._fast = 0
        self._fast_n = 0
        if k:
            self._took(k)

    def _took(self, k):
        st = self._st
        st[0] += k
        st[1] += k
        c = self._d_count
        self._d_count = c + k
        if c < self._amber <= c + k and st[3] < SAT_MAX:
            st[3] += 1

    # -- windows (docs/policy.md "Windows") --------------------------------------------------

    def _dev_advance(self, t):
        if self._d_open:
            d = ticks_diff(t, self._d_start)
            w = self._dw
            if d >= w:
                if d < w + w and self._d_count > 0:
                    self._d_prev = self._d_count
                    self._d_count = 0
                    self._d_start = ticks_add(self._d_start, w)
                else:
                    self._d_open = 0
                    self._d_prev = 0
                    self._d_count = 0

    def _c_advance(self, i, t):
        if self._c_open[i]:
            d = ticks_diff(t, self._c_start[i])
            w = self._cw
            if d >= w:
                if d < w + w and self._c_count[i] > 0:
                    self._c_prev[i] = self._c_count[i]
                    self._c_count[i] = 0
                    self._c_start[i] = ticks_add(self._c_start[i], w)
                else:
                    self._c_open[i] = 0
                    self._c_prev[i] = 0
                    self._c_count[i] = 0

    def _touch(self, i, t):
        # Bring slot i to time t: its episode ends once the code window says not overloaded.
        self._c_advance(i, t)
        if self._e_open[i]:
            lim = self._limit
            if self._c_count[i] <= lim and self._c_prev[i] <= lim:
                self._end_episode(i, t)

    # -- reports (the summary queue) ---------------------------------------------------------

    def _new_report(self, i, kind, count, first):
        self._r_kind[i] = kind
        self._r_count[i] = count
        self._r_total[i] = self._e_total[i]
        self._r_first[i] = first
        self._r_last[i] = self._e_last[i]
        self._r_seq[i] = self._seq
        self._seq = (self._seq + 1) & SAT_MAX
        self._pending += 1

    def _merged(self):
        if self._st[7] < SAT_MAX:
            self._st[7] += 1

    def _add(self, a, b):
        # a + b could leave the small-int range (heap on MicroPython): compare first
        return a + b if a <= SAT_MAX - b else SAT_MAX

    def _ongoing_due(self, i, t):
        if self._e_unrep[i] and ticks_diff(t, self._e_sum[i]) >= self._si:
            kind = self._r_kind[i]
            if kind == CLOSED:
                return  # the previous episode's CLOSED is unpopped: report this one later
            if kind == 0:
                self._new_report(i, ONGOING, self._e_unrep[i], self._e_first[i])
            else:
                self._r_count[i] = self._add(self._r_count[i], self._e_unrep[i])
                self._r_total[i] = self._e_total[i]
                self._r_last[i] = self._e_last[i]
                self._merged()
            self._e_unrep[i] = 0
            self._e_sum[i] = t

    def _end_episode(self, i, t):
        self._e_open[i] = 0
        total = self._e_total[i]
        if total:
            unrep = self._e_unrep[i]
            kind = self._r_kind[i]
            if kind == 0:
                self._new_report(i, CLOSED, unrep, self._e_first[i] if unrep else self._e_last[i])
            else:
                self._r_count[i] = self._add(self._r_count[i], unrep)
                if kind == CLOSED:  # an earlier episode of this slot: totals add up
                    total = self._add(self._r_total[i], total)
                self._r_kind[i] = CLOSED
                self._r_total[i] = total
                self._r_last[i] = self._e_last[i]
                self._merged()
        self._e_total[i] = 0
        self._e_unrep[i] = 0

    def _clear_slot(self, i):
        self._c_open[i] = 0
        self._c_count[i] = 0
        self._c_prev[i] = 0
        self._e_open[i] = 0
        self._e_total[i] = 0
        self._e_unrep[i] = 0

    def _free_if_idle(self, i):
        if i < self.slots and not (self._c_open[i] or self._e_open[i] or self._r_kind[i]):
            if self._code[i] != _FREE:
                self._code[i] = _FREE
                self._rescan = True

    def _clear_codes(self, t):
        # The device is not red: every episode ends and all code state goes (policy step 1).
        for i in range(self.slots + 1):
            if self._e_open[i]:
                self._end_episode(i, t)
            self._clear_slot(i)
            self._free_if_idle(i)
        self._live = False

    def _slot_for(self, code):
        # code is not in the table (offer() looked)
        codes = self._code
        if _FREE in codes:
            i = codes.index(_FREE)
            codes[i] = code
            return i
        t = self._now
        if self._rescan or (t - self._full_until) & SAT_MAX < _HALF:  # ticks_diff(..) >= 0
            # The table looks full: free the slots whose code has gone quiet, then look again.
            # If none frees, no slot can before the earliest of their windows could close
            # (hits only postpone that) or a report is popped: skip rescans until then.
            soon = self._cw + self._cw  # (at most: keeps _full_until within ticks range)
            for i in range(self.slots):
                self._touch(i, t)
                self._free_if_idle(i)
                if self._c_open[i]:
                    left = (self._cw if self._c_count[i] == 0 else self._cw + self._cw) \
                        - ticks_diff(t, self._c_start[i])
                    if left < soon:
                        soon = left
            self._full_until = ticks_add(t, soon if soon > 0 else 0)
            self._rescan = False
            if _FREE in codes:
                i = codes.index(_FREE)
                codes[i] = code
                return i
        st = self._st
        st[5] += st[5] < SAT_MAX
        return self.slots

    # -- the API -----------------------------------------------------------------------------

    def offer(self, code, now_ms):
        """Decide one alert: SUPPRESS, FORWARD or FORWARD | STARTED (docs/policy.md)."""
        # The hot path: ticks_diff and the window advance are inlined (a MicroPython call costs
        # more than the arithmetic); the rare transitions go through the helper methods.
        t = now_ms
        f = self._fast
        if f and 0 <= code <= 0xFFFF and (t - self._d_start) & SAT_MAX < self._dw:
            # Healthy and inside the device window (dw < _HALF, so no wrap and no advance), and
            # the grant guarantees no amber/red event, no saturation, no code state: FORWARD.
            self._fast = f - 1
            return FORWARD
        if code < 0 or code > 0xFFFF:  # also keeps a code from matching the free marker
            raise ValueError("code: %r outside 0x0000..0xFFFF" % (code,))
        st = self._st
        k = self._fast_n
        if k:  # _sync() inlined (one call fewer on the slow path)
            self._fast = 0
            self._fast_n = 0
            if k > f:
                self._took(k - f)
        if st[0] < SAT_MAX:
            st[0] += 1
        # step 1: the device counter
        if self._d_open:
            ds = self._d_start
            d = (t - ds) & SAT_MAX
            w = self._dw
            if w <= d < _HALF:  # a window or more has passed: _dev_advance inlined
                if d < w + w and self._d_count > 0:
                    self._d_prev = self._d_count
                    self._d_count = 0
                    ds = ds - SAT_MAX + w - 1  # ticks_add(ds, w) within small ints
                    if ds < 0:
                        ds = ds + SAT_MAX + 1
                    self._d_start = ds
                else:
                    self._d_open = 0
                    self._d_prev = 0
                    self._d_count = 0
        if not self._d_open:
            self._d_open = 1
            self._d_start = t
        c = self._d_count
        if c < SAT_MAX:
            c += 1
            self._d_count = c
            if c == self._amber and st[3] < SAT_MAX:
                st[3] += 1
            if c == self._red and st[4] < SAT_MAX:
                st[4] += 1
        red = self._red
        if c < red and self._d_prev < red:
            if self._live:
                self._clear_codes(t)
            st[1] += st[1] < SAT_MAX  # saturating increment without a branch
            # Grant the fast path the next alerts of this window whose count stays below red
            # (no red event; an amber event is counted by _took), unless a stat could saturate
            # (offered >= forwarded; near saturation the slow path does it all).
            b = red - 1 - c
            if 0 < b < SAT_MAX - st[0]:
                self._fast = b
                self._fast_n = b
            return FORWARD  # step 3: a healthy device is never filtered
        if code in self._nt:
            st[1] += st[1] < SAT_MAX
            return FORWARD  # step 2
        # step 4: red; count the code in its slot
        codes = self._code
        if code in codes:
            i = codes.index(code)
        else:
            self._now = t
            i = self._slot_for(code)
        c_open = self._c_open
        if c_open[i]:
            d = (t - self._c_start[i]) & SAT_MAX
            if d >= _HALF or d >= self._cw:
                self._touch(i, t)
        else:
            self._touch(i, t)  # an idle overflow slot or a fresh slot: nothing to advance
        self._live = True
        if not c_open[i]:
            c_open[i] = 1
            self._c_start[i] = t
        c_count = self._c_count
        cc = c_count[i]
        if cc < SAT_MAX:
            cc += 1
            c_count[i] = cc
        lim = self._limit
        if cc <= lim and self._c_prev[i] <= lim:
            st[1] += st[1] < SAT_MAX
            return FORWARD
        # step 5: overloaded
        e_aux = self._e_aux
        if not self._e_open[i]:
            self._e_open[i] = 1
            self._e_total[i] = 0
            self._e_unrep[i] = 0
            self._e_sum[i] = t
            e_aux[i] = self._n - 1 if self._mode == ONE_IN_N else t
            if st[6] < SAT_MAX:
                st[6] += 1
            return self._fwd(FORWARD | STARTED)
        # step 6 (ticks_diff inlined: d < _HALF is a non-negative difference)
        if self._mode == ONE_IN_N:
            a = e_aux[i]
            if a == 0:
                e_aux[i] = self._n - 1
                st[1] += st[1] < SAT_MAX
                r = FORWARD
            else:
                e_aux[i] = a - 1
                r = SUPPRESS
        else:
            d = (t - e_aux[i]) & SAT_MAX
            if d < _HALF and d >= self._period:
                e_aux[i] = t
                st[1] += st[1] < SAT_MAX
                r = FORWARD
            else:
                r = SUPPRESS
        e_unrep = self._e_unrep
        u = e_unrep[i]
        if r == SUPPRESS:
            st[2] += st[2] < SAT_MAX
            e_total = self._e_total
            e_total[i] += e_total[i] < SAT_MAX
            if u == 0:
                self._e_first[i] = t
            if u < SAT_MAX:
                u += 1
                e_unrep[i] = u
            self._e_last[i] = t
        if u:
            d = (t - self._e_sum[i]) & SAT_MAX
            if d < _HALF and d >= self._si:
                self._ongoing_due(i, t)
        return r

    def _fwd(self, r):
        if self._st[1] < SAT_MAX:
            self._st[1] += 1
        return r

    def poll(self, now_ms):
        """Advance time-based state to now_ms; return the number of pending summaries.

        Never changes a later decision (advance is idempotent); call at least every 2**28 ms.
        """
        t = now_ms
        self._sync()
        self._dev_advance(t)
        self._rescan = True  # poll frees what it can; the next full-table offer looks again
        red = self._red
        if self._live and red > 1 and self._d_count + 1 < red and self._d_prev < red:
            # even the next alert cannot make the device red: the red spell has ended
            self._clear_codes(t)
        si = self._si
        for i in range(self.slots + 1):
            if i < self.slots and self._code[i] == _FREE:
                continue
            self._touch(i, t)
            if self._e_open[i]:
                self._ongoing_due(i, t)
                # keep stored times within ticks_diff range without changing what is due
                if ticks_diff(t, self._e_sum[i]) > si:
                    self._e_sum[i] = ticks_add(t, -si)
                if self._mode == ONE_PER_PERIOD and ticks_diff(t, self._e_aux[i]) > self._period:
                    self._e_aux[i] = ticks_add(t, -self._period)
            self._free_if_idle(i)
        return self._pending

    def pending(self):
        return self._pending

    def pop_summary(self):
        """Oldest pending report as (kind, code, count, total, first_ms, last_ms), or None."""
        if not self._pending:
            return None
        best = -1
        age = -1
        for i in range(self.slots + 1):
            if self._r_kind[i]:
                a = (self._seq - self._r_seq[i]) & SAT_MAX
                if a > age:
                    age = a
                    best = i
        i = best
        rec = (self._r_kind[i], self._code[i] if i < self.slots else OVERFLOW_CODE,
               self._r_count[i], self._r_total[i], self._r_first[i], self._r_last[i])
        self._r_kind[i] = 0
        self._pending -= 1
        self._free_if_idle(i)
        return rec

    def clear(self):
        """Forget every window, episode, pending summary and counter, as a new installation
        would start; the config stays. (A test rig's known starting state, not a policy act:
        alerts suppressed and not yet reported are dropped with the rest.)"""
        self._reset_state()

    def level(self, now_ms):
        """0 normal, 1 amber, 2 red at now_ms (advances the device window, which is harmless)."""
        self._sync()
        self._dev_advance(now_ms)
        c = self._d_count
        p = self._d_prev
        if c >= self._red or p >= self._red:
            return RED
        if c >= self._amber or p >= self._amber:
            return AMBER
        return NORMAL

    def stats(self):
        self._sync()
        st = self._st
        return {
            "offered": st[0], "forwarded": st[1], "suppressed": st[2], "amber_events": st[3],
            "red_events": st[4], "overflow_uses": st[5], "episodes": st[6],
            "summaries_merged": st[7], "pending_summaries": self._pending,
        }

    # [feature:snapshot]
    # -- snapshot (docs/limiter.md "Persistence") ---------------------------------------------
    # Layout, little-endian: "AS" version:u8 slots:u8 mode:u8 used:u8 pending:u8 pad:u8
    # seq:u32 device(open:u8 start_age count prev) stats(8 x u32), then per used slot
    # index:u8 code+1:u32 flags:u8 (bit0 c_open, bit1 e_open, bits2-3 r_kind) and 16 x u32
    # (ages = ticks_diff(now, t) for times), then CRC-16/CCITT-FALSE (crc.py) of all before it,
    # big-endian.

    def _slot_used(self, i):
        if i < self.slots:
            return self._code[i] != _FREE
        return self._c_open[i] or self._e_open[i] or self._r_kind[i]

    def snapshot(self, now_ms):
        self._sync()
        t = now_ms
        used = 0
        for i in range(self.slots + 1):
            if self._slot_used(i):
                used += 1
        b = bytearray(b"AS")
        b.append(SNAPSHOT_VERSION)
        b.append(self.slots)
        b.append(self._mode)
        b.append(used)
        b.append(0)
        b.append(0)
        _u32(b, self._seq)
        _u32(b, self._pending)
        b.append(self._d_open)
        _u32(b, _age(t, self._d_start))
        _u32(b, self._d_count)
        _u32(b, self._d_prev)
        for v in self._st:
            _u32(b, v)
        for i in range(self.slots + 1):
            if not self._slot_used(i):
                continue
            b.append(i)
            _u32(b, self._code[i] + 1 if i < self.slots else 0)
            b.append(self._c_open[i] | (self._e_open[i] << 1) | (self._r_kind[i] << 2))
            aux = self._e_aux[i]
            if self._mode == ONE_PER_PERIOD:
                aux = _age(t, aux)
            for v in (_age(t, self._c_start[i]), self._c_count[i], self._c_prev[i], aux,
                      self._e_total[i], self._e_unrep[i], _age(t, self._e_first[i]),
                      _age(t, self._e_last[i]), _age(t, self._e_sum[i]), self._r_count[i],
                      self._r_total[i], _age(t, self._r_first[i]), _age(t, self._r_last[i]),
                      self._r_seq[i]):
                _u32(b, v)
        crc = crc16(b)
        b.append(crc >> 8)
        b.append(crc & 0xFF)
        return bytes(b)

    def restore(self, blob, now_ms):
        """Load a snapshot; on any defect raise SnapshotError and leave the limiter clean."""
        if len(blob) < 2 or crc16(blob, len(blob) - 2) != (blob[-2] << 8 | blob[-1]):
            self._reset_state()
            raise SnapshotError("snapshot: bad CRC or torn (%d bytes)" % len(blob))
        if blob[0:2] != b"AS" or blob[2] != SNAPSHOT_VERSION:
            self._reset_state()
            raise SnapshotError("snapshot: not a version %d snapshot" % SNAPSHOT_VERSION)
        used = blob[5]
        if blob[3] != self.slots or len(blob) != 61 + used * 62 + 2:
            self._reset_state()
            raise SnapshotError("snapshot: for %d slots, %d bytes; this limiter has %d slots"
                                % (blob[3], len(blob), self.slots))
        t = now_ms
        self._reset_state()
        try:
            same_mode = blob[4] == self._mode
            self._seq = _r32(blob, 8)
            self._pending = _r32(blob, 12)
            self._d_open = blob[16]
            self._d_start = ticks_add(t, -_r32(blob, 17))
            self._d_count = _r32(blob, 21)
            self._d_prev = _r32(blob, 25)
            for j in range(8):
                self._st[j] = _r32(blob, 29 + 4 * j)
            p = 61
            pending = 0
            for _ in range(used):
                i = blob[p]
                if i > self.slots:
                    raise SnapshotError("snapshot: slot %d out of range" % i)
                if i < self.slots:
                    code = _r32(blob, p + 1) - 1
                    if code < 0 or code > 0xFFFF:
                        raise SnapshotError("snapshot: slot %d code out of range" % i)
                    self._code[i] = code
                fl = blob[p + 5]
                self._c_open[i] = fl & 1
                self._e_open[i] = (fl >> 1) & 1
                self._r_kind[i] = (fl >> 2) & 3
                if self._r_kind[i]:
                    pending += 1
                q = p + 6
                self._c_start[i] = ticks_add(t, -_r32(blob, q))
                self._c_count[i] = _r32(blob, q + 4)
                self._c_prev[i] = _r32(blob, q + 8)
                aux = _r32(blob, q + 12)
                if self._mode == ONE_PER_PERIOD:
                    aux = ticks_add(t, -aux) if same_mode else ticks_add(t, -self._period)
                elif not same_mode:
                    aux = 0
                self._e_aux[i] = aux
                self._e_total[i] = _r32(blob, q + 16)
                self._e_unrep[i] = _r32(blob, q + 20)
                self._e_first[i] = ticks_add(t, -_r32(blob, q + 24))
                self._e_last[i] = ticks_add(t, -_r32(blob, q + 28))
                self._e_sum[i] = ticks_add(t, -_r32(blob, q + 32))
                self._r_count[i] = _r32(blob, q + 36)
                self._r_total[i] = _r32(blob, q + 40)
                self._r_first[i] = ticks_add(t, -_r32(blob, q + 44))
                self._r_last[i] = ticks_add(t, -_r32(blob, q + 48))
                self._r_seq[i] = _r32(blob, q + 52)
                if self._c_open[i] or self._e_open[i]:
                    self._live = True
                p += 62
            if pending != self._pending:
                raise SnapshotError("snapshot: pending count %d, %d reports" % (self._pending, pending))
        except (SnapshotError, OverflowError, IndexError) as e:
            self._reset_state()
            raise SnapshotError(str(e)) from None


def _age(now, t):
    # How long ago t was; stored times are never in the future, and poll() keeps them younger
    # than 2**29 ms.
    a = ticks_diff(now, t)
    return a if a > 0 else 0


def _u32(b, v):
    b.append(v & 0xFF)
    b.append((v >> 8) & 0xFF)
    b.append((v >> 16) & 0xFF)
    b.append((v >> 24) & 0xFF)


def _r32(b, p):
    v = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)
    if v > SAT_MAX:
        raise SnapshotError("snapshot: value %d at %d above 2**30-1" % (v, p))
    return v
# [/feature]
