"""The DSP side of a comparison: when each frame of a device session reaches the DSP, and
what the DSP model (`hil.model.dsp`) decides on its receipt clock.

Two pipelines: DSP-only (every alert crosses the WAN) and device -> DSP (what the DSP sees
behind the device filter: the alerts the device forwarded plus its summary frames, which the
DSP counts as alerts of code 0x8FFE from that device, as a real DSP would)."""

from __future__ import annotations

from hil.compare.settings import Latency, Setup, seeded_rng
from hil.frames.catalogue import SUMMARY_CODE
from hil.model.dsp import FORWARD, DspFilter
from hil.model.policy import PolicyConfig
from hil.model.streams import Alert


def arrival_times(alerts: list[Alert], lat: Latency, seed: int, enabled: bool) -> list[int]:
    """Arrival time of each alert at the DSP (given by the input, or event time + latency;
    event time if latency is not `enabled`)."""
    if not enabled:
        return [a.t_ms for a in alerts]
    device = alerts[0].device
    base = lat.base_for(device)
    rng = seeded_rng(seed, "latency", device, alerts[0].t_ms)
    j = lat.jitter_ms
    return [a.arrival_ms if a.arrival_ms is not None else
            a.t_ms + base + (rng.randint(0, j) if j else 0) for a in alerts]


def dsp_only(device: str, codes: list[int], arrivals: list[int], cfg: PolicyConfig
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


def behind_device(alerts: list[Alert], wan: list[tuple[int, int]], arrivals: list[int],
                  setup: Setup) -> tuple[list[bool], int]:
    """The device's WAN frames (send time, alert index or -1 for a summary) through the DSP:
    per alert whether it was delivered, and how many summary frames the DSP discarded. A
    forwarded alert arrives when it would have alone; a summary gets its own latency."""
    device = alerts[0].device
    lat = setup.perturbations.latency
    srng = seeded_rng(setup.perturbations.seed, "summary-latency", device, alerts[0].t_ms)
    sbase = lat.base_for(device)
    j = lat.jitter_ms
    items = []
    for order, (send, i) in enumerate(wan):
        if i >= 0:
            items.append((arrivals[i], order, alerts[i].code, i))
        else:
            items.append((send + sbase + (srng.randint(0, j) if j else 0), order, SUMMARY_CODE, -1))
    items.sort()
    f = DspFilter(setup.dsp_cfg)
    delivered = [False] * len(alerts)
    summaries_discarded = 0
    for arr, _, code, i in items:
        r = f.offer(device, code, arr)
        if i >= 0:
            delivered[i] = bool(r & FORWARD)
        elif not r & FORWARD:
            summaries_discarded += 1
    return delivered, summaries_discarded
