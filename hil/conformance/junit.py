"""junit.xml of a conformance run: one testsuite per kind of vector (limiter, wire), one
testcase per vector. A failure is a failure, the rig's trouble an error, a vector the board
cannot be asked a skip (so CI never counts it as passed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hil.conformance.outcome import ERROR, FAIL, NOT_APPLICABLE, Outcome


def conformance_junit(board: str, hello: dict[str, str], outcomes: list[Outcome]) -> str:
    root = ET.Element("testsuites", name=f"hil conformance {board}")
    kinds: dict[str, list[Outcome]] = {}
    for o in outcomes:
        kinds.setdefault(o.name.split("/", 1)[0], []).append(o)
    for kind, os_ in kinds.items():
        suite = ET.SubElement(
            root, "testsuite", name=f"{board}.{kind}", tests=str(len(os_)),
            failures=str(sum(o.status == FAIL for o in os_)),
            errors=str(sum(o.status == ERROR for o in os_)),
            skipped=str(sum(o.status == NOT_APPLICABLE for o in os_)),
            time=f"{sum(o.wall_s for o in os_):.3f}")
        props = ET.SubElement(suite, "properties")
        for k in ("board", "fw", "proto", "engine", "caps"):
            ET.SubElement(props, "property", name=k, value=hello.get(k, board if k == "board"
                                                                         else ""))
        for o in os_:
            tc = ET.SubElement(suite, "testcase", classname=f"conformance.{board}.{kind}",
                               name=o.name.split("/", 1)[1], time=f"{o.wall_s:.3f}")
            if o.status == FAIL:
                ET.SubElement(tc, "failure", message=o.message, type="mismatch").text = o.message
            elif o.status == ERROR:
                ET.SubElement(tc, "error", message=o.message, type="board").text = o.message
            elif o.status == NOT_APPLICABLE:
                ET.SubElement(tc, "skipped", message=f"not applicable: {o.message}")
            elif o.message:
                ET.SubElement(tc, "system-out").text = o.message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
