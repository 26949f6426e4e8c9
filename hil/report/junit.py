"""junit.xml of a run: a testsuite per board, a testcase per scenario, so CI shows the night
like any test run. A firmware finding (fail) is a failure, the rig's trouble an error, a board
that could not be reached a skip. A board that cannot take the firmware (too-large) is a known
property of that board, not a finding: it is a skip too, typed `too-large` and carrying the
reason, so a CI dashboard is red only for real failures (results.json and the HTML keep the
verdict `too-large`)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from hil.harness.results import ERROR, FAIL, SKIPPED, TOO_LARGE, ScenarioResult
from hil.report.totals import KEY_METRICS


def junit_xml(manifest: dict[str, Any], results: list[ScenarioResult]) -> str:
    root = ET.Element("testsuites", name="hil nightly " + str(manifest.get("run_id", "")))
    boards: dict[str, list[ScenarioResult]] = {}
    for r in results:
        boards.setdefault(r.board, []).append(r)
    tt = tf = te = ts = 0
    for board, rs in boards.items():
        info = next((r.board_info for r in rs if r.board_info), {})
        n_fail = sum(1 for r in rs if r.verdict == FAIL)
        n_err = sum(1 for r in rs if r.verdict == ERROR)
        n_skip = sum(1 for r in rs if r.verdict in (SKIPPED, TOO_LARGE))
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
                # The JUnit schema gives <skipped> a message only (no type): the verdict goes
                # in its text so the cause stays visible beside a plain skip.
                ET.SubElement(tc, "skipped", message=msg).text = f"{TOO_LARGE}: {msg}"
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
