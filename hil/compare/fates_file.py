"""Every alert's fate in each pipeline, written as the comparison goes (`hil compare --fates`):
JSON Lines, or Parquet when the file name ends in .parquet (one column per fate field, in
the order the comparison emitted them, written a batch at a time so memory stays bounded).

The Parquet form is also the spool that the out-of-core steps read back with DuckDB: the
check against real DSP results (hil/compare/real_dsp.py) and the analyst's report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from hil.model.row_files import PARQUET_SUFFIXES

# (field, Arrow type name) of a fate row (hil/compare/session.py builds them)
FATE_FIELDS: tuple[tuple[str, str], ...] = (
    ("seq", "int64"), ("line", "int64"), ("device_id", "string"), ("t_ms", "int64"),
    ("arrival_ms", "int64"), ("alert_code", "string"), ("dsp", "string"),
    ("dsp_started", "bool"), ("throttled_count", "int64"), ("sequence_id", "int64"),
    ("device", "string"), ("device_started", "bool"), ("device_to_dsp", "string"),
    ("divergence", "string"), ("causes", "list<string>"),
)
BATCH_ROWS = 65_536


def _pa() -> Any:
    # pyarrow takes ~0.4 s to import: only when a Parquet file is written
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


def arrow_schema(fields: tuple[tuple[str, str], ...]) -> Any:
    pa, _ = _pa()
    types = {"int64": pa.int64(), "string": pa.string(), "bool": pa.bool_(),
             "list<string>": pa.list_(pa.string())}
    return pa.schema([(name, types[t]) for name, t in fields])


class ParquetRows:
    """Rows (dicts or tuples in `fields` order) appended to a Parquet file in batches."""

    def __init__(self, path: str | Path, fields: tuple[tuple[str, str], ...]) -> None:
        pa, pq = _pa()
        self.path = Path(path)
        self.names = [name for name, _ in fields]
        self._schema = arrow_schema(fields)
        self._pa = pa
        self._writer = pq.ParquetWriter(self.path, self._schema)
        self._cols: list[list[Any]] = [[] for _ in self.names]
        self.rows = 0

    def append(self, row: tuple[Any, ...]) -> None:
        for col, v in zip(self._cols, row, strict=True):
            col.append(v)
        self.rows += 1
        if len(self._cols[0]) >= BATCH_ROWS:
            self._flush()

    def write(self, rows: list[dict[str, Any]]) -> None:
        names = self.names
        for r in rows:
            self.append(tuple(r[k] for k in names))

    def _flush(self) -> None:
        if self._cols[0]:
            arrays = [self._pa.array(c, type=f.type) for c, f in zip(self._cols, self._schema,
                                                                      strict=True)]
            self._writer.write_batch(self._pa.record_batch(arrays, schema=self._schema))
            self._cols = [[] for _ in self.names]

    def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None


class FatesWriter:
    """`write(fate rows)` as the comparison emits them, to JSON Lines or Parquet by suffix."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.parquet = self.path.suffix.lower() in PARQUET_SUFFIXES
        self._pq: ParquetRows | None = None
        self._text: IO[str] | None = None
        if self.parquet:
            self._pq = ParquetRows(self.path, FATE_FIELDS)
        else:
            self._text = open(self.path, "w")  # noqa: SIM115 (closed by close())

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self._pq is not None:
            self._pq.write(rows)
        elif self._text is not None:
            self._text.writelines(json.dumps(r) + "\n" for r in rows)

    def __call__(self, rows: list[dict[str, Any]]) -> None:
        self.write(rows)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._text is not None:
            self._text.close()
            self._text = None
