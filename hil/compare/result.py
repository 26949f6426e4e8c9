"""The result of a comparison: counters, divergences by class and cause, and a few examples,
summed over device sessions. Results of disjoint parts of a stream (sessions, partitions,
machines) merge into the result of the whole, the same whatever the parts and the order they
merge in: the examples kept are the first ones in stream order (by the input position of
their session's first alert, then their order within the session)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hil.compare.attribution import CLASSES, CRITICAL_LOST, UNKNOWN

COUNTERS = (
    "alerts", "device_sessions", "dsp_only_forwarded", "dsp_only_discarded",
    "device_forwarded", "device_suppressed", "device_summary_frames", "device_wan_frames",
    "wan_frames_without_device", "wan_frames_saved", "device_to_dsp_delivered",
    "device_to_dsp_discarded_by_dsp", "summaries_discarded_by_dsp", "alerts_lost",
    "critical_alerts_lost", "agree", "reordered_by_wan", "attribution_replays",
    *CLASSES,
)

ExampleKey = tuple[int, int]  # (input position of the session's first alert, place in it)


@dataclass
class CompareResult:
    """Mergeable totals of a comparison (sum over device sessions)."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    causes: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20
    example_keys: list[ExampleKey] = field(default_factory=list)  # one per example
    partitions: Partitions | None = None  # how the run was spread (set by compare_stream)

    def add_cause(self, cls: str, cause: str, n: int = 1) -> None:
        d = self.causes.setdefault(cls, {})
        d[cause] = d.get(cause, 0) + n

    def add_examples(self, keys: list[ExampleKey], examples: list[dict[str, Any]]) -> None:
        """Offer examples (with their stream-order keys); the first max_examples are kept."""
        if not examples:
            return
        if self.example_keys and keys and keys[0] < self.example_keys[-1]:
            both = sorted(zip(self.example_keys + keys, self.examples + examples,
                              strict=True), key=lambda ke: ke[0])[:self.max_examples]
            self.example_keys = [k for k, _ in both]
            self.examples = [e for _, e in both]
            return
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.example_keys.extend(keys[:room])
            self.examples.extend(examples[:room])

    def merge(self, other: CompareResult) -> CompareResult:
        for k, v in other.counters.items():
            self.counters[k] = self.counters.get(k, 0) + v
        for cls, d in other.causes.items():
            for cause, n in d.items():
                self.add_cause(cls, cause, n)
        self.add_examples(other.example_keys, other.examples)
        return self

    def metrics(self) -> dict[str, Any]:
        c = self.counters
        n = c["alerts"]
        return {
            "alerts": n,
            "wan_frames_without_device": c["wan_frames_without_device"],
            "wan_frames_with_device": c["device_wan_frames"],
            "wan_frames_saved": c["wan_frames_saved"],
            "wan_saving_ratio": round(c["wan_frames_saved"] / n, 6) if n else 0.0,
            "dsp_only_forwarded": c["dsp_only_forwarded"],
            "device_to_dsp_delivered": c["device_to_dsp_delivered"],
            "alerts_lost": c["alerts_lost"],
            "critical_alerts_lost": c["critical_alerts_lost"],
            "agreement_rate": round(c["agree"] / n, 6) if n else 1.0,
        }

    @property
    def unknown(self) -> int:
        return sum(d.get(UNKNOWN, 0) for d in self.causes.values())

    @property
    def hard_failures(self) -> int:
        return self.counters["critical_alerts_lost"] + self.counters[CRITICAL_LOST]

    def to_dict(self) -> dict[str, Any]:
        # classes in CLASSES order and causes by name: the same document however the
        # sessions' results were merged
        causes = {cls: dict(sorted(self.causes[cls].items())) for cls in CLASSES
                  if cls in self.causes}
        doc = {"metrics": self.metrics(), "counters": dict(self.counters),
               "divergences": {cls: self.counters[cls] for cls in CLASSES},
               "causes": causes, "examples": self.examples}
        if self.partitions is not None:
            doc["partitions"] = self.partitions.to_dict()
        return doc


@dataclass
class Partitions:
    """How a run was spread: the engine, its workers, and per partition (a stable hash class
    of devices) the alerts it took and the seconds its worker spent on it: wall clock, and
    CPU (the load: what the partition's work costs, whatever else shares the machine)."""

    engine: str
    workers: int
    alerts: list[int]
    seconds: list[float]
    worker_seconds: dict[str, float]
    wall_seconds: float
    worker_peak_rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "count": len(self.alerts), "workers": self.workers,
                "alerts": self.alerts,
                "alerts_max_over_mean": _max_over_mean(self.alerts),
                "seconds": [round(s, 3) for s in self.seconds],
                "seconds_max_over_mean": _max_over_mean(self.seconds),
                "cpu_seconds": [round(s, 3) for s in self.cpu_seconds],
                "load_max_over_mean": _max_over_mean(self.cpu_seconds),
                "worker_seconds": {w: round(s, 3) for w, s in self.worker_seconds.items()},
                "worker_peak_rss_mb": {w: round(m, 1) for w, m in
                                       self.worker_peak_rss_mb.items()},
                "wall_seconds": round(self.wall_seconds, 3)}


def _max_over_mean(xs: list[int] | list[float]) -> float:
    mean = sum(xs) / len(xs) if xs else 0
    return round(max(xs) / mean, 3) if mean else 1.0


def merge_partitions(engine: str, workers: int,
                     done: dict[int, tuple[CompareResult, float, float, float]],
                     alerts: list[int],
                     max_examples: int, wall: float, worker_of: Callable[[int], str]
                     ) -> CompareResult:
    """The partitions' results (partition -> its result, the wall and CPU seconds its worker
    spent on it and that worker's peak RSS in MB; a partition that got no device may be missing) merged,
    with how the run was spread: `alerts` per partition, `worker_of(partition)` names its
    worker."""
    total = CompareResult(max_examples=max_examples)
    seconds = []
    cpu = []
    worker_s: dict[str, float] = {}
    rss: dict[str, float] = {}
    for p in range(len(alerts)):
        res, secs, cpu_s, mb = done.get(p, (CompareResult(), 0.0, 0.0, 0.0))
        total.merge(res)
        seconds.append(secs)
        cpu.append(cpu_s)
        w = worker_of(p)
        worker_s[w] = worker_s.get(w, 0.0) + secs
        rss[w] = max(rss.get(w, 0.0), mb)
    total.partitions = Partitions(engine, workers, alerts, seconds, worker_s, wall, rss, cpu)
    return total
