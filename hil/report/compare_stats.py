"""The figures of an analyst's comparison report that need every fate, computed out of core
with DuckDB from the Parquet fates spool (hil/compare/fates_file.py): alerts and WAN frames per
time bucket, and the devices that stormed most."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.compare.real_dsp import connect

BUCKETS = 120  # time buckets across the stream: enough for a curve, few enough to read

_NICE_MS = (1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 900_000, 1_800_000,
            3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000)


def bucket_ms(span_ms: int) -> int:
    """A round bucket width giving at most about BUCKETS buckets over span_ms."""
    for b in _NICE_MS:
        if span_ms / b <= BUCKETS:
            return b
    return -(-span_ms // BUCKETS)


@dataclass
class Series:
    """Per time bucket from t0_ms, bucket_ms wide: alerts (WAN frames without the device),
    alerts the device forwarded, the DSP model forwarded alone, and divergences."""

    t0_ms: int = 0
    bucket_ms: int = 1000
    alerts: list[int] = field(default_factory=list)
    device_forwarded: list[int] = field(default_factory=list)
    dsp_forwarded: list[int] = field(default_factory=list)
    divergences: list[int] = field(default_factory=list)


@dataclass
class FateStats:
    series: Series
    top_devices: list[dict[str, Any]]


_SERIES = """
SELECT (t_ms - $t0) // $b AS k, count(*), count(*) FILTER (device = 'forwarded'),
       count(*) FILTER (dsp = 'forwarded'), count(*) FILTER (divergence IS NOT NULL)
FROM read_parquet($p) GROUP BY k ORDER BY k
"""

_TOP = """
SELECT device_id, count(*) AS alerts, count(*) FILTER (device = 'suppressed'),
       count(*) FILTER (dsp = 'discarded'), count(*) FILTER (divergence IS NOT NULL),
       count(DISTINCT alert_code), min(t_ms), max(t_ms)
FROM read_parquet($p) GROUP BY device_id ORDER BY alerts DESC, device_id LIMIT $n
"""

TOP_FIELDS = ("device_id", "alerts", "device_suppressed", "dsp_discarded", "divergences",
              "codes", "first_t_ms", "last_t_ms")


def fate_stats(fates: Path, top: int = 15, memory_limit: str = "256MB") -> FateStats:
    workdir = Path(tempfile.mkdtemp(prefix="hil-report-"))
    try:
        db = connect(workdir, memory_limit)
        try:
            p = str(fates)
            lo, hi = db.execute("SELECT min(t_ms), max(t_ms) FROM read_parquet($p)",
                                {"p": p}).fetchone()
            s = Series()
            if lo is not None:
                s.t0_ms, s.bucket_ms = int(lo), bucket_ms(int(hi) - int(lo) + 1)
                n = (int(hi) - int(lo)) // s.bucket_ms + 1
                cols: list[list[int]] = [[0] * n for _ in range(4)]
                for k, *vals in db.execute(_SERIES, {"t0": s.t0_ms, "b": s.bucket_ms,
                                                     "p": p}).fetchall():
                    for col, v in zip(cols, vals, strict=True):
                        col[int(k)] = int(v)
                s.alerts, s.device_forwarded, s.dsp_forwarded, s.divergences = cols
            devices = [dict(zip(TOP_FIELDS, row, strict=True))
                       for row in db.execute(_TOP, {"p": p, "n": top}).fetchall()]
        finally:
            db.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return FateStats(s, devices)
