"""Derived flat builds of firmware_model/ modules for small boards (the micro:bit: MicroPython
1.9.2, ~9.5 kB of heap, ~15 kB of flat file space, source compiled on the device).

    .venv/bin/python -m emulator.flatbuild --out DIR [--keep FEATURE]... [MODULE.py]...

A derived module is the source module with its optional features removed and its comments,
docstrings and indentation stripped. Features are marked in the source:

    # [feature:snapshot]
    ...                       (dropped from a derived build unless --keep snapshot)
    # [/feature]

so a small board runs the same code as every other board, minus whole features: never a
second implementation. Defaults: ticks.py and limiter.py without `snapshot` (snapshot/restore,
SnapshotError and the CRC import) and `config` (Config.from_dict/validate/to_dict: a small
board gets its Config built by the host). A kept feature brings the modules it imports
(`snapshot`: crc.py). docs/limiter.md "micro:bit" has the measured result.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from emulator.qemu_microbit import strip_source  # the one stripping rule, shared

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware_model"
FEATURES = ("snapshot", "config")  # every feature name used in firmware_model/
DEFAULT_MODULES = ("ticks.py", "limiter.py")
# sibling modules that only a feature's code imports: a build keeping it must ship them too
FEATURE_MODULES = {"snapshot": ("crc.py",)}

_OPEN = re.compile(r"^\s*# \[feature:([a-z_]+)\]\s*$")
_CLOSE = re.compile(r"^\s*# \[/feature\]\s*$")


class BuildError(ValueError):
    """Unbalanced or unknown feature markers; the message names the file and line."""


def drop_features(src: str, drop: tuple[str, ...] | list[str], name: str = "<source>") -> str:
    """src without the lines of the features in `drop` (markers removed in any case)."""
    out: list[str] = []
    current: str | None = None
    start = 0
    for n, line in enumerate(src.splitlines(keepends=True), 1):
        m = _OPEN.match(line)
        if m:
            if current is not None:
                raise BuildError(f"{name}:{n}: feature {m.group(1)} opened inside {current} "
                                 f"(line {start})")
            if m.group(1) not in FEATURES:
                raise BuildError(f"{name}:{n}: unknown feature {m.group(1)}")
            current, start = m.group(1), n
            continue
        if _CLOSE.match(line):
            if current is None:
                raise BuildError(f"{name}:{n}: [/feature] without an open feature")
            current = None
            continue
        if current is None or current not in drop:
            out.append(line)
    if current is not None:
        raise BuildError(f"{name}:{start}: feature {current} never closed")
    return "".join(out)


def derive(name: str, drop: tuple[str, ...] | list[str] = FEATURES, strip: bool = True,
           root: Path = FIRMWARE) -> bytes:
    """One derived module: features in `drop` removed, then comments/docstrings stripped."""
    text = drop_features((root / name).read_text(), drop, name)
    compile(text, name, "exec")  # a marker in the wrong place shows up here, on the host
    return (strip_source(text) if strip else text).encode()


def derive_all(names: tuple[str, ...] | list[str] = DEFAULT_MODULES,
               keep: tuple[str, ...] | list[str] = ()) -> dict[str, bytes]:
    """The derived modules `names` with only the features in `keep`, plus the modules those
    features import (FEATURE_MODULES) where one of `names` has such a feature."""
    drop = tuple(f for f in FEATURES if f not in keep)
    names = list(names)
    for f in keep:
        marker = f"# [feature:{f}]"
        if any(marker in (FIRMWARE / n).read_text() for n in names):
            names += [m for m in FEATURE_MODULES.get(f, ()) if m not in names]
    return {n: derive(n, drop) for n in names}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emulator.flatbuild", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("modules", nargs="*", default=list(DEFAULT_MODULES),
                    help="module files of firmware_model/ (default: ticks.py limiter.py)")
    ap.add_argument("--out", required=True, type=Path, help="directory for the flat files")
    ap.add_argument("--keep", action="append", default=[], choices=FEATURES,
                    help="keep this optional feature (repeatable)")
    args = ap.parse_args(argv)
    try:
        files = derive_all(args.modules, args.keep)
    except (BuildError, OSError, SyntaxError) as e:
        print(f"flatbuild: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
        src = (FIRMWARE / name).stat().st_size
        print(f"{name} {len(data)} bytes (source {src})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
