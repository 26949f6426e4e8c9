"""What diverges between the device and the DSP in one device session, and why.

A pair run (`run_pair`) puts a session through both sides, device-only and DSP-only, and
classifies every divergence: per alert (lost at the device, critical lost, extra WAN traffic)
and per code (the suppressed count the device reported against the count the DSP discarded).
`attribute` names a cause for each: the session is replayed with each active perturbation
("knob") removed, one at a time; a divergence that disappears when knob k is removed is k's.
If no single knob explains it, all are removed together: if it then disappears the cause is the
knobs joined by "+", else `unknown` (docs/dsp-model.md "The comparison")."""

from __future__ import annotations

from dataclasses import dataclass

from firmware_model.limiter import FORWARD
from hil.compare.dsp_side import arrival_times, dsp_only
from hil.compare.replay import DeviceReplay, DeviceRun
from hil.compare.settings import MAX_SLOTS, Setup
from hil.model.policy import WINDOW_KEYS
from hil.model.streams import Alert

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

# the DSP-only pipeline of a session, with and without latency: (decisions, ThrottledAlertCount,
# ThrottledAlertSequenceId, arrivals); only WAN_LATENCY changes it, so replays share it
DspCache = dict[bool, tuple[list[int], list[int], list[int], list[int]]]


@dataclass
class PairRun:
    """Decisions of both sides for one session, and what diverges."""

    dsp: list[int]
    tc: list[int]
    sid: list[int]
    arrivals: list[int]
    dev: DeviceRun
    divergent: dict[int, str]      # alert index -> class
    mismatched: dict[int, tuple[int, int]]  # code -> (device reported, DSP discarded)


def run_pair(alerts: list[Alert], setup: Setup, removed: frozenset[str] = frozenset(),
             dsp_cache: DspCache | None = None) -> PairRun:
    """Both sides on one session (alerts of one device, in event order), with the knobs in
    `removed` taken out."""
    p = setup.perturbations
    dcfg = setup.dev_cfg
    if WINDOW_ALIGNMENT in removed:
        dcfg = dcfg.replace(**{k: getattr(setup.dsp_cfg, k) for k in WINDOW_KEYS})
    if CONFIG_DIFFERENCE in removed:
        keep = {k: getattr(dcfg, k) for k in (*WINDOW_KEYS, "summary_interval_ms")}
        dcfg = setup.dsp_cfg.replace(**keep)
    if dsp_cache is None:
        dsp_cache = {}
    lat_on = WAN_LATENCY not in removed
    if lat_on not in dsp_cache:
        arr = arrival_times(alerts, p.latency, p.seed, lat_on)
        dsp_cache[lat_on] = (*dsp_only(alerts[0].device, [a.code for a in alerts], arr,
                                       setup.dsp_cfg), arr)
    dsp, tc, sid, arr = dsp_cache[lat_on]
    dev = DeviceReplay(dcfg, p, skew=CLOCK_SKEW not in removed,
                       resets=DEVICE_RESET not in removed,
                       slots=MAX_SLOTS if TABLE_EVICTION in removed else p.slots).run(alerts)
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
    return PairRun(dsp, tc, sid, arr, dev, divergent, mismatched)


def decisions(alerts: list[Alert], setup: Setup) -> tuple[list[int], list[int]]:
    """(DSP-only, device-only) decision per alert of one device session, each SUPPRESS,
    FORWARD or FORWARD | STARTED: the alert-by-alert agreement check of docs/policy.md."""
    p = run_pair(alerts, setup)
    return p.dsp, p.dev.dec


@dataclass
class Attribution:
    """The causes of a session's divergences, most specific first."""

    causes: dict[int, list[str]]       # alert index -> causes of its divergence
    code_causes: dict[int, list[str]]  # code -> causes of its count mismatch
    replays: int                       # pair runs it took


def attribute(alerts: list[Alert], setup: Setup, base: PairRun, dsp_cache: DspCache
              ) -> Attribution:
    """Name a cause for every divergence of `base` (the session's pair run with nothing
    removed) by replaying the session with knobs removed."""
    causes: dict[int, list[str]] = {}
    code_causes: dict[int, list[str]] = {}
    if not (base.divergent or base.mismatched):
        return Attribution(causes, code_causes, 0)
    knobs = _active_knobs(alerts, setup, base)
    replays = {k: run_pair(alerts, setup, frozenset((k,)), dsp_cache) for k in knobs}
    n = len(knobs)
    for i in base.divergent:
        causes[i] = [k for k in knobs if i not in replays[k].divergent]
    for code in base.mismatched:
        code_causes[code] = [k for k in knobs if code not in replays[k].mismatched]
    if any(not v for v in causes.values()) or any(not v for v in code_causes.values()):
        allp = run_pair(alerts, setup, frozenset(knobs), dsp_cache)
        n += 1
        combined = "+".join(knobs) if knobs else UNKNOWN
        for i, v in causes.items():
            if not v:
                v.append(combined if i not in allp.divergent else UNKNOWN)
        for code, v in code_causes.items():
            if not v:
                v.append(combined if code not in allp.mismatched else UNKNOWN)
    return Attribution(causes, code_causes, n)


def _active_knobs(alerts: list[Alert], setup: Setup, base: PairRun) -> list[str]:
    p = setup.perturbations
    knobs = []
    if any(x != a.t_ms for x, a in zip(base.arrivals, alerts, strict=True)):
        knobs.append(WAN_LATENCY)
    if p.skew_ppm:
        knobs.append(CLOCK_SKEW)
    if [r for r in p.resets_for(alerts[0].device) if r[0] >= alerts[0].t_ms]:
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
