"""Device limiter vs DSP model on one device session (docs/dsp-model.md "The comparison").

Three pipelines per session (the alerts of one device, in event order):

* DSP-only: every alert crosses the WAN; the DSP model (`hil.model.dsp`) filters on its receipt
  clock (arrival = event time + WAN latency); hil/compare/dsp_side.py.
* device-only: the board's limiter replayed on the device's own ticks, with clock skew and
  resets, polled, summaries collected; hil/compare/replay.py.
* device -> DSP: what the DSP sees behind the device filter: the alerts the device forwarded
  plus its summary frames, which the DSP counts as alerts of code 0x8FFE from that device
  (that is what a real DSP would do with them); hil/compare/dsp_side.py.

Every divergence between the first two is classified and given a cause
(hil/compare/attribution.py). `compare_device` is a pure function of the session, the two
configurations and the perturbations, with its randomness seeded from (seed, device id, first
alert time), so sessions can be compared in any process (hil/compare/stream.py).
"""

from __future__ import annotations

from typing import Any

from firmware_model.limiter import FORWARD, STARTED
from hil.compare.attribution import COUNT_MISMATCH, DspCache, attribute, run_pair
from hil.compare.dsp_side import arrival_times, behind_device
from hil.compare.result import CompareResult
from hil.compare.settings import Setup
from hil.frames.catalogue import format_code
from hil.model.streams import Alert


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
    cache: DspCache = {}
    base = run_pair(alerts, setup, dsp_cache=cache)
    why = attribute(alerts, setup, base, cache)
    c["attribution_replays"] += why.replays
    causes, code_causes = why.causes, why.code_causes

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
    delivered, summaries_discarded = behind_device(alerts, dev.wan, base.arrivals, setup)
    c["summaries_discarded_by_dsp"] += summaries_discarded

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
    # every alert forwarded by both sides and delivered: only counting and arrivals are left
    n = len(alerts)
    c = res.counters
    for k in ("alerts", "wan_frames_without_device", "dsp_only_forwarded", "device_forwarded",
              "device_wan_frames", "device_to_dsp_delivered", "agree"):
        c[k] += n
    c["device_sessions"] += 1
    lat = setup.perturbations.latency
    arr = arrival_times(alerts, lat, setup.perturbations.seed, True) \
        if fates or not lat.zero else None
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
                 "device": "forwarded", "device_started": False, "device_to_dsp": "delivered",
                 "divergence": None, "causes": []} for i, a in enumerate(alerts)]
    return res, rows
