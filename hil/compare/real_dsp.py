"""The check against a real DSP's filter results (`hil compare --dsp-results`): each alert's
fates in the comparison set against the real DSP's result row for it, disagreements counted
and listed with line numbers. The examples listed are the first in stream order, whatever
order the engine hands the sessions' fates over in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hil.frames.catalogue import format_code
from hil.model.streams import DspResult


@dataclass
class RealCheck:
    """Matches each alert's fates to the real DSP's result row for it (by device, code and
    event time, in order of occurrence) and counts disagreements."""

    index: dict[tuple[str, int, int], list[DspResult]]
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys((
        "rows_matched", "alerts_without_result", "results_without_alert",
        "model_agrees", "model_disagrees", "throttled_count_differs", "sequence_id_differs",
        "device_agrees", "device_disagrees"), 0))
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20
    _found: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (seq, example)

    @classmethod
    def load(cls, rows: Iterable[DspResult]) -> RealCheck:
        index: dict[tuple[str, int, int], list[DspResult]] = {}
        for r in rows:
            index.setdefault((r.device, r.code, r.t_ms), []).append(r)
        return cls(index)

    def __call__(self, fates: list[dict[str, Any]]) -> None:
        c = self.counters
        for f in fates:
            key = (f["device_id"], int(f["alert_code"], 16), f["t_ms"])
            rows = self.index.get(key)
            if not rows:
                c["alerts_without_result"] += 1
                continue
            r = rows.pop(0)
            if not rows:
                del self.index[key]
            c["rows_matched"] += 1
            model_fwd = f["dsp"] == "forwarded"
            problems = []
            if model_fwd == r.forwarded:
                c["model_agrees"] += 1
                if r.forwarded and (r.throttled_count or 0) != (f["throttled_count"] or 0):
                    c["throttled_count_differs"] += 1
                    problems.append(f"ThrottledAlertCount real {r.throttled_count} "
                                    f"model {f['throttled_count']}")
                if (r.forwarded and r.sequence_id is not None and f["sequence_id"] is not None
                        and r.sequence_id != f["sequence_id"]):
                    c["sequence_id_differs"] += 1
            else:
                c["model_disagrees"] += 1
                problems.append(f"real DSP {'forwarded' if r.forwarded else 'discarded'}, "
                                f"model {f['dsp']}")
            if (f["device"] == "forwarded") == r.forwarded:
                c["device_agrees"] += 1
            else:
                c["device_disagrees"] += 1
            if problems:
                found = self._found
                found.append((f["seq"], {"alert_line": f["line"], "result_line": r.line,
                                         "device_id": f["device_id"],
                                         "alert_code": f["alert_code"], "t_ms": f["t_ms"],
                                         "problems": problems}))
                if len(found) >= 2 * self.max_examples:
                    found.sort(key=lambda x: x[0])
                    del found[self.max_examples:]

    def finish(self) -> None:
        self._found.sort(key=lambda x: x[0])
        self.examples = [e for _, e in self._found[:self.max_examples]]
        self._found = []
        self.counters["results_without_alert"] = sum(len(v) for v in self.index.values())
        for rows in self.index.values():
            for r in rows:
                if len(self.examples) >= self.max_examples:
                    return
                self.examples.append({"result_line": r.line, "device_id": r.device,
                                      "alert_code": format_code(r.code), "t_ms": r.t_ms,
                                      "problems": ["no such alert in the alert stream"]})

    def to_dict(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "examples": self.examples}

