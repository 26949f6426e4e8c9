"""Device limiter vs DSP model on the same alert stream (docs/dsp-model.md "Comparison").

Three pipelines per alert stream:

* DSP-only: every alert crosses the WAN; the DSP model (`hil.model.dsp`) filters on its receipt clock
  (arrival = event time + WAN latency).
* device-only: one `firmware_model.limiter.Limiter` per device, fed the device's own ticks
  ((device-local ms + start) % 2**30, with clock skew and resets), polled, summaries collected.
* device -> DSP: what the DSP sees behind the device filter: the alerts the device forwarded
  plus its summary frames, which the DSP counts as alerts of code 0x8FFE from that device
  (that is what a real DSP would do with them).

The per-device work is a pure function (`compare_device`) of that device's sub-stream, the two
configurations and the scenario, with its randomness seeded from (seed, device id, first alert
time); a device's stream is cut into independent sessions at gaps longer than `horizon_ms` (all
windows closed on both sides). So devices can be partitioned across processes or machines
(`partition_of`, `CompareResult.merge`, `jobs=`), and the result does not depend on how.

This is the only module that imports both the device limiter and the DSP model.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from firmware_model.board import RESET_KINDS
from firmware_model.limiter import CLOSED, FORWARD, ONGOING, STARTED, Config, Limiter
from firmware_model.ticks import TICKS_PERIOD
from hil.errors import ConfigError
from hil.frames.catalogue import SUMMARY_CODE
from hil.model.dsp import DspFilter
from hil.model.policy import WINDOW_KEYS, PolicyConfig, format_code
from hil.model.streams import Alert, BadRow, DspResult

MAX_SLOTS = 255

# divergence classes (device-only vs DSP-only)
LOST_AT_DEVICE = "lost_at_device"          # device suppressed what the DSP forwarded
CRITICAL_LOST = "critical_lost_at_device"  # ... and the code is never-throttle: hard failure
EXTRA_WAN = "extra_wan_traffic"            # device forwarded what the DSP discarded
COUNT_MISMATCH = "suppressed_count_mismatch"
CLASSES = (CRITICAL_LOST, LOST_AT_DEVICE, EXTRA_WAN, COUNT_MISMATCH)

# named causes, in the order they are tried
WAN_LATENCY = "wan_latency"
CLOCK_SKEW = "clock_skew"
DEVICE_RESET = "device_reset"
TABLE_EVICTION = "table_eviction"
WINDOW_ALIGNMENT = "window_alignment"      # window lengths differ between the two configs
CONFIG_DIFFERENCE = "config_difference"    # other policy keys differ
UNKNOWN = "unknown"
CAUSES = (WAN_LATENCY, CLOCK_SKEW, DEVICE_RESET, TABLE_EVICTION, WINDOW_ALIGNMENT,
          CONFIG_DIFFERENCE)


# -- scenario -----------------------------------------------------------------------------------


def _rng(seed: int, *parts: object) -> random.Random:
    # str hash() is salted per process; crc32 keeps a device's randomness the same in any worker
    return random.Random(zlib.crc32(":".join(map(str, (seed, *parts))).encode()))


@dataclass(frozen=True)
class Latency:
    """WAN latency: `base_ms` (or a per-device override) plus a uniform extra in
    [0, jitter_ms], drawn per frame from a generator seeded by (seed, device)."""

    base_ms: int = 0
    jitter_ms: int = 0
    per_device: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.base_ms < 0 or self.jitter_ms < 0 or any(v < 0 for _, v in self.per_device):
            raise ConfigError("latency: must not be negative")

    def base_for(self, device: str) -> int:
        for d, v in self.per_device:
            if d == device:
                return v
        return self.base_ms

    @property
    def max_ms(self) -> int:
        return max([self.base_ms, *(v for _, v in self.per_device)]) + self.jitter_ms

    @property
    def zero(self) -> bool:
        return self.max_ms == 0

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Latency:
        """CLI form: "200" (fixed), "100-900" (uniform range), "DEVICE=300" (per device)."""
        base, jitter, per = 0, 0, []
        for spec in specs:
            try:
                if "=" in spec:
                    dev, v = spec.rsplit("=", 1)
                    per.append((dev, int(v)))
                elif "-" in spec.lstrip("-"):
                    lo, hi = spec.split("-", 1)
                    base, jitter = int(lo), int(hi) - int(lo)
                    if jitter < 0:
                        raise ValueError
                else:
                    base = int(spec)
            except ValueError:
                raise ConfigError(f"--latency-ms: {spec!r} is not MS, LO-HI or DEVICE=MS") from None
        return cls(base, jitter, tuple(per))




@dataclass(frozen=True)
class Scenario:
    """The perturbations of one comparison run (all default to none).

    Resets follow the board firmware (firmware_model/board.py), so a board's real run can be
    replayed exactly: with `reset_mode="snapshot"` the device writes its limiter snapshot when
    the state changed since the last write and `snapshot_interval_ms` (the board's
    `persist_ms`) has passed since that write or since boot, checked after every alert and
    every poll; a soft reset writes it first (an orderly restart), any other kind restores the
    last write, losing what changed since. With `reset_mode="lost"` every reset loses the state
    (a device without flash). A reset is (device or "*", t_ms[, kind[, order]]): the kind
    defaults to "hard"; order says where a reset at the very time of an alert falls: "before"
    (default) or "after" it."""

    latency: Latency = field(default_factory=Latency)
    skew_ppm: int = 0                         # device clock runs fast (>0) or slow (<0)
    resets: tuple[tuple[Any, ...], ...] = ()  # (device id or "*", t_ms[, kind]): device resets
    reset_mode: str = "lost"                  # "lost": state lost; "snapshot": restored
    snapshot_interval_ms: int = 60_000        # the least time between two snapshot writes
    booted_ms: int | None = None              # device power-on (event time); None: long before
    reset_ticks: str = "restart"              # ticks after a reset: "restart" somewhere else
                                              # (a real MCU) or "continue" (an emulated clock)
    slots: int = 16                           # limiter code slots
    seed: int = 0
    poll_interval_ms: int | None = None       # device poll() period; default summary_interval/2
    tick_start: int | None = None             # ticks at event time 0; default: seeded random

    def __post_init__(self) -> None:
        if self.reset_mode not in ("lost", "snapshot"):
            raise ConfigError(f"reset_mode: {self.reset_mode!r} is not lost or snapshot")
        if self.reset_ticks not in ("restart", "continue"):
            raise ConfigError(f"reset_ticks: {self.reset_ticks!r} is not restart or continue")
        for r in self.resets:
            if len(r) not in (2, 3, 4) or (len(r) >= 3 and r[2] not in RESET_KINDS) or (
                    len(r) == 4 and r[3] not in ("before", "after")):
                raise ConfigError(f"reset {r!r}: not (device, t_ms[, kind[, order]]) with kind "
                                  f"one of {', '.join(RESET_KINDS)}, order before or after")
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ConfigError(f"slots: {self.slots} is out of range 1..{MAX_SLOTS}")
        if not -100_000 <= self.skew_ppm <= 100_000:
            raise ConfigError(f"skew_ppm: {self.skew_ppm} is out of range -100000..100000")
        if self.snapshot_interval_ms < 0:
            raise ConfigError("snapshot_interval_ms: must not be negative")

    def resets_for(self, device: str) -> list[tuple[int, str, bool]]:
        """(t_ms, kind, after) of this device's resets, in time order; `after`: the reset
        falls after an alert at the same t_ms."""
        out = []
        for r in self.resets:
            if r[0] == device or r[0] == "*":
                out.append((int(r[1]), r[2] if len(r) >= 3 else "hard",
                            len(r) == 4 and r[3] == "after"))
        return sorted(out)


@dataclass(frozen=True)
class Setup:
    dsp_cfg: PolicyConfig = field(default_factory=PolicyConfig)
    dev_cfg: PolicyConfig = field(default_factory=PolicyConfig)
    scenario: Scenario = field(default_factory=Scenario)

    @property
    def critical(self) -> frozenset[int]:
        return frozenset(self.dsp_cfg.never_throttle) | frozenset(self.dev_cfg.never_throttle)

    @property
    def horizon_ms(self) -> int:
        """A gap longer than this leaves no state on either side: a new, independent session."""
        w = max(self.dsp_cfg.device_window_ms, self.dsp_cfg.code_window_ms,
                self.dev_cfg.device_window_ms, self.dev_cfg.code_window_ms)
        skewed = 2 * w * (1_000_000 + abs(self.scenario.skew_ppm)) // 1_000_000 + 1
        return skewed + self.dev_cfg.summary_interval_ms + self.scenario.latency.max_ms + 1000


# -- one device session -------------------------------------------------------------------------


class _DeviceRun:
    """Outcome of the device-only pipeline."""

    __slots__ = ("dec", "wan", "reported", "overflow_uses")

    def __init__(self) -> None:
        self.dec: list[int] = []
        # (send time, alert index or -1 for a summary frame)
        self.wan: list[tuple[int, int]] = []
        self.reported: dict[int, int] = {}   # code -> suppressed count reported in summaries
        self.overflow_uses = 0


_DEVICE_CONFIGS: dict[PolicyConfig, Config] = {}


def _device_config(cfg: PolicyConfig) -> Config:
    # one Config per distinct policy, not one per session (a run has ~1 or 2)
    c = _DEVICE_CONFIGS.get(cfg)
    if c is None:
        if len(_DEVICE_CONFIGS) > 64:
            _DEVICE_CONFIGS.clear()
        c = _DEVICE_CONFIGS[cfg] = Config.from_dict(cfg.to_device_dict())
    return c


def _run_device(alerts: list[Alert], cfg: PolicyConfig, sc: Scenario, *, skew: bool,
                resets: bool, slots: int) -> _DeviceRun:
    out = _DeviceRun()
    dev_cfg = _device_config(cfg)
    device = alerts[0].device
    t0 = alerts[0].t_ms
    ppm = sc.skew_ppm if skew else 0
    rng = _rng(sc.seed, "ticks", device, t0)
    start = sc.tick_start if sc.tick_start is not None else rng.randrange(TICKS_PERIOD)
    reset_list = [r for r in sc.resets_for(device) if r[0] >= t0] if resets else []
    poll_ms = sc.poll_interval_ms or max(1000, cfg.summary_interval_ms // 2)
    tail = 2 * max(cfg.device_window_ms, cfg.code_window_ms) * (1_000_000 + abs(ppm)) \
        // 1_000_000 + cfg.summary_interval_ms + poll_ms
    lim = Limiter(dev_cfg, slots=slots)
    persist = sc.reset_mode == "snapshot"
    interval = sc.snapshot_interval_ms
    blob: bytes | None = None
    # the board's persistence state: a change not yet written, and when the last write was
    dirty = False
    saved_at = sc.booted_ms if sc.booted_ms is not None else t0 - interval
    dec = out.dec
    wan = out.wan
    reported = out.reported

    def ticks(t: int) -> int:
        # the device's own clock: skewed relative to true time, offset, wrapping at 2**30
        return (t0 + (t - t0) * (1_000_000 + ppm) // 1_000_000 + start) % TICKS_PERIOD

    def housekeeping(t: int) -> None:
        # the board's main loop between messages: summaries that fell due, then the snapshot
        # at bounded frequency (firmware_model/board.py Board.housekeeping)
        nonlocal dirty, saved_at, blob
        if lim.poll(ticks(t)):
            dirty = True
            while True:
                s = lim.pop_summary()
                if s is None:
                    break
                kind, code, count = s[0], s[1], s[2]
                if kind in (ONGOING, CLOSED):
                    reported[code] = reported.get(code, 0) + count
                wan.append((t, -1))
        if persist and dirty and t - saved_at >= interval:
            blob = lim.snapshot(ticks(t))
            dirty = False
            saved_at = t

    def idle_until(a: int, b: int) -> None:
        # polls between messages, on the grid the board's ADVANCE steps through (poll_ms from
        # the last message), the last at b itself; nothing changes past the tail but a pending
        # snapshot write
        t = a + poll_ms
        while t < b and (t <= a + tail or (persist and dirty)):
            housekeeping(t)
            t += poll_ms
        if b > a:
            housekeeping(b)

    def reboot(rt: int, kind: str) -> None:
        nonlocal lim, start, blob, dirty, saved_at
        if persist and kind == "soft":
            blob = lim.snapshot(ticks(rt))  # an orderly restart: the firmware flushes first
        out.overflow_uses += lim.stats()["overflow_uses"]
        lim = Limiter(dev_cfg, slots=slots)   # RAM is gone, and so are unsent summaries
        if sc.reset_ticks == "restart":
            start = rng.randrange(TICKS_PERIOD)  # ticks restart somewhere else after boot
        if persist and blob is not None:
            try:
                lim.restore(blob, ticks(rt))
            except ValueError:
                lim = Limiter(dev_cfg, slots=slots)
        dirty = False
        saved_at = rt  # boot counts as a write: the next one is persist_ms later

    ri = 0
    prev_t = t0
    for i, a in enumerate(alerts):
        t = a.t_ms
        while ri < len(reset_list) and (reset_list[ri][0] < t or (
                reset_list[ri][0] == t and not reset_list[ri][2])):
            rt, kind, _ = reset_list[ri]
            ri += 1
            idle_until(prev_t, rt)
            reboot(rt, kind)
            prev_t = rt
        idle_until(prev_t, t)
        r = lim.offer(a.code, ticks(t))
        dirty = True
        dec.append(r)
        if r & FORWARD:
            wan.append((t, i))
        if r & STARTED:
            wan.append((t, -1))  # the STARTED summary frame follows the alert
        housekeeping(t)
        prev_t = t
    last = prev_t
    for rt, kind, _ in reset_list[ri:]:  # resets in the tail (later ones: the next session's)
        if rt > last + tail:
            break
        idle_until(prev_t, rt)
        reboot(rt, kind)
        prev_t = rt
    idle_until(prev_t, prev_t + tail + 1)
    out.overflow_uses += lim.stats()["overflow_uses"]
    return out


def _latencies(alerts: list[Alert], lat: Latency, seed: int, enabled: bool) -> list[int]:
    """Arrival time of each alert at the DSP (given by the input, or event time + latency)."""
    if not enabled:
        return [a.t_ms for a in alerts]
    device = alerts[0].device
    base = lat.base_for(device)
    rng = _rng(seed, "latency", device, alerts[0].t_ms)
    j = lat.jitter_ms
    return [a.arrival_ms if a.arrival_ms is not None else
            a.t_ms + base + (rng.randint(0, j) if j else 0) for a in alerts]


def _run_dsp(device: str, codes: list[int], arrivals: list[int], cfg: PolicyConfig
             ) -> tuple[list[int], list[int], list[int]]:
    """DSP decisions, ThrottledAlertCount and ThrottledAlertSequenceId, in input order."""
    f = DspFilter(cfg)
    n = len(codes)
    dec = [0] * n
    tc = [0] * n
    sid = [0] * n
    order = sorted(range(n), key=arrivals.__getitem__)  # stable: ties keep input order
    offer = f.offer
    for i in order:
        dec[i] = offer(device, codes[i], arrivals[i])
        if f.sequence_id:
            tc[i] = f.throttled_count
            sid[i] = f.sequence_id
    return dec, tc, sid


@dataclass
class _Pair:
    """Decisions of both sides for one session, and what diverges."""

    dsp: list[int]
    tc: list[int]
    sid: list[int]
    arrivals: list[int]
    dev: _DeviceRun
    divergent: dict[int, str]      # alert index -> class
    mismatched: dict[int, tuple[int, int]]  # code -> (device reported, DSP discarded)


def _pair(alerts: list[Alert], setup: Setup, removed: frozenset[str],
          dsp_cache: dict[bool, tuple[list[int], list[int], list[int], list[int]]]) -> _Pair:
    sc = setup.scenario
    dcfg = setup.dev_cfg
    if WINDOW_ALIGNMENT in removed:
        dcfg = dcfg.replace(**{k: getattr(setup.dsp_cfg, k) for k in WINDOW_KEYS})
    if CONFIG_DIFFERENCE in removed:
        keep = {k: getattr(dcfg, k) for k in (*WINDOW_KEYS, "summary_interval_ms")}
        dcfg = setup.dsp_cfg.replace(**keep)
    lat_on = WAN_LATENCY not in removed
    if lat_on not in dsp_cache:
        arr = _latencies(alerts, sc.latency, sc.seed, lat_on)
        dsp_cache[lat_on] = (*_run_dsp(alerts[0].device, [a.code for a in alerts], arr,
                                       setup.dsp_cfg), arr)
    dsp, tc, sid, arr = dsp_cache[lat_on]
    dev = _run_device(alerts, dcfg, sc, skew=CLOCK_SKEW not in removed,
                      resets=DEVICE_RESET not in removed,
                      slots=MAX_SLOTS if TABLE_EVICTION in removed else sc.slots)
    critical = setup.critical
    divergent: dict[int, str] = {}
    discarded: dict[int, int] = {}
    for i, a in enumerate(alerts):
        d = dsp[i] & FORWARD
        if not d:
            discarded[a.code] = discarded.get(a.code, 0) + 1
        if d != dev.dec[i] & FORWARD:
            if d:
                divergent[i] = CRITICAL_LOST if a.code in critical else LOST_AT_DEVICE
            else:
                divergent[i] = EXTRA_WAN
    mismatched = {}
    for code in set(discarded) | set(dev.reported):
        r, x = dev.reported.get(code, 0), discarded.get(code, 0)
        if r != x:
            mismatched[code] = (r, x)
    return _Pair(dsp, tc, sid, arr, dev, divergent, mismatched)


def _active_knobs(alerts: list[Alert], setup: Setup, base: _Pair) -> list[str]:
    sc = setup.scenario
    knobs = []
    if any(x != a.t_ms for x, a in zip(base.arrivals, alerts, strict=True)):
        knobs.append(WAN_LATENCY)
    if sc.skew_ppm:
        knobs.append(CLOCK_SKEW)
    if [r for r in sc.resets_for(alerts[0].device) if r[0] >= alerts[0].t_ms]:
        knobs.append(DEVICE_RESET)
    if base.dev.overflow_uses:
        knobs.append(TABLE_EVICTION)
    # summary_interval_ms is device-only: it moves summaries in time, never counts or decisions
    diff = [k for k in setup.dev_cfg.differences(setup.dsp_cfg) if k != "summary_interval_ms"]
    if any(k in WINDOW_KEYS for k in diff):
        knobs.append(WINDOW_ALIGNMENT)
    if any(k not in WINDOW_KEYS for k in diff):
        knobs.append(CONFIG_DIFFERENCE)
    return knobs


# -- results ------------------------------------------------------------------------------------

COUNTERS = (
    "alerts", "device_sessions", "dsp_only_forwarded", "dsp_only_discarded",
    "device_forwarded", "device_suppressed", "device_summary_frames", "device_wan_frames",
    "wan_frames_without_device", "wan_frames_saved", "device_to_dsp_delivered",
    "device_to_dsp_discarded_by_dsp", "summaries_discarded_by_dsp", "alerts_lost",
    "critical_alerts_lost", "agree", "reordered_by_wan", "attribution_replays",
    *CLASSES,
)


@dataclass
class CompareResult:
    """Mergeable totals of a comparison (sum over device sessions)."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    causes: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20

    def add_cause(self, cls: str, cause: str, n: int = 1) -> None:
        d = self.causes.setdefault(cls, {})
        d[cause] = d.get(cause, 0) + n

    def merge(self, other: CompareResult) -> CompareResult:
        for k, v in other.counters.items():
            self.counters[k] = self.counters.get(k, 0) + v
        for cls, d in other.causes.items():
            for cause, n in d.items():
                self.add_cause(cls, cause, n)
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])
        return self

    def metrics(self) -> dict[str, Any]:
        c = self.counters
        n = c["alerts"]
        return {
            "alerts": n,
            "wan_frames_without_device": c["wan_frames_without_device"],
            "wan_frames_with_device": c["device_wan_frames"],
            "wan_frames_saved": c["wan_frames_saved"],
            "wan_saving_ratio": round(c["wan_frames_saved"] / n, 6) if n else 0.0,
            "dsp_only_forwarded": c["dsp_only_forwarded"],
            "device_to_dsp_delivered": c["device_to_dsp_delivered"],
            "alerts_lost": c["alerts_lost"],
            "critical_alerts_lost": c["critical_alerts_lost"],
            "agreement_rate": round(c["agree"] / n, 6) if n else 1.0,
        }

    @property
    def unknown(self) -> int:
        return sum(d.get(UNKNOWN, 0) for d in self.causes.values())

    @property
    def hard_failures(self) -> int:
        return self.counters["critical_alerts_lost"] + self.counters[CRITICAL_LOST]

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics(), "counters": dict(self.counters),
                "divergences": {cls: self.counters[cls] for cls in CLASSES},
                "causes": self.causes, "examples": self.examples}


def compare_device(alerts: list[Alert], setup: Setup, *, fates: bool = False,
                   max_examples: int = 20) -> tuple[CompareResult, list[dict[str, Any]]]:
    """All three pipelines for one device session (alerts of one device, in event order).
    Pure: same inputs, same outputs, in any process."""
    res = CompareResult(max_examples=max_examples)
    c = res.counters
    n = len(alerts)
    device = alerts[0].device
    if n < min(setup.dsp_cfg.red_threshold, setup.dev_cfg.red_threshold):
        # Fewer alerts in the whole session than it takes to turn red: neither side can filter
        # anything or send a summary, whatever the latency, skew or resets (policy steps 1-3).
        # Most devices are healthy, so this is most sessions of a real stream.
        return _healthy_session(alerts, setup, fates, res)
    cache: dict[bool, Any] = {}
    base = _pair(alerts, setup, frozenset(), cache)

    # -- cause attribution: replay with each perturbation removed ---------------------------
    causes: dict[int, list[str]] = {}
    code_causes: dict[int, list[str]] = {}
    if base.divergent or base.mismatched:
        knobs = _active_knobs(alerts, setup, base)
        replays = {}
        for k in knobs:
            replays[k] = _pair(alerts, setup, frozenset((k,)), cache)
        c["attribution_replays"] += len(knobs)
        allp = None
        for i in base.divergent:
            causes[i] = [k for k in knobs if i not in replays[k].divergent]
        for code in base.mismatched:
            code_causes[code] = [k for k in knobs if code not in replays[k].mismatched]
        if any(not v for v in causes.values()) or any(not v for v in code_causes.values()):
            allp = _pair(alerts, setup, frozenset(knobs), cache)
            c["attribution_replays"] += 1
            combined = "+".join(knobs) if knobs else UNKNOWN
            for i, v in causes.items():
                if not v:
                    v.append(combined if i not in allp.divergent else UNKNOWN)
            for code, v in code_causes.items():
                if not v:
                    v.append(combined if code not in allp.mismatched else UNKNOWN)

    for i, cls in base.divergent.items():
        c[cls] += 1
        res.add_cause(cls, causes[i][0])
        if len(res.examples) < max_examples:
            a = alerts[i]
            res.examples.append({"class": cls, "causes": causes[i], "device_id": device,
                                 "t_ms": a.t_ms, "alert_code": format_code(a.code),
                                 "line": a.line})
    for code, (r, x) in sorted(base.mismatched.items()):
        c[COUNT_MISMATCH] += 1
        res.add_cause(COUNT_MISMATCH, code_causes[code][0])
        if len(res.examples) < max_examples:
            res.examples.append({"class": COUNT_MISMATCH, "causes": code_causes[code],
                                 "device_id": device, "alert_code": format_code(code),
                                 "device_reported": r, "dsp_discarded": x,
                                 "t_ms": alerts[0].t_ms, "line": alerts[0].line})

    # -- device -> DSP ------------------------------------------------------------------------
    dev = base.dev
    sc = setup.scenario
    srng = _rng(sc.seed, "summary-latency", device, alerts[0].t_ms)
    sbase = sc.latency.base_for(device)
    j = sc.latency.jitter_ms
    items = []
    for order, (send, i) in enumerate(dev.wan):
        if i >= 0:
            items.append((base.arrivals[i], order, alerts[i].code, i))
        else:
            items.append((send + sbase + (srng.randint(0, j) if j else 0), order, SUMMARY_CODE, -1))
    items.sort()
    f = DspFilter(setup.dsp_cfg)
    delivered = [False] * n
    for arr, _, code, i in items:
        r = f.offer(device, code, arr)
        if i >= 0:
            delivered[i] = bool(r & FORWARD)
        elif not r & FORWARD:
            c["summaries_discarded_by_dsp"] += 1

    critical = setup.critical
    c["alerts"] += n
    c["device_sessions"] += 1
    c["wan_frames_without_device"] += n
    summaries = sum(1 for _, i in dev.wan if i < 0)
    c["device_summary_frames"] += summaries
    c["device_wan_frames"] += len(dev.wan)
    c["wan_frames_saved"] += n - len(dev.wan)
    last_arr = -1
    fate_rows: list[dict[str, Any]] = []
    for i, a in enumerate(alerts):
        d = base.dsp[i]
        dev_dec = dev.dec[i]
        if base.arrivals[i] < last_arr:
            c["reordered_by_wan"] += 1
        last_arr = max(last_arr, base.arrivals[i])
        if d & FORWARD:
            c["dsp_only_forwarded"] += 1
            if not delivered[i]:
                c["alerts_lost"] += 1
        else:
            c["dsp_only_discarded"] += 1
        if dev_dec & FORWARD:
            c["device_forwarded"] += 1
            if delivered[i]:
                c["device_to_dsp_delivered"] += 1
            else:
                c["device_to_dsp_discarded_by_dsp"] += 1
        else:
            c["device_suppressed"] += 1
        if a.code in critical and not delivered[i]:
            c["critical_alerts_lost"] += 1
        if (d & FORWARD) == (dev_dec & FORWARD):
            c["agree"] += 1
        if fates:
            fate_cls = base.divergent.get(i)
            fate_rows.append({
                "seq": a.seq, "line": a.line, "device_id": device, "t_ms": a.t_ms,
                "arrival_ms": base.arrivals[i], "alert_code": format_code(a.code),
                "dsp": "forwarded" if d & FORWARD else "discarded",
                "dsp_started": bool(d & STARTED),
                "throttled_count": base.tc[i] if d & FORWARD and base.sid[i] else None,
                "sequence_id": base.sid[i] if d & FORWARD and base.sid[i] else None,
                "device": "forwarded" if dev_dec & FORWARD else "suppressed",
                "device_started": bool(dev_dec & STARTED),
                "device_to_dsp": ("delivered" if delivered[i] else "discarded_by_dsp")
                if dev_dec & FORWARD else "suppressed_at_device",
                "divergence": fate_cls, "causes": causes.get(i, []),
            })
    return res, fate_rows


def _healthy_session(alerts: list[Alert], setup: Setup, fates: bool, res: CompareResult
                     ) -> tuple[CompareResult, list[dict[str, Any]]]:
    n = len(alerts)
    c = res.counters
    for k in ("alerts", "wan_frames_without_device", "dsp_only_forwarded", "device_forwarded",
              "device_wan_frames", "device_to_dsp_delivered", "agree"):
        c[k] += n
    c["device_sessions"] += 1
    sc = setup.scenario
    arr = _latencies(alerts, sc.latency, sc.seed, True) if fates or not sc.latency.zero \
        else None
    if arr is not None:
        top = -1
        for x in arr:
            if x < top:
                c["reordered_by_wan"] += 1
            else:
                top = x
    rows: list[dict[str, Any]] = []
    if fates:
        assert arr is not None
        rows = [{"seq": a.seq, "line": a.line, "device_id": a.device, "t_ms": a.t_ms,
                 "arrival_ms": arr[i], "alert_code": format_code(a.code), "dsp": "forwarded",
                 "dsp_started": False, "throttled_count": None, "sequence_id": None,
                 "device": "forwarded", "device_started": False, "device_to_dsp": "delivered", "divergence": None,
                 "causes": []} for i, a in enumerate(alerts)]
    return res, rows


# -- the stream ---------------------------------------------------------------------------------


def partition_of(device: str, partitions: int) -> int:
    """Which of `partitions` workers/machines owns a device (stable across processes)."""
    return zlib.crc32(device.encode()) % partitions


def sessions(alerts: Iterable[Alert], horizon_ms: int, errors: list[BadRow] | None = None,
             path: str = "") -> Iterator[list[Alert]]:
    """Cut an event-ordered alert stream into device sessions (a device's alerts with no gap
    longer than horizon_ms), emitted once complete. Memory: the alerts of the devices active
    within the last horizon. An alert whose t_ms is before its device's previous alert is a
    bad row (a device's clock does not go backwards in a capture)."""
    open_: dict[str, list[Alert]] = {}
    last: dict[str, int] = {}
    now = None
    next_sweep = 0
    for a in alerts:
        t = a.t_ms
        lt = last.get(a.device)
        if lt is not None:
            if t < lt:
                if errors is not None:
                    errors.append(BadRow(path, a.line, f"t_ms {t} is before the previous alert "
                                         f"of {a.device} ({lt})"))
                continue
            if t - lt > horizon_ms:
                yield open_.pop(a.device)
                del last[a.device]
        buf = open_.get(a.device)
        if buf is None:
            buf = open_[a.device] = []
        buf.append(a)
        last[a.device] = t
        if now is None or t > now:
            now = t
            if now >= next_sweep:
                done = [d for d, lt2 in last.items() if now - lt2 > horizon_ms]
                for d in done:
                    yield open_.pop(d)
                    del last[d]
                next_sweep = now + horizon_ms // 4 + 1
    yield from open_.values()


def _work(args: tuple[list[Alert], Setup, bool, int]
          ) -> tuple[CompareResult, list[dict[str, Any]]]:
    alerts, setup, fates, max_examples = args
    return compare_device(alerts, setup, fates=fates, max_examples=max_examples)


def compare_stream(alerts: Iterable[Alert], setup: Setup, *, errors: list[BadRow] | None = None,
                   path: str = "", on_fates: Callable[[list[dict[str, Any]]], None] | None = None,
                   jobs: int = 1, max_examples: int = 20) -> CompareResult:
    """Compare over a whole stream, streaming; with jobs > 1 the device sessions run in a
    process pool (bounded number in flight, so memory stays bounded)."""
    total = CompareResult(max_examples=max_examples)
    fates = on_fates is not None
    sess = sessions(alerts, setup.horizon_ms, errors, path)
    if jobs <= 1:
        for s in sess:
            r, rows = compare_device(s, setup, fates=fates, max_examples=max_examples)
            total.merge(r)
            if on_fates is not None:
                on_fates(rows)
        return total
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        inflight: list[Any] = []
        limit = jobs * 8

        def collect(block: bool) -> None:
            while inflight and (block or inflight[0].ready()):
                r, rows = inflight.pop(0).get()
                total.merge(r)
                if on_fates is not None:
                    on_fates(rows)

        for s in sess:
            inflight.append(pool.apply_async(_work, ((s, setup, fates, max_examples),)))
            if len(inflight) >= limit:
                inflight[0].wait()
            collect(False)
        collect(True)
    return total


# -- checking against a real DSP's results ------------------------------------------------------


@dataclass
class RealCheck:
    """Matches each alert's fates to the real DSP's result row for it (by device, code and
    event time, in order of occurrence) and counts disagreements."""

    index: dict[tuple[str, int, int], list[DspResult]]
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys((
        "rows_matched", "alerts_without_result", "results_without_alert",
        "model_agrees", "model_disagrees", "throttled_count_differs", "sequence_id_differs",
        "device_agrees", "device_disagrees"), 0))
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20

    @classmethod
    def load(cls, rows: Iterable[DspResult]) -> RealCheck:
        index: dict[tuple[str, int, int], list[DspResult]] = {}
        for r in rows:
            index.setdefault((r.device, r.code, r.t_ms), []).append(r)
        return cls(index)

    def __call__(self, fates: list[dict[str, Any]]) -> None:
        c = self.counters
        for f in fates:
            key = (f["device_id"], int(f["alert_code"], 16), f["t_ms"])
            rows = self.index.get(key)
            if not rows:
                c["alerts_without_result"] += 1
                continue
            r = rows.pop(0)
            if not rows:
                del self.index[key]
            c["rows_matched"] += 1
            model_fwd = f["dsp"] == "forwarded"
            problems = []
            if model_fwd == r.forwarded:
                c["model_agrees"] += 1
                if r.forwarded and (r.throttled_count or 0) != (f["throttled_count"] or 0):
                    c["throttled_count_differs"] += 1
                    problems.append(f"ThrottledAlertCount real {r.throttled_count} "
                                    f"model {f['throttled_count']}")
                if (r.forwarded and r.sequence_id is not None and f["sequence_id"] is not None
                        and r.sequence_id != f["sequence_id"]):
                    c["sequence_id_differs"] += 1
            else:
                c["model_disagrees"] += 1
                problems.append(f"real DSP {'forwarded' if r.forwarded else 'discarded'}, "
                                f"model {f['dsp']}")
            if (f["device"] == "forwarded") == r.forwarded:
                c["device_agrees"] += 1
            else:
                c["device_disagrees"] += 1
            if problems and len(self.examples) < self.max_examples:
                self.examples.append({"alert_line": f["line"], "result_line": r.line,
                                      "device_id": f["device_id"], "alert_code": f["alert_code"],
                                      "t_ms": f["t_ms"], "problems": problems})

    def finish(self) -> None:
        self.counters["results_without_alert"] = sum(len(v) for v in self.index.values())
        for rows in self.index.values():
            for r in rows:
                if len(self.examples) >= self.max_examples:
                    return
                self.examples.append({"result_line": r.line, "device_id": r.device,
                                      "alert_code": format_code(r.code), "t_ms": r.t_ms,
                                      "problems": ["no such alert in the alert stream"]})

    def to_dict(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "examples": self.examples}


# -- presentation -------------------------------------------------------------------------------


def table(result: CompareResult, real: RealCheck | None = None,
          bad_rows: list[BadRow] | None = None) -> str:
    m = result.metrics()
    lines = ["metric                          value", "-" * 48]
    for k, v in m.items():
        lines.append(f"{k:<31} {v}")
    lines += ["", "divergence (device-only vs DSP-only)   count  causes", "-" * 72]
    for cls in CLASSES:
        causes = result.causes.get(cls, {})
        cs = ", ".join(f"{k}={v}" for k, v in sorted(causes.items(), key=lambda x: -x[1]))
        lines.append(f"{cls:<38} {result.counters[cls]:>6}  {cs}")
    if real is not None:
        lines += ["", "real DSP results                count", "-" * 48]
        for k, v in real.counters.items():
            lines.append(f"{k:<31} {v}")
        for e in real.examples[:10]:
            lines.append(f"  results line {e['result_line']}: {e['device_id']} "
                         f"{e['alert_code']} t_ms={e['t_ms']}: {'; '.join(e['problems'])}")
    if bad_rows:
        lines += ["", f"bad input rows: {len(bad_rows)}"]
        lines += [f"  {b}" for b in bad_rows[:20]]
        if len(bad_rows) > 20:
            lines.append(f"  ... and {len(bad_rows) - 20} more (all in the JSON output)")
    return "\n".join(lines)


def write_json(out: IO[str], result: CompareResult, setup: Setup, real: RealCheck | None,
               bad_rows: list[BadRow]) -> None:
    sc = setup.scenario
    doc = result.to_dict() | {
        "dsp_config": setup.dsp_cfg.to_dict(), "device_config": setup.dev_cfg.to_dict(),
        "scenario": {"latency": {"base_ms": sc.latency.base_ms, "jitter_ms": sc.latency.jitter_ms,
                                 "per_device": dict(sc.latency.per_device)},
                     "skew_ppm": sc.skew_ppm, "resets": [list(r) for r in sc.resets],
                     "reset_mode": sc.reset_mode, "slots": sc.slots, "seed": sc.seed},
        "real_dsp": real.to_dict() if real is not None else None,
        "bad_rows": [b.to_dict() for b in bad_rows],
        "hard_failures": result.hard_failures,
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


__all__ = ["Latency", "Scenario", "Setup", "CompareResult", "RealCheck", "compare_device", "decisions",
           "compare_stream", "sessions", "partition_of", "table", "write_json"]


def decisions(alerts: list[Alert], setup: Setup) -> tuple[list[int], list[int]]:
    """(DSP-only, device-only) decision per alert of one device session, each SUPPRESS,
    FORWARD or FORWARD | STARTED: the alert-by-alert agreement check of docs/policy.md."""
    p = _pair(alerts, setup, frozenset(), {})
    return p.dsp, p.dev.dec
