"""Run MicroPython source in real MicroPython 1.27 (the WebAssembly build from npm) under node.

    from emulator.mpvm import run, package_files
    out = run("import limiter; print(limiter.FORWARD)", files={"limiter.py": src})
    out = run(code, files=package_files("firmware_model"))   # /lib/firmware_model/*.py

`files` maps paths relative to /lib (which is on MicroPython's sys.path) to source text. One
call is one VM start (about 0.1 s), so batch work: pass all vectors in one program and print the
results as JSON (integers crossing the JS bridge are 32-bit, printed text is exact).
A MicroPython exception raises MicroPythonError carrying MicroPython's own traceback; a missing
node or npm package raises MPVMUnavailable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MJS = ROOT / "node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs"
RUNNER = Path(__file__).resolve().parent / "mpvm_run.mjs"
DEFAULT_HEAP = 1024 * 1024


class MPVMUnavailable(RuntimeError):
    """node or the MicroPython npm package is missing (run scripts/setup.sh)."""


class MicroPythonError(Exception):
    """The program raised inside MicroPython. `traceback` is MicroPython's text, `stdout` what
    the program printed before it failed."""

    def __init__(self, traceback: str, stdout: str) -> None:
        super().__init__(traceback.strip().splitlines()[-1] if traceback.strip() else "error")
        self.traceback = traceback
        self.stdout = stdout

    def __str__(self) -> str:
        return "MicroPython raised:\n" + self.traceback


def available() -> bool:
    return shutil.which("node") is not None and MJS.is_file()


def package_files(package: str, names: list[str] | None = None) -> dict[str, str]:
    """Files of a project package as {"<package>/<name>.py": text} for `run(files=...)`."""
    pkg = ROOT / package
    paths = sorted(pkg.glob("*.py")) if names is None else [pkg / n for n in names]
    return {f"{package}/{p.name}": p.read_text() for p in paths}


def run(
    code: str,
    files: dict[str, str] | None = None,
    heapsize: int = DEFAULT_HEAP,
    timeout: float = 120.0,
) -> str:
    """Run `code` as __main__ in a fresh MicroPython 1.27 VM; return everything it printed."""
    if not available():
        raise MPVMUnavailable(f"need node and {MJS} (run scripts/setup.sh)")
    job = {
        "mjs": str(MJS),
        "files": {"/lib/" + name.lstrip("/"): text for name, text in (files or {}).items()},
        "code": code,
        "heapsize": heapsize,
    }
    try:
        proc = subprocess.run(
            ["node", str(RUNNER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise MicroPythonError(f"timed out after {timeout} s", "") from e
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise MPVMUnavailable(f"node runner failed (rc {proc.returncode}): {proc.stderr.strip()}")
    result = json.loads(lines[-1])
    if not result["ok"]:
        raise MicroPythonError(result["error"], result["stdout"])
    return str(result["stdout"])


def run_json(code: str, files: dict[str, str] | None = None, **kw: object) -> object:
    """run() for programs whose last printed line is one JSON value; returns it decoded."""
    out = run(code, files, **kw)  # type: ignore[arg-type]
    return json.loads(out.strip().splitlines()[-1])
