"""The plots of the HTML pages, PNGs from matplotlib's Agg backend, base64 so each page stays
one self-contained file: per result on a run's page (`plot_png`), and per scenario across
nights on the trend page (`trend_pngs`)."""

from __future__ import annotations

import base64
import io
import itertools
import math
from datetime import datetime
from typing import Any

from hil.compare import CAUSES, UNKNOWN
from hil.harness.results import ScenarioResult
from hil.report.history import Trend


def _pyplot() -> Any:
    # matplotlib takes ~0.5 s to import: only when there is something to plot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any, dpi: int) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def plot_png(r: ScenarioResult) -> str | None:
    """Base64 PNG: per code, alerts forwarded and suppressed over time, device vs DSP; and WAN
    frames over time with and without the device filter."""
    codes = r.series.get("codes") if r.series else None
    if not codes:
        return None
    plt = _pyplot()
    bucket_s = r.series.get("bucket_ms", 1000) / 1000.0
    top = sorted(codes, key=lambda c: -sum(sum(v) for v in codes[c].values()))[:5]
    wan = r.series.get("wan")
    fig, axes = plt.subplots(1, 3 if wan else 2, figsize=(15 if wan else 10, 3.2))
    # Cumulative counts: per-bucket rates of a sparse or many-code storm are a comb of 0/1
    # spikes; running totals show the storm, the throttle's slope and device vs DSP at a glance.
    for ax, side in zip(axes[:2], ("device", "dsp"), strict=True):
        for i, c in enumerate(top):
            s = codes[c]
            fwd = list(itertools.accumulate(s[f"{side}_forwarded"]))
            sup = list(itertools.accumulate(s[f"{side}_suppressed"]))
            x = [(k + 1) * bucket_s / 60 for k in range(len(fwd))]
            color = f"C{i}"
            ax.step(x, fwd, where="post", color=color, label=f"{c} fwd")
            ax.step(x, sup, where="post", color=color, linestyle="--", label=f"{c} supp")
        ax.set_title(f"{side}: forwarded (solid) / suppressed (dashed)")
        ax.set_xlabel("scenario time (min)")
    axes[0].set_ylabel("alerts so far (cumulative)")
    axes[1].sharey(axes[0])
    axes[1].legend(fontsize=7, loc="upper right")
    if wan:
        ax = axes[2]
        for key, label, style in (("without_device", "without the device filter", "-"),
                                  ("with_device", "with it (alerts + summaries)", "-")):
            ys = list(itertools.accumulate(wan[key]))
            ax.step([(k + 1) * bucket_s / 60 for k in range(len(ys))], ys, where="post",
                    linestyle=style, label=label)
        ax.set_title("WAN frames so far (the gap is the saving)")
        ax.set_xlabel("scenario time (min)")
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return _png(fig, 70)


# The trend page's panels: (title, lines, least span of the y axis, its cap), a line being
# (a figure of history.figures(), line style, label suffix). The least span keeps run-to-run noise
# of a tenth of a percent from filling a panel as if it were a drift.
TREND_PANELS = (
    ("WAN reduction (%)", (("wan_reduction_pct", "-", ""),), 10.0, 100.0),
    ("divergences: all (solid), unknown cause (dotted)",
     (("divergences_all", "-", ""), ("divergences_unknown", ":", " unknown")), 5.0, None),
    ("wall time (s)", (("wall_s", "-", ""),), 1.0, None),
)


def _night_label(started_utc: str, run_id: str) -> str:
    try:
        return datetime.fromisoformat(started_utc).strftime("%m-%d")
    except ValueError:
        return run_id[:8]


def _y_range(ax: Any, values: list[float], span: float, cap: float | None) -> None:
    """At least `span` tall, not below 0 unless a value is, not above `cap` unless one is."""
    if not values:
        return
    lo, hi = min(values), max(values)
    if hi - lo < span:
        mid = (lo + hi) / 2
        lo, hi = mid - span / 2, mid + span / 2
    if lo < 0 <= min(values):
        lo, hi = 0.0, hi - lo
    if cap is not None and hi > cap >= max(values):
        lo, hi = lo - (hi - cap), cap
    pad = (hi - lo) * 0.08
    ax.set_ylim(lo - pad, hi + pad)


def _cause_bars(ax: Any, t: Trend, scenario: str, boards: list[str], x: list[int]) -> None:
    """Divergences by named cause, night by night, summed over the scenario's boards: stacked
    bars, a colour per cause in the order the comparison tries them (unknown last, in red)."""
    per_night: list[dict[str, int]] = []
    for r in t.runs:
        total: dict[str, int] = {}
        for b in boards:
            for cause, n in t.causes.get((b, scenario), {}).get(r, {}).items():
                total[cause] = total.get(cause, 0) + n
        per_night.append(total)
    order = [c for c in CAUSES if c != UNKNOWN] + [UNKNOWN]
    present = [c for c in order if any(c in n for n in per_night)]
    present += sorted({c for n in per_night for c in n} - set(order))  # a cause named later
    bottom = [0] * len(x)
    for i, cause in enumerate(present):
        ys = [n.get(cause, 0) for n in per_night]
        ax.bar(x, ys, bottom=bottom, width=0.7, label=cause.replace("_", " "),
               color="#c0392b" if cause == UNKNOWN else f"C{i % 10}")
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    # bars stand on zero; the headroom keeps the legend off them
    ax.set_ylim(0, max(5, max(bottom, default=0)) * 1.45)
    ax.set_title("divergences by cause (all boards)", fontsize=9)
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(alpha=0.3, axis="y")
    if present:
        ax.legend(fontsize=7, loc="upper left", ncol=3)
    else:
        ax.text(0.5, 0.5, "none", transform=ax.transAxes, ha="center", va="center",
                fontsize=8, color="#777")


def trend_pngs(t: Trend) -> dict[str, str]:
    """Base64 PNG per scenario: its key figures across the trend's nights, one line per board
    (a colour per board, the same on every scenario), so a drift is seen at a glance."""
    scenarios = sorted({sc for _, sc in t.figures})
    if not scenarios:
        return {}
    plt = _pyplot()
    colours = {b: f"C{i % 10}" for i, b in enumerate(sorted({b for b, _ in t.figures}))}
    x = list(range(len(t.runs)))
    labels = [_night_label(t.records[r].started_utc, r) if r in t.records else r[:8]
              for r in t.runs]
    step = max(1, math.ceil(len(x) / 8))  # at most 8 labels a panel: they stay legible
    out = {}
    for sc in scenarios:
        fig, all_axes = plt.subplots(1, len(TREND_PANELS) + 1, figsize=(19, 2.4))
        axes, cause_ax = all_axes[:-1], all_axes[-1]
        boards = sorted(b for b, s in t.figures if s == sc)
        _cause_bars(cause_ax, t, sc, boards, x)
        cause_ax.set_xticks(x[::step], labels[::step], fontsize=8)
        for ax, (title, lines, span, cap) in zip(axes, TREND_PANELS, strict=True):
            seen: list[float] = []
            for b in boards:
                nights = t.figures[(b, sc)]
                for key, style, suffix in lines:
                    ys = [nights.get(r, {}).get(key) for r in t.runs]
                    if all(y is None for y in ys):
                        continue
                    seen += [y for y in ys if y is not None]
                    ax.plot(x, [math.nan if y is None else y for y in ys], linestyle=style,
                            marker="o" if style == "-" else ".", markersize=4,
                            color=colours[b], label=b + suffix)
            _y_range(ax, seen, span, cap)
            ax.set_title(title, fontsize=9)
            ax.set_xticks(x[::step], labels[::step], fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
            ax.set_xlim(-0.5, len(x) - 0.5)
            ax.grid(alpha=0.3)
        handles = {h.get_label(): h for ax in axes for h in ax.get_lines()
                   if not h.get_label().endswith(" unknown")}
        fig.legend(list(handles.values()), list(handles), fontsize=8, loc="center right")
        fig.subplots_adjust(left=0.03, right=0.885, bottom=0.14, top=0.88, wspace=0.22)
        out[sc] = _png(fig, 80)
    return out
