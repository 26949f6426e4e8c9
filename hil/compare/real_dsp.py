"""The check against a real DSP's filter results (`hil compare --dsp-results`): each alert's
fates in the comparison set against the real DSP's result row for it, disagreements counted
and listed with line numbers. The examples listed are the first in stream order, whatever
order the engine hands the sessions' fates over in.

Out of core, so that tens of millions of result rows fit in a bounded memory: the result rows
and the fates are spooled to Parquet files as they come (hil/compare/fates_file.py), and at
`finish()` DuckDB joins them, spilling to a temporary directory beyond `memory_limit`. Rows
are matched by (device, code, event time) and, among rows with the same key, in order of
occurrence: the n-th fate emitted with a key meets the n-th result row with it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.compare.fates_file import FatesWriter, ParquetRows
from hil.frames.catalogue import format_code
from hil.model.streams import DspResult

COUNTERS = ("rows_matched", "alerts_without_result", "results_without_alert",
            "model_agrees", "model_disagrees", "throttled_count_differs", "sequence_id_differs",
            "device_agrees", "device_disagrees")

RESULT_SPOOL_FIELDS = (
    ("pos", "int64"), ("device_id", "string"), ("alert_code", "string"), ("t_ms", "int64"),
    ("forwarded", "bool"), ("throttled_count", "int64"), ("sequence_id", "int64"),
    ("line", "int64"),
)

# One row per fate or result row: matched pairs, fates without a result, results without a
# fate. `k` is the fate's position in the alert stream (its `seq`, whatever order the engine
# emitted it in), `pos` the result row's in its file.
_JOIN = """
CREATE TABLE j AS
WITH f AS (
    SELECT seq AS k, device_id, alert_code, t_ms, dsp, throttled_count AS f_tc,
           sequence_id AS f_sid, device, line AS f_line,
           row_number() OVER (PARTITION BY device_id, alert_code, t_ms
                              ORDER BY seq) AS rk
    FROM read_parquet($fates)
), r AS (
    SELECT pos, device_id, alert_code, t_ms, forwarded, throttled_count AS r_tc,
           sequence_id AS r_sid, line AS r_line,
           row_number() OVER (PARTITION BY device_id, alert_code, t_ms ORDER BY pos) AS rk,
           min(pos) OVER (PARTITION BY device_id, alert_code, t_ms) AS first_pos
    FROM read_parquet($results)
)
SELECT k, pos, first_pos, device_id, alert_code, t_ms, f_line, r_line, forwarded, f_tc, r_tc,
       f_sid, r_sid,
       k IS NOT NULL AND pos IS NOT NULL AS matched,
       (dsp = 'forwarded') = forwarded AS model_agrees,
       (device = 'forwarded') = forwarded AS device_agrees
FROM f FULL OUTER JOIN r USING (device_id, alert_code, t_ms, rk)
"""

_TC_DIFFERS = "forwarded AND coalesce(r_tc, 0) <> coalesce(f_tc, 0)"
_SID_DIFFERS = ("forwarded AND r_sid IS NOT NULL AND f_sid IS NOT NULL AND r_sid <> f_sid")

_COUNTS = f"""
SELECT count(*) FILTER (matched),
       count(*) FILTER (pos IS NULL),
       count(*) FILTER (k IS NULL),
       count(*) FILTER (matched AND model_agrees),
       count(*) FILTER (matched AND NOT model_agrees),
       count(*) FILTER (matched AND model_agrees AND {_TC_DIFFERS}),
       count(*) FILTER (matched AND model_agrees AND {_SID_DIFFERS}),
       count(*) FILTER (matched AND device_agrees),
       count(*) FILTER (matched AND NOT device_agrees)
FROM j
"""

_PROBLEMS = f"""
SELECT f_line, r_line, device_id, alert_code, t_ms, model_agrees, forwarded, f_tc, r_tc
FROM j WHERE matched AND (NOT model_agrees OR {_TC_DIFFERS})
ORDER BY k LIMIT $n
"""

_UNMATCHED = """
SELECT r_line, device_id, alert_code, t_ms FROM j WHERE k IS NULL
ORDER BY first_pos, pos LIMIT $n
"""


def _duckdb() -> Any:
    # DuckDB takes ~0.3 s to import: only when real DSP results are checked or a report built
    import duckdb

    return duckdb


def connect(workdir: Path, memory_limit: str, threads: int = 2) -> Any:
    """A DuckDB database in `workdir` that spills there beyond `memory_limit`."""
    db = _duckdb().connect(str(workdir / "work.duckdb"))
    db.execute(f"SET memory_limit = '{memory_limit}'")
    db.execute(f"SET temp_directory = '{workdir / 'spill'}'")
    db.execute(f"SET threads = {int(threads)}")
    db.execute("SET preserve_insertion_order = false")
    return db


@dataclass
class RealCheck:
    """Matches each alert's fates to the real DSP's result row for it and counts
    disagreements. `load` spools the result rows, calling the check with fate rows spools
    those, `finish` joins them; `counters` and `examples` are then filled in."""

    workdir: Path
    results: Path
    fates: FatesWriter
    own_workdir: bool = True
    memory_limit: str = "256MB"
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    examples: list[dict[str, Any]] = field(default_factory=list)
    max_examples: int = 20

    @classmethod
    def load(cls, rows: Iterable[DspResult], *, fates: FatesWriter | None = None,
             workdir: str | Path | None = None, memory_limit: str = "256MB") -> RealCheck:
        """Spool the result rows. `fates`: a Parquet FatesWriter shared with other users of
        the fates (else the check spools its own); `workdir`: where the spools and DuckDB's
        spill go (else a temporary directory, removed by `finish`)."""
        own = workdir is None
        wd = Path(tempfile.mkdtemp(prefix="hil-real-dsp-")) if workdir is None else Path(workdir)
        try:
            results = wd / "dsp_results.parquet"
            spool = ParquetRows(results, RESULT_SPOOL_FIELDS)
            try:
                for pos, r in enumerate(rows):
                    spool.append((pos, r.device, format_code(r.code), r.t_ms, r.forwarded,
                                  r.throttled_count, r.sequence_id, r.line))
            finally:
                spool.close()
            if fates is None:
                fates = FatesWriter(wd / "fates.parquet")
            elif not fates.parquet:
                raise ValueError("RealCheck needs a Parquet fates spool")
        except BaseException:
            if own:
                shutil.rmtree(wd, ignore_errors=True)
            raise
        return cls(wd, results, fates, own, memory_limit)

    def __call__(self, fates: list[dict[str, Any]]) -> None:
        self.fates.write(fates)

    def finish(self) -> None:
        self.fates.close()
        try:
            db = connect(self.workdir, self.memory_limit)
            try:
                self._query(db)
            finally:
                db.close()
        finally:
            self.close()

    def close(self) -> None:
        """Remove the temporary files (finish does; call it if the run stops before)."""
        self.fates.close()
        if self.own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            for p in (self.results, self.workdir / "work.duckdb", self.workdir / "spill"):
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)

    def _query(self, db: Any) -> None:
        db.execute(_JOIN, {"fates": str(self.fates.path), "results": str(self.results)})
        counts = db.execute(_COUNTS).fetchone()
        self.counters = dict(zip(COUNTERS, (int(x) for x in counts), strict=True))
        ex = self.examples
        for (f_line, r_line, dev, code, t, agrees, fwd, f_tc, r_tc) in db.execute(
                _PROBLEMS, {"n": self.max_examples}).fetchall():
            if agrees:
                problems = [f"ThrottledAlertCount real {r_tc} model {f_tc}"]
            else:
                problems = [f"real DSP {'forwarded' if fwd else 'discarded'}, "
                            f"model {'discarded' if fwd else 'forwarded'}"]
            ex.append({"alert_line": f_line, "result_line": r_line, "device_id": dev,
                       "alert_code": code, "t_ms": t, "problems": problems})
        room = self.max_examples - len(ex)
        if room > 0:
            for r_line, dev, code, t in db.execute(_UNMATCHED, {"n": room}).fetchall():
                ex.append({"result_line": r_line, "device_id": dev, "alert_code": code,
                           "t_ms": t, "problems": ["no such alert in the alert stream"]})

    def to_dict(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "examples": self.examples}
