"""What one comparison run is set up with: the two policy configurations and the
perturbations between device and DSP (WAN latency, clock skew, resets, table size).

Everything random in a run is drawn from `seeded_rng`, keyed by the run's seed and the device
session, so a session's result is the same in whichever process computes it."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from firmware_model.board import RESET_KINDS
from hil.errors import ConfigError
from hil.model.policy import PolicyConfig

MAX_SLOTS = 255  # the most code slots a device limiter can have


def seeded_rng(seed: int, *parts: object) -> random.Random:
    """A generator seeded by (seed, *parts), the same in every process."""
    # str hash() is salted per process; crc32 keeps a device's randomness the same in any worker
    return random.Random(zlib.crc32(":".join(map(str, (seed, *parts))).encode()))


def seeded_draws(hi: int, seed: int, *parts: object) -> Callable[[], int]:
    """Uniform draws in [0, hi] from `seeded_rng(seed, *parts)`: the values its randint(0, hi)
    gives, one after another, without randint's call layers (it is rejection sampling on
    getrandbits, done here inline: a draw per alert is on the hot path)."""
    n = hi + 1
    k = n.bit_length()
    bits = seeded_rng(seed, *parts).getrandbits

    def draw() -> int:
        r = bits(k)
        while r >= n:
            r = bits(k)
        return r

    return draw


@dataclass(frozen=True)
class Latency:
    """WAN latency: `base_ms` (or a per-device override) plus a uniform extra in
    [0, jitter_ms], drawn per frame from a generator seeded by (seed, device)."""

    base_ms: int = 0
    jitter_ms: int = 0
    per_device: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.base_ms < 0 or self.jitter_ms < 0 or any(v < 0 for _, v in self.per_device):
            raise ConfigError("latency: must not be negative")

    def base_for(self, device: str) -> int:
        for d, v in self.per_device:
            if d == device:
                return v
        return self.base_ms

    @property
    def max_ms(self) -> int:
        return max([self.base_ms, *(v for _, v in self.per_device)]) + self.jitter_ms

    @property
    def zero(self) -> bool:
        return self.max_ms == 0

    @classmethod
    def parse(cls, specs: Iterable[str]) -> Latency:
        """CLI form: "200" (fixed), "100-900" (uniform range), "DEVICE=300" (per device)."""
        base, jitter, per = 0, 0, []
        for spec in specs:
            try:
                if "=" in spec:
                    dev, v = spec.rsplit("=", 1)
                    per.append((dev, int(v)))
                elif "-" in spec.lstrip("-"):
                    lo, hi = spec.split("-", 1)
                    base, jitter = int(lo), int(hi) - int(lo)
                    if jitter < 0:
                        raise ValueError
                else:
                    base = int(spec)
            except ValueError:
                raise ConfigError(f"--latency-ms: {spec!r} is not MS, LO-HI or DEVICE=MS") from None
        return cls(base, jitter, tuple(per))


@dataclass(frozen=True)
class Perturbations:
    """The perturbations of one comparison run (all default to none).

    Resets follow the board firmware (firmware_model/board.py), so a board's real run can be
    replayed exactly: with `reset_mode="snapshot"` the device writes its limiter snapshot when
    the state changed since the last write and `snapshot_interval_ms` (the board's
    `persist_ms`) has passed since that write or since boot, checked after every alert and
    every poll; a soft reset writes it first (an orderly restart), any other kind restores the
    last write, losing what changed since. With `reset_mode="lost"` every reset loses the state
    (a device without flash). A reset is (device or "*", t_ms[, kind[, order]]): the kind
    defaults to "hard"; order says where a reset at the very time of an alert falls: "before"
    (default) or "after" it."""

    latency: Latency = field(default_factory=Latency)
    skew_ppm: int = 0                         # device clock runs fast (>0) or slow (<0)
    resets: tuple[tuple[Any, ...], ...] = ()  # (device id or "*", t_ms[, kind]): device resets
    reset_mode: str = "lost"                  # "lost": state lost; "snapshot": restored
    snapshot_interval_ms: int = 60_000        # the least time between two snapshot writes
    booted_ms: int | None = None              # device power-on (event time); None: long before
    reset_ticks: str = "restart"              # ticks after a reset: "restart" somewhere else
                                              # (a real MCU) or "continue" (an emulated clock)
    slots: int = 16                           # limiter code slots
    seed: int = 0
    poll_interval_ms: int | None = None       # device poll() period; default summary_interval/2
    tick_start: int | None = None             # ticks at event time 0; default: seeded random

    def __post_init__(self) -> None:
        if self.reset_mode not in ("lost", "snapshot"):
            raise ConfigError(f"reset_mode: {self.reset_mode!r} is not lost or snapshot")
        if self.reset_ticks not in ("restart", "continue"):
            raise ConfigError(f"reset_ticks: {self.reset_ticks!r} is not restart or continue")
        for r in self.resets:
            if len(r) not in (2, 3, 4) or (len(r) >= 3 and r[2] not in RESET_KINDS) or (
                    len(r) == 4 and r[3] not in ("before", "after")):
                raise ConfigError(f"reset {r!r}: not (device, t_ms[, kind[, order]]) with kind "
                                  f"one of {', '.join(RESET_KINDS)}, order before or after")
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ConfigError(f"slots: {self.slots} is out of range 1..{MAX_SLOTS}")
        if not -100_000 <= self.skew_ppm <= 100_000:
            raise ConfigError(f"skew_ppm: {self.skew_ppm} is out of range -100000..100000")
        if self.snapshot_interval_ms < 0:
            raise ConfigError("snapshot_interval_ms: must not be negative")

    def resets_for(self, device: str) -> list[tuple[int, str, bool]]:
        """(t_ms, kind, after) of this device's resets, in time order; `after`: the reset
        falls after an alert at the same t_ms."""
        out = []
        for r in self.resets:
            if r[0] == device or r[0] == "*":
                out.append((int(r[1]), r[2] if len(r) >= 3 else "hard",
                            len(r) == 4 and r[3] == "after"))
        return sorted(out)


@dataclass(frozen=True)
class Setup:
    """One comparison run: the DSP's configuration, the device's, and what lies between."""

    dsp_cfg: PolicyConfig = field(default_factory=PolicyConfig)
    dev_cfg: PolicyConfig = field(default_factory=PolicyConfig)
    perturbations: Perturbations = field(default_factory=Perturbations)

    @property
    def critical(self) -> frozenset[int]:
        return frozenset(self.dsp_cfg.never_throttle) | frozenset(self.dev_cfg.never_throttle)

    @property
    def horizon_ms(self) -> int:
        """A gap longer than this leaves no state on either side: a new, independent session."""
        w = max(self.dsp_cfg.device_window_ms, self.dsp_cfg.code_window_ms,
                self.dev_cfg.device_window_ms, self.dev_cfg.code_window_ms)
        p = self.perturbations
        skewed = 2 * w * (1_000_000 + abs(p.skew_ppm)) // 1_000_000 + 1
        return skewed + self.dev_cfg.summary_interval_ms + p.latency.max_ms + 1000
