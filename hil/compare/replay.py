"""The device-only pipeline: a board's limiter replayed in-process on one device session.

`DeviceReplay` runs `firmware_model.limiter.Limiter` as firmware_model/board.py runs it, and
as hil/harness/runner.py drives a board: the host advances the clock to each alert in steps of
`poll_ms` (the board's ADVANCE), the board polls and may write its snapshot after every step
and every alert, and a reset reboots it from its last snapshot. The device's own clock is its
ticks: (device-local ms + start) % 2**30, with the perturbations' clock skew. So a board's real
run can be replayed exactly (hil/harness/metrics.py does), and a replay with one perturbation
switched off says what that perturbation changed (hil/compare/attribution.py).

tests/test_compare.py pins the replay to the board: the same alerts and resets through
firmware_model/board.py give the same decisions and the same reported suppressed counts."""

from __future__ import annotations

from firmware_model.limiter import CLOSED, FORWARD, ONGOING, STARTED, Config, Limiter
from firmware_model.ticks import TICKS_PERIOD
from hil.compare.settings import Perturbations, seeded_rng
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert


class DeviceRun:
    """What the device did in one session."""

    __slots__ = ("dec", "wan", "reported", "overflow_uses")

    def __init__(self) -> None:
        self.dec: list[int] = []             # per alert: SUPPRESS, FORWARD or FORWARD | STARTED
        # (send time, alert index or -1 for a summary frame)
        self.wan: list[tuple[int, int]] = []
        self.reported: dict[int, int] = {}   # code -> suppressed count reported in summaries
        self.overflow_uses = 0


class DeviceReplay:
    """The device side of one comparison: `run(alerts)` replays a session (the alerts of one
    device, in event order) and returns its `DeviceRun`.

    `skew`, `resets`: whether the perturbations' clock skew and resets apply (attribution
    replays without them); `slots`: the limiter's code slots (default the perturbations')."""

    def __init__(self, cfg: PolicyConfig, perturbations: Perturbations, *, skew: bool = True,
                 resets: bool = True, slots: int | None = None) -> None:
        self.cfg = cfg
        self.perturbations = perturbations
        self.ppm = perturbations.skew_ppm if skew else 0
        self.apply_resets = resets
        self.slots = perturbations.slots if slots is None else slots
        self.poll_ms = perturbations.poll_interval_ms or max(1000, cfg.summary_interval_ms // 2)
        # past this long after its last alert a session's limiter has closed every window and
        # sent every summary
        self.tail_ms = 2 * max(cfg.device_window_ms, cfg.code_window_ms) \
            * (1_000_000 + abs(self.ppm)) // 1_000_000 + cfg.summary_interval_ms + self.poll_ms

    def run(self, alerts: list[Alert]) -> DeviceRun:
        p = self.perturbations
        t0 = alerts[0].t_ms
        tail = self.tail_ms
        board = _Board(self, alerts[0].device, t0)
        resets = [r for r in p.resets_for(alerts[0].device) if r[0] >= t0] \
            if self.apply_resets else []
        ri = 0
        prev_t = t0
        for i, a in enumerate(alerts):
            t = a.t_ms
            # resets up to this alert: the ones at its own ms unless they fall after it
            while ri < len(resets) and (resets[ri][0] < t or (
                    resets[ri][0] == t and not resets[ri][2])):
                rt, kind, _ = resets[ri]
                ri += 1
                board.idle_until(prev_t, rt)
                board.reboot(rt, kind)
                prev_t = rt
            board.idle_until(prev_t, t)
            board.alert(i, a.code, t)
            prev_t = t
        last = prev_t
        for rt, kind, _ in resets[ri:]:  # resets in the tail (later ones: the next session's)
            if rt > last + tail:
                break
            board.idle_until(prev_t, rt)
            board.reboot(rt, kind)
            prev_t = rt
        board.idle_until(prev_t, prev_t + tail + 1)
        board.out.overflow_uses += board.lim.stats()["overflow_uses"]
        return board.out


_DEVICE_CONFIGS: dict[PolicyConfig, Config] = {}


def _device_config(cfg: PolicyConfig) -> Config:
    # one Config per distinct policy, not one per session (a run has ~1 or 2)
    c = _DEVICE_CONFIGS.get(cfg)
    if c is None:
        if len(_DEVICE_CONFIGS) > 64:
            _DEVICE_CONFIGS.clear()
        c = _DEVICE_CONFIGS[cfg] = Config.from_dict(cfg.to_device_dict())
    return c


class _Board:
    """One session's board (firmware_model/board.py Board): its limiter, its ticks, the
    snapshot in its flash, and its persistence state (a change not yet written, and when the
    last write was)."""

    __slots__ = ("out", "config", "slots", "t0", "rate", "start", "rng", "restart_ticks",
                 "persist", "interval", "poll_ms", "tail", "lim", "blob", "dirty", "saved_at")

    def __init__(self, replay: DeviceReplay, device: str, t0: int) -> None:
        p = replay.perturbations
        self.out = DeviceRun()
        self.config = _device_config(replay.cfg)
        self.slots = replay.slots
        self.t0 = t0
        self.rate = 1_000_000 + replay.ppm
        self.rng = seeded_rng(p.seed, "ticks", device, t0)
        self.start = p.tick_start if p.tick_start is not None \
            else self.rng.randrange(TICKS_PERIOD)
        self.restart_ticks = p.reset_ticks == "restart"
        self.persist = p.reset_mode == "snapshot"
        self.interval = p.snapshot_interval_ms
        self.poll_ms = replay.poll_ms
        self.tail = replay.tail_ms
        self.lim = Limiter(self.config, slots=self.slots)
        self.blob: bytes | None = None
        self.dirty = False
        self.saved_at = p.booted_ms if p.booted_ms is not None else t0 - self.interval

    def ticks(self, t: int) -> int:
        # the device's own clock: skewed relative to true time, offset, wrapping at 2**30
        t0 = self.t0
        return (t0 + (t - t0) * self.rate // 1_000_000 + self.start) % TICKS_PERIOD

    def alert(self, i: int, code: int, t: int) -> None:
        # the ALERT command: offer, send what is forwarded, then the main loop's housekeeping
        r = self.lim.offer(code, self.ticks(t))
        self.dirty = True
        out = self.out
        out.dec.append(r)
        if r & FORWARD:
            out.wan.append((t, i))
        if r & STARTED:
            out.wan.append((t, -1))  # the STARTED summary frame follows the alert
        self.housekeeping(t)

    def housekeeping(self, t: int) -> None:
        # the board's main loop between messages: summaries that fell due, then the snapshot
        # at bounded frequency (Board.housekeeping)
        lim = self.lim
        if lim.poll(self.ticks(t)):
            self.dirty = True
            wan = self.out.wan
            reported = self.out.reported
            while True:
                s = lim.pop_summary()
                if s is None:
                    break
                kind, code, count = s[0], s[1], s[2]
                if kind in (ONGOING, CLOSED):
                    reported[code] = reported.get(code, 0) + count
                wan.append((t, -1))
        if self.persist and self.dirty and t - self.saved_at >= self.interval:
            self.blob = lim.snapshot(self.ticks(t))
            self.dirty = False
            self.saved_at = t

    def idle_until(self, a: int, b: int) -> None:
        # the host's ADVANCE from a to b: polls on the grid the board steps through (poll_ms
        # from the last message), the last at b itself; nothing changes past the tail but a
        # pending snapshot write
        poll_ms = self.poll_ms
        end = a + self.tail
        t = a + poll_ms
        while t < b and (t <= end or (self.persist and self.dirty)):
            self.housekeeping(t)
            t += poll_ms
        if b > a:
            self.housekeeping(b)

    def reboot(self, t: int, kind: str) -> None:
        # RESET: a soft reset flushes first (an orderly restart); RAM is gone, and so are
        # unsent summaries; the board boots from its last snapshot
        if self.persist and kind == "soft":
            self.blob = self.lim.snapshot(self.ticks(t))
        self.out.overflow_uses += self.lim.stats()["overflow_uses"]
        self.lim = Limiter(self.config, slots=self.slots)
        if self.restart_ticks:
            self.start = self.rng.randrange(TICKS_PERIOD)  # ticks restart somewhere else
        if self.persist and self.blob is not None:
            try:
                self.lim.restore(self.blob, self.ticks(t))
            except ValueError:
                self.lim = Limiter(self.config, slots=self.slots)
        self.dirty = False
        self.saved_at = t  # boot counts as a write: the next one is persist_ms later
