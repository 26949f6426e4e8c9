"""The DSP-side SECMP0062 alert-storm filter, modelled (docs/dsp-model.md).

An independent implementation of docs/policy.md as the central system applies it: it must
not import anything from `firmware_model` (the device limiter is the other implementation,
and `hil compare` checks that the two agree).

- Clock: the DSP's own receipt clock (absolute integer ms, no wrap). Alerts are processed in
  arrival order; an alert whose arrival time is earlier than the DSP clock (only possible for
  an unsorted input file) is processed at the DSP clock and counted in `clamped`.
- State is keyed by device and held only for active devices: a device whose device window
  grid has closed (no alert for two device windows) is evicted by a sweep that runs once per
  device window of DSP time, after its records are closed.
- Per forwarded alert: `throttled_count` (ThrottledAlertCount: alerts of that code discarded
  since the previous forwarded alert of that code in the same episode) and `sequence_id`
  (ThrottledAlertSequenceId: the receipt time in ms of the alert that started the episode;
  0 when the alert is not in an episode). Both are attributes valid until the next offer(),
  so the hot path allocates nothing per alert.

Hot path: `offer()` is one method with the window arithmetic inlined; per-alert work is a
dict lookup for the device and (only while the device is red) one for the code.
"""

from __future__ import annotations

from hil.model.incidents import EventSink
from hil.model.policy import ONE_IN_N, PolicyConfig

SUPPRESS = 0
FORWARD = 1
STARTED = 2  # FORWARD | STARTED == 3: the first forwarded alert of a new episode
SAT_MAX = (1 << 30) - 1

NORMAL, AMBER, RED = 0, 1, 2


class _Code:
    """Per-code window counter and throttling episode of a red device."""

    __slots__ = ("open", "start", "count", "prev", "ep", "seq", "skip", "last_fwd",
                 "pending", "total")

    def __init__(self) -> None:
        self.open = False
        self.start = 0
        self.count = 0
        self.prev = 0
        self.ep = False       # an episode is open
        self.seq = 0          # ThrottledAlertSequenceId of the open episode
        self.skip = 0         # one_in_n: alerts still to discard before the next forward
        self.last_fwd = 0     # one_per_period: time of the last forwarded alert
        self.pending = 0      # discarded since the previous forwarded alert (ThrottledAlertCount)
        self.total = 0        # discarded in the episode


class _Device:
    """Device window counter; per-code state exists only while the device is red."""

    __slots__ = ("open", "start", "count", "prev", "codes", "incident")

    def __init__(self) -> None:
        self.open = False
        self.start = 0
        self.count = 0
        self.prev = 0
        self.codes: dict[int, _Code] | None = None
        self.incident = -1    # opened_ms of the open red threshold anomaly incident, or -1


class DspFilter:
    """The DSP's filter for any number of devices.

    `offer(device, code, arrival_ms)` -> SUPPRESS, FORWARD or FORWARD | STARTED.
    """

    __slots__ = ("cfg", "_dw", "_amber", "_red", "_cw", "_limit", "_mode", "_n", "_period",
                 "_never", "_sink", "_devices", "_now", "_next_sweep",
                 "throttled_count", "sequence_id",
                 "offered", "forwarded", "suppressed", "amber_events", "red_events",
                 "incidents", "episodes", "clamped", "evicted", "peak_devices")

    def __init__(self, cfg: PolicyConfig | None = None, sink: EventSink | None = None) -> None:
        cfg = cfg or PolicyConfig()
        self.cfg = cfg
        self._dw = cfg.device_window_ms
        self._amber = cfg.amber_threshold
        self._red = cfg.red_threshold
        self._cw = cfg.code_window_ms
        self._limit = cfg.code_limit
        self._mode = cfg.throttle_mode
        self._n = cfg.throttle_n
        self._period = cfg.throttle_period_ms
        self._never = frozenset(cfg.never_throttle)
        self._sink = sink if sink is not None else EventSink()
        self._devices: dict[str, _Device] = {}
        self._now: int | None = None
        self._next_sweep = 0
        self.throttled_count = 0
        self.sequence_id = 0
        self.offered = self.forwarded = self.suppressed = 0
        self.amber_events = self.red_events = self.incidents = self.episodes = 0
        self.clamped = self.evicted = self.peak_devices = 0

    # -- hot path -------------------------------------------------------------------------

    def offer(self, device: str, code: int, t: int) -> int:
        now = self._now
        if now is None:
            self._now = t
            self._next_sweep = t + self._dw
        elif t < now:
            t = now            # the receipt clock never goes backwards
            self.clamped += 1
        elif t != now:
            self._now = t
            if t >= self._next_sweep:
                self._sweep(t)
        self.offered += 1
        d = self._devices.get(device)
        if d is None:
            d = self._devices[device] = _Device()
            if len(self._devices) > self.peak_devices:
                self.peak_devices = len(self._devices)
        W = self._dw
        R = self._red
        start0 = d.start
        count0 = d.count
        if d.open:
            e = t - start0
            if e >= W:
                if e < W + W and count0:
                    d.prev = count0
                    d.start = start0 + W
                else:
                    d.open = False
                    d.prev = 0
                d.count = 0
        if not d.open:
            d.open = True
            d.start = t
        c = d.count + 1
        if c > SAT_MAX:
            c = SAT_MAX
        d.count = c
        if c == self._amber:
            self.amber_events += 1
            self._sink.amber(device, t, d.start, c)
        if c == R:
            self.red_events += 1
            if d.incident < 0:
                d.incident = t
                self.incidents += 1
                self._sink.incident_opened(device, t, d.start)
            else:
                self._sink.incident_crossed(device, d.incident, t)
        self.throttled_count = 0
        self.sequence_id = 0
        if c < R and d.prev < R:
            if d.codes is not None or d.incident >= 0:
                # red cleared at the boundary the previous grid state implies
                self._calm(device, d, start0 + (W + W if count0 >= R else W))
            self.forwarded += 1
            return FORWARD
        if code in self._never:
            self.forwarded += 1
            return FORWARD
        codes = d.codes
        if codes is None:
            codes = d.codes = {}
        cs = codes.get(code)
        if cs is None:
            cs = codes[code] = _Code()
        L = self._limit
        if cs.open:
            s0 = cs.start
            e = t - s0
            if e >= self._cw:
                CW = self._cw
                c0 = cs.count
                if e < CW + CW and c0:
                    cs.prev = c0
                    cs.start = s0 + CW
                else:
                    cs.open = False
                    cs.prev = 0
                cs.count = 0
                if cs.ep and cs.prev <= L:
                    self._close_episode(device, code, cs, s0 + (CW + CW if c0 > L else CW))
        if not cs.open:
            cs.open = True
            cs.start = t
        n = cs.count + 1
        if n > SAT_MAX:
            n = SAT_MAX
        cs.count = n
        if n <= L and cs.prev <= L:
            self.forwarded += 1
            return FORWARD
        if not cs.ep:
            cs.ep = True
            cs.seq = t
            cs.skip = self._n - 1
            cs.last_fwd = t
            cs.pending = 0
            cs.total = 0
            self.episodes += 1
            self.sequence_id = t
            self.forwarded += 1
            self._sink.throttled(device, code, t, t, "forwarded", 0, 0)
            return FORWARD | STARTED
        if self._mode == ONE_IN_N:
            if cs.skip:
                cs.skip -= 1
                fwd = False
            else:
                cs.skip = self._n - 1
                fwd = True
        elif t - cs.last_fwd >= self._period:
            cs.last_fwd = t
            fwd = True
        else:
            fwd = False
        if fwd:
            tc = cs.pending
            cs.pending = 0
            self.throttled_count = tc
            self.sequence_id = cs.seq
            self.forwarded += 1
            self._sink.throttled(device, code, cs.seq, t, "forwarded", tc, cs.total)
            return FORWARD
        if cs.pending < SAT_MAX:
            cs.pending += 1
        if cs.total < SAT_MAX:
            cs.total += 1
        self.suppressed += 1
        return SUPPRESS

    # -- episode and incident ends --------------------------------------------------------

    def _close_episode(self, device: str, code: int, cs: _Code, end_ms: int) -> None:
        cs.ep = False
        self._sink.throttled(device, code, cs.seq, end_ms, "episode_closed", cs.pending, cs.total)
        cs.pending = 0

    def _calm(self, device: str, d: _Device, end_ms: int) -> None:
        """The device stopped being red at end_ms: close every episode, drop code state,
        resolve the incident."""
        if d.codes:
            CW = self._cw
            L = self._limit
            for code, cs in d.codes.items():
                if cs.ep:
                    # the code's own grid may have ended the episode earlier
                    own = cs.start + (CW + CW if cs.count > L else CW)
                    self._close_episode(device, code, cs, own if own < end_ms else end_ms)
        d.codes = None
        if d.incident >= 0:
            self._sink.incident_resolved(device, d.incident, end_ms)
            d.incident = -1

    def _red_end(self, d: _Device) -> int:
        """When red clears if no further alert arrives (device grid state as of its last hit)."""
        return d.start + (self._dw * 2 if d.count >= self._red else self._dw)

    def _sweep(self, now: int) -> None:
        """Evict devices whose device grid has closed (no alert for two windows)."""
        W2 = self._dw * 2
        CW2 = self._cw * 2
        # With red_threshold 1 the next alert makes the device red again at once, and code
        # state is only cleared by an alert that finds the device not red (policy step 1):
        # such a device may go only once its code windows have closed too.
        sticky = self._red == 1
        idle = [dev for dev, d in self._devices.items() if now - d.start >= W2 and not (
            sticky and d.codes and any(now - cs.start < CW2 for cs in d.codes.values()))]
        for dev in idle:
            d = self._devices.pop(dev)
            if d.codes is not None or d.incident >= 0:
                self._calm(dev, d, self._red_end(d))
        self.evicted += len(idle)
        self._next_sweep = now + self._dw

    # -- inspection and end of run ---------------------------------------------------------

    def finish(self) -> None:
        """End of the stream: every open episode and incident is closed at the time its
        windows would close with no further alert; all device state is dropped."""
        for dev, d in self._devices.items():
            if d.codes is not None or d.incident >= 0:
                self._calm(dev, d, self._red_end(d))
        self._devices.clear()
        self._sink.flush()

    def level(self, device: str) -> int:
        """NORMAL, AMBER or RED as of the device's last alert (no time advance)."""
        d = self._devices.get(device)
        if d is None:
            return NORMAL
        if d.count >= self._red or d.prev >= self._red:
            return RED
        if d.count >= self._amber or d.prev >= self._amber:
            return AMBER
        return NORMAL

    @property
    def active_devices(self) -> int:
        return len(self._devices)

    def stats(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in (
            "offered", "forwarded", "suppressed", "amber_events", "red_events", "incidents",
            "episodes", "clamped", "evicted", "peak_devices")} | {
            "active_devices": len(self._devices)}
