"""Results of a nightly run, on disk as they happen.

A run folder (reports/<UTC timestamp>/ by default):

    manifest.json                 run id, git commit, boards, scenarios, options, status
    results/<board>__<scenario>.json   one ScenarioResult each, written when it is decided
    console/<board>/<scenario>.log     every line exchanged, timestamped
    results.json, junit.xml, index.html   built from the above by hil.report

Every write is temp file + fsync + rename, so a crash or Ctrl-C leaves either the old file or
the new one, never half of one: at most the scenario in flight is lost, and `hil run --resume`
runs only what has no result file yet."""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hil.errors import InputError

PASS, FAIL, ERROR, TOO_LARGE, SKIPPED = "pass", "fail", "error", "too-large", "skipped"
VERDICTS = (PASS, FAIL, ERROR, TOO_LARGE, SKIPPED)


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
    def from_dict(cls, d: dict[str, Any]) -> ScenarioResult:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        r = cls(**known)
        if r.verdict not in VERDICTS:
            raise InputError(f"result {r.board}/{r.scenario}: unknown verdict {r.verdict!r}")
        return r


def new_run_id() -> str:
    """A run's identity in the history: its start (UTC) and a random part, so two runs never
    share one, whatever their folders are called."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


def atomic_write(path: str | os.PathLike[str], data: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + p.name + ".", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


def safe_name(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)


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
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"{self.manifest_path}: unreadable: {e}") from None
        if not isinstance(m, dict):
            raise InputError(f"{self.manifest_path}: not a JSON object")
        return m

    def write_result(self, r: ScenarioResult) -> None:
        atomic_write_json(self.result_path(r.board, r.scenario), r.to_dict())

    def has_result(self, board: str, scenario: str) -> bool:
        return self.result_path(board, scenario).exists()

    def results(self) -> list[ScenarioResult]:
        out: list[ScenarioResult] = []
        d = self.path / "results"
        if not d.is_dir():
            return out
        for p in sorted(d.glob("*.json")):
            try:
                out.append(ScenarioResult.from_dict(json.loads(p.read_text())))
            except (OSError, json.JSONDecodeError, TypeError) as e:
                raise InputError(f"{p}: unreadable result: {e}") from None
        return out
