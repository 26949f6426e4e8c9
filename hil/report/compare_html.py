"""The analyst's report of one comparison (`hil compare --html OUT`): a self-contained page
(inline CSS, plots inline as base64 PNG, the numbers in data- attributes so tests and scripts
can read them back). It shows the headline metrics, WAN frames saved over time, divergences by
class and cause with examples, the devices that stormed most, the agreement with the real
DSP's results when they were given, and the bad input rows."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from hil.compare import CLASSES, CompareResult, RealCheck, Setup
from hil.model.streams import BadRow
from hil.report.compare_plot import agreement_png, divergence_png, wan_png
from hil.report.compare_stats import FateStats, fate_stats
from hil.report.html import CSS

PAGE_CSS = CSS + """
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:4px;
padding:.4em .8em;min-width:9em}.card b{display:block;font-size:20px}.card small{color:#555}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _img(png: str | None, alt: str) -> str:
    if png is None:
        return "<p><i>nothing to plot</i></p>"
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{png}'>"


def _table(head: list[str], rows: list[list[Any]], numeric: set[int], cls: str = "") -> str:
    out = [f"<table class='{cls}'><tr>" + "".join(
        f"<th class='{'n' if i in numeric else ''}'>{_e(h)}</th>" for i, h in enumerate(head))
        + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(
            f"<td class='{'n' if i in numeric else ''}'>"
            f"{f'{v:,}' if isinstance(v, int) and not isinstance(v, bool) else _e(v)}</td>"
            for i, v in enumerate(r)) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cards(result: CompareResult) -> str:
    m = result.metrics()
    cards = [("alerts", f"{m['alerts']:,}", "in the stream"),
             ("wan_frames_saved", f"{m['wan_frames_saved']:,}",
              f"{m['wan_saving_ratio']:.1%} of the WAN frames"),
             ("agreement_rate", f"{m['agreement_rate']:.2%}", "device agrees with the DSP"),
             ("divergences", f"{sum(result.counters[c] for c in CLASSES):,}",
              f"{result.unknown:,} of unknown cause"),
             ("critical_alerts_lost", f"{m['critical_alerts_lost']:,}", "never-throttle, lost")]
    return "<div class='cards'>" + "".join(
        f"<div class='card' data-metric='{k}'><small>{_e(k.replace('_', ' '))}</small>"
        f"<b class='{'flag' if k == 'critical_alerts_lost' and v != '0' else ''}'>{v}</b>"
        f"<small>{_e(note)}</small></div>" for k, v, note in cards) + "</div>"


def _divergences(result: CompareResult) -> str:
    rows = []
    for cls in CLASSES:
        causes = result.causes.get(cls, {})
        rows.append([cls, result.counters[cls], ", ".join(
            f"{k} {v:,}" for k, v in sorted(causes.items(), key=lambda x: -x[1]))])
    png = divergence_png(result.counters, result.causes)
    out = [_img(png, "divergences by cause") if png else "",
           _table(["class", "count", "causes"], rows, {1}, "divergence")]
    if result.examples:
        out.append("<h3>first divergences</h3>")
        out.append(_table(
            ["class", "device", "code", "t_ms", "input line", "causes"],
            [[e["class"], e["device_id"], e["alert_code"], str(e["t_ms"]), e["line"],
              ", ".join(e["causes"])] for e in result.examples[:10]], {3, 4}, "examples"))
    return "".join(out)


def _top_devices(stats: FateStats) -> str:
    rows = [[d["device_id"], d["alerts"], d["device_suppressed"], d["dsp_discarded"],
             d["divergences"], d["codes"], f"{(d['last_t_ms'] - d['first_t_ms']) / 60_000:,.1f}"]
            for d in stats.top_devices]
    return _table(["device", "alerts", "suppressed by the device", "discarded by the DSP model",
                   "divergences", "codes", "span (min)"], rows, {1, 2, 3, 4, 5, 6},
                  "top-devices")


def _real(real: RealCheck) -> str:
    c = real.counters
    matched = c["rows_matched"]
    rows = [[k, v] for k, v in c.items()]
    out = [f"<p>{matched:,} result rows matched to alerts; the DSP model agrees on "
           f"<b>{c['model_agrees'] / matched:.2%}</b>, the device on "
           f"<b>{c['device_agrees'] / matched:.2%}</b>.</p>" if matched else
           "<p class='flag'>no result row matched an alert</p>",
           _img(agreement_png(c), "agreement with the real DSP") if matched else "",
           _table(["counter", "count"], rows, {1}, "real-dsp")]
    if real.examples:
        out.append("<h3>disagreements</h3>")
        out.append(_table(["results line", "alert line", "device", "code", "t_ms", "problem"],
                          [[e["result_line"], e.get("alert_line", ""), e["device_id"],
                            e["alert_code"], str(e["t_ms"]), "; ".join(e["problems"])]
                           for e in real.examples], {0, 1, 4}, "real-examples"))
    return "".join(out)


def _spread(result: CompareResult) -> str:
    # how the run was spread: a balance far from 1 says the partitions were too few
    parts = result.partitions
    if parts is None:
        return "<p><i>not recorded</i></p>"
    d = parts.to_dict()
    rows: list[list[Any]] = [
        ["engine", d["engine"]], ["workers", d["workers"]], ["partitions", d["count"]],
        ["alerts per partition, max / mean", f"{d['alerts_max_over_mean']:.3f}"],
        ["CPU load per partition, max / mean", f"{d['load_max_over_mean']:.3f}"],
        ["wall time (s)", f"{d['wall_seconds']:,.1f}"]]
    for w, secs in sorted(d["worker_seconds"].items()):
        mb = d["worker_peak_rss_mb"].get(w)
        rows.append([f"worker {w}", f"{secs:,.1f} s busy"
                     + (f", peak RSS {mb:,.0f} MB" if mb is not None else "")])
    return _table(["run", "value"], rows, set(), "spread")


def _bad(bad: list[BadRow]) -> str:
    rows = [[b.path, b.line, b.reason] for b in bad[:50]]
    more = f"<p>... and {len(bad) - 50:,} more</p>" if len(bad) > 50 else ""
    return _table(["file", "line", "problem"], rows, {1}, "bad-rows") + more


def compare_page(result: CompareResult, setup: Setup, *, real: RealCheck | None = None,
                 bad_rows: list[BadRow] | None = None, fates: Path | None = None,
                 title: str = "hil compare") -> str:
    """The page. `fates`: the Parquet fates spool, for the figures over time and per device
    (without it those sections say so)."""
    stats = fate_stats(fates) if fates is not None else None
    p = setup.perturbations
    scen = (f"latency {p.latency.base_ms}+{p.latency.jitter_ms} ms, skew {p.skew_ppm} ppm, "
            f"{len(p.resets)} reset(s) ({p.reset_mode}), {p.slots} slots, seed {p.seed}")
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
           f"<style>{PAGE_CSS}</style></head><body><h1>{_e(title)}</h1>",
           f"<p>Device limiter vs DSP model (SECMP0062). Perturbations: {_e(scen)}.</p>",
           _cards(result)]
    out.append("<section id='wan'><h2>WAN frames saved over time</h2>")
    if stats is not None:
        out.append(_img(wan_png(stats.series, result.counters["device_summary_frames"]),
                        "WAN frames over time"))
    else:
        out.append("<p><i>no fates were kept</i></p>")
    m = result.metrics()
    out.append(_table(["WAN frames", "count"], [
        ["without the device filter", m["wan_frames_without_device"]],
        ["with it (forwarded alerts + summaries)", m["wan_frames_with_device"]],
        ["of which summary frames", result.counters["device_summary_frames"]],
        ["saved", m["wan_frames_saved"]],
        ["alerts lost behind the device", m["alerts_lost"]]], {1}, "wan") + "</section>")
    out.append("<section id='divergences'><h2>Divergences by class and cause</h2>"
               + _divergences(result) + "</section>")
    if stats is not None:
        out.append("<section id='devices'><h2>Top storming devices</h2>"
                   + _top_devices(stats) + "</section>")
    if real is not None:
        out.append("<section id='real-dsp'><h2>Agreement with the real DSP</h2>"
                   + _real(real) + "</section>")
    out.append("<section id='spread'><h2>How the run was spread</h2>" + _spread(result)
               + "</section>")
    if bad_rows:
        out.append(f"<section id='bad-rows'><h2>Bad input rows ({len(bad_rows):,})</h2>"
                   + _bad(bad_rows) + "</section>")
    out.append("</body></html>")
    return "\n".join(out)
