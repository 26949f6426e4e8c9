"""index.html of a run and trend.html across nights: self-contained pages (inline CSS, plots
inline as base64 PNG), with the numbers in data- attributes so tests and scripts can read them
back. The divergence breakdown says, per result, how the device and the DSP model differed.
The trend page opens with the coverage gaps (hil.report.coverage), then board health, the
failing scenarios, the figures per scenario across nights, and the verdicts, each linking to
that night's index.html."""

from __future__ import annotations

import html
import os
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from hil.harness.results import ScenarioResult
from hil.report.coverage import Coverage
from hil.report.history import RunRecord, Trend
from hil.report.plot import plot_png
from hil.report.totals import KEY_METRICS, summary

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;
text-align:left}th{background:#f3f3f3}.pass{background:#d9f2d9}.fail{background:#f8d0d0}
.error{background:#f9e2b0}.too-large{background:#e3d7f5}.skipped{background:#eee}
section{border-top:2px solid #ddd;margin-top:1.2em}img{max-width:100%}code{font-size:12px}
.flag{color:#a00;font-weight:bold}
#coverage .gap{color:#a00;font-weight:bold}#coverage .no-gaps{color:#070;font-weight:bold}
#coverage ul{padding-left:1.2em}td a{color:inherit}th small{font-weight:normal;color:#555}
.trend-plot{display:block;margin:.3em 0 1em}#history td,#history th{white-space:nowrap}
"""


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


def report_href(rec: RunRecord | None, page_dir: Path, root: Path) -> str | None:
    """The link from a page in `page_dir` to a night's index.html: relative when both sit
    under the history's folder `root` (the reports folder can be moved or served as it is),
    else a file: URI; None when that report is not there (any more)."""
    if rec is None or not rec.out_dir:
        return None
    report = Path(rec.out_dir, "index.html").resolve()  # a relative out_dir: hil run's cwd
    if not report.is_file():
        return None
    root, page_dir = root.resolve(), page_dir.resolve()
    if report.is_relative_to(root) and page_dir.is_relative_to(root):
        return quote(Path(os.path.relpath(report, page_dir)).as_posix())
    return report.as_uri()


def _night(rec: RunRecord | None, run_id: str) -> str:
    """A night's column head: its start (UTC; the run id on hover), and its status unless it
    completed."""
    try:
        when = datetime.fromisoformat(rec.started_utc).strftime("%m-%d<br>%H:%M") if rec \
            else _e(run_id)
    except ValueError:
        when = _e(run_id)
    status = rec.status if rec and rec.status not in ("complete", None) else ""
    return (f"<th title='{_e(run_id)}' data-run='{_e(run_id)}'>{when}"
            + (f"<br><small>{_e(status)}</small>" if status else "") + "</th>")


def trend_html(t: Trend, cov: Coverage, plots: dict[str, str], page_dir: Path,
               root: Path) -> str:
    """The trend page as seen from `page_dir` (its links are relative to it, see report_href),
    `root` the history's folder; `plots` from hil.report.plot.trend_pngs."""
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>HIL trend</title>"
           f"<style>{CSS}</style></head><body><h1>HIL trend ({len(t.runs)} run{'' if len(t.runs) == 1 else 's'})</h1>",
           "<section id='coverage'><h2>Coverage</h2>"]
    if cov.gaps:
        out.append(f"<p class='gap'>{_e(cov.summary())}:</p><ul id='coverage-gaps'>")
        out += [f"<li class='gap' data-kind='{_e(g.kind)}' data-run='{_e(g.run_id)}'>"
                f"{_e(g.message)}</li>" for g in cov.gaps]
        out.append("</ul>")
    else:
        out.append(f"<p class='no-gaps' id='coverage-gaps'>{_e(cov.summary())}: every expected "
                   "run happened and finished, and every board and scenario of each run is "
                   "in the next with a verdict.</p>")
    out += ["</section><h2>Board health</h2><p>A board is flagged when it was unhealthy (an "
            "infrastructure error, or half its scenarios failing) on consecutive runs.</p>"
            "<ul id='flagged-boards'>"]
    out += [f"<li class='flag' data-board='{_e(b)}'>{_e(b)}: {_e(w)}</li>"
            for b, w in sorted(t.flagged_boards.items())] or ["<li>none</li>"]
    out.append("</ul><h2>Failing scenarios</h2><ul id='flagged-scenarios'>")
    out += [f"<li class='flag' data-scenario='{_e(s)}'>{_e(s)}: {_e(w)}</li>"
            for s, w in sorted(t.flagged_scenarios.items())] or ["<li>none</li>"]
    out.append("</ul>")
    if plots:
        out.append("<h2>Figures across nights</h2><p>Per scenario, one line per board, one "
                   "point per night (oldest left): the WAN reduction, the device-vs-DSP "
                   "divergences (all of them, and those of unknown cause), the wall time, "
                   "and the divergences by named cause (bars: all the scenario's boards "
                   "together; unknown in red). A break in a line is a night without that "
                   "figure (not run, or an error).</p>")
        out += [f"<section class='trend-figures' data-scenario='{_e(sc)}'><h3>{_e(sc)}</h3>"
                f"<img class='trend-plot' data-scenario='{_e(sc)}' alt='{_e(sc)} across "
                f"nights' src='data:image/png;base64,{png}'></section>"
                for sc, png in sorted(plots.items())]
    hrefs = {r: report_href(t.records.get(r), page_dir, root) for r in t.runs}
    out.append("<h2>History</h2><p>Each verdict links to that night's report; nights are "
               "headed by their start (UTC).</p>"
               "<table id='history'><tr><th>board</th><th>scenario</th>"
               + "".join(_night(t.records.get(r), r) for r in t.runs) + "</tr>")
    for (b, sc), v in sorted(t.cells.items()):
        cells = []
        for r in t.runs:
            verdict, href = v.get(r, ""), hrefs[r]
            text = f"<a href='{_e(href)}#{_e(quote(f'{b}--{sc}'))}'>{_e(verdict)}</a>" \
                if verdict and href else _e(verdict)
            cells.append(f"<td class='{_e(verdict)}' data-run='{_e(r)}'>{text}</td>")
        out.append(f"<tr><td>{_e(b)}</td><td>{_e(sc)}</td>" + "".join(cells) + "</tr>")
    out.append("</table></body></html>")
    return "\n".join(out)
