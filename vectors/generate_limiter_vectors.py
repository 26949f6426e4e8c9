"""Generate the recorded limiter conformance vectors (vectors/limiter/gen_*.json).

    .venv/bin/python vectors/generate_limiter_vectors.py          # rewrite gen_*.json
    .venv/bin/python vectors/generate_limiter_vectors.py --check  # exit 1 if any differs

The hand_*.json vectors are written by hand from docs/policy.md and are never touched here.
The gen_* vectors record what firmware_model/limiter.py does on scenarios chosen to reach
every branch of it (tests/test_limiter_vectors.py checks both kinds, on CPython and in
MicroPython, and that they cover limiter.py completely). Inputs are deterministic (seeded).
"""

from __future__ import annotations

import json
import random
import sys
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from limiter_runner import run_vector  # noqa: E402

import firmware_model.limiter as lm  # noqa: E402
from firmware_model.ticks import TICKS_MAX, TICKS_PERIOD  # noqa: E402

SMALL = {"device_window_ms": 10000, "code_window_ms": 10000, "never_throttle": []}
RECORDED = "Recorded from firmware_model/limiter.py by vectors/generate_limiter_vectors.py: "


def cfg(**k: Any) -> dict[str, Any]:
    d: dict[str, Any] = dict(SMALL)
    d.update(k)
    return d


def storm(base: int, seed: int, n: int = 400) -> list[list[Any]]:
    """A storm of a few codes with polls and pops, starting at ticks `base` (may wrap)."""
    rnd = random.Random(seed)
    ev: list[list[Any]] = []
    t = 0
    for _ in range(n):
        t += rnd.choice((1, 5, 20, 100, 700, 3000))
        r = rnd.random()
        if r < 0.08:
            ev.append(["poll", (base + t) & TICKS_MAX])
        elif r < 0.12:
            ev.append(["pop"])
        else:
            ev.append(["offer", (base + t) & TICKS_MAX, rnd.choice((0x8F01, 0x8F02, 0x8F03, 0x8F3F))])
    t += 50000
    ev += [["poll", (base + t) & TICKS_MAX], ["pop"]]
    return ev


def random_stream(seed: int, codes: int, steps: int) -> list[list[Any]]:
    rnd = random.Random(seed)
    ev: list[list[Any]] = []
    t = rnd.randrange(TICKS_MAX)
    for _ in range(steps):
        t = (t + rnd.choice((0, 1, 10, 100, 1000, 5000, 12000, 25000))) & TICKS_MAX
        r = rnd.random()
        if r < 0.1:
            ev.append(["poll", t])
        elif r < 0.15:
            ev.append(["pop"])
        elif r < 0.17:
            ev.append(["level", t])
        else:
            ev.append(["offer", t, rnd.randrange(codes)])
    ev += [["poll", (t + 100000) & TICKS_MAX], ["pop"]]
    return ev


def scenarios() -> dict[str, dict[str, Any]]:
    v: dict[str, dict[str, Any]] = {}
    red = cfg(red_threshold=5, amber_threshold=3, code_limit=2, throttle_n=3, summary_interval_ms=1000)
    # The same storm, once far from the wrap and once straddling it: decisions must be equal.
    v["gen_storm_no_wrap"] = {"description": RECORDED + "storm of 3 codes + a never_throttle code, "
                              "no wrap; twin of gen_storm_across_wrap.",
                              "config": dict(red, never_throttle=[0x8F3F]), "events": storm(1000, 7)}
    v["gen_storm_across_wrap"] = {"description": RECORDED + "gen_storm_no_wrap shifted to start "
                                  "60 s before the 2**30 ticks wrap: same decisions.",
                                  "config": dict(red, never_throttle=[0x8F3F]),
                                  "events": storm(TICKS_PERIOD - 60000, 7)}
    v["gen_one_per_period_across_wrap"] = {
        "description": RECORDED + "one_per_period storm across the wrap.",
        "config": dict(red, throttle_mode="one_per_period", throttle_period_ms=1000),
        "events": storm(TICKS_PERIOD - 30000, 11)}
    # Summaries nobody pops: ONGOING merges, ONGOING -> CLOSED upgrade, CLOSED + CLOSED merge,
    # ONGOING deferred behind the previous episode's unpopped CLOSED.
    ev: list[list[Any]] = []
    t = 0
    for burst in range(3):
        for k in range(40):
            ev.append(["offer", t, 0x0101])
            t += 100
            if k % 10 == 9:
                ev.append(["poll", t])
        t += 30000
        ev.append(["poll", t])
        if burst == 1:
            for _k in range(30):
                ev.append(["offer", t, 0x0101])
                t += 100
            ev.append(["poll", t + 5000])
            t += 40000
    ev += [["poll", t], ["pop"]]
    v["gen_unpopped_summaries_merge"] = {
        "description": RECORDED + "three storms of one code and nobody pops: the slot's single "
        "report absorbs later ones (summaries_merged), counts still add up.",
        "config": red, "events": ev}
    # Saturation: patch a snapshot so counters sit just below 2**30-1, then keep going.
    ev = [["offer", t, 0x0202] for t in range(0, 120, 10)]
    ev.append(["reset", 120, 500, "SATURATE", True])
    ev += [["offer", 500 + t, 0x0202 + (t % 70 == 0)] for t in range(0, 3000, 10)]
    ev += [["poll", 100000], ["pop"]]
    v["gen_saturation"] = {
        "description": RECORDED + "a snapshot patched so that every counter is at or just below "
        "SAT_MAX = 2**30-1 (device count, code count, episode total/unreported, stats): "
        "counters stop at SAT_MAX and nothing wraps.",
        "config": cfg(red_threshold=1, amber_threshold=1, code_limit=0, throttle_n=2,
                      summary_interval_ms=1000), "slots": 1, "events": ev}
    # Persistence across a reset, and every way a snapshot can be rejected.
    base = [["offer", t, 0x0303 + (t // 100) % 3] for t in range(0, 3000, 37)] + [["poll", 3000]]
    resets: list[list[Any]] = [
        ["reset", 3000, 9000],                      # good: state survives, times relative
        ["reset", 3100, 3200, [[-1, 0]]],           # CRC broken
        ["reset", 3300, 3400, [], False, 40],       # torn write
        ["reset", 3300, 3400, [], False, 1],        # almost nothing written
        ["reset", 3500, 3600, [[2, 9]], True],      # other version
        ["reset", 3700, 3800, [[3, 3]], True],      # other table size
        ["reset", 3900, 4000, [[61, 200]], True],   # slot index out of range
        ["reset", 4100, 4200, [[64, 0x10]], True],  # code out of range
        ["reset", 4300, 4400, [[12, 7]], True],     # pending count disagrees
        ["reset", 4500, 4600, [[24, 0x40]], True],  # device count above 2**30-1
        ["reset", 4700, 4800, [[20, 0x20]], True],  # age 2**29: beyond ticks range
    ]
    ev = []
    t = 0
    for r in resets:
        ev += [[e[0], e[1] + t] + e[2:] if e[0] != "pop" else e for e in base]
        ev.append([r[0], r[1] + t, r[2] + t] + r[3:])
        ev += [["offer", r[2] + t + 10, 0x0303], ["poll", r[2] + t + 20], ["pop"]]
        t += 200000
    # a snapshot holding only an unpopped report (every window closed)
    ev += [["offer", e[1] + t, e[2]] for e in base if e[0] == "offer"]
    ev += [["poll", t + 100000], ["reset", t + 100000, t + 100100], ["pop"]]
    v["gen_persistence"] = {
        "description": RECORDED + "storms interrupted by resets: a good snapshot carries pending "
        "counts and open episodes across (times relative to boot), and each kind of damaged "
        "snapshot (CRC, torn, version, table size, slot index, code, pending count, counter "
        "range, age range) is rejected as SnapshotError and the limiter starts clean.",
        "config": dict(red, summary_interval_ms=60000), "slots": 2, "events": ev}
    ev = [["offer", t, 0x0404] for t in range(0, 1000, 50)]
    ev.append(["configure", dict(red, throttle_mode="one_per_period", throttle_period_ms=1000)])
    ev += [["offer", t, 0x0404] for t in range(1000, 4000, 50)]
    ev.append(["reset", 4000, 4100])
    ev.append(["configure", dict(red)])
    ev += [["offer", t, 0x0404] for t in range(4100, 5000, 50)]
    ev.append(["configure", dict(red, code_limit=-1)])
    ev += [["poll", 80000], ["pop"]]
    v["gen_configure_midstream"] = {
        "description": RECORDED + "throttle_mode switched during an episode (the next alert is "
        "forwarded), switched back across a reset, and a rejected update that changes nothing.",
        "config": red, "slots": 4, "events": ev}
    v["gen_mode_change_snapshot"] = {
        "description": RECORDED + "a snapshot taken in one_per_period restored after switching to one_in_n.",
        "config": dict(red, throttle_mode="one_per_period", throttle_period_ms=1000),
        "events": [["offer", t, 0x0505] for t in range(0, 1500, 50)] + [["reset", 1500, 1600, "MODE"],
                                                                         ["offer", 1700, 0x0505]]}
    ev = [["offer", t, 0x0606] for t in range(0, 2000, 50)] + [["level", 2000]]
    ev += [["clear"], ["level", 2000], ["poll", 2000], ["pop"]]
    ev += [["offer", t, 0x0606] for t in range(2000, 4000, 50)] + [["poll", 90000], ["pop"]]
    v["gen_clear"] = {
        "description": RECORDED + "clear() in a storm: red and the open episode are forgotten "
        "with the unreported count (nothing pending afterwards), and the same storm starts "
        "over as on a new device.",
        "config": red, "slots": 2, "events": ev}
    v["gen_config_errors"] = {
        "description": RECORDED + "each invalid configuration is rejected naming its key.",
        "config_errors": [
            {"nonsense": 1}, {"throttle_mode": "one_in_two"}, {"throttle_mode": "one_per_period"},
            {"throttle_mode": 2}, {"never_throttle": "0x8F3F"}, {"never_throttle": ["0x8Fzz"]},
            {"never_throttle": ["8F3F"]}, {"never_throttle": [True]}, {"never_throttle": [0x10000]},
            {"never_throttle": list(range(17))}, {"device_window_ms": 999},
            {"device_window_ms": True}, {"red_threshold": 10, "amber_threshold": 11},
            {"code_limit": 0, "throttle_n": 1, "amber_threshold": 7, "red_threshold": 7},
            {"summary_interval_ms": "0x3E8"}, {"code_window_ms": 86400001},
        ],
        "slot_errors": [0, 1, 255, 256]}
    v["gen_bad_codes"] = {
        "description": RECORDED + "codes outside 0x0000..0xFFFF are refused (ValueError naming "
        "'code'), not counted, and change nothing; 0x0000 and 0xFFFF are ordinary codes.",
        "config": cfg(red_threshold=1, amber_threshold=1, code_limit=0), "slots": 1,
        "events": [["offer", 0, 0], ["offer", 1, -1], ["offer", 2, 0x10000], ["offer", 3, 0xFFFF],
                   ["offer", 4, 0]]}
    for seed in range(6):
        c = cfg(red_threshold=[1, 3, 8][seed % 3], amber_threshold=1,
                code_limit=[0, 1, 4][seed % 3], throttle_n=[1, 2, 5][seed % 3],
                throttle_mode=["one_in_n", "one_per_period"][seed % 2], throttle_period_ms=1000,
                summary_interval_ms=[1000, 5000][seed % 2], never_throttle=[3])
        v[f"gen_random_{seed}"] = {
            "description": RECORDED + f"random stream, seed {seed}, 3 slots for 8 codes.",
            "config": c, "slots": 3, "events": random_stream(seed, 8, 600)}
    port_kit(v)
    return v


# -- vectors that catch a faulty port (vectors/mutation.py measures how many mistakes they catch) --
# Branch coverage is not enough: these aim at the values where a port goes wrong by one (window
# and period boundaries, at and across the 2**30 wrap), at saturation of each counter on its own,
# at the snapshot's exact format and age range, and at configure() during an episode.


W = 10000  # every window, period and interval in the edge streams: their boundaries coincide
EDGE = cfg(device_window_ms=W, code_window_ms=W, throttle_period_ms=W, summary_interval_ms=W)
TOUR = cfg(red_threshold=4, amber_threshold=2, code_limit=1, throttle_n=2, summary_interval_ms=1000,
           throttle_period_ms=1000, never_throttle=[0x0909])
MID = dict(TOUR, red_threshold=2, amber_threshold=1, code_limit=1, throttle_n=3,
           summary_interval_ms=2000, code_window_ms=40000)
OVERFLOW = cfg(red_threshold=1, amber_threshold=1, code_limit=0, throttle_n=2,
               summary_interval_ms=1000)
HIGH = (1 << 29) + 123456  # a time in the upper half of the ticks range: 0 looks "in the future"


def edge_config(rnd: random.Random, code_limit: int) -> dict[str, Any]:
    # Windows, period, interval and code_limit stay as they are: changed mid-episode, later
    # decisions would depend on when each code window was last advanced, which limiter.py does
    # lazily where policy.md says "every code counter" (docs/limiter.md "Mutation testing").
    red = rnd.choice((1, 2, 3, 4, 6))
    return dict(EDGE, red_threshold=red, amber_threshold=rnd.randint(1, red),
                code_limit=code_limit, throttle_n=rnd.choice((1, 2, 3)),
                throttle_mode=rnd.choice(("one_in_n", "one_per_period")),
                never_throttle=rnd.choice(([], [9])))


def edge_stream(seed: int, steps: int, resets: bool = False) -> list[list[Any]]:
    """A stream whose gaps are window lengths give or take one ms, near and across the wrap.

    With every window, period and interval W long, a gap of W - 1, W or W + 1 (or twice that)
    lands on a boundary of whatever is open; the base time puts boundaries just before, at and
    after the 2**30 wrap. Codes 1..4 compete for the slots (the overflow slot is used), code 9
    is sometimes never_throttle, and configure/clear happen mid-episode. With `resets`, snapshot
    resets too; the stream then configures itself first and again after each reset (a reset
    restores under the vector's own config).
    """
    rnd = random.Random(seed)
    limit = seed % 3
    t = (TICKS_MAX + 1 - rnd.choice((1, 2, W - 1, W, W + 1, 2 * W, 3 * W + 1, 7 * W))) & TICKS_MAX
    c = edge_config(rnd, limit)
    ev: list[list[Any]] = [["configure", c]] if resets else []
    for _ in range(steps):
        t = (t + rnd.choice((0, 1, 2, 100, W - 1, W, W + 1, 2 * W - 1, 2 * W, 2 * W + 1))) & TICKS_MAX
        r = rnd.random()
        if r < 0.07:
            ev.append(["poll", t])
        elif r < 0.11:
            ev.append(["pop"])
        elif r < 0.15:
            ev.append(["level", t])
        elif r < 0.165:
            c = edge_config(rnd, limit)
            ev.append(["configure", c])
        elif r < 0.17:
            ev.append(["clear"])
        elif resets and r < 0.185:
            boot = rnd.choice((t, (t + 1) & TICKS_MAX, (t + W) & TICKS_MAX, rnd.randrange(TICKS_MAX + 1)))
            ev += [["reset", t, boot], ["configure", c]]
            t = boot
        else:
            ev.append(["offer", t, rnd.choice((1, 1, 2, 2, 3, 4, 9))])
    ev += [["poll", (t + 3 * W) & TICKS_MAX], ["pop"], ["level", (t + 3 * W) & TICKS_MAX]]
    return ev


def reset_stream(seed: int, steps: int) -> list[list[Any]]:
    """Storms of a few codes (0x0000 and 0xFFFF among them) cut by snapshot resets at random
    moments, each followed by a configure (a reset restores under the vector's own config).
    Window lengths, period, interval and code_limit are fixed per stream (device and code
    windows of different lengths); configure changes thresholds, throttle_n and the mode (see
    edge_config for why)."""
    rnd = random.Random(seed)
    t = rnd.randrange(TICKS_MAX + 1)
    windows = cfg(device_window_ms=rnd.choice((1000, 4000, 10000)),
                  code_window_ms=rnd.choice((1000, 3000, 10000)),
                  throttle_period_ms=rnd.choice((1000, 2500)),
                  summary_interval_ms=rnd.choice((1000, 3000)), code_limit=rnd.choice((0, 1, 2)))

    def conf() -> dict[str, Any]:
        red = rnd.choice((1, 2, 3, 5))
        return dict(windows, red_threshold=red, amber_threshold=rnd.randint(1, red),
                    throttle_n=rnd.choice((1, 2, 3)),
                    throttle_mode=rnd.choice(("one_in_n", "one_per_period")))

    c = conf()
    ev: list[list[Any]] = [["configure", c]]
    for _ in range(steps):
        t = (t + rnd.choice((0, 1, 10, 100, 500, 999, 1000, 1001, 3000, 10000))) & TICKS_MAX
        r = rnd.random()
        if r < 0.06:
            ev.append(["poll", t])
        elif r < 0.08:
            ev.append(["pop"])
        elif r < 0.1:
            ev.append(["level", t])
        elif r < 0.11:
            c = conf()
            ev.append(["configure", c])
        elif r < 0.15:
            boot = rnd.choice((t, (t + 1) & TICKS_MAX, rnd.randrange(2000), rnd.randrange(TICKS_MAX + 1)))
            ev += [["reset", t, boot], ["configure", c]]
            t = boot
        else:
            ev.append(["offer", t, rnd.choice((1, 1, 2, 2, 3, 0, 0xFFFF))])
    ev += [["poll", (t + 50000) & TICKS_MAX], ["pop"]]
    return ev


def branch_tour(t: int) -> list[list[Any]]:
    """Every counting branch of offer() once, on one slot, from a healthy device at t.

    Healthy alerts (the fast path takes two), the amber and red events, a never_throttle alert
    in red, a red alert below code_limit, an episode start, one_in_n suppress and forward, the
    overflow slot, an ONGOING report and a merge into it, one_per_period forward and suppress,
    a device window ending while the fast path still holds a grant, and the CLOSED reports.
    """
    a, b = 0x0A0A, 0x0B0B
    ev: list[list[Any]] = [["configure", TOUR]]
    ev += [["offer", t + k, a] for k in range(4)]  # healthy x3 (fast path), 4th: amber + red
    ev += [["offer", t + 4, 0x0909], ["offer", t + 5, a], ["offer", t + 6, a], ["offer", t + 7, a]]
    ev += [["offer", t + 8, b], ["offer", t + 9, b], ["offer", t + 10, b], ["offer", t + 11, b]]
    ev += [["offer", t + 1200, a], ["offer", t + 1201, a], ["offer", t + 2500, a]]
    ev += [["configure", dict(TOUR, throttle_mode="one_per_period")]]
    ev += [["offer", t + 2600, a], ["offer", t + 2601, a], ["offer", t + 3700, a]]
    ev += [["poll", t + 4000]]
    ev += [["level", t + 4000], ["poll", t + 40000], ["pop"]]
    # a grant, then the device window ends with it unused
    ev += [["configure", dict(TOUR, red_threshold=3)], ["offer", t + 50000, a],
           ["offer", t + 60001, a], ["offer", t + 60002, a], ["offer", t + 60003, a],
           ["level", t + 60003]]
    return ev


def _stats(values: list[int]) -> list[list[int]]:
    return [p for j, x in enumerate(values) for p in _u32(29 + 4 * j, x)]


def saturation_phases(t: int) -> list[list[Any]]:
    """Stats saturated in patterns, each followed by every counting branch and a snapshot
    round trip, so that a stat counted past SAT_MAX (or one checked for saturation in place of
    its neighbour) is a rejected snapshot, and a stat not counted shows in the final stats.

    Patterns keep forwarded <= offered, as real counts do. The last phase decides the final stats.
    """
    s, z = lm.SAT_MAX, 0
    ev: list[list[Any]] = []

    def phase(pat: list[int], tour: list[list[Any]]) -> None:
        nonlocal t
        ev.extend([["clear"], ["reset", t, t, _stats(pat), True]])
        ev.extend(tour)
        ev.extend([["reset", t + 70000, t + 70005], ["level", t + 70005], ["pop"]])
        t += 100000

    phase([s] * 8, branch_tour(t + 10))
    phase([z, z, z, s, z, s, z, s], branch_tour(t + 10))  # amber at SAT_MAX, on the fast path
    phase([s, s, z, s, z, s, z, s], branch_tour(t + 10))
    # offered 3 below SAT_MAX: a grant of one alert, then none when the window rolls
    phase([s - 3] + [z] * 7, [["configure", dict(TOUR, red_threshold=3)], ["offer", t + 10, 1],
                              ["offer", t + 10011, 1], ["offer", t + 10012, 1],
                              ["offer", t + 10013, 1], ["level", t + 10013]])
    # a slot whose counts and pending report sit just below SAT_MAX
    ev.extend([["clear"], ["configure", TOUR]])
    ev.extend([["offer", t + k, 0x0A0A] for k in range(6)] + [["offer", t + 1500, 0x0A0A]])
    q = 61 + 6
    near = lm.SAT_MAX - 1
    patches = _u32(21, near) + _u32(q + 4, near) + _u32(q + 16, near) + _u32(q + 20, near)
    patches += _u32(q + 36, near) + _u32(q + 40, near)
    ev.extend([["reset", t + 1500, t + 1500, patches, True], ["configure", TOUR]])
    ev.extend([["offer", t + 1501 + k, 0x0A0A] for k in range(4)])
    ev.extend([["reset", t + 1506, t + 1506], ["configure", TOUR], ["offer", t + 3000, 0x0A0A]])
    ev.extend([["poll", t + 3100], ["reset", t + 3200, t + 3300], ["poll", t + 60000], ["pop"]])
    t += 100000
    phase([s, z] * 4, branch_tour(t + 10))
    return ev


def persistence_phases(t: int) -> list[list[Any]]:
    """Snapshots at the edges of their format and of the ticks range (gen_persistence's config:
    red_threshold 5, code_limit 2, one in 3, 2 slots)."""
    ev: list[list[Any]] = [["clear"]]
    # an idle snapshot (device window open, no slot used): written as version 1, and its CRC
    # is CRC-16/CCITT-FALSE of the documented bytes ("PIN_CRC": the reference's CRC, patched in)
    ev += [["offer", t + k, 0x0707] for k in range(3)]
    ev += [["reset", t + 5, t + 6, [[2, 1]], True], ["reset", t + 7, t + 8, "PIN_CRC"]]
    # device window start age at the edge of the ticks range: 2**29 - 1 and 2**29 restore (the
    # latter reads as a negative difference, so the same window: still red), 2**29 + 1 does not
    t += 1000
    for age, boot in ((lm.SAT_MAX >> 1, 1000), (1 << 29, 2000), ((1 << 29) + 1, 3000)):
        ev += [["clear"]] + [["offer", t + k, 0x0707 + k % 2] for k in range(6)]
        ev += [["reset", t + 6, t + boot, _u32(17, age), True], ["level", t + boot],
               ["offer", t + boot, 0x0707], ["level", t + boot], ["poll", t + boot + 1], ["pop"]]
        t += 100000
    # restored times that cross 0 under the new boot's ticks: the last suppressed alert lands
    # on 0, the first on 2**30 - 1; then the same at boot 0 (ages 1 and 2) and at boot
    # 2**30 - 1 (age 0)
    for boot, gap in ((500, 500), (0, 1), (TICKS_MAX, 0)):
        ev += [["clear"]] + [["offer", t + k, 0x0808] for k in range(9)]
        ev += [["reset", t + 8 + gap, boot], ["pop"], ["offer", (boot + 1) & TICKS_MAX, 0x0808],
               ["poll", (boot + 50000) & TICKS_MAX], ["pop"]]
        t += 100000
    # ages of 2**24 ms and more (every byte of a u32 in use): one-day windows, 20 000 000 ms on
    day = dict(cfg(device_window_ms=86400000, code_window_ms=86400000, red_threshold=5,
                   amber_threshold=3, code_limit=2, throttle_n=3, summary_interval_ms=86400000))
    ev += [["clear"], ["configure", day]]
    ev += [["offer", t + k, 0x0909] for k in range(9)]
    ev += [["offer", t + 20000000, 0x0909], ["reset", t + 36777216, t + 36777300],
           ["configure", day], ["offer", t + 36777301, 0x0909], ["offer", t + 36777302, 0x0909],
           ["level", t + 36777303], ["poll", t + 200000000], ["pop"]]
    t += 300000000
    # codes 0x0000 and 0xFFFF hold slots across a reset; a slot's code patched to -1 and
    # 0x10000 (code + 1 = 0 and 0x10001) is rejected
    ev += [["clear"]] + [["offer", t + k, (0, 0xFFFF, 0x0A0A)[k % 3]] for k in range(12)]
    ev += [["reset", t + 12, t + 20], ["offer", t + 21, 0], ["offer", t + 22, 0xFFFF],
           ["reset", t + 23, t + 30, _u32(62, 0), True]]
    ev += [["offer", t + 31 + k, 0x0A0A] for k in range(6)]
    ev += [["reset", t + 40, t + 40, _u32(62, 0x10001), True], ["poll", t + 100000], ["pop"]]
    t += 200000
    # the report sequence number across its 2**30 wrap: reports made at 2**30 - 2, 2**30 - 1,
    # 0 pop in that order
    ev += [["clear"], ["reset", t, t, _u32(8, lm.SAT_MAX - 1), True]]
    ev += [["offer", t + k, (0x0B01, 0x0B02, 0x0B03)[k % 3]] for k in range(1, 30)]
    ev += [["poll", t + 100000], ["reset", t + 100000, t + 100001], ["pop"]]
    t += 200000
    # random window-edge streams with resets among them
    ev += [["clear"]] + edge_stream(77, 500, resets=True) + [["clear"]]
    ev += edge_stream(78, 500, resets=True)
    # storms cut by resets (seeds chosen for the mistakes they catch, see vectors/mutation.py)
    for seed in (3, 20, 43, 44, 40):
        ev += [["clear"]] + reset_stream(seed, 400)
    return ev


def opp_persistence_phases(t: int) -> list[list[Any]]:
    """one_per_period episodes across resets that keep the mode: the last-forward time is
    restored from its age, so the period boundary (1000 ms) falls exactly where it was."""
    ev: list[list[Any]] = []
    for gap, boot in ((0, 5000), (1, TICKS_MAX - 300), (700, 200)):
        ev += [["clear"]] + [["offer", t + 50 * k, 0x0505 + k % 3] for k in range(30)]
        last = t + 50 * 29
        ev += [["reset", last + gap, boot]]
        b = boot - gap - 50 * 29  # where t would be on the new boot's ticks
        ev += [["offer", (b + 50 * k + d) & TICKS_MAX, code] for k, code in ((27, 0x0505), (28, 0x0506))
               for d in (999, 1000)]
        ev += [["poll", (b + 90000) & TICKS_MAX], ["pop"]]
        t += 100000
    # the last forward restored 2**29 - 1 ms ago (a period and more: forwarded) and 2**29 ms
    # ago (reads as a negative difference: suppressed)
    for age in (lm.SAT_MAX >> 1, 1 << 29):
        ev += [["clear"]] + [["offer", t + 50 * k, 0x0505] for k in range(8)]
        ev += [["reset", t + 400, t + 500, _u32(61 + 6 + 12, age), True],
               ["offer", t + 500, 0x0505], ["offer", t + 501, 0x0505], ["poll", t + 90000], ["pop"]]
        t += 100000
    ev += [["clear"]] + edge_stream(79, 400, resets=True)
    ev += [["clear"]] + reset_stream(4, 400)
    return ev


def _pin_crcs(vec: dict[str, Any]) -> None:
    """Replace each "PIN_CRC" marker with patches that write the reference's own CRC bytes."""
    for idx, ev in enumerate(vec["events"]):
        if ev[0] == "reset" and ev[3:4] == ["PIN_CRC"]:
            blob = _live_limiter(vec, idx).snapshot(ev[1])
            ev[3:] = [[[-2, blob[-2]], [-1, blob[-1]]], False]


def _live_limiter(vec: dict[str, Any], upto: int) -> Any:
    """The reference limiter as the runner leaves it after vec's first `upto` events."""
    made: list[Any] = []

    class Recording(lm.Limiter):  # type: ignore[misc,valid-type]
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            made.append(self)

    proxy = types.SimpleNamespace(Config=lm.Config, Limiter=Recording,
                                  SnapshotError=lm.SnapshotError, crc16=lm.crc16)
    run_vector(dict(vec, events=vec["events"][:upto]), proxy)
    return made[-1]


def configure_mid_episode() -> list[list[Any]]:
    """configure() with episodes open in code slots and the overflow slot, at HIGH."""
    t = HIGH
    opp = dict(MID, throttle_mode="one_per_period")
    inn = dict(opp, throttle_mode="one_in_n")
    a, b, c, d = 0x0A01, 0x0A02, 0x0A03, 0x0A04  # a: slot 0, no episode; b, c: 1, 2; d: overflow
    ev: list[list[Any]] = [["offer", t, a], ["offer", t + 1, a]]
    for k in range(5):
        ev += [["offer", t + 10 + 4 * k + j, x] for j, x in enumerate((b, c, d))]
    # to one_per_period: every open episode forwards its next alert, then one per 1000 ms
    ev += [["configure", opp], ["offer", t + 100, b], ["offer", t + 101, c], ["offer", t + 102, d],
           ["offer", t + 103, b], ["offer", t + 1099, c], ["offer", t + 1102, d]]
    # back to one_in_n: the next alert of each is forwarded, then one in 3
    ev += [["configure", inn]] + [["offer", t + 1200 + k, x] for k in range(4) for x in (b, c, d)]
    ev += [["poll", t + 1300], ["pop"]]
    # a higher red_threshold mid-storm: with 3 (then 4) alerts in the window, is the device
    # certainly not red any more at the next poll? (red 5: 3 + 1 < 5 yes, 4 + 1 < 5 no)
    t += 100000
    for n in (3, 4):
        ev += [["configure", inn]] + [["offer", t + k, b] for k in range(n)]
        ev += [["configure", dict(inn, red_threshold=5, amber_threshold=1)], ["poll", t + 10],
               ["pop"], ["offer", t + 11, b], ["poll", t + 12], ["pop"]]
        t += 100000
    # red 2, code windows four times the device window: two silent device windows later the
    # poll ends the episode on the device's behalf (the code window would still overload)
    ev += [["configure", inn]] + [["offer", t + k, b] for k in range(5)]
    ev += [["poll", t + 20001], ["pop"], ["offer", t + 20002, b], ["poll", t + 90000], ["pop"]]
    return ev


def overflow_reuse() -> list[list[Any]]:
    """The full-table shortcut (rescan only when a window could have closed): when its bound
    moves (a shorter code window, a clear, a week-long storm) and which slot it watches."""
    ev: list[list[Any]] = []
    # code_limit 1: slot 1 (b) is held by its unpopped report after its window closed, slot 0
    # (a, never overloaded) closes next: a new code then takes slot 0, not the overflow slot
    t = 1000
    a, b, d, e = 0x0B01, 0x0B02, 0x0B03, 0x0B04
    ev += [["configure", dict(OVERFLOW, code_limit=1)], ["offer", t, a], ["offer", t + 1, b],
           ["offer", t + 2, b], ["offer", t + 3, b], ["offer", t + 10500, a], ["poll", t + 20500],
           ["offer", t + 21000, d], ["offer", t + 30500, e], ["offer", t + 30501, e],
           ["poll", t + 90000], ["pop"], ["configure", OVERFLOW]]
    # a shorter code window while the table is full: the slots free sooner
    t = 200000
    ev += [["offer", t, a], ["offer", t + 1, b], ["offer", t + 2, d],
           ["configure", dict(OVERFLOW, code_window_ms=1000)], ["offer", t + 2400, d],
           ["offer", t + 2500, e], ["offer", t + 2501, e], ["poll", t + 90000], ["pop"],
           ["configure", OVERFLOW]]
    # clear() forgets which slot held which code: codes coming back in the other order take
    # the slots in that order, and their reports are made (and popped) in slot order
    t = 100000
    ev += [["offer", t, a], ["offer", t + 1, a], ["offer", t + 2, b], ["offer", t + 3, b],
           ["clear"], ["offer", t + 10, b], ["offer", t + 11, b], ["offer", t + 12, a],
           ["offer", t + 13, a], ["poll", t + 50000], ["pop"]]
    # clear() at HIGH: the shortcut's bound must not survive it (0 looks "in the future" there)
    t = HIGH
    ev += [["offer", t, a], ["offer", t + 1, b], ["offer", t + 2, d], ["clear"],
           ["offer", t + 10, a], ["offer", t + 11, b], ["offer", t + 20, d],
           ["offer", t + 25000, d], ["offer", t + 25001, e], ["offer", t + 25002, e],
           ["poll", t + 90000], ["pop"]]
    return ev


def week_long_storm() -> list[list[Any]]:
    """A storm that keeps both slots busy for more than 2**29 ms (6.2 days), polled every
    2.5 days: stored times stay within ticks range only because each poll re-anchors them."""
    day = 86400000
    ev: list[list[Any]] = []
    a, b, c, e = 0x0C01, 0x0C02, 0x0C03, 0x0C04
    ev += [["offer", 0, a], ["offer", 1, b], ["offer", 2, c]]  # c: overflow, the table is full
    t = 0
    for k in range(1, 9):
        t = k * day * 9 // 10
        ev += [["offer", t, a], ["offer", t + 1, b]]  # one per window: forwarded (period 1 s)
        if k % 3 == 0:
            ev.append(["poll", t + 2])
    ev += [["offer", t + 3, a], ["poll", t + 4], ["pop"]]  # suppressed: ONGOING due at once
    ev += [["poll", t + day + 10], ["offer", t + 2 * day + 1000, c],
           ["offer", t + 2 * day + 1001, e],
           ["offer", t + 2 * day + 1002, e], ["poll", t + 5 * day], ["pop"]]
    return ev


def fast_path_edges() -> list[list[Any]]:
    """The healthy fast path's grant (alerts the window can still take below red) at its edges."""
    ev: list[list[Any]] = []
    # bad codes while a grant is held
    ev += [["offer", 100, 0x0D01], ["offer", 101, -1], ["offer", 102, 0x10000], ["offer", 103, 0],
           ["offer", 104, 0xFFFF], ["level", 104]]
    # clear() while a grant is held, inside the first window of the ticks range
    ev += [["clear"], ["offer", 200, 0x0D01], ["clear"]]
    ev += [["offer", 300 + k, 0x0D01] for k in range(10)] + [["level", 310]]
    # a grant held when the window ends across the wrap
    ds = TICKS_MAX + 1 - 5000
    ev += [["clear"]] + [["offer", ds + k, 0x0D02] for k in range(5)]
    ev += [["offer", (ds + 12000 + k) & TICKS_MAX, 0x0D02] for k in range(7)]
    ev += [["level", (ds + 12010) & TICKS_MAX]]
    ev += [["offer", (ds + 19000 + k) & TICKS_MAX, 0x0D02] for k in range(3)]
    ev += [["level", (ds + 19010) & TICKS_MAX]]
    return ev


def idle_week() -> list[list[Any]]:
    """A device that goes quiet for a week, polled every 2.5 days, then sees three alerts more
    than a device window apart: each starts a new window (none is red)."""
    day = 86400000
    ev: list[list[Any]] = [["offer", 0, 0x0F01], ["offer", 1, 0x0F01], ["offer", 2, 0x0F01],
                           ["level", 3], ["poll", 20000]]
    ev += [["poll", k * day * 5 // 2] for k in range(1, 4)]
    t = 7 * day + 12345
    ev += [["offer", t, 0x0F01], ["level", t], ["offer", t + 20000, 0x0F01], ["level", t + 20000],
           ["offer", t + 40000, 0x0F01], ["level", t + 40000]]
    return ev


def window_grid() -> list[list[Any]]:
    """The device window grid closes after an empty window; the next alert anchors a new one."""
    ev: list[list[Any]] = [["offer", 0, 0x0E01], ["offer", 1, 0x0E01], ["level", 10005],
                           ["level", 20005], ["offer", 25000, 0x0E01], ["offer", 30010, 0x0E01],
                           ["offer", 30020, 0x0E01], ["level", 30020]]
    ev += [["offer", 100000, 0x0E01], ["offer", 100001, 0x0E01], ["poll", 110005], ["poll", 120005],
           ["offer", 125000, 0x0E01], ["offer", 130010, 0x0E01], ["offer", 130020, 0x0E01],
           ["level", 130020]]
    return ev


def port_kit(v: dict[str, dict[str, Any]]) -> None:
    """Add the port-kit vectors to v, and extend the ones that must hold snapshot resets.

    (New vectors with a reset would not run on the small-board build, which has no snapshot;
    tests/test_limiter_flatbuild.py keeps such vectors to a handful, so reset scenarios extend
    gen_saturation and gen_persistence instead of adding files.)
    """
    for seed in range(4):
        v[f"gen_edges_{seed}"] = {
            "description": RECORDED + f"seed {seed}: gaps of a window length give or take 1 ms "
            "(every window, period and interval is 10 s), across the 2**30 wrap, with "
            "configure and clear mid-episode; 2 slots for 4 codes.",
            "config": edge_config(random.Random(1000 + seed), seed % 3), "slots": 2,
            "events": edge_stream(seed, 700)}
    v["gen_configure_mid_episode"] = {
        "description": RECORDED + "at ticks 2**29 + 123456 (where 0 reads as a future time): "
        "throttle_mode switched with episodes open in two code slots and the overflow slot (next "
        "alert of each forwarded, then one per period / one in n), while slot 0 has no episode; "
        "red_threshold raised mid-storm so the device is or is not certainly red-free at the next "
        "poll; two silent device windows (code windows are 4x longer): the poll, not the code "
        "window, ends the episode.",
        "config": MID, "slots": 3, "events": configure_mid_episode()}
    v["gen_overflow_reuse"] = {
        "description": RECORDED + "2 slots, every alert red, code_limit 0: a slot held only by "
        "its unpopped report while the slot before it closes its window (the new code takes that "
        "slot, not the overflow slot); a shorter code window while the table is full; codes "
        "back in the other order after clear() (reports in slot order); clear() at ticks "
        "2**29 + 123456; each time a new code must find the slot that has freed.",
        "config": OVERFLOW, "slots": 2, "events": overflow_reuse()}
    v["gen_week_long_storm"] = {
        "description": RECORDED + "one-day windows, one_per_period (1 s), every alert red: two "
        "codes fill both slots and a third the overflow slot, one alert per code every 0.9 day "
        "for 7.2 days (each forwarded) with a poll every 2.7 days; then a suppressed alert is "
        "reported at once (the episode's last report time was re-anchored by the polls), and "
        "after the windows close a new code gets a slot although the last rescan was 7 days ago.",
        "config": cfg(device_window_ms=86400000, code_window_ms=86400000, red_threshold=1,
                      amber_threshold=1, code_limit=0, throttle_mode="one_per_period",
                      throttle_period_ms=1000, summary_interval_ms=86400000),
        "slots": 2, "events": week_long_storm()}
    v["gen_fast_path_edges"] = {
        "description": RECORDED + "red_threshold 10: bad codes, 0x0000 and 0xFFFF while the "
        "healthy fast path holds a grant; clear() while it holds one; a grant held when the "
        "device window ends across the 2**30 wrap (the late alerts count in the next window).",
        "config": cfg(red_threshold=10, amber_threshold=4, code_limit=1), "slots": 1,
        "events": fast_path_edges()}
    v["gen_window_grid"] = {
        "description": RECORDED + "red_threshold 3: the device window grid rolls once, closes "
        "after an empty window (found by level() and by poll()), and the next alert anchors a "
        "new grid: 3 alerts within 10 s of it are red although they straddle the old grid.",
        "config": cfg(red_threshold=3, amber_threshold=2), "slots": 1, "events": window_grid()}
    v["gen_idle_week"] = {
        "description": RECORDED + "red_threshold 3: red, then a week without alerts (polled "
        "every 2.5 days: the device window grid closed long ago), then three alerts 20 s apart, "
        "each in a window of its own: none is red.",
        "config": cfg(red_threshold=3, amber_threshold=2), "slots": 1, "events": idle_week()}
    sat = v["gen_saturation"]
    sat["description"] += (" Then each stat saturated on its own (alternate stats at SAT_MAX, "
                           "then the others), all of them, and offered just below a fast-path "
                           "grant, each under every counting branch of offer(); saturated values "
                           "survive a snapshot round trip; a pending report's counts merge up "
                           "to SAT_MAX.")
    sat["events"] += saturation_phases(200000)
    per = v["gen_persistence"]
    per["description"] += (" Then: a limiter that has seen nothing snapshots; an idle snapshot "
                           "written as version 1 whose CRC bytes are CRC-16/CCITT-FALSE as "
                           "computed independently (patched in, unchanged); device window ages "
                           "of 2**29 - 1 and 2**29 restore (the latter reads as a negative "
                           "difference: same window), 2**29 + 1 does not; restored times that "
                           "land on 0 and 2**30 - 1 of the new boot's ticks (reported first/"
                           "last); ages above 2**24 ms; random window-edge streams with resets.")
    per["events"] = [["reset", 0, 0]] + per["events"] + persistence_phases(10000000)
    _pin_crcs(per)
    mode = v["gen_mode_change_snapshot"]
    mode["description"] += (" Then one_per_period episodes across resets that keep the mode "
                            "(boots near 0 and 2**30 - 1): each code's next forward falls "
                            "exactly one period after its last, as before the reset; a last "
                            "forward restored 2**29 - 1 ms ago (forwarded) and 2**29 ms ago "
                            "(a negative difference: suppressed); storms cut by resets.")
    mode["events"] += opp_persistence_phases(100000)


def _saturate(vec: dict[str, Any]) -> None:
    """Replace the "SATURATE"/"MODE" markers with real byte patches for this vector's snapshot."""
    for ev in vec["events"]:
        if ev[0] == "reset" and ev[3:4] == ["SATURATE"]:
            patches = []
            near = lm.SAT_MAX - 1  # one below SAT_MAX: the next increment saturates
            for off in range(29, 61, 4):  # the 8 stats
                patches += _u32(off, lm.SAT_MAX)
            patches += _u32(21, near)  # device count
            q = 61 + 6  # slot 0 entry values
            patches += _u32(q + 4, near)  # code count
            patches += _u32(q + 16, near)  # episode total
            patches += _u32(q + 20, near)  # episode unreported
            ev[3] = patches
        if ev[0] == "reset" and ev[3:4] == ["MODE"]:
            ev[3:] = [[[4, lm.ONE_IN_N]], True]


def _u32(off: int, v: int) -> list[list[int]]:
    return [[off + k, (v >> (8 * k)) & 0xFF] for k in range(4)]


def build() -> dict[str, dict[str, Any]]:
    out = {}
    for name, vec in scenarios().items():
        vec = {"name": name, "derivation": "generated", **vec}
        if "events" in vec:
            _saturate(vec)
            vec.setdefault("slots", 16)
        vec["expect"] = run_vector(vec, lm)
        out[name] = vec
    return out


def dump(vec: dict[str, Any]) -> str:
    """JSON with one event / summary per line (readable diffs, modest size)."""
    lines = ["{"]
    items = list(vec.items())
    for n, (k, val) in enumerate(items):
        end = "," if n < len(items) - 1 else ""
        if k in ("events", "config_errors") or (k == "expect" and isinstance(val, dict)):
            if isinstance(val, list):
                body = ",\n  ".join(json.dumps(x) for x in val)
                lines.append(f' "{k}": [\n  {body}\n ]{end}')
            else:
                body = ",\n  ".join(f"{json.dumps(kk)}: {json.dumps(vv)}" for kk, vv in val.items())
                lines.append(f' "{k}": {{\n  {body}\n }}{end}')
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(val)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    bad = 0
    for name, vec in build().items():
        path = HERE / "limiter" / f"{name}.json"
        text = dump(vec)
        if check:
            if not path.exists() or json.loads(path.read_text()) != json.loads(text):
                print(f"{path.name}: differs from the implementation")
                bad += 1
        else:
            path.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
