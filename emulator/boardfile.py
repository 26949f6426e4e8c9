"""Board definition files (boards/*.toml): load, validate, and give typed errors that name the
file and the key. Schema: docs/boards.md."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_model.limiter import Config
from firmware_model.ticks import TICKS_MAX

KINDS = ("emulated", "serial")
ROLES = ("chub", "esme", "gsme")
PLACEMENTS = {"chub": ("hub", "meter", "both", "none"), "esme": ("meter", "none"),
              "gsme": ("meter", "none")}
DEVICES = ("hub", "esme", "gsme", "dcc")
_TOP = {"name", "description", "kind", "engine", "role", "limiter", "slots", "poll_ms",
        "persist_ms", "ring", "ticks_start", "baud", "critical", "titles", "config", "match",
        "firmware", "clock", "time_scale", "keys"}
# A real clock cannot be advanced: scenarios run compressed by this factor unless the board file
# says otherwise. At 60 the nightly's dense storm spacing (250-300 ms) becomes 4-5 ms, above
# the measured round trip of a suppressed alert at 115200 baud (2.7 ms); why, in docs/boards.md.
REAL_CLOCK_TIME_SCALE = 60


class BoardFileError(ValueError):
    """A board file is missing, unreadable, or invalid (message names file and key)."""


@dataclass(frozen=True)
class UsbMatch:
    vid: int | None = None
    pid: int | None = None
    serial: str | None = None

    def matches(self, vid: int | None, pid: int | None, serial: str | None) -> bool:
        if self.serial is not None and serial != self.serial:
            return False
        return (self.vid is None or vid == self.vid) and (self.pid is None or pid == self.pid)


@dataclass(frozen=True)
class BoardSpec:
    name: str
    path: str
    kind: str
    engine: str
    role: str
    limiter: str
    description: str = ""
    slots: int = 16
    poll_ms: int = 1000
    persist_ms: int = 60000
    ring: int = 64
    ticks_start: int = 0
    baud: int = 0
    clock: str = "virtual"
    time_scale: int = 1  # scenario time compression (docs/harness.md, "Real-clock boards")
    critical: tuple[int, ...] | None = None
    titles: dict[str, bytes] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    match: tuple[UsbMatch, ...] = ()
    firmware: dict[str, Any] = field(default_factory=dict)
    # a test key set (emulator/keystore.py) the board's security module holds: its frames are
    # then MAC'd and signed (docs/frames.md section 11); "" = none, zero placeholders
    keys: str = ""


def _err(path: Path, key: str, msg: str) -> BoardFileError:
    return BoardFileError(f"{path}: {key}: {msg}")


def _int(path: Path, d: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _err(path, key, f"must be an integer in {lo}..{hi}, got {v!r}")
    return v


def _choice(path: Path, d: dict[str, Any], key: str, choices: tuple[str, ...],
            default: str | None = None) -> str:
    v = d.get(key, default)
    if v not in choices:
        raise _err(path, key, f"must be one of {', '.join(choices)}, got {v!r}")
    return str(v)


def _code(path: Path, key: str, v: Any) -> int:
    if isinstance(v, str):
        try:
            v = int(v, 16) if v.lower().startswith("0x") else int(v)
        except ValueError:
            raise _err(path, key, f"not an alert code: {v!r}") from None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
        raise _err(path, key, f"alert code must be 0x0000..0xFFFF, got {v!r}")
    return v


def _hexid(path: Path, key: str, v: Any) -> int:
    try:
        n = int(v, 16) if isinstance(v, str) else int(v)
    except (TypeError, ValueError):
        raise _err(path, key, f"must be a hex USB id like \"2E8A\", got {v!r}") from None
    if not 0 <= n <= 0xFFFF:
        raise _err(path, key, "USB id out of range")
    return n


def load(path: str | Path) -> BoardSpec:
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise BoardFileError(f"{p}: no such board file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BoardFileError(f"{p}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise BoardFileError(f"{p}: not valid TOML: {e}") from None
    unknown = sorted(set(d) - _TOP)
    if unknown:
        raise _err(p, unknown[0], "unknown key")
    name = d.get("name")
    if not isinstance(name, str) or not name:
        raise _err(p, "name", "required, a non-empty string")
    kind = _choice(p, d, "kind", KINDS)
    role = _choice(p, d, "role", ROLES)
    placement = _choice(p, d, "limiter", PLACEMENTS[role])
    engine = d.get("engine", "cpython" if kind == "emulated" else "micropython")
    if not isinstance(engine, str):
        raise _err(p, "engine", "must be a string")
    titles: dict[str, bytes] = {}
    for k, v in dict(d.get("titles", {})).items():
        if k not in DEVICES:
            raise _err(p, "titles." + k, f"unknown device (known: {', '.join(DEVICES)})")
        try:
            b = bytes.fromhex(v)
        except (TypeError, ValueError):
            b = b""
        if len(b) != 8:
            raise _err(p, "titles." + k, "must be 16 hex digits (an EUI-64)")
        titles[k] = b
    crit = d.get("critical")
    critical = None
    if crit is not None:
        if not isinstance(crit, list):
            raise _err(p, "critical", "must be a list of alert codes")
        critical = tuple(_code(p, "critical", c) for c in crit)
    config = d.get("config", {})
    if not isinstance(config, dict):
        raise _err(p, "config", "must be a table of limiter settings (docs/policy.md)")
    if config:
        try:
            Config.from_dict(dict(config))
        except ValueError as e:
            raise _err(p, "config", str(e)) from None
    matches = []
    raw = d.get("match", [])
    for i, m in enumerate(raw if isinstance(raw, list) else [raw]):
        if not isinstance(m, dict) or not set(m) <= {"vid", "pid", "serial"} or not m:
            raise _err(p, f"match[{i}]", "a table with vid/pid (hex) and/or serial")
        matches.append(UsbMatch(
            _hexid(p, f"match[{i}].vid", m["vid"]) if "vid" in m else None,
            _hexid(p, f"match[{i}].pid", m["pid"]) if "pid" in m else None,
            str(m["serial"]) if "serial" in m else None))
    if kind == "serial" and not matches:
        raise _err(p, "match", "a serial board needs at least one USB match (never a /dev path)")
    clock = _choice(p, d, "clock", ("virtual", "real"), "virtual")
    keys = d.get("keys", "")
    if not isinstance(keys, str):
        raise _err(p, "keys", "must be a key set directory (made by `hil keys generate DIR`)")
    if keys:  # relative to the board file, like any path a file names
        keys = str((p.parent / keys).resolve())
    return BoardSpec(
        name=name, path=str(p), kind=kind, engine=engine, role=role, limiter=placement,
        description=str(d.get("description", "")),
        slots=_int(p, d, "slots", 16, 1, 255),
        poll_ms=_int(p, d, "poll_ms", 1000, 1, 3600000),
        persist_ms=_int(p, d, "persist_ms", 60000, 0, 86400000),
        ring=_int(p, d, "ring", 64, 4, 4096),
        ticks_start=_int(p, d, "ticks_start", 0, 0, TICKS_MAX),
        baud=_int(p, d, "baud", 0, 0, 4000000),
        clock=clock,
        time_scale=_int(p, d, "time_scale",
                        REAL_CLOCK_TIME_SCALE if clock == "real" else 1, 1, 1_000_000),
        critical=critical, titles=titles, config=dict(config), match=tuple(matches),
        firmware=dict(d.get("firmware", {})), keys=keys,
    )
