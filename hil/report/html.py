"""Reports of a run folder: results.json (machine-readable), junit.xml (a testsuite per
board), index.html (self-contained: inline CSS, plots as base64 PNG from matplotlib's Agg
backend), and trend.html across nights from the SQLite history (hil.report.history).

Everything here is rebuilt from the per-scenario result files and the manifest, so
`hil report DIR` can regenerate it after a crash, a resume, or a change of template."""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from hil.harness.results import (
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    TOO_LARGE,
    RunFolder,
    ScenarioResult,
    atomic_write,
    atomic_write_json,
)
from hil.report.history import Trend

KEY_METRICS = ("offered", "device_forwarded", "device_suppressed", "dsp_forwarded",
               "dsp_suppressed", "wan_frames", "wan_frames_saved", "wan_reduction_pct",
               "critical_lost", "divergences", "count_mismatches", "divergences_unknown",
               "model_mismatch", "unaccounted_suppressed")

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:left}th{background:#f3f3f3}.pass{background:#d9f2d9}.fail{background:#f8d0d0}
.error{background:#f9e2b0}.too-large{background:#e3d7f5}.skipped{background:#eee}
section{border-top:2px solid #ddd;margin-top:1.2em}img{max-width:100%}code{font-size:12px}
.flag{color:#a00;font-weight:bold}
"""


def summary(results: list[ScenarioResult]) -> dict[str, Any]:
    counts = {v: sum(1 for r in results if r.verdict == v)
              for v in (PASS, FAIL, ERROR, TOO_LARGE, SKIPPED)}
    per_board: dict[str, float] = {}
    per_scenario: dict[str, float] = {}
    for r in results:
        per_board[r.board] = round(per_board.get(r.board, 0.0) + r.wall_s, 3)
        per_scenario[r.scenario] = round(per_scenario.get(r.scenario, 0.0) + r.wall_s, 3)
    return {"counts": counts, "total": len(results), "wall_s_per_board": per_board,
            "wall_s_per_scenario": per_scenario,
            "ok": counts[FAIL] == 0 and counts[ERROR] == 0}


def write_results_json(folder: RunFolder, manifest: dict[str, Any],
                       results: list[ScenarioResult]) -> Path:
    p = folder.path / "results.json"
    atomic_write_json(p, {"manifest": manifest, "summary": summary(results),
                          "results": [r.to_dict() for r in results]})
    return p


def junit_xml(manifest: dict[str, Any], results: list[ScenarioResult]) -> str:
    root = ET.Element("testsuites", name="hil nightly " + str(manifest.get("run_id", "")))
    boards: dict[str, list[ScenarioResult]] = {}
    for r in results:
        boards.setdefault(r.board, []).append(r)
    tt = tf = te = ts = 0
    for board, rs in boards.items():
        info = next((r.board_info for r in rs if r.board_info), {})
        n_fail = sum(1 for r in rs if r.verdict in (FAIL, TOO_LARGE))
        n_err = sum(1 for r in rs if r.verdict == ERROR)
        n_skip = sum(1 for r in rs if r.verdict == SKIPPED)
        wall = sum(r.wall_s for r in rs)
        tt, tf, te, ts = tt + len(rs), tf + n_fail, te + n_err, ts + n_skip
        suite = ET.SubElement(root, "testsuite", name=board, tests=str(len(rs)),
                              failures=str(n_fail), errors=str(n_err), skipped=str(n_skip),
                              time=f"{wall:.3f}", timestamp=str(manifest.get("started_utc", "")))
        props = ET.SubElement(suite, "properties")
        for k, v in (("board", board), ("firmware_hash", info.get("fw", "")),
                     ("protocol_version", info.get("proto", "")),
                     ("git_commit", manifest.get("git_commit", ""))):
            ET.SubElement(props, "property", name=k, value=str(v))
        for r in rs:
            tc = ET.SubElement(suite, "testcase", classname=f"hil.{board}", name=r.scenario,
                               time=f"{r.wall_s:.3f}")
            bad = [x for x in r.reasons if not x.startswith("held")]
            msg = "; ".join(bad) or r.verdict
            if r.verdict == FAIL:
                ET.SubElement(tc, "failure", message=msg, type="property").text = \
                    "\n".join(r.reasons)
            elif r.verdict == TOO_LARGE:
                ET.SubElement(tc, "failure", message=msg, type="too-large").text = msg
            elif r.verdict == ERROR:
                ET.SubElement(tc, "error", message=msg, type="infrastructure").text = msg
            elif r.verdict == SKIPPED:
                ET.SubElement(tc, "skipped", message=msg)
            out = ET.SubElement(tc, "system-out")
            out.text = f"console: {r.console}\nattempts: {r.attempts}\n" + json.dumps(
                {k: r.metrics.get(k) for k in KEY_METRICS if k in r.metrics})
    root.set("tests", str(tt))
    root.set("failures", str(tf))
    root.set("errors", str(te))
    root.set("skipped", str(ts))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def plot_png(r: ScenarioResult) -> str | None:
    """Base64 PNG: per code, alerts forwarded and suppressed over time, device vs DSP; and WAN
    frames over time with and without the device filter."""
    codes = r.series.get("codes") if r.series else None
    if not codes:
        return None
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


def _e(x: Any) -> str:
    return html.escape(str(x))


def divergence_html(r: ScenarioResult) -> str:
    """Device-vs-DSP divergences of one result by class and cause (hil.harness.metrics), then the
    codes whose suppressed count the board reported differs from what the DSP discarded."""
    d = r.divergence
    classes = d.get("classes") if d else None
    if not classes:
        return ""
    causes = d.get("causes", {})
    out = ["<table class='divergence'><tr><th>device vs DSP</th><th>count</th>"
           "<th>causes</th></tr>"]
    for cls, n in classes.items():
        cs = ", ".join(f"<span class='cause' data-class='{_e(cls)}' data-cause='{_e(k)}' "
                       f"data-count='{v}'>{_e(k)} {v}</span>"
                       for k, v in sorted(causes.get(cls, {}).items(), key=lambda x: -x[1]))
        out.append(f"<tr><th>{_e(cls)}</th><td class='divergence-count' data-class='{_e(cls)}'>"
                   f"{n}</td><td>{cs}</td></tr>")
    out.append("</table>")
    rows = d.get("count_mismatches") or []
    if rows:
        out.append("<table class='count-mismatches'><tr><th>device</th><th>code</th>"
                   "<th>reported by the board</th><th>discarded by the DSP</th><th>cause</th>"
                   "</tr>")
        for m in rows:
            code = m["alert_code"] + (" (overflow slot)" if m.get("overflow_slot") else "")
            out.append(f"<tr data-code='{_e(m['alert_code'])}'><td>{_e(m['device'])}</td>"
                       f"<td>{_e(code)}</td><td>{m['device_reported']}</td>"
                       f"<td>{m['dsp_discarded']}</td><td>{_e(', '.join(m['causes']))}</td></tr>")
        out.append("</table>")
    if d.get("resets"):
        out.append("<p>board resets replayed by the model: " + ", ".join(
            f"{_e(x[1])} at {x[0] / 1000:.0f} s" for x in d["resets"]) + "</p>")
    return "".join(out)


def html_report(manifest: dict[str, Any], results: list[ScenarioResult]) -> str:
    s = summary(results)
    boards = sorted({r.board for r in results})
    scenarios = list(dict.fromkeys(r.scenario for r in results))
    by = {(r.board, r.scenario): r for r in results}
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>HIL run "
           f"{_e(manifest.get('run_id', ''))}</title><style>{CSS}</style></head><body>",
           f"<h1>HIL nightly {_e(manifest.get('run_id', ''))}</h1>",
           f"<p>git {_e(manifest.get('git_commit', ''))} &middot; started "
           f"{_e(manifest.get('started_utc', ''))} &middot; wall "
           f"{_e(manifest.get('wall_s', ''))} s &middot; " + ", ".join(
               f"{k}: <b class='count-{k}'>{v}</b>" for k, v in s["counts"].items()) + "</p>",
           "<h2>Matrix</h2><table id='matrix'><tr><th>board</th>"
           + "".join(f"<th>{_e(sc)}</th>" for sc in scenarios) + "<th>wall s</th></tr>"]
    for b in boards:
        out.append(f"<tr><th>{_e(b)}</th>")
        for sc in scenarios:
            r = by.get((b, sc))
            if r is None:
                out.append("<td>-</td>")
            else:
                out.append(f"<td class='{r.verdict}'><a href='#{_e(b)}--{_e(sc)}'>"
                           f"{r.verdict}</a></td>")
        out.append(f"<td>{s['wall_s_per_board'].get(b, 0):.1f}</td></tr>")
    out.append("</table>")
    for r in results:
        out.append(f"<section id='{_e(r.board)}--{_e(r.scenario)}' class='result' "
                   f"data-board='{_e(r.board)}' data-scenario='{_e(r.scenario)}'>"
                   f"<h3>{_e(r.board)} / {_e(r.scenario)}: <span class='{r.verdict} verdict'>"
                   f"{r.verdict}</span></h3><ul>"
                   + "".join(f"<li>{_e(x)}</li>" for x in r.reasons) + "</ul>")
        if r.metrics:
            out.append("<table class='metrics'>" + "".join(
                f"<tr><th>{_e(k)}</th><td class='metric' data-key='{_e(k)}'>"
                f"{_e(r.metrics[k])}</td></tr>" for k in KEY_METRICS if k in r.metrics)
                + "</table>")
        out.append(divergence_html(r))
        png = plot_png(r)
        if png:
            out.append(f"<img class='plot' alt='alerts over time, device vs DSP' "
                       f"src='data:image/png;base64,{png}'>")
        out.append(f"<p>fw {_e(r.board_info.get('fw', '-'))}, proto "
                   f"{_e(r.board_info.get('proto', '-'))}, attempts {r.attempts}, "
                   f"{r.wall_s:.2f} s, link {_e(r.link)}; console: "
                   f"<code>{_e(r.console)}</code></p></section>")
    out.append("</body></html>")
    return "\n".join(out)


def trend_html(t: Trend) -> str:
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>HIL trend</title>"
           f"<style>{CSS}</style></head><body><h1>HIL trend ({len(t.runs)} runs)</h1>",
           "<h2>Board health</h2><p>A board is flagged when it was unhealthy (an "
           "infrastructure error, or half its scenarios failing) on consecutive runs.</p>"
           "<ul id='flagged-boards'>"]
    out += [f"<li class='flag' data-board='{_e(b)}'>{_e(b)}: {_e(w)}</li>"
            for b, w in sorted(t.flagged_boards.items())] or ["<li>none</li>"]
    out.append("</ul><h2>Failing scenarios</h2><ul id='flagged-scenarios'>")
    out += [f"<li class='flag' data-scenario='{_e(s)}'>{_e(s)}: {_e(w)}</li>"
            for s, w in sorted(t.flagged_scenarios.items())] or ["<li>none</li>"]
    out.append("</ul><h2>History</h2><table><tr><th>board</th><th>scenario</th>"
               + "".join(f"<th>{_e(r)}</th>" for r in t.runs) + "</tr>")
    for (b, sc), v in sorted(t.cells.items()):
        out.append(f"<tr><td>{_e(b)}</td><td>{_e(sc)}</td>" + "".join(
            f"<td class='{v.get(r, '')}'>{_e(v.get(r, ''))}</td>" for r in t.runs) + "</tr>")
    out.append("</table></body></html>")
    return "\n".join(out)


def build(folder: RunFolder, history_db: str | Path | None = None,
          record: bool = True) -> dict[str, Path]:
    """Write results.json, junit.xml, index.html (and, with a history db, record the run and
    write trend.html). Returns the paths written."""
    manifest = folder.manifest()
    results = folder.results()
    paths = {"results": write_results_json(folder, manifest, results)}
    paths["junit"] = folder.path / "junit.xml"
    atomic_write(paths["junit"], junit_xml(manifest, results))
    paths["html"] = folder.path / "index.html"
    atomic_write(paths["html"], html_report(manifest, results))
    if history_db is not None:
        from hil.report import history

        db = history.connect(history_db)
        try:
            if record:
                history.record_run(db, str(manifest.get("run_id", folder.path.name)), manifest,
                                   results)
            paths["trend"] = folder.path / "trend.html"
            text = trend_html(history.trend(db))
            atomic_write(paths["trend"], text)
            atomic_write(Path(history_db).parent / "trend.html", text)
        finally:
            db.close()
    return paths
