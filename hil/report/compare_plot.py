"""The plots of the comparison report (`hil compare --html`), PNGs from matplotlib's Agg
backend, base64 so the page stays one self-contained file, in the style of hil/report/plot.py:
WAN frames over time with and without the device filter, divergences by class and cause, and
the agreement with the real DSP."""

from __future__ import annotations

import itertools
from typing import Any

from hil.compare import CAUSES, CLASSES, UNKNOWN
from hil.report.compare_stats import Series
from hil.report.plot import _png, _pyplot

_PALETTE = [f"C{i}" for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]  # C3 is red: kept for unknown


def _time_axis(s: Series) -> tuple[list[float], str]:
    span_h = len(s.alerts) * s.bucket_ms / 3_600_000
    unit, div = ("h", 3_600_000) if span_h > 3 else ("min", 60_000)
    return [(k + 1) * s.bucket_ms / div for k in range(len(s.alerts))], \
        f"time since the first alert ({unit})"


def wan_png(s: Series, summaries: int) -> str | None:
    """Cumulative WAN frames without and with the device filter (the gap is the saving), and
    frames saved per bucket."""
    if not s.alerts:
        return None
    plt = _pyplot()
    x, xlabel = _time_axis(s)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 3.6))
    without = list(itertools.accumulate(s.alerts))
    with_dev = list(itertools.accumulate(s.device_forwarded))
    a1.step(x, without, where="post", label="without the device filter (every alert)")
    a1.step(x, with_dev, where="post", label="with it (forwarded alerts)")
    a1.fill_between(x, with_dev, without, step="post", alpha=0.15, color="C2",
                    label="saved")
    a1.set_title("WAN frames so far")
    a1.set_xlabel(xlabel)
    a1.set_ylabel("frames (cumulative)")
    a1.legend(fontsize=8, loc="upper left")
    saved = [a - f for a, f in zip(s.alerts, s.device_forwarded, strict=True)]
    width = x[0] if x else 1.0
    a2.bar([v - width / 2 for v in x], saved, width=width, color="C2")
    a2.set_title(f"WAN frames saved per {_bucket_label(s.bucket_ms)}")
    a2.set_xlabel(xlabel)
    if summaries:
        fig.text(0.99, 0.01, f"plus {summaries:,} summary frames from the devices (in the "
                 "totals, not placed in time)", ha="right", fontsize=8, color="#555")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return _png(fig, 80)


def _bucket_label(ms: int) -> str:
    if ms % 3_600_000 == 0:
        return f"{ms // 3_600_000} h" if ms > 3_600_000 else "hour"
    if ms % 60_000 == 0:
        return f"{ms // 60_000} min" if ms > 60_000 else "minute"
    return f"{ms / 1000:g} s"


def divergence_png(counters: dict[str, int], causes: dict[str, dict[str, int]]) -> str | None:
    """Divergences by class, stacked by cause (a colour per cause, unknown in red)."""
    classes = [c for c in CLASSES if counters.get(c)]
    if not classes:
        return None
    plt = _pyplot()
    named = [c for c in CAUSES if c != UNKNOWN]
    seen = {k for d in causes.values() for k in d}
    order = [c for c in named if c in seen] + sorted(seen - set(named) - {UNKNOWN}) + (
        [UNKNOWN] if UNKNOWN in seen else [])
    fig, ax = plt.subplots(figsize=(11, 0.9 + 0.5 * len(classes)))
    left = [0] * len(classes)
    for i, cause in enumerate(order):
        vals = [causes.get(c, {}).get(cause, 0) for c in classes]
        ax.barh(classes, vals, left=left, label=cause,
                color="#d62728" if cause == UNKNOWN else _PALETTE[i % len(_PALETTE)])
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("divergences (device-only vs DSP-only)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="cause",
              title_fontsize=8)
    fig.tight_layout()
    return _png(fig, 80)


def agreement_png(counters: dict[str, Any]) -> str:
    """The DSP model and the device against the real DSP: agree / disagree per matched row."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 1.9))
    names = ["DSP model", "device"]
    agree = [counters["model_agrees"], counters["device_agrees"]]
    dis = [counters["model_disagrees"], counters["device_disagrees"]]
    ax.barh(names, agree, color="C2", label="agrees with the real DSP")
    ax.barh(names, dis, left=agree, color="#d62728", label="disagrees")
    ax.invert_yaxis()
    ax.set_xlabel("matched result rows")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _png(fig, 80)
