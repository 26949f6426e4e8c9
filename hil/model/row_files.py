"""Rows of a tabular input file, whatever its format: CSV with a header, JSON Lines, or Parquet.

`rows()` yields (line, row dict or None, reason) one row at a time, so memory stays bounded
by one row (CSV, JSON Lines) or one row group batch (Parquet). What a line number means:
the file's line (CSV counts the header as line 1), or for Parquet the 1-based row number.

A file whose rows can never be read is refused whole, before any work, by `check_file`:
one `InputError` naming the file, the line and the problem (a UTF-8 byte-order mark, a byte
that is not UTF-8, a CSV header or Parquet schema without a needed column). Without that
check a CSV with a wrong header would give one "missing device_id" per row.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hil.errors import InputError

PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_ROWS = 65_536          # Parquet rows decoded at a time
_SCAN_CHUNK = 1 << 20        # bytes read at a time by the encoding check
BOM = codecs.BOM_UTF8


def file_format(path: str | Path) -> str:
    """"csv", "parquet" or "jsonl", by suffix (anything else is read as JSON Lines)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    return "jsonl"


@dataclass
class ReadProgress:
    """How far a reader has got: rows yielded and the fraction of the file behind them
    (bytes for text files, rows for Parquet), for a progress display."""

    rows: int = 0
    fraction: float = 0.0


def _pq() -> Any:
    # pyarrow takes ~0.4 s to import: only when a Parquet file is read
    import pyarrow.parquet as pq

    return pq


def open_text(path: str | Path) -> IO[str]:
    try:
        return open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror or exc}") from None


# -- checks before any work ---------------------------------------------------------------------


def check_file(path: str | Path, needed: Sequence[tuple[str, ...]]) -> None:
    """Refuse a file that no row of could be read from: unopenable, a BOM, a byte that is not
    UTF-8 (the whole file is scanned, at disk speed), a CSV header or Parquet schema lacking a
    column. `needed`: for each requirement, the columns of which one must be present
    (("device_id",), ("alert_code", "frame"))."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such file")
    fmt = file_format(p)
    if fmt == "parquet":
        _check_parquet(p, needed)
        return
    _check_encoding(p)
    if fmt == "csv":
        with open_text(p) as f:
            try:
                header = next(csv.reader(f), None)
            except csv.Error as exc:
                raise InputError(f"{path}:1: bad CSV header: {exc}") from None
        if not header:
            return                      # an empty file: no rows, nothing wrong
        _check_columns(f"{path}:1: CSV header", header, needed)


def _check_columns(where: str, columns: list[str], needed: Sequence[tuple[str, ...]]) -> None:
    have = set(columns)
    for alternatives in needed:
        if not have & set(alternatives):
            want = " or ".join(alternatives)
            stripped = {c.strip().lower() for c in columns}
            hint = " (check spaces and case)" if stripped & set(alternatives) else ""
            raise InputError(f"{where} has no {want} column{hint}; it has "
                             f"{', '.join(repr(c) for c in columns) or 'none'}")


def _check_encoding(p: Path) -> None:
    try:
        f = open(p, "rb")  # noqa: SIM115 (closed below; the scan streams)
    except OSError as exc:
        raise InputError(f"{p}: cannot open: {exc.strerror or exc}") from None
    with f:
        head = f.read(len(BOM))
        if head == BOM:
            raise InputError(f"{p}:1: starts with a UTF-8 byte-order mark (BOM); save it "
                             "as UTF-8 without one")
        decoder = codecs.getincrementaldecoder("utf-8")()
        line, chunk = 1, head
        while True:
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.object is the decoder's carried-over bytes (no newline) plus this chunk
                at = line + exc.object.count(b"\n", 0, exc.start)
                raise InputError(f"{p}:{at}: byte 0x{exc.object[exc.start]:02x} is not UTF-8 "
                                 "(the file must be UTF-8 text)") from None
            if not chunk:
                return
            line += chunk.count(b"\n")
            chunk = f.read(_SCAN_CHUNK)


def _check_parquet(p: Path, needed: Sequence[tuple[str, ...]]) -> None:
    pq = _pq()
    try:
        schema = pq.read_schema(p)
    except Exception as exc:  # noqa: BLE001 (pyarrow raises several types for a bad file)
        raise InputError(f"{p}: not a readable Parquet file: {exc}") from None
    _check_columns(f"{p}: Parquet schema", list(schema.names), needed)


# -- rows ---------------------------------------------------------------------------------------


def rows(path: str | Path, progress: ReadProgress | None = None
         ) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, row dict or None, reason the row is unreadable), by the file's format."""
    fmt = file_format(path)
    if fmt == "parquet":
        yield from _parquet_rows(Path(path), progress)
        return
    size = max(Path(path).stat().st_size, 1) if progress is not None else 1
    with open_text(path) as f:
        raw = f.buffer  # type: ignore[attr-defined]  # a TextIOWrapper: bytes read so far
        it = _csv_rows(f) if fmt == "csv" else _jsonl_rows(f)
        n = 0
        try:
            for item in it:
                yield item
                n += 1
                if progress is not None and not n & 1023:
                    progress.rows = n
                    progress.fraction = min(raw.tell() / size, 1.0)
        except UnicodeDecodeError as exc:
            # check_file scans for this before any work; a file changed since lands here
            raise InputError(f"{path}: byte 0x{exc.object[exc.start]:02x} after line {n} "
                             "is not UTF-8") from None
        if progress is not None:
            progress.rows, progress.fraction = n, 1.0


def _csv_rows(f: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    reader = csv.DictReader(f)
    try:
        fields = reader.fieldnames
    except csv.Error as exc:
        yield 1, None, f"bad CSV header: {exc}"
        return
    if not fields:
        return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, None, f"bad CSV: {exc}"
            continue
        if None in row:
            yield reader.line_num, None, "more fields than the header"
            continue
        yield reader.line_num, row, ""


def _jsonl_rows(f: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    for n, text in enumerate(f, 1):
        s = text.strip()
        if not s or s.startswith("#"):
            continue
        try:
            row = json.loads(s)
        except ValueError as exc:
            yield n, None, f"not JSON: {exc.args[0] if exc.args else exc}"
            continue
        if not isinstance(row, dict):
            yield n, None, "not a JSON object"
            continue
        yield n, row, ""


def _parquet_rows(p: Path, progress: ReadProgress | None
                  ) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    pq = _pq()
    try:
        pf = pq.ParquetFile(p)
    except OSError as exc:
        raise InputError(f"{p}: cannot open: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (pyarrow raises several types for a bad file)
        raise InputError(f"{p}: not a readable Parquet file: {exc}") from None
    total = max(pf.metadata.num_rows, 1)
    n = 0
    for batch in pf.iter_batches(batch_size=BATCH_ROWS):
        for row in batch.to_pylist():
            n += 1
            yield n, row, ""
        if progress is not None:
            progress.rows, progress.fraction = n, min(n / total, 1.0)
