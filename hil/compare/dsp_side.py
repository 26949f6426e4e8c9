"""The DSP side of a comparison: when each frame of a device session reaches the DSP, and
what the DSP model (`hil.model.dsp`) decides on its receipt clock.

Two pipelines: DSP-only (every alert crosses the WAN) and device -> DSP (what the DSP sees
behind the device filter: the alerts the device forwarded plus its summary frames, which the
DSP counts as alerts of code 0x8FFE from that device, as a real DSP would).

Both stream. The DSP takes frames in arrival order, and a session's frames are sent in event
order, so each pipeline holds a reorder buffer (a heap on (arrival, send order)) from which a
frame goes to the DSP model once nothing sent later can arrive before it: a frame arrives no
earlier than it was sent (an input `arrival_ms` before its `t_ms` is a bad row,
hil/compare/stream.py), so once the session's event time has reached T every frame arriving
by T is final. The buffer holds the frames of the last (maximum latency) of event time, however
long the session."""

from __future__ import annotations

import heapq
from typing import Any

from hil.compare.settings import Latency, seeded_draws
from hil.frames.catalogue import SUMMARY_CODE
from hil.model.dsp import FORWARD, DspFilter
from hil.model.policy import PolicyConfig


class ArrivalClock:
    """Arrival time at the DSP of each alert of one session, in event order: given by the
    input, or event time + the latency drawn for that alert from a generator seeded by
    (seed, device, first alert time)."""

    __slots__ = ("base", "jitter", "draw")

    def __init__(self, lat: Latency, seed: int, device: str, t0: int) -> None:
        self.base = lat.base_for(device)
        self.jitter = lat.jitter_ms
        self.draw = seeded_draws(self.jitter, seed, "latency", device, t0) if self.jitter \
            else None

    def __call__(self, t: int, given: int | None) -> int:
        if given is not None:
            return given
        draw = self.draw
        return t + self.base + (draw() if draw is not None else 0)


class DspOnly:
    """The DSP-only pipeline of one session: every alert offered to the DSP model at its
    arrival. `push(order, rec, code, arrival)` takes the session's alerts in event order, each
    with its record (a list); `release(T)` decides, in arrival order (ties in event order), the ones
    that arrived by event time T, writing the decision, ThrottledAlertCount and
    ThrottledAlertSequenceId into rec[slot], rec[slot + 1], rec[slot + 2] (the decision also
    into rec[also] if `also` >= 0); `flush()` decides the rest. `decide` is for a pipeline
    whose arrivals are the event times, in order: nothing to hold. `discarded`: code -> alerts
    the DSP discarded."""

    __slots__ = ("filter", "device", "slot", "also", "heap", "discarded")

    def __init__(self, cfg: PolicyConfig, device: str, slot: int = 0, also: int = -1) -> None:
        self.filter = DspFilter(cfg)
        self.device = device
        self.slot = slot
        self.also = also
        self.heap: list[tuple[int, int, int, list[Any]]] = []
        self.discarded: dict[int, int] = {}

    def push(self, order: int, rec: list[Any], code: int, arrival: int) -> None:
        """An alert (its place in the session: `order`, increasing)."""
        heapq.heappush(self.heap, (arrival, order, code, rec))

    def release(self, upto: int) -> None:
        heap = self.heap
        f = self.filter
        offer = f.offer
        device = self.device
        discarded = self.discarded
        slot, also = self.slot, self.also
        pop = heapq.heappop
        while heap and heap[0][0] <= upto:
            arr, _, code, rec = pop(heap)
            r = offer(device, code, arr)
            if not r & FORWARD:
                discarded[code] = discarded.get(code, 0) + 1
            rec[slot] = r
            if f.sequence_id:
                rec[slot + 1] = f.throttled_count
                rec[slot + 2] = f.sequence_id
            if also >= 0:
                rec[also] = r

    def decide(self, code: int, arrival: int) -> int:
        r = self.filter.offer(self.device, code, arrival)
        if not r & FORWARD:
            self.discarded[code] = self.discarded.get(code, 0) + 1
        return r

    def flush(self) -> None:
        if self.heap:
            self.release(max(x[0] for x in self.heap))


class BehindDevice:
    """The device -> DSP pipeline of one session: the device's WAN frames through the DSP.
    `frame(send, rec, code, arrival)` takes each frame as the device sends it: a forwarded
    alert (with its record) arrives when it would have alone (`arrival`); a summary frame
    (rec None) gets its own latency, drawn in send order. `release(T)`, as `DspOnly.release`,
    writes into rec[slot] whether the DSP took each forwarded alert; `summaries_discarded`
    counts the summary frames the DSP discarded."""

    __slots__ = ("filter", "device", "slot", "heap", "n", "base", "jitter", "draw",
                 "summaries_discarded")

    def __init__(self, cfg: PolicyConfig, lat: Latency, seed: int, device: str, t0: int,
                 slot: int = 0) -> None:
        self.filter = DspFilter(cfg)
        self.device = device
        self.slot = slot
        self.heap: list[tuple[int, int, int, list[Any] | None]] = []
        self.n = 0
        self.base = lat.base_for(device)
        self.jitter = lat.jitter_ms
        self.draw = seeded_draws(self.jitter, seed, "summary-latency", device, t0) \
            if self.jitter else None
        self.summaries_discarded = 0

    def frame(self, send: int, rec: list[Any] | None, code: int, arrival: int) -> None:
        if rec is None:
            draw = self.draw
            arrival = send + self.base + (draw() if draw is not None else 0)
            code = SUMMARY_CODE
        heapq.heappush(self.heap, (arrival, self.n, code, rec))
        self.n += 1

    def release(self, upto: int) -> None:
        heap = self.heap
        offer = self.filter.offer
        device = self.device
        slot = self.slot
        pop = heapq.heappop
        while heap and heap[0][0] <= upto:
            arr, _, code, rec = pop(heap)
            r = offer(device, code, arr)
            if rec is not None:
                rec[slot] = r & FORWARD
            elif not r & FORWARD:
                self.summaries_discarded += 1

    def flush(self) -> None:
        if self.heap:
            self.release(max(x[0] for x in self.heap))
