"""The nightly's scenarios: deterministic, seeded alert streams (built from the storm fault
models in emulator/faults.py) with the configuration they run under and the properties that
must hold, evaluated from the metrics of the run (hil.harness.drive computes them from what
the board sent north, the board's per-alert decisions and the DSP model on the same input).

Sizes are chosen so the whole matrix stays within the nightly budget: virtual time makes a
long storm cheap (ADVANCE), but every alert is still one round trip to the board. Thresholds
are set from measured behaviour with a margin (docs/harness.md, "Scenarios")."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import faults
from emulator.faults import Event
from firmware_model.ticks import TICKS_PERIOD
from hil.errors import InputError


@dataclass(frozen=True)
class Property:
    """One thing that must hold, as a metric compared with a bound."""

    metric: str
    op: str  # "==", "<=", ">="
    bound: float
    why: str

    def check(self, metrics: dict[str, Any]) -> tuple[bool | None, str]:
        """(True|False, reason); None when the metric was not measured (reason says why)."""
        v = metrics.get(self.metric)
        if v is None:
            return None, f"{self.metric} not measured"
        ok = {"==": v == self.bound, "<=": v <= self.bound, ">=": v >= self.bound}[self.op]
        shown = f"{v:.1f}" if isinstance(v, float) else str(v)
        return ok, f"{self.metric} = {shown} (must be {self.op} {self.bound:g}: {self.why})"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    build: Callable[[], Iterable[Event]]
    properties: tuple[Property, ...]
    config: dict[str, Any] = field(default_factory=dict)  # vocabulary keys; {} = policy defaults
    tail_ms: int = 3_600_000  # advance this long after the last alert (episodes close, summaries)
    ticks_start: int | None = None  # emulated boards only: ticks_ms at power-on
    resets: tuple[tuple[int, str], ...] = ()  # (t_ms, kind): reset the board at these times
    needs_limiter_placement: tuple[str, ...] = ()
    # before the genuine CONFIG, send the same update MAC'd with a wrong key: the board must
    # refuse it (E_AUTH); recorded as the metric forged_config_refused (1/0)
    forged_config_first: bool = False

    def events(self) -> list[Event]:
        evs = list(self.build())
        for a, b in zip(evs, evs[1:], strict=False):
            if b[0] < a[0]:
                raise InputError(f"scenario {self.name}: time goes backwards at t={b[0]}")
        return evs


# Bounds shared by several scenarios, justified in docs/harness.md.
NO_CRITICAL_LOST = Property("critical_lost", "==", 0,
                            "a critical/never-throttle alert must always cross the WAN")
NO_HEALTHY_LOSS = Property("healthy_suppressed", "==", 0,
                           "a healthy device is never filtered")
ALIGNED = Property("divergences", "==", 0,
                   "same config, one device, no reset: device and DSP decide identically")
MATCHES_MODEL = Property("model_mismatch", "==", 0,
                         "the board decides as firmware_model's limiter in-process, alert by alert")
ACCOUNTED = Property("unaccounted_suppressed", "==", 0,
                     "every suppressed alert is reported in a summary frame")
ACCOUNTED_BUT_RESETS = Property(
    "unaccounted_beyond_reset_loss", "==", 0,
    "every suppressed alert is reported, but those suppressed since the last flash write "
    "before an unexpected reset (persist_ms + poll_ms at most): a known loss, docs/harness.md")
NAMED_CAUSES = Property("divergences_unknown", "==", 0,
                        "every device-vs-DSP divergence has a named cause (hil.harness.metrics)")


def _wan(pct: int) -> Property:
    return Property("wan_reduction_pct", ">=", pct,
                    "the storm must not cross the WAN (measured with margin, docs/harness.md)")


def _stuck() -> Iterable[Event]:
    return faults.stuck_sensor(seed=1, period_ms=1000, count=1200)


def _oscillation() -> Iterable[Event]:
    return faults.oscillating_threshold(seed=2, burst=(20, 60), gap_ms=(1000, 8000),
                                        spacing_ms=300, count=900)


def _reboot_loop() -> Iterable[Event]:
    return faults.merge(faults.reboot_loop(seed=3, period_ms=5000, count=300),
                        faults.stuck_sensor(seed=33, period_ms=2000, count=400))


def _tamper() -> Iterable[Event]:
    # a storm that makes the device red, with a tamper burst inside it: throttling is active
    # and the never-throttle code must still pass every time
    return faults.merge(faults.stuck_sensor(seed=4, period_ms=500, count=600),
                        faults.tamper_burst(seed=44, n=120, spacing_ms=400, start_ms=100_000))


def _diversity() -> Iterable[Event]:
    return faults.many_codes(seed=5, distinct=40, period_ms=250, count=1200)


def _quiet() -> Iterable[Event]:
    return faults.healthy(seed=6, mean_gap_ms=600_000, count=60)


def _wrap() -> Iterable[Event]:
    return faults.stuck_sensor(seed=7, period_ms=1000, count=900)


def _mixed() -> Iterable[Event]:
    return faults.merge(
        faults.stuck_sensor(seed=8, source="esme", period_ms=1500, count=500),
        faults.oscillating_threshold(seed=88, source="gsme", spacing_ms=400, count=300),
        faults.healthy(seed=888, sources=("hub",), mean_gap_ms=120_000, count=6),
    )


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("stuck_sensor", "one code every second (strong magnetic field stuck on)",
             _stuck, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ALIGNED, ACCOUNTED, _wan(75))),
    Scenario("oscillation", "a value hovering at a threshold: bursts of one code, then quiet",
             _oscillation, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ALIGNED, ACCOUNTED, _wan(60))),
    Scenario("reboot_loop", "0x81B2 after each of 300 resets, with a stuck sensor; the board "
             "is really reset five times (soft, hard, watchdog, brownout, soft): state "
             "restored from flash, minus what changed since the last write after an "
             "unexpected reset",
             _reboot_loop, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ACCOUNTED_BUT_RESETS,
                            _wan(50)),
             resets=((250_000, "soft"), (500_000, "hard"), (750_000, "watchdog"),
                     (1_000_000, "brownout"), (1_250_000, "soft"))),
    Scenario("tamper_burst", "tamper (never-throttle) burst inside a storm",
             _tamper, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ALIGNED, ACCOUNTED, _wan(50))),
    Scenario("code_diversity", "40 distinct codes, more than the 16 slots: overflow slot",
             _diversity, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ACCOUNTED, _wan(40))),
    Scenario("quiet_device", "a healthy device: a few ordinary alerts an hour",
             _quiet, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, NO_HEALTHY_LOSS, ALIGNED,
                      Property("wan_reduction_pct", "<=", 0, "nothing may be filtered"))),
    Scenario("ticks_wrap", "a storm across the ticks_ms wrap (2**30)",
             _wrap, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ALIGNED, ACCOUNTED, _wan(75)),
             ticks_start=TICKS_PERIOD - 300_000),
    Scenario("mixed_meters", "ESME storm + GSME oscillation + healthy hub behind one hub",
             _mixed, (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ACCOUNTED, _wan(60))),
)}


# The authenticated CONFIG path, on every board (the other scenarios run the defaults, so a
# virtual board never gets a CONFIG): a storm under a configuration chosen so that a board that
# ignored the update decides visibly otherwise. Red at 40 in 30 min (defaults: 100 in 1 h),
# overloaded past 5 (10), one forwarded per 15 min (1 in 10), and 0x8F0C (clock alerts, raised
# by the hub every 15 s all through the storm) never throttled: under the defaults the board
# would throttle it 9 in 10, so critical_lost, divergences and model_mismatch (computed against
# this config) all catch an ignored update. Every time key is >= 900 s, so the scenario still
# runs on a real-clock board at time_scale 900. A forged copy of the update goes first.
CONFIG_UPDATE_CONFIG: dict[str, Any] = {
    "device_window_ms": 1_800_000, "amber_threshold": 20, "red_threshold": 40,
    "code_window_ms": 1_800_000, "code_limit": 5, "throttle_mode": "one_per_period",
    "throttle_period_ms": 900_000, "summary_interval_ms": 900_000,
    "never_throttle": ["0x8F3F", "0x8F1C", "0x8F1D", "0x8F35", "0x8F36", "0x8F74", "0x8F76",
                       "0x8F0C"],
}
FORGED_REFUSED = Property("forged_config_refused", "==", 1,
                          "a config update that fails authentication is refused (E_AUTH)")


def _config_update() -> Iterable[Event]:
    return faults.merge(
        faults.stuck_sensor(seed=9, period_ms=2000, count=600),
        faults.clock_alerts(seed=99, source="hub", period_ms=15_000, jitter=0.1, count=80))


SCENARIOS["config_update"] = Scenario(
    "config_update", "a storm under a non-default config sent with the authenticated CONFIG "
    "message (a forged copy first: refused)", _config_update,
    (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ALIGNED, ACCOUNTED, FORGED_REFUSED, _wan(60)),
    config=CONFIG_UPDATE_CONFIG, forged_config_first=True)


def replay(path: str | Path, *, default_source: str = "esme") -> Scenario:
    """A scenario from a recorded alert log: JSON Lines {device_id, t_ms, alert_code} or CSV
    with a header `device_id,t_ms,alert_code`. device_id maps to the source by name (esme,
    gsme, hub, or containing them); codes as int or "0x8F3F". Sorted by time (stable)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e}") from None
    rows: list[dict[str, Any]] = []
    if p.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
    else:
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise InputError(f"{p}:{i}: not JSON: {e}") from None
    events: list[Event] = []
    for i, r in enumerate(rows, 1):
        try:
            dev = str(r.get("device_id", default_source)).lower()
            src = next((s for s in ("esme", "gsme", "hub") if s in dev), default_source)
            code = r["alert_code"]
            code = int(code, 0) if isinstance(code, str) else int(code)
            t = int(r["t_ms"])
        except (KeyError, ValueError, TypeError) as e:
            raise InputError(f"{p}: record {i}: needs device_id, t_ms, alert_code ({e})") from None
        if not 0 <= code <= 0xFFFF or t < 0:
            raise InputError(f"{p}: record {i}: code or time out of range")
        events.append((t, code, src))
    events.sort(key=lambda e: e[0])
    t0 = events[0][0] if events else 0
    events = [(t - t0, c, s) for t, c, s in events]
    return Scenario("replay:" + p.name, f"replay of {p}", lambda: events,
                    (NO_CRITICAL_LOST, MATCHES_MODEL, NAMED_CAUSES, ACCOUNTED))


def select(names: list[str] | None) -> list[Scenario]:
    """Scenarios by name (all when None); `replay:<file>` loads a recorded log."""
    if not names:
        return list(SCENARIOS.values())
    out = []
    for n in names:
        if n.startswith("replay:"):
            out.append(replay(n[len("replay:"):]))
        elif n in SCENARIOS:
            out.append(SCENARIOS[n])
        else:
            raise InputError(f"unknown scenario {n!r} (known: {', '.join(SCENARIOS)}, "
                             "replay:<file>)")
    return out
