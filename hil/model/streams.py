"""Inputs of the DSP model and the comparison: alert streams and real DSP filter results.

Every reader is a generator (bounded memory: one row at a time). A row that cannot be used is
not fatal: it becomes a `BadRow` (file, line number, reason) appended to the caller's `errors`
list, and reading goes on. A file that no row could be read from (cannot be opened, not UTF-8,
a BOM, a header or Parquet schema without a needed column) raises `InputError`:
`check_alerts_file` / `check_results_file` find that before any work. The file formats
themselves (CSV, JSON Lines, Parquet) are read by hil/model/row_files.py.

Alert streams (docs/dsp-model.md "Inputs"):

* JSON Lines, one alert per line: `device_id` (str), `t_ms` (int, event time), `alert_code`
  (int or "0x8F3F"), optional `arrival_ms` (int, DSP receipt time), optional `frame` (hex of
  the GBCS frame; if given it is decoded, and `device_id`/`alert_code` default to the frame's
  originator title / alert code and must agree with it when given).
* CSV with a header row and the same columns (`frame` left out), or Parquet with the same
  columns (line numbers are then 1-based row numbers).
* GBCS frame files (.hex/.txt): one frame in hex per line, optionally preceded by `t_ms` and
  whitespace; device_id = originator title, alert_code from the payload (a suppression summary
  is alert code 0x8FFE), t_ms = the alert's date-time (seconds since 2000 x 1000) when no
  `t_ms` prefix is given. Blank lines and lines starting with '#' are skipped.

Times (`t_ms`, `arrival_ms`) are at most 2**53 (exact as a JSON number).

Real DSP results (CSV with header, JSON Lines or Parquet), one row per alert the real DSP received:
`device_id`, `alert_code`, `t_ms` (event time of the alert), `decision` ("forwarded" or
"discarded"), `throttled_count` (int; forwarded rows only, empty otherwise),
`sequence_id` (int; forwarded rows of an episode, empty otherwise), optional `arrival_ms`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from hil import frames  # lazy (hil/frames/__init__.py): the codec loads when a frame is read
from hil.errors import ConfigError, HilError
from hil.frames.catalogue import format_code, parse_code
from hil.model import row_files
from hil.model.row_files import ReadProgress, check_file, open_text

MAX_T_MS = 2**53  # beyond this a time is not exact as a JSON number (a double)


class Alert(NamedTuple):
    seq: int                 # position in the input stream (0-based, good rows only)
    device: str
    t_ms: int                # event time (the device's view)
    code: int
    arrival_ms: int | None   # DSP receipt time if the input says so
    line: int                # line number in the input file (1-based; 0 if not from a file)


class DspResult(NamedTuple):
    device: str
    code: int
    t_ms: int
    forwarded: bool
    throttled_count: int | None
    sequence_id: int | None
    arrival_ms: int | None
    line: int


@dataclass(frozen=True)
class BadRow:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "reason": self.reason}


class _Bad(Exception):
    pass


def _int_field(row: dict[str, Any], key: str, *, required: bool = True,
               minimum: int | None = 0) -> int | None:
    v = row.get(key)
    if v is None or v == "":
        if required:
            raise _Bad(f"missing {key}")
        return None
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise _Bad(f"{key}: {v!r} is not an integer") from None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Bad(f"{key}: {v!r} is not an integer")
    if minimum is not None and v < minimum:
        raise _Bad(f"{key}: {v} is negative")
    if v > MAX_T_MS:
        raise _Bad(f"{key}: {v} is beyond 2**53")
    return v


def _code_field(row: dict[str, Any], key: str = "alert_code") -> int:
    v = row.get(key)
    if v is None or v == "":
        raise _Bad(f"missing {key}")
    try:
        return parse_code(v, key)
    except ConfigError as exc:
        raise _Bad(str(exc)) from None


def _device_field(row: dict[str, Any]) -> str:
    v = row.get("device_id")
    if not isinstance(v, str) or not v.strip():
        raise _Bad("missing device_id" if v in (None, "") else f"device_id: {v!r} is not a string")
    return v.strip()


FRAME_SUFFIXES = (".hex", ".txt", ".frames")


ALERT_COLUMNS = (("t_ms",), ("device_id", "frame"), ("alert_code", "frame"))
RESULT_COLUMNS = (("device_id",), ("alert_code",), ("t_ms",), ("decision",))


def check_alerts_file(path: str | Path) -> None:
    """Refuse, before any work, an alert stream no row of could be read from (InputError:
    file, line, problem; hil/model/row_files.py)."""
    is_frames = Path(path).suffix.lower() in FRAME_SUFFIXES
    check_file(path, () if is_frames else ALERT_COLUMNS)


def check_results_file(path: str | Path) -> None:
    """The same for real DSP results."""
    check_file(path, RESULT_COLUMNS)


def read_alerts(path: str | Path, errors: list[BadRow],
                progress: ReadProgress | None = None) -> Iterator[Alert]:
    """Alerts from a JSONL/CSV/Parquet alert stream or a GBCS frame file (by suffix)."""
    if Path(path).suffix.lower() in FRAME_SUFFIXES:
        yield from read_frame_file(path, errors)
        return
    seq = 0
    p = str(path)
    for n, row, reason in row_files.rows(path, progress):
        if row is None:
            errors.append(BadRow(p, n, reason))
            continue
        try:
            frame = row.get("frame")
            dev_code: tuple[str, int] | None = None
            if frame not in (None, ""):
                dev_code = _frame_identity(frame)
            if dev_code is not None and row.get("device_id") in (None, ""):
                device = dev_code[0]
            else:
                device = _device_field(row)
            if dev_code is not None and row.get("alert_code") in (None, ""):
                code = dev_code[1]
            else:
                code = _code_field(row)
            if dev_code is not None and (device, code) != dev_code:
                raise _Bad(f"frame is from {dev_code[0]} code {format_code(dev_code[1])}, "
                           f"row says {device} code {format_code(code)}")
            t = _int_field(row, "t_ms")
            arrival = _int_field(row, "arrival_ms", required=False)
        except _Bad as exc:
            errors.append(BadRow(p, n, str(exc)))
            continue
        assert t is not None
        yield Alert(seq, device, t, code, arrival, n)
        seq += 1


def _frame_identity(frame: Any) -> tuple[str, int]:
    fr = _decode_hex(frame)
    if not fr.originator_title:
        raise _Bad("frame has no originator title")
    if fr.alert_code is None:
        raise _Bad("frame carries no readable alert code (encrypted or not an alert)")
    return fr.originator_title, int(fr.alert_code, 16)


def _decode_hex(frame: Any) -> Any:
    if not isinstance(frame, str):
        raise _Bad("frame: not a hex string")
    try:
        data = bytes.fromhex(frame.strip())
    except ValueError:
        raise _Bad("frame: not valid hex") from None
    try:
        return frames.decode_fast(data)
    except HilError as exc:
        raise _Bad(f"frame: {exc}") from None


def read_frame_file(path: str | Path, errors: list[BadRow]) -> Iterator[Alert]:
    p = str(path)
    seq = 0
    with open_text(path) as f:
        for n, text in enumerate(f, 1):
            s = text.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split()
            try:
                if len(parts) == 2:
                    try:
                        t: int | None = int(parts[0])
                    except ValueError:
                        raise _Bad(f"t_ms: {parts[0]!r} is not an integer") from None
                    hexpart = parts[1]
                elif len(parts) == 1:
                    t, hexpart = None, parts[0]
                else:
                    raise _Bad("expected [t_ms] HEX")
                fr = _decode_hex(hexpart)
                if not fr.originator_title:
                    raise _Bad("frame has no originator title")
                if fr.alert_code is None:
                    raise _Bad("frame carries no readable alert code")
                if t is None:
                    if fr.alert_time is None:
                        raise _Bad("no t_ms and the frame has no alert date-time")
                    t = frames.iso_to_seconds(fr.alert_time) * 1000
                if t < 0:
                    raise _Bad(f"t_ms: {t} is negative")
                if t > MAX_T_MS:
                    raise _Bad(f"t_ms: {t} is beyond 2**53")
            except _Bad as exc:
                errors.append(BadRow(p, n, str(exc)))
                continue
            yield Alert(seq, fr.originator_title, t, int(fr.alert_code, 16), None, n)
            seq += 1


_DECISIONS = {"forwarded": True, "forward": True, "discarded": False, "suppressed": False,
              "discard": False}


def read_dsp_results(path: str | Path, errors: list[BadRow],
                     progress: ReadProgress | None = None) -> Iterator[DspResult]:
    """Rows of a real DSP's filter results (CSV, JSONL or Parquet; schema in the module
    docstring)."""
    p = str(path)
    for n, row, reason in row_files.rows(path, progress):
        if row is None:
            errors.append(BadRow(p, n, reason))
            continue
        try:
            device = _device_field(row)
            code = _code_field(row)
            t = _int_field(row, "t_ms")
            dec = row.get("decision")
            if not isinstance(dec, str) or dec.strip().lower() not in _DECISIONS:
                raise _Bad(f"decision: {dec!r} is not forwarded or discarded")
            fwd = _DECISIONS[dec.strip().lower()]
            tc = _int_field(row, "throttled_count", required=False)
            sid = _int_field(row, "sequence_id", required=False)
            arrival = _int_field(row, "arrival_ms", required=False)
            if not fwd and tc:
                raise _Bad("throttled_count on a discarded alert")
        except _Bad as exc:
            errors.append(BadRow(p, n, str(exc)))
            continue
        assert t is not None
        yield DspResult(device, code, t, fwd, tc, sid, arrival, n)


RESULT_FIELDS = ("device_id", "alert_code", "t_ms", "arrival_ms", "decision", "throttled_count",
                 "sequence_id")


def write_dsp_results_csv(rows: Iterator[DspResult] | list[DspResult], out: IO[str]) -> None:
    """The same schema, written (used to produce examples and test fixtures)."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(RESULT_FIELDS)
    for r in rows:
        w.writerow((r.device, format_code(r.code), r.t_ms, "" if r.arrival_ms is None else
                    r.arrival_ms, "forwarded" if r.forwarded else "discarded",
                    "" if r.throttled_count is None else r.throttled_count,
                    "" if r.sequence_id is None else r.sequence_id))


def alerts_to_jsonl(alerts: list[Alert] | Iterator[Alert]) -> str:
    buf = io.StringIO()
    for a in alerts:
        d: dict[str, Any] = {"device_id": a.device, "t_ms": a.t_ms,
                             "alert_code": format_code(a.code)}
        if a.arrival_ms is not None:
            d["arrival_ms"] = a.arrival_ms
        buf.write(json.dumps(d) + "\n")
    return buf.getvalue()
