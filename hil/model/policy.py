"""The policy configuration vocabulary on the host side (docs/policy.md, "Configuration
vocabulary"): one frozen `PolicyConfig`, parsed from JSON/TOML files or dicts, validated
exactly per the spec, and converted to the device limiter's `Config.from_dict` input.

This module deliberately imports nothing from `firmware_model` (the DSP model uses it and
must stay independent of the device limiter; `hil.compare` is the only place touching both).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from hil.errors import ConfigError
from hil.frames.catalogue import format_code, parse_code

ONE_IN_N = 1
ONE_PER_PERIOD = 2
THROTTLE_MODES: dict[str, int] = {"one_in_n": ONE_IN_N, "one_per_period": ONE_PER_PERIOD}
MODE_NAMES: dict[int, str] = {v: k for k, v in THROTTLE_MODES.items()}

DEFAULT_NEVER_THROTTLE: tuple[int, ...] = (0x8F3F, 0x8F1C, 0x8F1D, 0x8F35, 0x8F36, 0x8F74, 0x8F76)
MAX_NEVER_THROTTLE = 16

# key -> (min, max) for the integer keys; the table of docs/policy.md.
_MS = (1000, 86_400_000)
RANGES: dict[str, tuple[int, int]] = {
    "device_window_ms": _MS,
    "amber_threshold": (1, 65535),
    "red_threshold": (1, 65535),
    "code_window_ms": _MS,
    "code_limit": (0, 65535),
    "throttle_n": (1, 65535),
    "throttle_period_ms": _MS,
    "summary_interval_ms": _MS,
}
WINDOW_KEYS = ("device_window_ms", "code_window_ms")


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """A validated policy configuration (defaults of docs/policy.md)."""

    device_window_ms: int = 3_600_000
    amber_threshold: int = 50
    red_threshold: int = 100
    code_window_ms: int = 3_600_000
    code_limit: int = 10
    throttle_mode: int = ONE_IN_N
    throttle_n: int = 10
    throttle_period_ms: int = 3_600_000
    never_throttle: tuple[int, ...] = DEFAULT_NEVER_THROTTLE
    summary_interval_ms: int = 900_000

    def __post_init__(self) -> None:
        for key, (lo, hi) in RANGES.items():
            _check_int(key, getattr(self, key), lo, hi)
        if self.throttle_mode not in MODE_NAMES:
            raise ConfigError(f"throttle_mode: {self.throttle_mode!r} is not 1 or 2")
        if self.amber_threshold > self.red_threshold:
            raise ConfigError(
                f"amber_threshold: {self.amber_threshold} is above red_threshold "
                f"{self.red_threshold}")
        if not isinstance(self.never_throttle, tuple):
            raise ConfigError("never_throttle: must be a tuple of codes")
        if len(self.never_throttle) > MAX_NEVER_THROTTLE:
            raise ConfigError(
                f"never_throttle: {len(self.never_throttle)} codes, at most {MAX_NEVER_THROTTLE}")
        for c in self.never_throttle:
            _check_int("never_throttle", c, 0, 0xFFFF)
        if len(set(self.never_throttle)) != len(self.never_throttle):
            raise ConfigError("never_throttle: duplicate code")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PolicyConfig:
        """Vocabulary keys -> config; codes as int or "0x8F3F", throttle_mode as name or 1/2.
        Keys not given keep their defaults. Raises ConfigError naming the key."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"config must be a table of keys, not {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in d.items():
            if key not in known:
                raise ConfigError(f"{key}: unknown configuration key")
            if key == "throttle_mode":
                kw[key] = parse_mode(value)
            elif key == "never_throttle":
                if not isinstance(value, list | tuple):
                    raise ConfigError("never_throttle: must be a list of alert codes")
                kw[key] = tuple(parse_code(v, key) for v in value)
            else:
                kw[key] = value
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-friendly vocabulary form (codes as "0x8F3F", mode by name)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["throttle_mode"] = MODE_NAMES[self.throttle_mode]
        out["never_throttle"] = [format_code(c) for c in self.never_throttle]
        return out

    def to_device_dict(self) -> dict[str, Any]:
        """Input for firmware_model.limiter.Config.from_dict (plain ints, mode as 1/2)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["never_throttle"] = list(self.never_throttle)
        return out

    def replace(self, **changes: Any) -> PolicyConfig:
        return replace(self, **changes)

    def differences(self, other: PolicyConfig) -> list[str]:
        """Names of the keys whose values differ."""
        return [f.name for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]


def _check_int(key: str, value: Any, lo: int, hi: int) -> None:
    # bool is an int subclass; `true` in a config file is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: {value!r} is not an integer")
    if not lo <= value <= hi:
        raise ConfigError(f"{key}: {value} is out of range {lo}..{hi}")


def parse_mode(value: Any) -> int:
    if isinstance(value, str) and value in THROTTLE_MODES:
        return THROTTLE_MODES[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in MODE_NAMES:
        return value
    raise ConfigError(
        f"throttle_mode: {value!r} is not one of {', '.join(THROTTLE_MODES)} (or 1, 2)")


def load_config(source: str | Path | Mapping[str, Any] | None) -> PolicyConfig:
    """A config from a dict, a .json/.toml file path, or None (defaults)."""
    if source is None:
        return PolicyConfig()
    if isinstance(source, Mapping):
        return PolicyConfig.from_dict(source)
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    try:
        return PolicyConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
