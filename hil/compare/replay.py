"""The device-only pipeline: a board's limiter replayed in-process on one device session.

`DeviceReplay` runs `firmware_model.limiter.Limiter` as firmware_model/board.py runs it, and
as hil/harness/runner.py drives a board: the host advances the clock to each alert in steps of
`poll_ms` (the board's ADVANCE), the board polls and may write its snapshot after every step
and every alert, and a reset reboots it from its last snapshot. The device's own clock is its
ticks: (device-local ms + start) % 2**30, with the perturbations' clock skew. So a board's real
run can be replayed exactly (hil/harness/metrics.py does), and a replay with one perturbation
switched off says what that perturbation changed (hil/compare/attribution.py).

A replay streams: `DeviceReplay.start` gives the session's `SessionBoard`, which takes the
session's alerts one at a time and keeps only the board's own state (its limiter, its flash,
the suppressed counts it reported so far), so a storm of any length replays in the same memory.
`DeviceReplay.run` is the list form, for a session held whole.

tests/test_compare.py pins the replay to the board: the same alerts and resets through
firmware_model/board.py give the same decisions and the same reported suppressed counts."""

from __future__ import annotations

import random

from firmware_model.crc import crc16
from firmware_model.limiter import CLOSED, FORWARD, ONGOING, STARTED, Config, Limiter
from firmware_model.ticks import TICKS_PERIOD
from hil.compare.settings import Perturbations, seeded_rng
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert


class DeviceRun:
    """What the device did in one session (the list form of a replay)."""

    __slots__ = ("dec", "wan", "reported", "overflow_uses")

    def __init__(self) -> None:
        self.dec: list[int] = []             # per alert: SUPPRESS, FORWARD or FORWARD | STARTED
        # (send time, alert index or -1 for a summary frame)
        self.wan: list[tuple[int, int]] = []
        self.reported: dict[int, int] = {}   # code -> suppressed count reported in summaries
        self.overflow_uses = 0


class DeviceReplay:
    """The device side of one comparison: `start(device, t0)` begins a session (the alerts of
    one device, in event order, the first at t0) and returns its `SessionBoard`; `run(alerts)`
    replays a whole session and returns its `DeviceRun`.

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
        self.config = _device_config(cfg)

    def start(self, device: str, t0: int, wan: list[tuple[int, int]] | None = None
              ) -> SessionBoard:
        """The board of a session whose first alert is at t0; its WAN frames (send time, alert
        index or -1 for a summary) are appended to `wan` if given."""
        return SessionBoard(self, device, t0, wan)

    def run(self, alerts: list[Alert]) -> DeviceRun:
        out = DeviceRun()
        board = self.start(alerts[0].device, alerts[0].t_ms, out.wan)
        dec = out.dec
        for i, a in enumerate(alerts):
            dec.append(board.alert(i, a.code, a.t_ms))
        board.finish()
        out.reported = board.reported
        out.overflow_uses = board.overflow_uses()
        return out


_DEVICE_CONFIGS: dict[PolicyConfig, Config] = {}


def _device_config(cfg: PolicyConfig) -> Config:
    # one Config per distinct policy, not one per session (a run has ~1 or 2)
    c = _DEVICE_CONFIGS.get(cfg)
    if c is None:
        if len(_DEVICE_CONFIGS) > 64:
            _DEVICE_CONFIGS.clear()
        c = _DEVICE_CONFIGS[cfg] = Config.from_dict(cfg.to_device_dict())
    return c


class _NoFrames:
    """Where an attribution replay's WAN frames go: nowhere (only its decisions count)."""

    __slots__ = ()

    def append(self, frame: tuple[int, int]) -> None:
        pass


_NO_FRAMES = _NoFrames()


class SessionBoard:
    """One session's board (firmware_model/board.py Board) as the session goes: its limiter,
    its ticks, the snapshot in its flash, its persistence state (a change not yet written, and
    when the last write was), and the resets still to come. `alert` takes the session's alerts
    in event order and returns each decision; `finish` runs the tail after the last one."""

    __slots__ = ("wan", "reported", "config", "slots", "t0", "rate", "start", "rng",
                 "restart_ticks", "persist", "interval", "poll_ms", "tail", "lim", "blob",
                 "dirty", "saved_at", "resets", "prev_t", "overflow_before", "polled_at")

    def __init__(self, replay: DeviceReplay, device: str, t0: int,
                 wan: list[tuple[int, int]] | None) -> None:
        p = replay.perturbations
        self.wan = wan if wan is not None else _NO_FRAMES
        self.reported: dict[int, int] = {}  # code -> suppressed count reported in summaries
        self.config = replay.config
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
        # (t_ms, kind, after) still to come, soonest last (popped as the session passes them)
        self.resets = [r for r in reversed(p.resets_for(device)) if r[0] >= t0] \
            if replay.apply_resets else []
        self.prev_t = t0
        self.overflow_before = 0  # overflow uses of the limiters before the last reboot
        self.polled_at = -1       # the ticks of the last poll (since boot)

    def ticks(self, t: int) -> int:
        # the device's own clock: skewed relative to true time, offset, wrapping at 2**30
        t0 = self.t0
        return (t0 + (t - t0) * self.rate // 1_000_000 + self.start) % TICKS_PERIOD

    def alert(self, i: int, code: int, t: int) -> int:
        """The session's alert i (code, event time t, not before the previous one): the resets
        and idle polls up to it, then the ALERT command: offer, send what is forwarded, and the
        main loop's housekeeping."""
        resets = self.resets
        # resets up to this alert: the ones at its own ms unless they fall after it
        while resets and (resets[-1][0] < t or (resets[-1][0] == t and not resets[-1][2])):
            rt, kind, _ = resets.pop()
            self.idle_until(self.prev_t, rt)
            self.reboot(rt, kind)
            self.prev_t = rt
        prev = self.prev_t
        if t - prev > self.poll_ms:
            self.idle_until(prev, t)
        elif t > prev:
            self.housekeeping(t)  # the ADVANCE's one step
        now = (t + self.start) % TICKS_PERIOD if self.rate == 1_000_000 else self.ticks(t)
        lim = self.lim
        r = lim.offer(code, now)
        self.dirty = True
        if r & FORWARD:
            self.wan.append((t, i))
            if r & STARTED:
                self.wan.append((t, -1))  # the STARTED summary frame follows the alert
        # the main loop's housekeeping; mostly time has not moved since the ADVANCE's poll
        # and the offer queued nothing: then only a snapshot write can be due
        if now != self.polled_at or lim.pending() or (
                self.persist and t - self.saved_at >= self.interval):
            self.housekeeping(t)
        self.prev_t = t
        return r

    def finish(self) -> None:
        """After the session's last alert: the resets in the tail (later ones are the next
        session's), then the tail itself, past which every window has closed and every summary
        has been sent."""
        last = self.prev_t
        for rt, kind, _ in reversed(self.resets):
            if rt > last + self.tail:
                break
            self.idle_until(self.prev_t, rt)
            self.reboot(rt, kind)
            self.prev_t = rt
        self.resets = []
        self.idle_until(self.prev_t, self.prev_t + self.tail + 1)

    def overflow_uses(self) -> int:
        """Times the limiters of this session used their overflow slot, so far."""
        return self.overflow_before + self.lim.stats()["overflow_uses"]

    def housekeeping(self, t: int) -> None:
        # the board's main loop between messages: summaries that fell due, then the snapshot
        # at bounded frequency (Board.housekeeping); like the board, no slot scan when time
        # has not moved since the last poll (after an alert at the very ms of an ADVANCE's
        # last step), only what the offer queued
        lim = self.lim
        now = (t + self.start) % TICKS_PERIOD if self.rate == 1_000_000 else self.ticks(t)
        if now != self.polled_at:
            self.polled_at = now
            pending = lim.poll(now)
        else:
            pending = lim.pending()
        if pending:
            self.dirty = True
            wan = self.wan
            reported = self.reported
            while True:
                s = lim.pop_summary()
                if s is None:
                    break
                kind, code, count = s[0], s[1], s[2]
                if kind in (ONGOING, CLOSED):
                    reported[code] = reported.get(code, 0) + count
                wan.append((t, -1))
        if self.persist and self.dirty and t - self.saved_at >= self.interval:
            self.blob = lim.snapshot(now)
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
        self.overflow_before += self.lim.stats()["overflow_uses"]
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
        self.polled_at = -1

    def widened(self, slots: int, wan: list[tuple[int, int]] | None = None) -> SessionBoard:
        """This board as it would be had its limiter had `slots` code slots from the start
        of the session: the same board with its limiter (and the snapshot in its flash) moved
        into the larger table. Exact only while the overflow slot has never been used, which
        holds while the session has had no more distinct codes than this board's slots: until
        then a table of any larger size fills the same slots in the same order and decides
        the same (attribution's `table_eviction` replay starts here, hil/compare/session.py)."""
        assert slots >= self.slots and self.overflow_uses() == 0
        twin = object.__new__(SessionBoard)
        for name in SessionBoard.__slots__:
            setattr(twin, name, getattr(self, name))
        twin.wan = wan if wan is not None else _NO_FRAMES
        twin.reported = dict(self.reported)
        twin.slots = slots
        twin.rng = random.Random()
        twin.rng.setstate(self.rng.getstate())
        twin.resets = list(self.resets)
        now = self.ticks(self.prev_t)  # no stored time of the limiter is later than this
        twin.lim = Limiter(self.config, slots=slots)
        twin.lim.restore(_with_slots(self.lim.snapshot(now), slots), now)
        twin.blob = _with_slots(self.blob, slots) if self.blob is not None else None
        return twin


def _with_slots(blob: bytes, slots: int) -> bytes:
    # A limiter snapshot (docs/limiter.md "Persistence") restated for a table of `slots` code
    # slots: byte 3 is the table size and the overflow slot (index = table size) is not in
    # it, since it was never used; the CRC-16 covers everything before it.
    b = bytearray(blob[:-2])
    b[3] = slots
    crc = crc16(b)
    b.append(crc >> 8)
    b.append(crc & 0xFF)
    return bytes(b)
