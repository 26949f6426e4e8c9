"""The result of a comparison: counters, divergences by class and cause, and a few examples,
summed over device sessions. Results of disjoint parts of a stream (sessions, partitions,
machines) merge into the result of the whole."""

from __future__ import annotations

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


@dataclass
class CompareResult:
    """Mergeable totals of a comparison (sum over device sessions)."""

    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    causes: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20

    def add_cause(self, cls: str, cause: str, n: int = 1) -> None:
        d = self.causes.setdefault(cls, {})
        d[cause] = d.get(cause, 0) + n

    def merge(self, other: CompareResult) -> CompareResult:
        for k, v in other.counters.items():
            self.counters[k] = self.counters.get(k, 0) + v
        for cls, d in other.causes.items():
            for cause, n in d.items():
                self.add_cause(cls, cause, n)
        room = self.max_examples - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])
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
        return {"metrics": self.metrics(), "counters": dict(self.counters),
                "divergences": {cls: self.counters[cls] for cls in CLASSES},
                "causes": self.causes, "examples": self.examples}

