"""The real-DSP check (`hil compare --dsp-results`) at scale: peak memory and time for 10M
result rows, checked out of core (hil/compare/real_dsp.py: Parquet spools joined by DuckDB).

    .venv/bin/python -m benchmarks.bench_dsp_results [--rows 10000000] [--devices 100000]

For each size, a run 10x smaller and then the full one (so that "bounded memory" is a
measured ratio), this process writes, a chunk at a time, a fates spool as the comparison would
(one row per alert) and a Parquet results file with the same alerts, shuffled within each
chunk, one decision in 1000 flipped and one row in 1000 missing. A fresh process then runs
the check alone, so its peak RSS (VmHWM) is the check's: reading the results
through `read_dsp_results` (validation of every row), spooling them, and the DuckDB join.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from hil.compare import RealCheck  # noqa: E402
from hil.compare.fates_file import FATE_FIELDS, FatesWriter, arrow_schema  # noqa: E402
from hil.model.streams import BadRow, read_dsp_results  # noqa: E402

CHUNK = 200_000
CODES = ("0x8F30", "0x8F31", "0x810E", "0x8F3F")


def _rss_mb() -> float:
    """Peak RSS of this process: VmHWM, which starts afresh at exec (getrusage's ru_maxrss
    carries the parent's peak over a fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(n: int, devices: int, fates_path: Path, results_path: Path) -> None:
    rng = random.Random(5)
    fschema = arrow_schema(FATE_FIELDS)
    rschema = pa.schema([("device_id", pa.string()), ("alert_code", pa.string()),
                         ("t_ms", pa.int64()), ("decision", pa.string()),
                         ("throttled_count", pa.int64()), ("sequence_id", pa.int64())])
    fw, rw = pq.ParquetWriter(fates_path, fschema), pq.ParquetWriter(results_path, rschema)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        seq = list(range(start, start + m))
        dev = [f"00DB{rng.randrange(devices):012X}" for _ in seq]
        code = [CODES[i % 4] for i in seq]
        t = [1_000_000 + 2 * i for i in seq]
        dsp = ["forwarded" if rng.random() < 0.6 else "discarded" for _ in seq]
        tc = [0 if d == "forwarded" else None for d in dsp]
        cols = {"seq": seq, "line": [i + 1 for i in seq], "device_id": dev, "t_ms": t,
                "arrival_ms": t, "alert_code": code, "dsp": dsp, "dsp_started": [False] * m,
                "throttled_count": tc, "sequence_id": [None] * m, "device": dsp,
                "device_started": [False] * m,
                "device_to_dsp": ["delivered" if d == "forwarded" else "suppressed_at_device"
                                  for d in dsp],
                "divergence": [None] * m, "causes": [[] for _ in seq]}
        fw.write_table(pa.table(cols, schema=fschema))
        order = list(range(m))
        rng.shuffle(order)
        keep = [j for j in order if (start + j) % 1000 != 7]
        dec = [("discarded" if dsp[j] == "forwarded" else "forwarded")
               if (start + j) % 1000 == 3 else dsp[j] for j in keep]
        rw.write_table(pa.table({
            "device_id": [dev[j] for j in keep], "alert_code": [code[j] for j in keep],
            "t_ms": [t[j] for j in keep], "decision": dec,
            "throttled_count": [0 if d == "forwarded" else None for d in dec],
            "sequence_id": [None] * len(keep)}, schema=rschema))
    fw.close()
    rw.close()


def check(workdir: Path, n: int) -> None:
    """The check alone, in this process, on files written by `generate`."""
    bad: list[BadRow] = []
    base = _rss_mb()
    spool = FatesWriter(workdir / "fates.parquet")
    spool.close()
    # the spool the comparison would have written (generate made it): put in place of the
    # empty one
    os.replace(workdir / "generated-fates.parquet", spool.path)
    t1 = time.monotonic()
    real = RealCheck.load(read_dsp_results(workdir / "results.parquet", bad), fates=spool,
                          workdir=workdir)
    load_s = time.monotonic() - t1
    t2 = time.monotonic()
    real.finish()
    join_s = time.monotonic() - t2
    c = real.counters
    print(f"{n:>11,} result rows: read+validate+spool {load_s:6.1f} s "
          f"({n / load_s:,.0f} rows/s), DuckDB join {join_s:5.1f} s; peak RSS "
          f"{_rss_mb():,.0f} MB (after imports {base:,.0f} MB); matched {c['rows_matched']:,}, "
          f"model disagrees {c['model_disagrees']:,}, alerts without result "
          f"{c['alerts_without_result']:,}, bad rows {len(bad)}", flush=True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--devices", type=int, default=100_000)
    ap.add_argument("--check", metavar="DIR", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.check:
        check(Path(a.check), a.rows)
        return 0
    for n in (a.rows // 10, a.rows):
        with tempfile.TemporaryDirectory(prefix="bench-dsp-results-") as d:
            t0 = time.monotonic()
            generate(n, a.devices, Path(d) / "generated-fates.parquet",
                     Path(d) / "results.parquet")
            print(f"{n:>11,} alerts and result rows ({a.devices:,} devices) generated in "
                  f"{time.monotonic() - t0:.1f} s", flush=True)
            rc = subprocess.call([sys.executable, "-m", "benchmarks.bench_dsp_results",
                                  "--check", d, "--rows", str(n)])
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
