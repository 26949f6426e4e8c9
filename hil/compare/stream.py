"""A comparison over a whole alert stream, streamed in bounded memory.

The stream is cut into device sessions (`sessions`): a device's alerts with no gap longer than
`Setup.horizon_ms`, after which both sides have closed every window, so sessions are
independent and each is compared on its own (`compare_device`), in this process or in a pool
of worker processes; devices can also be partitioned across machines (`partition_of`) and the
results merged (`CompareResult.merge`). The result does not depend on how."""

from __future__ import annotations

import multiprocessing
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hil.compare.result import CompareResult
from hil.compare.session import compare_device
from hil.compare.settings import Setup
from hil.model.streams import Alert, BadRow


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
