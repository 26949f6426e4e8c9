"""The embedded engine (`hil compare --engine local`, the default): the per-device work in
this process, or with jobs > 1 in that many forked worker processes on this machine, with
nothing to install or start.

With one job the cut stream goes straight into one `Partition`. With more, devices are split
into `partitions` (a stable hash, several per worker so that the load evens out), each owned by
one worker process; the stream goes to them in batches through bounded queues, so a slow worker
holds the reader back instead of letting batches pile up in memory."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from hil.compare.partition import Batch, Partition, Router, peak_rss_mb
from hil.compare.result import CompareResult, Partitions, merge_partitions
from hil.compare.settings import Setup
from hil.errors import HilError
from hil.model.streams import Alert

FatesSink = Callable[[list[dict[str, Any]]], None]


class LocalEngine:
    """`jobs` processes on this machine (1: this process); `partitions` per run (default 8
    per job); `batch_size` events per batch sent to a worker."""

    name = "local"

    def __init__(self, jobs: int = 1, partitions: int | None = None,
                 batch_size: int | None = None) -> None:
        if jobs < 1:
            raise HilError(f"jobs: {jobs} is not a positive number of processes")
        self.jobs = jobs
        self.partitions = partitions or (1 if jobs == 1 else 8 * jobs)
        # per partition. A partition takes each device's alerts of a batch together, so the
        # more of a device's alerts a batch holds, the less a worker spends per alert: at 10M
        # alerts on 2 workers, 32768 took 55 s where 8192 took 59 (the same for Dask)
        self.batch_size = batch_size or (65_536 if self.partitions == 1 else 32_768)

    def run(self, events: Iterable[Alert | str], setup: Setup, *,
            on_fates: FatesSink | None = None, max_examples: int = 20) -> CompareResult:
        """Compare over the cut stream (alerts, and device ids where a session ends)."""
        if self.jobs == 1 and self.partitions == 1:
            return self._inline(events, setup, on_fates, max_examples)
        return self._pool(events, setup, on_fates, max_examples)

    def _inline(self, events: Iterable[Alert | str], setup: Setup, on_fates: FatesSink | None,
                max_examples: int) -> CompareResult:
        t0 = time.perf_counter()
        part = Partition(setup, fates=on_fates is not None, max_examples=max_examples)
        router = Router(1, self.batch_size)
        for x in events:
            if (router.end(x) if type(x) is str else router.alert(x)) >= 0:  # type: ignore
                rows = part.feed(router.take(0))
                if on_fates is not None and rows:
                    on_fates(rows)
        rows = part.feed(router.take(0))
        if on_fates is not None and rows:
            on_fates(rows)
        res = part.finish()
        wall = time.perf_counter() - t0
        res.partitions = Partitions(self.name, 1, [part.alerts], [part.seconds],
                                    {"local": wall}, wall, {"local": peak_rss_mb()},
                                    [part.cpu_seconds])
        return res

    def _pool(self, events: Iterable[Alert | str], setup: Setup, on_fates: FatesSink | None,
              max_examples: int) -> CompareResult:
        t0 = time.perf_counter()
        ctx = multiprocessing.get_context("fork")
        jobs, parts = self.jobs, self.partitions
        fates = on_fates is not None
        inboxes = [ctx.Queue(maxsize=4) for _ in range(jobs)]
        outbox = ctx.Queue()
        # forked under compare_stream's no_automatic_collections, the workers run without the
        # collector's automatic passes for their whole life: they hold only partitions
        procs = [ctx.Process(target=_worker, daemon=True,
                             args=(w, inboxes[w], outbox, setup, fates, max_examples))
                 for w in range(jobs)]
        for proc in procs:
            proc.start()
        done: dict[int, tuple[CompareResult, float, float, float]] = {}
        finished = 0

        def collect(block: bool) -> None:
            nonlocal finished
            while True:
                try:
                    kind, payload = outbox.get(block=block, timeout=600 if block else None)
                except queue.Empty:
                    if block:
                        raise HilError("a worker process gave no sign of life for 600 s") \
                            from None
                    return
                if kind == "rows":
                    assert on_fates is not None
                    on_fates(payload)
                elif kind == "done":
                    done.update(payload)
                    finished += 1
                else:
                    raise HilError(f"a worker process failed:\n{payload}")
                if block:
                    return

        try:
            router = Router(parts, self.batch_size)
            for x in events:
                p = router.end(x) if type(x) is str else router.alert(x)  # type: ignore[arg-type]
                if p >= 0:
                    _put(inboxes[p % jobs], (p, router.take(p)), collect)
            for p in range(parts):
                if router.batches[p]:
                    _put(inboxes[p % jobs], (p, router.take(p)), collect)
            for box in inboxes:
                _put(box, None, collect)
            while finished < jobs:
                collect(True)
        finally:
            for proc in procs:
                proc.join(timeout=5)
                if proc.is_alive():
                    proc.kill()
        return merge_partitions(self.name, jobs, done, router.alerts, max_examples,
                                time.perf_counter() - t0, lambda p: f"process-{p % jobs}")


def _put(box: Any, item: tuple[int, Batch] | None, collect: Callable[[bool], None]) -> None:
    # a full inbox: hand out fate rows while waiting, so no worker waits on us either
    while True:
        try:
            box.put(item, timeout=0.05)
            collect(False)
            return
        except queue.Full:
            collect(False)


def _worker(w: int, inbox: Any, outbox: Any, setup: Setup, fates: bool, max_examples: int
            ) -> None:
    parts: dict[int, Partition] = {}
    try:
        while True:
            item = inbox.get()
            if item is None:
                break
            p, batch = item
            part = parts.get(p)
            if part is None:
                part = parts[p] = Partition(setup, fates=fates, max_examples=max_examples)
            rows = part.feed(batch)
            if rows:
                outbox.put(("rows", rows))
        mb = peak_rss_mb()
        outbox.put(("done", {p: (part.finish(), part.seconds, part.cpu_seconds, mb)
                               for p, part in parts.items()}))
    except BaseException:
        outbox.put(("error", traceback.format_exc()))
