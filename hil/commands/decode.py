"""Decode GBCS alert frames given as hex and print one JSON object per frame (JSON Lines).

Input: files (or "-" / nothing for stdin) holding hex frames, one per line, read as a stream.
A frame may be wrapped over several lines: a hex line that does not start with a frame tag
(DF or DD) continues the frame of the line before it; a blank line ends a frame. Whitespace, a 0x prefix and
":" / "-" separators are ignored; lines starting with "#" are comments.

Each output object has the fields of docs/frames.md ("Decode output") plus "source"
(FILE:LINE, "<stdin>:LINE" for stdin) and "alert_name" (catalogue name or null). A frame in a
form real devices send against the rules decodes, and its "deviations" list says where
(["non-minimal DER length 82 00DE at byte 36"]; [] for an exact frame): it is not a failure. A
frame that cannot be decoded gives {"source": ..., "error": "... at byte N"} and the others
still decode; the exit status is 1 if any frame failed, 2 if a file could not be read, else 0.

--keys DIR (a test key set, `hil keys generate DIR`) adds "auth": {"kind": "mac" | "signature",
"valid": true | false | null} to each decoded frame: its MAC (General-Ciphering) or signature
(General-Signing) checked with the keys of its parties, null when the set has none for them
(docs/frames.md section 11). A frame that fails verification is reported, not an error: the
exit status stays what decoding makes it.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from hil.errors import InputError
from hil.frames.catalogue import name_of

HELP = "decode GBCS alert frames (hex) to JSON Lines"

_SEPARATORS = re.compile(r"[\s:\-]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="files of hex frames ('-' or none: standard input)")
    parser.add_argument("--reference", action="store_true",
                        help="decode with the construct reference decoder instead of the fast "
                             "path (same output; slower)")
    parser.add_argument("--keys", metavar="DIR",
                        help="verify each frame's MAC or signature with this test key set "
                             "(`hil keys generate DIR`): adds \"auth\" to each object")


def _clean(text: str) -> str:
    text = _SEPARATORS.sub("", text)
    return text[2:] if text[:2].lower() == "0x" else text


def _hex_error(text: str) -> str | None:
    """Why `text` is not a hex frame, with the byte offset, or None if it is fine."""
    for i, ch in enumerate(text):
        if ch not in "0123456789abcdefABCDEF":
            return f"not hex: {ch!r} at byte {i // 2}"
    if len(text) % 2:
        return f"odd number of hex digits: half a byte at byte {len(text) // 2}"
    return None


def _frames(name: str, lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(source, cleaned hex) for each frame of one input, streaming: a hex line that does not
    start with a frame tag (DF/DD) continues the frame of the line before it; a blank line, a
    comment or a new tag ends it. Output lags the input by one line at most."""
    pending: tuple[str, str] | None = None
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if pending:
                yield pending
            pending = None
            continue
        h = _clean(stripped)
        if (pending is not None and h[:2].upper() not in ("DF", "DD")
                and _hex_error(h) is None and _hex_error(pending[1]) is None):
            pending = (pending[0], pending[1] + h)
            continue
        if pending:
            yield pending
        pending = (f"{name}:{n}", h)
    if pending:
        yield pending


@contextmanager
def _lines(path: str) -> Iterator[tuple[str, Iterable[str]]]:
    if path == "-":  # garbage bytes become "not hex" errors, never a UnicodeDecodeError
        yield "<stdin>", io.TextIOWrapper(sys.stdin.buffer, encoding="ascii", errors="replace")
        return
    try:
        fh = open(path, encoding="ascii", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        yield path, fh


def decode_line(source: str, hex_text: str, *, reference: bool = False,
                keys: Any = None) -> dict[str, object]:
    """The JSON object for one hex frame (an error object if it cannot be decoded); with a key
    lookup (hil.frames.security.KeyLookup), its "auth"."""
    # The codec (construct) loads here, not at import: `hil` imports every command module to
    # build its --help, and only this command needs it.
    from hil.frames import FrameError, decode, decode_fast

    err = _hex_error(hex_text)
    if err is not None:
        return {"source": source, "error": err}
    try:
        frame = (decode if reference else decode_fast)(bytes.fromhex(hex_text))
    except FrameError as exc:
        return {"source": source, "error": str(exc)}
    out: dict[str, object] = {"source": source}
    out.update(frame.to_dict())
    code = frame.alert_code
    out["alert_name"] = name_of(int(code, 16)) if code else None
    if keys is not None:
        from hil.frames.security import verify  # cryptography: only when asked to verify

        out["auth"] = verify(bytes.fromhex(hex_text), keys).to_dict()
    return out


def _key_store(path: str | None) -> Any:
    if path is None:
        return None
    from emulator.keystore import KeyStore, KeyStoreError  # cryptography: only with --keys

    try:
        return KeyStore(path)
    except KeyStoreError as exc:
        raise InputError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    failed = False
    unreadable = False
    keys = _key_store(args.keys)
    for path in args.files or ["-"]:
        try:
            with _lines(path) as (name, lines):
                for source, hex_text in _frames(name, lines):
                    obj = decode_line(source, hex_text, reference=args.reference, keys=keys)
                    failed = failed or "error" in obj
                    sys.stdout.write(json.dumps(obj) + "\n")
                    sys.stdout.flush()  # a live pipe sees each frame as it is decoded
        except InputError as exc:
            print(f"hil decode: error: {exc}", file=sys.stderr)
            unreadable = True
        except (OSError, UnicodeDecodeError) as exc:  # e.g. a file vanishing mid-read
            print(f"hil decode: error: reading {path}: {exc}", file=sys.stderr)
            unreadable = True
    return 2 if unreadable else 1 if failed else 0
