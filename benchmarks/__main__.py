"""Run every benchmark: `python -m benchmarks [NAME ...]` (names: codec, limiter, dsp, compare,
emulator, engines, dsp_results, c_port). Each runs in its own process so one board or VM
problem cannot hide the others' numbers; they print figures and ratios measured in the same run
and assert nothing."""

from __future__ import annotations

import subprocess
import sys
import time

ALL = ["codec", "limiter", "dsp", "compare", "dsp_results", "emulator", "engines", "c_port"]


def main(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return 0
    names = argv or ALL
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {ALL}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"==== benchmarks.bench_{name}", flush=True)
        t0 = time.monotonic()
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{name}"])
        print(f"==== bench_{name}: exit {rc}, {time.monotonic() - t0:.1f} s wall\n", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"benchmarks that could not run: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
