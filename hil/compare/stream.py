"""A comparison over a whole alert stream, streamed in bounded memory.

The stream is cut into device sessions (`cut`): a device's alerts with no gap longer than
`Setup.horizon_ms`, after which both sides have closed every window, so sessions are
independent and each is compared on its own (hil/compare/session.py) as its alerts come. The
cut stream goes to an engine, which runs the per-device work on partitions of the devices:
`LocalEngine` (hil/compare/engine_local.py, the default: this process or forked workers) or
`DaskEngine` (hil/compare/engine_dask.py: a Dask cluster). The result does not depend on the
engine, the number of workers or the partitioning."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from hil.compare.engine_local import LocalEngine
from hil.compare.partition import no_automatic_collections
from hil.compare.result import CompareResult
from hil.compare.settings import Setup
from hil.model.streams import Alert, BadRow


class Engine(Protocol):
    """Runs the per-device work of a comparison over the cut stream."""

    name: str

    def run(self, events: Iterable[Alert | str], setup: Setup, *,
            on_fates: Callable[[list[dict[str, Any]]], None] | None = None,
            max_examples: int = 20) -> CompareResult: ...


def cut(alerts: Iterable[Alert], horizon_ms: int, errors: list[BadRow] | None = None,
        path: str = "") -> Iterator[Alert | str]:
    """Cut an event-ordered alert stream into device sessions (a device's alerts with no gap
    longer than horizon_ms): yields each good alert, and a device id (a str) where that
    device's session has ended. Memory: the devices active within the last horizon.

    Bad rows: an alert whose t_ms is before its device's previous alert (a device's clock does
    not go backwards in a capture), and one whose arrival_ms is before its t_ms (an alert does
    not reach the DSP before it happened: the DSP side's reorder buffers rely on it)."""
    last: dict[str, int] = {}
    now = None
    next_sweep = 0
    for a in alerts:
        t = a.t_ms
        dev = a.device
        lt = last.get(dev)
        if lt is not None and t < lt:
            if errors is not None:
                errors.append(BadRow(path, a.line, f"t_ms {t} is before the previous alert "
                                     f"of {dev} ({lt})"))
            continue
        if a.arrival_ms is not None and a.arrival_ms < t:
            if errors is not None:
                errors.append(BadRow(path, a.line, f"arrival_ms {a.arrival_ms} is before "
                                     f"t_ms {t}"))
            continue
        if lt is not None and t - lt > horizon_ms:
            del last[dev]
            yield dev
        last[dev] = t
        yield a
        if now is None or t > now:
            now = t
            if now >= next_sweep:
                done = [d for d, lt2 in last.items() if now - lt2 > horizon_ms]
                for d in done:
                    del last[d]
                    yield d
                next_sweep = now + horizon_ms // 4 + 1
    yield from list(last)


def sessions(alerts: Iterable[Alert], horizon_ms: int, errors: list[BadRow] | None = None,
             path: str = "") -> Iterator[list[Alert]]:
    """The device sessions of a stream as lists of alerts, each once complete (`cut`, held
    whole: for looking at sessions, not for comparing a stream)."""
    open_: dict[str, list[Alert]] = {}
    for x in cut(alerts, horizon_ms, errors, path):
        if type(x) is str:
            yield open_.pop(x)
        else:
            assert isinstance(x, Alert)
            open_.setdefault(x.device, []).append(x)


def compare_stream(alerts: Iterable[Alert], setup: Setup, *, errors: list[BadRow] | None = None,
                   path: str = "", on_fates: Callable[[list[dict[str, Any]]], None] | None = None,
                   jobs: int = 1, max_examples: int = 20, engine: Engine | None = None
                   ) -> CompareResult:
    """Compare over a whole stream, streaming, on `engine` (default: `LocalEngine(jobs)`).
    `on_fates` gets every alert's fate row, a session's rows in its order."""
    eng = engine if engine is not None else LocalEngine(jobs)
    with no_automatic_collections():
        return eng.run(cut(alerts, setup.horizon_ms, errors, path), setup, on_fates=on_fates,
                       max_examples=max_examples)
