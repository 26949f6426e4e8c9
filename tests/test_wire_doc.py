"""Every protocol line quoted in docs/wire-protocol.md parses with its CRC (no stale examples)."""

from __future__ import annotations

import re
from pathlib import Path

from firmware_model import wire

DOC = Path(__file__).resolve().parent.parent / "docs" / "wire-protocol.md"


def _example_lines() -> list[str]:
    text = DOC.read_text()
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        lines += [ln for ln in block.splitlines() if re.match(r"^[!@]\d+ ", ln)]
    lines += re.findall(r"`([!@]\d+ [A-Z]+[^`]*\*[0-9A-F]{4})`", text)
    return lines


def test_doc_has_examples_in_both_directions() -> None:
    lines = _example_lines()
    assert sum(ln.startswith("!") for ln in lines) >= 5
    assert sum(ln.startswith("@") for ln in lines) >= 5


def test_every_doc_example_line_has_a_valid_crc() -> None:
    for ln in _example_lines():
        mark = ln[0].encode()
        seq, verb, args, noise = wire.decode(ln.encode() + b"\n", mark)
        assert noise == 0
        assert wire.encode(mark, seq, verb, " ".join(args) or None) == ln.encode() + b"\n"
