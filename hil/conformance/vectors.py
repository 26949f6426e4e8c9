"""The vector files `hil conformance` runs, found and checked before anything is sent.

Two kinds, told apart by their keys: a limiter vector (vectors/limiter/*.json, format in
docs/limiter.md: `events` and/or `config_errors`/`slot_errors`, and `expect`) and a wire
transcript (vectors/wire/*.json, format in docs/wire-protocol.md: `steps`). A file that is
neither, or whose fields have the wrong shape, is a VectorError naming the file and the field:
bad input, never a failing board. Each kind's own module checks its shape (raising
ValueError("<field>: <what is wrong>")); this one reads the files and says which file."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.conformance.limiter_vectors import check_limiter_vector
from hil.conformance.transcripts import check_transcript
from hil.errors import InputError

LIMITER = "limiter"
WIRE = "wire"


class VectorError(InputError):
    """A vector file that cannot be run: names the file and the field."""


@dataclass
class Vector:
    kind: str  # LIMITER or WIRE
    name: str  # "<kind>/<file stem>"
    path: Path
    data: dict[str, Any]


def load_vector(path: Path) -> Vector:
    try:
        v = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise VectorError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise VectorError(f"{path}: not JSON: line {e.lineno} column {e.colno}: {e.msg}") \
            from None
    if not isinstance(v, dict):
        raise VectorError(f"{path}: not a JSON object")
    if "steps" in v:
        kind, check = WIRE, check_transcript
    elif any(k in v for k in ("events", "config_errors", "slot_errors", "expect")):
        kind, check = LIMITER, check_limiter_vector
    else:
        raise VectorError(f"{path}: steps: missing (neither a wire transcript, which has "
                          "steps, nor a limiter vector, which has events and expect)")
    try:
        check(v)
    except ValueError as e:
        raise VectorError(f"{path}: {e}") from None
    return Vector(kind, f"{kind}/{path.stem}", path, v)


# the project's own suite: the vector folders of vectors/ (beside them live the generator, the
# mutation tool and its data, which are not vectors)
SUITE_DIRS = ("limiter", "wire")


def load_suite(root: Path, only: tuple[str, ...] | None = None) -> list[Vector]:
    """Every *.json under root (or under only its folders `only`), checked: limiter vectors
    first, then transcripts, by name."""
    if not root.is_dir():
        raise InputError(f"{root}: no such directory")
    dirs = [root / d for d in only] if only else [root]
    found = [load_vector(p) for d in dirs for p in sorted(d.rglob("*.json"))]
    if not found:
        raise InputError(f"{root}: no vector files (*.json)")
    return sorted(found, key=lambda x: (x.kind != LIMITER, x.name))
