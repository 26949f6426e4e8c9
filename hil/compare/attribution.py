"""What diverges between the device and the DSP in one device session, and why.

A pair run puts a session through both sides, device-only and DSP-only, and classifies every
divergence: per alert (lost at the device, critical lost, extra WAN traffic) and per code (the
suppressed count the device reported against the count the DSP discarded). Attribution names
a cause for each: the session is replayed with each active perturbation ("knob") removed, one
at a time; a divergence that disappears when knob k is removed is k's. If no single knob
explains it, all are removed together: if it then disappears the cause is the knobs joined by
"+", else `unknown` (docs/dsp-model.md "The comparison").

`Knobs` says, for a run's settings, which knobs a session can have and which device replay
each removal needs; hil/compare/session.py runs those replays alongside the session's main
pipelines as it streams, and `causes` turns what each replay decided into the cause list once
the session's active knobs are known. `run_pair` is the pair run of a session held whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hil.compare.dsp_side import ArrivalClock, DspOnly
from hil.compare.replay import DeviceReplay, DeviceRun
from hil.compare.settings import MAX_SLOTS, Setup
from hil.model.dsp import FORWARD
from hil.model.policy import WINDOW_KEYS, PolicyConfig
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
BIT = {k: 1 << n for n, k in enumerate(CAUSES)}  # a set of knobs as an int


def classify(code: int, dsp_forwarded: int, critical: frozenset[int]) -> str:
    """The class of an alert that one side forwarded and the other did not."""
    if dsp_forwarded:
        return CRITICAL_LOST if code in critical else LOST_AT_DEVICE
    return EXTRA_WAN


def mismatches(reported: dict[int, int], discarded: dict[int, int]
               ) -> dict[int, tuple[int, int]]:
    """code -> (suppressed count the device reported, alerts the DSP discarded), where they
    differ."""
    out = {}
    for code in set(discarded) | set(reported):
        r, x = reported.get(code, 0), discarded.get(code, 0)
        if r != x:
            out[code] = (r, x)
    return out


def causes(mask: int, active: int, combined_ok: bool) -> list[str]:
    """The causes of one divergence: the active knobs (`active`, a BIT set) whose removal
    alone made it disappear (`mask`); if none did, the active knobs joined by "+" when
    removing them all together made it disappear (`combined_ok`), else `unknown`."""
    found = [k for k in CAUSES if mask & active & BIT[k]]
    if found:
        return found
    knobs = [k for k in CAUSES if active & BIT[k]]
    return ["+".join(knobs) if knobs and combined_ok else UNKNOWN]


class Knobs:
    """The knobs of a run's settings: `static(device, t0)`, those a session has from its start
    (clock skew, the device's resets, the configuration differences); `wan_latency` and
    `table_eviction` become active as the session goes (an arrival other than the event
    time, the device's first use of its overflow slot). `replay(removed)`: the device replay
    with the knobs in `removed` taken out (one per set, shared by the run's sessions)."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        p = setup.perturbations
        # summary_interval_ms is device-only: it moves summaries in time, never counts or
        # decisions
        diff = [k for k in setup.dev_cfg.differences(setup.dsp_cfg) if k != "summary_interval_ms"]
        self.config_bits = (BIT[WINDOW_ALIGNMENT] if any(k in WINDOW_KEYS for k in diff) else 0) \
            | (BIT[CONFIG_DIFFERENCE] if any(k not in WINDOW_KEYS for k in diff) else 0)
        self.skew_bit = BIT[CLOCK_SKEW] if p.skew_ppm else 0
        self.reset_devices = {r[0] for r in p.resets}
        self.last_reset = max((int(r[1]) for r in p.resets), default=-1)
        self._replays: dict[int, DeviceReplay] = {}

    def static(self, device: str, t0: int) -> int:
        bits = self.skew_bit | self.config_bits
        if t0 <= self.last_reset and (device in self.reset_devices or "*" in self.reset_devices):
            if any(r[0] >= t0 for r in self.setup.perturbations.resets_for(device)):
                bits |= BIT[DEVICE_RESET]
        return bits

    def replay(self, removed: int) -> DeviceReplay:
        r = self._replays.get(removed)
        if r is None:
            setup = self.setup
            p = setup.perturbations
            r = self._replays[removed] = DeviceReplay(
                device_config(setup, removed), p, skew=not removed & BIT[CLOCK_SKEW],
                resets=not removed & BIT[DEVICE_RESET],
                slots=MAX_SLOTS if removed & BIT[TABLE_EVICTION] else p.slots)
        return r


def device_config(setup: Setup, removed: int) -> PolicyConfig:
    """The device's configuration with the configuration knobs in `removed` taken out."""
    dcfg = setup.dev_cfg
    if removed & BIT[WINDOW_ALIGNMENT]:
        dcfg = dcfg.replace(**{k: getattr(setup.dsp_cfg, k) for k in WINDOW_KEYS})
    if removed & BIT[CONFIG_DIFFERENCE]:
        keep = {k: getattr(dcfg, k) for k in (*WINDOW_KEYS, "summary_interval_ms")}
        dcfg = setup.dsp_cfg.replace(**keep)
    return dcfg


def bits_of(knobs: Iterable[str]) -> int:
    out = 0
    for k in knobs:
        out |= BIT[k]
    return out


# -- a session held whole ----------------------------------------------------------------------


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


def run_pair(alerts: list[Alert], setup: Setup, removed: frozenset[str] = frozenset()
             ) -> PairRun:
    """Both sides on one session (alerts of one device, in event order), with the knobs in
    `removed` taken out."""
    p = setup.perturbations
    device, t0 = alerts[0].device, alerts[0].t_ms
    if WAN_LATENCY in removed:
        arr = [a.t_ms for a in alerts]
    else:
        clock = ArrivalClock(p.latency, p.seed, device, t0)
        arr = [clock(a.t_ms, a.arrival_ms) for a in alerts]
    recs: list[list[Any]] = [[0, 0, 0] for _ in alerts]
    only = DspOnly(setup.dsp_cfg, device)
    for i, a in enumerate(alerts):
        only.push(i, recs[i], a.code, arr[i])
    only.flush()
    dsp, tc, sid = ([r[k] for r in recs] for k in range(3))
    dev = Knobs(setup).replay(bits_of(removed)).run(alerts)
    critical = setup.critical
    divergent = {i: classify(a.code, dsp[i] & FORWARD, critical)
                 for i, a in enumerate(alerts) if dsp[i] & FORWARD != dev.dec[i] & FORWARD}
    return PairRun(dsp, tc, sid, arr, dev, divergent, mismatches(dev.reported, only.discarded))


def decisions(alerts: list[Alert], setup: Setup) -> tuple[list[int], list[int]]:
    """(DSP-only, device-only) decision per alert of one device session, each SUPPRESS,
    FORWARD or FORWARD | STARTED: the alert-by-alert agreement check of docs/policy.md."""
    p = run_pair(alerts, setup)
    return p.dsp, p.dev.dec
