"""Results of a nightly run, on disk as they happen.

A run folder (reports/<UTC timestamp>/ by default):

    manifest.json                 run id, git commit, boards, scenarios, options, status,
                                  the history the run records into
    results/<board>__<scenario>.json   one ScenarioResult each, written when it is decided
    results/*.json.unreadable     a damaged result set aside by --resume (its scenario reran)
    console/<board>/<scenario>.log     every line exchanged, timestamped
    results.json, junit.xml, index.html   built from the above by hil.report

Every write is temp file + fsync + rename, so a crash or Ctrl-C leaves either the old file or
the new one, never half of one: at most the scenario in flight is lost, and `hil run --resume`
runs only what has no result file yet. A result file damaged some other way (a copy cut short,
a disk error) is set aside on resume and its scenario run again. Files are written mode 0644,
so a rig's web server can serve the reports.

A run's status, in its manifest and in the history: `running` while a process works on it (or
after one died without a word), `complete` once every board x scenario of its matrix has a
result, `interrupted` when it stopped before that (a signal; `hil run --resume` continues)."""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import typing
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hil.errors import InputError

PASS, FAIL, ERROR, TOO_LARGE, SKIPPED = "pass", "fail", "error", "too-large", "skipped"
VERDICTS = (PASS, FAIL, ERROR, TOO_LARGE, SKIPPED)
RUNNING, COMPLETE, INTERRUPTED = "running", "complete", "interrupted"
RUN_STATUSES = (RUNNING, COMPLETE, INTERRUPTED)
FILE_MODE = 0o644  # reports are for reading by others (a rig's web server), writing by the rig


@dataclass
class ScenarioResult:
    board: str
    scenario: str
    verdict: str
    reasons: list[str] = field(default_factory=list)
    attempts: int = 1
    started_utc: str = ""
    wall_s: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    board_info: dict[str, str] = field(default_factory=dict)  # HELLO fields (proto, fw, ...)
    link: dict[str, int] = field(default_factory=dict)  # protocol client counters
    series: dict[str, Any] = field(default_factory=dict)  # per-code time series for plots
    # device-vs-DSP divergences by class and cause, per-code count mismatches (hil.harness.metrics)
    divergence: dict[str, Any] = field(default_factory=dict)
    console: str = ""  # path of the console log, relative to the run folder

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ScenarioResult:
        """A result read back; InputError naming the field when the file holds something else
        (the reports would otherwise fail on it far from the cause)."""
        if not isinstance(d, dict):
            raise InputError(f"not a result (a JSON {type(d).__name__}, not an object)")
        hints = typing.get_type_hints(cls)
        known = {}
        for f in fields(cls):
            if f.name not in d:
                continue
            want = typing.get_origin(hints[f.name]) or hints[f.name]
            ok = isinstance(d[f.name], (int, float) if want is float else want)
            if want is list:
                ok = ok and all(isinstance(x, str) for x in d[f.name])
            if not ok or isinstance(d[f.name], bool) and want is not bool:
                raise InputError(f"field {f.name!r} is {d[f.name]!r}, not a {want.__name__}")
            known[f.name] = d[f.name]
        try:
            r = cls(**known)
        except TypeError:  # a required field missing
            raise InputError("not a result (board, scenario or verdict missing)") from None
        if r.verdict not in VERDICTS:
            raise InputError(f"result {r.board}/{r.scenario}: unknown verdict {r.verdict!r}")
        return r


def new_run_id() -> str:
    """A run's identity in the history: its start (UTC) and a random part, so two runs never
    share one, whatever their folders are called."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def atomic_write(path: str | os.PathLike[str], data: str) -> None:
    """Write `path` whole or not at all (temp file, fsync, rename), mode 0644. A file that
    cannot be written is an InputError naming it."""
    p = Path(path)
    tmp = None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="." + p.name + ".", dir=p.parent)
        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would keep the reports from a web server
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException as e:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(e, OSError):
            raise InputError(f"{p}: cannot be written: {e.strerror or e}") from None
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


# what a manifest's keys must hold when present (the reports and --resume read them)
MANIFEST_TYPES: dict[str, type | tuple[type, ...]] = {
    "run_id": str, "started_utc": str, "finished_utc": str, "git_commit": str, "host": str,
    "boards": list, "board_files": list, "scenarios": list, "status": str, "options": dict,
    "wall_s": (int, float), "history": (str, type(None))}


class RunFolder:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def result_path(self, board: str, scenario: str) -> Path:
        return self.path / "results" / f"{safe_name(board)}__{safe_name(scenario)}.json"

    def console_path(self, board: str, scenario: str) -> Path:
        return self.path / "console" / safe_name(board) / f"{safe_name(scenario)}.log"

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path, manifest)

    def manifest(self) -> dict[str, Any]:
        try:
            m = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise InputError(f"{self.path}: not a run folder (no manifest.json)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{self.manifest_path}: unreadable: {e}") from None
        if not isinstance(m, dict):
            raise InputError(f"{self.manifest_path}: not a JSON object")
        for key, want in MANIFEST_TYPES.items():
            if key in m and (not isinstance(m[key], want) or isinstance(m[key], bool)
                             or want is list and not all(isinstance(x, str) for x in m[key])):
                raise InputError(f"{self.manifest_path}: {key!r} is {m[key]!r}")
        if m.get("status", RUNNING) not in RUN_STATUSES:
            raise InputError(f"{self.manifest_path}: unknown status {m['status']!r}")
        return m

    def check_writable(self) -> None:
        """The folder can be made and written: found before the first scenario, not after."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-check.", dir=self.path)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise InputError(f"{self.path}: cannot be written: {e.strerror or e}") from None

    def write_result(self, r: ScenarioResult) -> None:
        atomic_write_json(self.result_path(r.board, r.scenario), r.to_dict())

    def has_result(self, board: str, scenario: str) -> bool:
        return self.result_path(board, scenario).exists()

    def missing(self, boards: list[str], scenarios: list[str]) -> list[tuple[str, str]]:
        """The board x scenario pairs of a matrix with no result yet."""
        return [(b, s) for b in boards for s in scenarios if not self.has_result(b, s)]

    def read_result(self, p: Path) -> ScenarioResult:
        try:
            return ScenarioResult.from_dict(json.loads(p.read_text()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, InputError) as e:
            raise InputError(f"{p}: unreadable result: {e}") from None

    def results(self) -> list[ScenarioResult]:
        d = self.path / "results"
        if not d.is_dir():
            return []
        try:
            return [self.read_result(p) for p in sorted(d.glob("*.json"))]
        except InputError as e:
            raise InputError(f"{e} (hil run --resume {self.path} sets it aside and runs its "
                             "scenario again)") from None

    def set_aside_unreadable(self) -> list[tuple[Path, str]]:
        """Repair before a resume: a result file that cannot be read is renamed to
        `<name>.json.unreadable` (kept to look at, no longer a result, so its scenario runs
        again), and temp files a killed process left behind are removed. Returns each file
        set aside with why."""
        d = self.path / "results"
        if not d.is_dir():
            return []
        for p in d.glob(".*.json.*"):  # atomic_write's temp files: never a whole result
            p.unlink(missing_ok=True)
        aside = []
        for p in sorted(d.glob("*.json")):
            try:
                self.read_result(p)
            except InputError as e:
                p.replace(p.with_name(p.name + ".unreadable"))
                aside.append((p, str(e).removeprefix(f"{p}: ")))
        return aside
