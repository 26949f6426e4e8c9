"""The per-scenario plot of the HTML page, a PNG from matplotlib's Agg backend, base64 so the
page stays one self-contained file."""

from __future__ import annotations

import base64
import io
import itertools

from hil.harness.results import ScenarioResult


def plot_png(r: ScenarioResult) -> str | None:
    """Base64 PNG: per code, alerts forwarded and suppressed over time, device vs DSP; and WAN
    frames over time with and without the device filter."""
    codes = r.series.get("codes") if r.series else None
    if not codes:
        return None
    # matplotlib takes ~0.5 s to import: only when a result has a series to plot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=70)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()
