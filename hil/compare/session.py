"""Device limiter vs DSP model on one device session, as it streams (docs/dsp-model.md "The
comparison").

Three pipelines per session (the alerts of one device, in event order):

* DSP-only: every alert crosses the WAN; the DSP model (`hil.model.dsp`) filters on its receipt
  clock (arrival = event time + WAN latency); hil/compare/dsp_side.py.
* device-only: the board's limiter replayed on the device's own ticks, with clock skew and
  resets, polled, summaries collected; hil/compare/replay.py.
* device -> DSP: what the DSP sees behind the device filter: the alerts the device forwarded
  plus its summary frames, which the DSP counts as alerts of code 0x8FFE from that device
  (that is what a real DSP would do with them); hil/compare/dsp_side.py.

Every divergence between the first two is classified and given a cause
(hil/compare/attribution.py). The replays that attribution needs run beside the main pipelines:
one device replay per knob the session can have (and one with them all removed), the DSP
without latency, each fed the same alert as it comes. Each alert waits in a queue until the DSP
has decided it and the device -> DSP pipeline has delivered or dropped it (the reorder buffers
of hil/compare/dsp_side.py), then is counted and forgotten. What is left of a session at any
time is its boards, its DSP filters, the alerts of the last (maximum latency) of event time,
and per code counts: nothing grows with the length of a storm.

A session is a pure function of its alerts, the two configurations and the perturbations, with
its randomness seeded from (seed, device id, first alert time), so sessions can be compared in
any process (hil/compare/stream.py). `compare_device` is the list form, for a session held
whole.
"""

from __future__ import annotations

import copy
import pickle
import tempfile
from collections import deque
from heapq import heappush
from typing import IO, Any

from firmware_model.limiter import FORWARD, STARTED
from hil.compare.attribution import (
    BIT,
    CAUSES,
    COUNT_MISMATCH,
    TABLE_EVICTION,
    WAN_LATENCY,
    Knobs,
    causes,
    classify,
    mismatches,
)
from hil.compare.dsp_side import ArrivalClock, BehindDevice, DspOnly
from hil.compare.replay import SessionBoard
from hil.compare.result import CompareResult
from hil.compare.settings import MAX_SLOTS, Setup
from hil.frames.catalogue import format_code
from hil.model.streams import Alert

WAN = BIT[WAN_LATENCY]
TABLE = BIT[TABLE_EVICTION]

# An alert on its way through a session: a list, for speed
# event time, code, input seq, input line, arrival, DSP-only decision (None until decided),
# its ThrottledAlertCount and ThrottledAlertSequenceId, DSP-without-latency decision,
# delivered behind the device (None until known), then each board's decision (base first)
T, CODE, SEQ, LINE, ARR, ON, TC, SID, OFF, DELIV, DEV = range(11)

HOLD_IN_MEMORY = 4096  # fate rows held in memory before the rest go to a temporary file
OFF_LAG = 4096  # alerts the DSP without latency may lag behind on


class Plan:
    """What every session of a run shares: the settings, their knobs and device replays, and
    what the run records (fate rows or not, how many examples)."""

    def __init__(self, setup: Setup, *, fates: bool = False, max_examples: int = 20) -> None:
        self.setup = setup
        self.knobs = Knobs(setup)
        self.critical = setup.critical
        # fewer alerts in a whole session than it takes to turn red: neither side can filter
        # anything or send a summary, whatever the latency, skew or resets (policy steps 1-3)
        self.red = min(setup.dsp_cfg.red_threshold, setup.dev_cfg.red_threshold)
        self.fates = fates
        self.max_examples = max_examples


class DeviceSession:
    """One device session compared as it streams: `push` each of its alerts, in event order,
    then `close` to add its counts, causes and examples to a result. Fate rows (with `plan.
    fates`) go to `rows` alert by alert, in the session's order."""

    def __init__(self, plan: Plan, device: str, t0: int, first_seq: int = 0,
                 first_line: int = 0, rows: list[dict[str, Any]] | None = None) -> None:
        setup = plan.setup
        p = setup.perturbations
        knobs = plan.knobs
        self.plan = plan
        self.device = device
        self.t0 = t0
        self.first_seq = first_seq
        self.first_line = first_line
        self.rows = rows
        self.critical = plan.critical
        # -- the device replays: base first, then one per knob the session has, then all of
        # them removed at once (a replay needed by two removals runs once)
        self.static = knobs.static(device, t0)
        self.frames: list[tuple[int, int]] = []   # the base board's WAN frames, just sent
        self.boards: list[SessionBoard] = []
        self.col: dict[int, int] = {}             # removed knobs -> board
        self.base = knobs.replay(0).start(device, t0, self.frames)
        self._board(0, self.base)
        for k in CAUSES:
            if self.static & BIT[k]:
                self._board(BIT[k], knobs.replay(BIT[k]).start(device, t0))
        if self.static not in self.col:
            self._board(self.static, knobs.replay(self.static).start(device, t0))
        self.singles = [(BIT[k], self.col[BIT[k]]) for k in CAUSES if self.static & BIT[k]]
        self.replays = self.boards[1:]
        self.all_col = self.col[self.static]
        self.codes: set[int] = set()
        # table_eviction's replays start once the session has more codes than slots
        self.forked = p.slots >= MAX_SLOTS
        self.slots = p.slots
        self.table_col = 0
        self.all_table_col = self.all_col
        # -- the DSP side
        lat = p.latency
        clock = ArrivalClock(lat, p.seed, device, t0)
        self.lat_base, self.draw = clock.base, clock.draw
        self.on = DspOnly(setup.dsp_cfg, device, ON, OFF if lat.zero else -1)
        # The DSP without latency: its own filter when there is latency, else the same
        # decisions as `on` until an input arrival_ms differs from its t_ms (then it forks).
        # Its decisions matter only for a divergence (and a mismatch, at the end), so it
        # lags: the alerts it has not decided yet wait in `off_lag` (a bounded number).
        self.off: DspOnly | None = DspOnly(setup.dsp_cfg, device) if not lat.zero else None
        self.off_lag: list[list[Any]] = []
        self.behind = BehindDevice(setup.dsp_cfg, lat, p.seed, device, t0, DELIV)
        self.queue: deque[list[Any]] = deque()
        # -- what the session has done so far
        self.n = 0
        self.top = -1                 # the latest arrival so far
        self.wan_active = False       # an arrival differs from its event time
        self.table_active = False     # the base board used its overflow slot
        self.watch_table = False      # forked, not active yet: look after every alert
        # alerts by (DSP-only forwarded, device forwarded, delivered behind the device)
        self.fates = [0] * 8
        self.reordered = 0
        self.summary_frames = 0
        self.wan_frames = 0
        self.critical_lost = 0
        self.divergences: dict[tuple[str, int, bool, bool], int] = {}
        self.examples: list[list[Any]] = []
        self.held: _HeldRows | None = None
        self.closed = False

    def _board(self, removed: int, board: SessionBoard) -> None:
        self.col[removed] = len(self.boards)
        self.boards.append(board)

    # -- the stream ------------------------------------------------------------------------

    def push(self, t: int, code: int, arrival: int | None = None, seq: int = 0,
             line: int = 0) -> None:
        """The session's next alert (event time t, not before the previous one); `arrival`:
        its DSP receipt time if the input gives one (not before t)."""
        i = self.n
        self.n = i + 1
        if arrival is not None:
            arr = arrival
        else:
            draw = self.draw
            arr = t + self.lat_base + draw() if draw is not None else t + self.lat_base
        if arr != t and not self.wan_active:
            self._wan_starts()
        if arr < self.top:
            self.reordered += 1
        else:
            self.top = arr
        if code not in self.codes:
            self.codes.add(code)
            if len(self.codes) > self.slots and not self.forked:
                self._fork_table()
        d0 = self.base.alert(i, code, t)
        rec: list[Any] = [t, code, seq, line, arr, None, 0, 0, None,
                          None if d0 & FORWARD else 0, d0]
        for b in self.replays:
            rec.append(b.alert(i, code, t))
        behind = self.behind
        frames = self.frames
        if frames:
            # the base board's new WAN frames into the device -> DSP pipeline
            if len(frames) == 1 and frames[0][1] >= 0:
                behind.frame(t, rec, code, arr)  # the alert alone, the common case
            else:
                for send, j in frames:
                    if j >= 0:
                        behind.frame(send, rec, code, arr)
                    else:
                        behind.frame(send, None, 0, 0)
                        self.summary_frames += 1
            self.wan_frames += len(frames)
            frames.clear()
        if self.watch_table and self.base.overflow_uses():
            self.table_active = True
            self.watch_table = False
            self._release_held()
        if self.off is not None:
            lag = self.off_lag
            lag.append(rec)
            if len(lag) >= OFF_LAG:
                self._catch_up()
        on = self.on
        heap = on.heap
        heappush(heap, (arr, i, code, rec))
        # nothing sent from now on arrives before t
        if heap[0][0] <= t:
            on.release(t)
        later = behind.heap
        if later and later[0][0] <= t:
            behind.release(t)
        q = self.queue
        q.append(rec)
        head = q[0]
        if head[ON] is not None and head[DELIV] is not None:
            self._drain()

    def _flush_frames(self) -> None:
        # the base board's WAN frames from its tail: summaries only
        for send, _ in self.frames:
            self.behind.frame(send, None, 0, 0)
        self.summary_frames += len(self.frames)
        self.wan_frames += len(self.frames)
        self.frames.clear()

    def _drain(self) -> None:
        # the alerts at the head of the queue that are done, counted and forgotten
        q = self.queue
        fates = self.fates
        critical = self.critical
        plain = self.rows is None
        while q:
            rec = q[0]
            delivered = rec[DELIV]
            if rec[ON] is None or delivered is None:
                return
            q.popleft()
            d = rec[ON] & FORWARD
            v = rec[DEV] & FORWARD
            fates[d << 2 | v << 1 | delivered] += 1
            if not delivered and rec[CODE] in critical:
                self.critical_lost += 1
            if d != v:
                self._diverged(rec, d, v)
            elif not plain:
                self._fate(rec, None, 0, False, False)

    def _catch_up(self) -> None:
        # the DSP without latency decides the alerts it lags behind on
        off = self.off
        if off is not None:
            decide = off.decide
            for rec in self.off_lag:
                rec[OFF] = decide(rec[CODE], rec[T])
        self.off_lag.clear()

    def _wan_starts(self) -> None:
        self.wan_active = True
        if self.off is None:
            # until now every arrival was its event time: the DSP without latency is the DSP
            # as it stands (every alert so far decided, nothing held)
            off = self.off = DspOnly(self.plan.setup.dsp_cfg, self.device)
            off.filter = copy.deepcopy(self.on.filter)
            off.discarded = dict(self.on.discarded)
            self.on.also = -1
        self._release_held()

    def _fork_table(self) -> None:
        # the replays without table eviction: until this alert they are the boards they widen
        self.forked = True
        self.watch_table = True
        base, table = 0, len(self.boards)
        self._board(TABLE, self.boards[base].widened(MAX_SLOTS))
        self.table_col = table
        srcs = [base]
        if self.static:
            self._board(self.static | TABLE, self.boards[self.all_col].widened(MAX_SLOTS))
            srcs.append(self.all_col)
            self.all_table_col = self.col[self.static | TABLE]
        else:
            self.all_table_col = table
        for rec in self.queue:
            for s in srcs:
                rec.append(rec[DEV + s])
        self.replays = self.boards[1:]

    # -- one alert, done --------------------------------------------------------------------

    def _diverged(self, rec: list[Any], dfwd: int, vfwd: int) -> None:
        if rec[OFF] is None:
            self._catch_up()
        code = rec[CODE]
        cls = classify(code, dfwd, self.critical)
        # which replays made it disappear
        mask = 0
        off = rec[OFF] & FORWARD
        if off == vfwd:
            mask |= WAN
        for bit, col in self.singles:
            if dfwd == rec[DEV + col] & FORWARD:
                mask |= bit
        if self.table_col and dfwd == rec[DEV + self.table_col] & FORWARD:
            mask |= TABLE
        all_ok = off == rec[DEV + self.all_col] & FORWARD
        all_table_ok = off == rec[DEV + self.all_table_col] & FORWARD
        key = (cls, mask, all_ok, all_table_ok)
        self.divergences[key] = self.divergences.get(key, 0) + 1
        if len(self.examples) < self.plan.max_examples:
            self.examples.append([cls, mask, all_ok, all_table_ok, rec[T], code, rec[LINE]])
        if self.rows is not None:
            self._fate(rec, cls, mask, all_ok, all_table_ok)

    def _fate(self, rec: list[Any], cls: str | None, mask: int, all_ok: bool,
              all_table_ok: bool) -> None:
        d = rec[ON]
        v = rec[DEV]
        fwd = d & FORWARD and rec[SID]
        row = {
            "seq": rec[SEQ], "line": rec[LINE], "device_id": self.device, "t_ms": rec[T],
            "arrival_ms": rec[ARR], "alert_code": format_code(rec[CODE]),
            "dsp": "forwarded" if d & FORWARD else "discarded",
            "dsp_started": bool(d & STARTED),
            "throttled_count": rec[TC] if fwd else None,
            "sequence_id": rec[SID] if fwd else None,
            "device": "forwarded" if v & FORWARD else "suppressed",
            "device_started": bool(v & STARTED),
            "device_to_dsp": ("delivered" if rec[DELIV] else "discarded_by_dsp")
            if v & FORWARD else "suppressed_at_device",
            "divergence": cls, "causes": [],
        }
        entry = (row, mask, all_ok, all_table_ok)
        if self.held is not None or (cls is not None and not self._settled(mask)):
            if self.held is None:
                self.held = _HeldRows()
            self.held.append(entry)
            return
        self._emit(entry)

    def _undetermined(self) -> int:
        # knobs that are not active yet but may still become so
        if self.closed:
            return 0
        return (0 if self.wan_active else WAN) | (0 if self.table_active else TABLE)

    def _active(self) -> int:
        return self.static | (WAN if self.wan_active else 0) | \
            (TABLE if self.table_active else 0)

    def _settled(self, mask: int) -> bool:
        # A divergence's causes are final once they cannot depend on a knob that is still
        # undetermined: no such knob's replay removed it (in fact that cannot happen: such a
        # replay has decided as the base so far), and it has a named cause, or else there is
        # no undetermined knob left to join the combined cause.
        u = self._undetermined()
        return not mask & u and (bool(mask & self._active()) or not u)

    def _emit(self, entry: tuple[dict[str, Any], int, bool, bool]) -> None:
        row, mask, all_ok, all_table_ok = entry
        if row["divergence"] is not None:
            row["causes"] = causes(mask, self._active(),
                                   all_table_ok if self.table_active else all_ok)
        assert self.rows is not None
        self.rows.append(row)

    def _release_held(self) -> None:
        held = self.held
        if held is None:
            return
        while True:
            entry = held.first()
            if entry is None:
                self.held = None
                return
            if entry[0]["divergence"] is not None and not self._settled(entry[1]):
                return
            held.pop()
            self._emit(entry)

    # -- the end ----------------------------------------------------------------------------

    def close(self, total: CompareResult) -> None:
        """The session has ended: run its tail, count what is left, name every divergence's
        causes, and add it all to `total`."""
        boards = self.boards
        boards[0].finish()
        if self.frames:
            self._flush_frames()
        for b in boards[1:]:
            b.finish()
        self.on.flush()
        self.behind.flush()
        self._drain()
        assert not self.queue
        if self.forked and boards[0].overflow_uses():
            self.table_active = True
        self.closed = True  # every knob is determined: active now, or never
        active = self._active()
        self._release_held()  # fate rows held while a knob was undetermined

        n = self.n
        f = self.fates
        k = total.counters
        k["alerts"] += n
        k["device_sessions"] += 1
        k["wan_frames_without_device"] += n
        k["dsp_only_forwarded"] += f[4] + f[5] + f[6] + f[7]
        k["dsp_only_discarded"] += f[0] + f[1] + f[2] + f[3]
        k["alerts_lost"] += f[4] + f[6]
        k["device_forwarded"] += f[2] + f[3] + f[6] + f[7]
        k["device_suppressed"] += f[0] + f[1] + f[4] + f[5]
        k["device_to_dsp_delivered"] += f[3] + f[7]
        k["device_to_dsp_discarded_by_dsp"] += f[2] + f[6]
        k["agree"] += f[0] + f[1] + f[6] + f[7]
        k["critical_alerts_lost"] += self.critical_lost
        k["reordered_by_wan"] += self.reordered
        k["device_summary_frames"] += self.summary_frames
        k["device_wan_frames"] += self.wan_frames
        k["wan_frames_saved"] += n - self.wan_frames
        k["summaries_discarded_by_dsp"] += self.behind.summaries_discarded

        base = boards[0]
        mismatched = mismatches(base.reported, self.on.discarded)
        if not (self.divergences or mismatched):
            return
        self._catch_up()
        table_on = bool(active & TABLE)
        unexplained = False
        for (cls, mask, all_ok, all_table_ok), count in self.divergences.items():
            why = causes(mask, active, all_table_ok if table_on else all_ok)
            unexplained |= not mask & active
            k[cls] += count
            total.add_cause(cls, why[0], count)
        code_causes = {}
        if mismatched:
            off_discarded = (self.off or self.on).discarded
            replays = [(WAN, mismatches(base.reported, off_discarded))]
            replays += [(bit, mismatches(boards[col].reported, self.on.discarded))
                        for bit, col in self.singles]
            if self.table_col:
                replays.append((TABLE, mismatches(boards[self.table_col].reported,
                                                  self.on.discarded)))
            combined = mismatches(
                boards[self.all_table_col if table_on else self.all_col].reported,
                off_discarded)
            for code in mismatched:
                mask = 0
                for bit, mm in replays:
                    if code not in mm:
                        mask |= bit
                unexplained |= not mask & active
                code_causes[code] = causes(mask, active, code not in combined)
        k["attribution_replays"] += bin(active).count("1") + (1 if unexplained else 0)

        dev = self.device
        keys: list[tuple[int, int]] = []
        examples: list[dict[str, Any]] = []
        for cls, mask, all_ok, all_table_ok, t, code, line in self.examples:
            keys.append((self.first_seq, len(keys)))
            examples.append({"class": cls, "causes": causes(mask, active, all_table_ok
                                                            if table_on else all_ok),
                             "device_id": dev, "t_ms": t, "alert_code": format_code(code),
                             "line": line})
        for code, (r, x) in sorted(mismatched.items()):
            k[COUNT_MISMATCH] += 1
            total.add_cause(COUNT_MISMATCH, code_causes[code][0])
            if len(examples) < self.plan.max_examples:
                keys.append((self.first_seq, len(keys)))
                examples.append({"class": COUNT_MISMATCH, "causes": code_causes[code],
                                 "device_id": dev, "alert_code": format_code(code),
                                 "device_reported": r, "dsp_discarded": x,
                                 "t_ms": self.t0, "line": self.first_line})
        total.add_examples(keys, examples)


class _HeldRows:
    """Fate rows waiting for their session's knobs to be determined, in order: the first
    HOLD_IN_MEMORY in memory, the rest in a temporary file (a storm's worth may wait)."""

    def __init__(self) -> None:
        self.mem: deque[Any] = deque()
        self.file: IO[bytes] | None = None
        self.in_file = 0
        self.read_at = 0

    def append(self, entry: Any) -> None:
        if self.file is None and len(self.mem) < HOLD_IN_MEMORY:
            self.mem.append(entry)
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile()
        self.file.seek(0, 2)
        pickle.dump(entry, self.file)
        self.in_file += 1

    def first(self) -> Any:
        if not self.mem and self.in_file:
            f = self.file
            assert f is not None
            f.seek(self.read_at)
            for _ in range(min(self.in_file, HOLD_IN_MEMORY)):
                self.mem.append(pickle.load(f))
                self.in_file -= 1
            self.read_at = f.tell()
            if not self.in_file:
                f.close()
                self.file = None
                self.read_at = 0
        return self.mem[0] if self.mem else None

    def pop(self) -> None:
        self.mem.popleft()


# -- a session held whole ------------------------------------------------------------------------


def compare_device(alerts: list[Alert], setup: Setup, *, fates: bool = False,
                   max_examples: int = 20) -> tuple[CompareResult, list[dict[str, Any]]]:
    """All three pipelines for one device session (alerts of one device, in event order).
    Pure: same inputs, same outputs, in any process."""
    plan = Plan(setup, fates=fates, max_examples=max_examples)
    res = CompareResult(max_examples=max_examples)
    rows: list[dict[str, Any]] = []
    compare_session(plan, alerts, res, rows if fates else None)
    return res, rows


def compare_session(plan: Plan, alerts: list[Alert], total: CompareResult,
                    rows: list[dict[str, Any]] | None) -> None:
    """A session held whole (a device's alerts, in event order) into `total`: as a streamed
    DeviceSession, or counted at once when it is too short to turn red."""
    if len(alerts) < plan.red:
        healthy_session(plan, alerts, total, rows)
        return
    a0 = alerts[0]
    s = DeviceSession(plan, a0.device, a0.t_ms, a0.seq, a0.line, rows)
    for a in alerts:
        s.push(a.t_ms, a.code, a.arrival_ms, a.seq, a.line)
    s.close(total)


def healthy_session(plan: Plan, alerts: list[Alert], total: CompareResult,
                    rows: list[dict[str, Any]] | None) -> None:
    """A session too short to turn red (fewer alerts than red_threshold): most devices are
    healthy, so this is most sessions of a real stream. Every alert is forwarded by both sides
    and delivered: only counting and arrivals are left."""
    n = len(alerts)
    c = total.counters
    for k in ("alerts", "wan_frames_without_device", "dsp_only_forwarded", "device_forwarded",
              "device_wan_frames", "device_to_dsp_delivered", "agree"):
        c[k] += n
    c["device_sessions"] += 1
    p = plan.setup.perturbations
    lat = p.latency
    # one alert cannot be reordered
    if rows is None and (n == 1 or lat.zero and all(a.arrival_ms is None for a in alerts)):
        return
    a0 = alerts[0]
    clock = ArrivalClock(lat, p.seed, a0.device, a0.t_ms)
    arr = [clock(a.t_ms, a.arrival_ms) for a in alerts]
    top = -1
    for x in arr:
        if x < top:
            c["reordered_by_wan"] += 1
        else:
            top = x
    if rows is not None:
        rows.extend({"seq": a.seq, "line": a.line, "device_id": a.device, "t_ms": a.t_ms,
                     "arrival_ms": arr[i], "alert_code": format_code(a.code),
                     "dsp": "forwarded", "dsp_started": False, "throttled_count": None,
                     "sequence_id": None, "device": "forwarded", "device_started": False,
                     "device_to_dsp": "delivered", "divergence": None, "causes": []}
                    for i, a in enumerate(alerts))
