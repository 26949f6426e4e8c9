"""The per-device work of a comparison, for one partition of the devices: the sessions of the
devices it owns, as the cut stream (hil/compare/stream.py) brings their alerts and their ends.

A partition is what an engine runs (hil/compare/engine_local.py, hil/compare/engine_dask.py):
in the calling process, in a worker process, or on a Dask worker. Devices go to partitions by
a stable hash (`partition_of`), so the same device lands in the same partition in any process,
and since a session is a pure function of its own alerts the partitions' results merge into
the same result however many there are and wherever they ran. The stream reaches a partition
in `Batch`es (columns, so that they pickle small and fast)."""

from __future__ import annotations

import gc
import resource
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hil.compare.result import CompareResult
from hil.compare.session import DeviceSession, Plan, healthy_session
from hil.compare.settings import Setup
from hil.model.streams import Alert

COLLECT_EVERY = 16  # batches taken between two collections in the reader
END = -1  # a batch row whose code is END: that device's session has ended

# the fields of its alerts, as Alert orders them: input seqs, device ids, event times, codes
# (END: the session ends), arrivals, input lines
Batch = tuple[tuple[Any, ...], ...]


def partition_of(device: str, partitions: int) -> int:
    """Which of `partitions` partitions owns a device (stable across processes)."""
    return zlib.crc32(device.encode()) % partitions


@contextmanager
def no_automatic_collections() -> Iterator[None]:
    """Run without the cyclic garbage collector's automatic passes. Each alert allocates and
    frees a few small containers (its record, its heap entries) while every open session's
    state lives on, and the collector, triggered by those allocations, keeps traversing that
    state: with it on, the collector took from a third (a worker) to two fifths (this process
    reading, cutting and routing while it holds the sessions) of a comparison's time. Nothing
    in a comparison makes reference cycles; reference counting frees all of it. What other
    code in the process leaves in cycles (a Dask client's futures) waits for `collect()` or
    the way out, where the collector's state is restored (nesting is fine)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def settled_heap() -> Iterator[None]:
    """Leave what the process holds now (a Dask client and a cluster's scheduler: a million
    objects) out of the collections that follow, which then cost what the comparison itself
    holds: a full pass in the Dask reader from 75-136 ms to 20-30 (2M alerts, measured)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def collect() -> None:
    """A full collection now: under `no_automatic_collections`, every so often, so that what
    other code left in cycles is freed within a bounded time (the Dask reader's peak RSS at
    10M alerts: 340 MB, where young-generation passes alone left it at 950)."""
    gc.collect()


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (since its last exec: getrusage's
    figure would include the parent it was forked from)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Partition:
    """The open sessions of one partition's devices and the result of those that ended.

    `feed(batch)` takes the next alerts of its devices and the ends of their sessions
    (`end(device)`). A session is held as a plain list of alerts
    until it has as many as it takes to turn red (most never do), then streams through a
    `DeviceSession`. Fate rows (with `fates`) collect in `rows` until taken (`take_rows`)."""

    def __init__(self, setup: Setup, *, fates: bool = False, max_examples: int = 20) -> None:
        self.plan = Plan(setup, fates=fates, max_examples=max_examples)
        self.result = CompareResult(max_examples=max_examples)
        self.open: dict[str, list[Alert] | DeviceSession] = {}
        self.rows: list[dict[str, Any]] | None = [] if fates else None
        self.alerts = 0
        self.seconds = 0.0      # time spent in feed(): wall clock
        self.cpu_seconds = 0.0  # and this thread's CPU time (the load, whatever else runs)

    def _stream(self, device: str, held: list[Alert]) -> DeviceSession:
        # a held session has as many alerts as it takes to turn red: from now on it streams
        a0 = held[0]
        d = self.open[device] = DeviceSession(self.plan, device, a0.t_ms, a0.seq, a0.line,
                                              self.rows)
        for x in held:
            d.push(x.t_ms, x.code, x.arrival_ms, x.seq, x.line)
        return d

    def end(self, device: str) -> None:
        s = self.open.pop(device)
        if type(s) is list:
            healthy_session(self.plan, s, self.result, self.rows)
        else:
            s.close(self.result)  # type: ignore[union-attr]

    def feed(self, batch: Batch) -> list[dict[str, Any]]:
        """Take a batch; returns the fate rows it completed (with `fates`). Each device's
        events are taken together, in their order: the sessions are independent, and a
        device's state stays in the cache while its alerts go through."""
        t0, c0 = time.perf_counter(), time.thread_time()
        if not batch:
            return self.take_rows()
        seqs, devices, ts, codes, arrivals, lines = batch
        by_device: dict[str, list[int]] = {}
        for k, dev in enumerate(devices):
            ks = by_device.get(dev)
            if ks is None:
                by_device[dev] = [k]
            else:
                ks.append(k)
        open_ = self.open
        get = open_.get
        red = self.plan.red
        new = tuple.__new__  # Alert(...) without its Python-level __new__
        ends = 0
        with no_automatic_collections():
            for dev, ks in by_device.items():
                s = get(dev)
                for k in ks:
                    code = codes[k]
                    if code == END:
                        self.end(dev)
                        ends += 1
                        s = None
                    elif type(s) is DeviceSession:
                        s.push(ts[k], code, arrivals[k], seqs[k], lines[k])
                    elif s is None:
                        s = open_[dev] = [new(Alert, (seqs[k], dev, ts[k], code, arrivals[k],
                                                      lines[k]))]
                    else:
                        held: list[Alert] = s  # type: ignore[assignment]
                        held.append(new(Alert, (seqs[k], dev, ts[k], code, arrivals[k],
                                                lines[k])))
                        if len(held) >= red:
                            s = self._stream(dev, held)
        self.alerts += len(devices) - ends
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.thread_time() - c0
        return self.take_rows()

    def take_rows(self) -> list[dict[str, Any]]:
        """The fate rows completed since the last call (the open sessions keep the list)."""
        rows = self.rows
        if not rows:
            return []
        out = rows[:]
        rows.clear()
        return out

    def finish(self) -> CompareResult:
        """The partition's result (every session must have ended)."""
        assert not self.open, f"{len(self.open)} sessions never ended"
        return self.result


class Router:
    """The cut stream, split into per-partition batches: `alert`/`end` return the partition
    whose batch has just filled (to be sent with `take`), else -1."""

    def __init__(self, partitions: int, batch_size: int = 4096) -> None:
        self.partitions = partitions
        self.size = batch_size
        self.owner: dict[str, int] = {}   # device -> partition, while its session is open
        self.batches: list[list[tuple[Any, ...]]] = [[] for _ in range(partitions)]
        self.alerts = [0] * partitions
        self.taken = 0

    def alert(self, a: Alert) -> int:
        p = self.owner.get(a.device)
        if p is None:
            p = self.owner[a.device] = partition_of(a.device, self.partitions)
        b = self.batches[p]
        b.append(a)
        self.alerts[p] += 1
        return p if len(b) >= self.size else -1

    def end(self, device: str) -> int:
        p = self.owner.pop(device)
        b = self.batches[p]
        b.append((0, device, 0, END, None, 0))
        return p if len(b) >= self.size else -1

    def take(self, p: int) -> Batch:
        """Partition p's batch so far, as columns (they pickle smaller and faster)."""
        b = self.batches[p]
        self.batches[p] = []
        self.taken += 1
        if not self.taken % COLLECT_EVERY:
            collect()  # the reader runs under no_automatic_collections (compare_stream)
        return tuple(zip(*b, strict=True))
