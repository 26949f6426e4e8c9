"""The Dask engine (`hil compare --engine dask`): the per-device work on a Dask distributed
cluster, which is how a comparison goes past one machine.

By default the engine starts a LocalCluster for the run: `jobs` worker processes of one thread
each on this machine, listening on loopback only, no dashboard, gone when the run ends. Given
a scheduler address (`tcp://HOST:PORT`) it joins that cluster instead; its workers must be able
to import this project (the same checkout or installed package, and dask/distributed).

Each partition of the devices (a stable hash, several per worker so that the load evens out)
lives on one worker as an actor holding that partition's open sessions (hil/compare/
partition.py). This process reads and cuts the stream and sends each partition its batches,
at most a few in flight per partition, so a busy cluster holds the reader back instead of
letting batches pile up. Nothing here imports dask unless this engine is used: the local
engine stays the light default."""

from __future__ import annotations

import logging
import pickle
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import dask
from distributed import Client, LocalCluster, get_worker

from hil.compare.partition import Partition, Router, peak_rss_mb, settled_heap
from hil.compare.result import CompareResult, merge_partitions
from hil.compare.settings import Setup
from hil.errors import HilError
from hil.model.streams import Alert

# A cluster started for the run does without what costs the comparison's own threads time:
# the workers' statistical profiler (it samples every thread's stack every 10 ms, for the
# dashboard this cluster does not have) and the event loops' 20 ms health ticks. Measured
# (2M alerts, 2 workers): the workers' CPU per alert 12.0 -> 10.5 us, the reader's 4.4 -> 3.8.
# A cluster joined with --scheduler keeps its own settings.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.tick.interval": "1s",
}


class PartitionActor:
    """One partition on a Dask worker: an actor, so its sessions stay there between batches.
    Calls to an actor may run in another order than they were made, so each batch comes with
    its number and waits here until those before it have been taken.

    Batches come, and fate rows go back, pickled: given a tuple or list, Dask's serializer
    walks its elements to choose how to send each, a Python loop over every alert on both
    sides (0.3 us per alert of the reader's CPU, measured), while bytes it sends as they are."""

    def __init__(self, setup: Setup, fates: bool, max_examples: int) -> None:
        self.part = Partition(setup, fates=fates, max_examples=max_examples)
        self.worker = get_worker().address
        self.next = 0
        self.early: dict[int, bytes] = {}

    def feed(self, number: int, batch: bytes) -> bytes | None:
        """Take batch `number` (pickled), and any that came early after it; the fate rows
        done (pickled), if any."""
        self.early[number] = batch
        rows: list[dict[str, Any]] = []
        while self.next in self.early:
            rows += self.part.feed(pickle.loads(self.early.pop(self.next)))
            self.next += 1
        return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL) if rows else None

    def finish(self) -> tuple[CompareResult, float, float, float, str]:
        part = self.part
        return part.finish(), part.seconds, part.cpu_seconds, peak_rss_mb(), self.worker


class DaskEngine:
    """`jobs` workers of a LocalCluster started for the run, or the cluster at `scheduler`;
    `partitions` per run (default 8 per worker); `batch_size` events per batch; `inflight`
    batches at most on their way to each partition."""

    name = "dask"

    def __init__(self, jobs: int = 1, scheduler: str | None = None,
                 partitions: int | None = None, batch_size: int = 65_536, inflight: int = 2
                 ) -> None:
        if jobs < 1:
            raise HilError(f"jobs: {jobs} is not a positive number of workers")
        self.jobs = jobs
        self.scheduler = scheduler
        self.partitions = partitions
        self.batch_size = batch_size
        self.inflight = inflight
        self.wait_s = 60.0

    def _client(self) -> tuple[Client, LocalCluster | None]:
        if self.scheduler:
            try:
                return Client(self.scheduler, timeout=30), None
            except OSError as exc:
                raise HilError(f"--scheduler {self.scheduler}: cannot connect: {exc}") from None
        # the workers inherit this configuration (their nannies pass it on)
        with dask.config.set(QUIET_CLUSTER):
            cluster = LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None,
                                   silence_logs=logging.ERROR)
            return Client(cluster), cluster

    def run(self, events: Iterable[Alert | str], setup: Setup, *,
            on_fates: Callable[[list[dict[str, Any]]], None] | None = None,
            max_examples: int = 20) -> CompareResult:
        """Compare over the cut stream (alerts, and device ids where a session ends)."""
        t0 = time.perf_counter()
        client, cluster = self._client()
        try:
            if cluster is None:
                try:  # a cluster being started: its first worker may not have joined yet
                    client.wait_for_workers(1, timeout=self.wait_s)
                except TimeoutError:
                    raise HilError(f"--scheduler {self.scheduler}: no worker joined within "
                                   f"{self.wait_s:.0f} s") from None
            workers = sorted(client.scheduler_info()["workers"])
            parts = self.partitions or 8 * len(workers)
            futures = [client.submit(PartitionActor, setup, on_fates is not None, max_examples,
                                     actor=True, workers=[workers[p % len(workers)]],
                                     allow_other_workers=False, pure=False)
                       for p in range(parts)]
            actors = [f.result() for f in futures]
            with settled_heap():
                router, done, worker_of = self._stream(events, actors, on_fates)
            return merge_partitions(self.name, len(workers), done, router.alerts, max_examples,
                                    time.perf_counter() - t0, worker_of.__getitem__)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def _stream(self, events: Iterable[Alert | str], actors: list[Any],
                on_fates: Callable[[list[dict[str, Any]]], None] | None
                ) -> tuple[Router, dict[int, tuple[CompareResult, float, float, float]],
                           dict[int, str]]:
        # the cut stream to the partitions' actors, at most `inflight` batches on their way to
        # each; then each partition's result, times and peak RSS, and its worker
        parts = len(actors)
        pending: list[deque[Any]] = [deque() for _ in range(parts)]
        router = Router(parts, self.batch_size)
        sent = [0] * parts

        def settle(p: int, keep: int) -> None:
            q = pending[p]
            while len(q) > keep:
                rows = q.popleft().result()
                if rows is not None and on_fates is not None:
                    on_fates(pickle.loads(rows))

        def send(p: int) -> None:
            batch = pickle.dumps(router.take(p), protocol=pickle.HIGHEST_PROTOCOL)
            pending[p].append(actors[p].feed(sent[p], batch))
            sent[p] += 1
            settle(p, self.inflight)

        for x in events:
            p = router.end(x) if type(x) is str else router.alert(x)  # type: ignore[arg-type]
            if p >= 0:
                send(p)
        for p in range(parts):
            if router.batches[p]:
                send(p)
        for p in range(parts):
            settle(p, 0)
        done: dict[int, tuple[CompareResult, float, float, float]] = {}
        worker_of: dict[int, str] = {}
        finishing: list[Any] = [a.finish() for a in actors]  # ActorFutures
        for p, fut in enumerate(finishing):
            res, secs, cpu, mb, worker = fut.result()
            done[p] = (res, secs, cpu, mb)
            worker_of[p] = worker
        return router, done, worker_of
