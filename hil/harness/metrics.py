"""What one board x scenario run measured, and why the board and the DSP disagree.

The scenario driver (hil/harness/drive/) records what the board did: its decision for every
alert (the ACK letters), the frames it sent north, its resets. Here that is set against

* the DSP model (`hil.model.dsp`, via hil.compare's DSP-only pipeline) on the same alerts at the same
  times: the device-vs-DSP divergences, per alert, and per code the suppressed count the board
  reported in its summaries against the count the DSP discarded;
* firmware_model's limiter run in-process on the same stream with the board's own reset and
  persistence behaviour (hil.compare's device-only pipeline, `DeviceReplay` with
  `Perturbations(reset_mode="snapshot", snapshot_interval_ms=persist_ms, ...)`): the board
  runs that code, so any difference is an engine or porting defect (`model_mismatch`), and
  where the board matches it, hil.compare's attribution (replays with one perturbation removed
  at a time) names the cause of every divergence. A divergence the model does not reproduce,
  or that no perturbation explains, is `unknown`: the property "no divergence of unknown
  cause" makes it a failure.

Nothing here talks to a board; the same inputs always give the same metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emulator.faults import Event
from firmware_model.limiter import FORWARD, STARTED, SUPPRESS
from hil.compare import (
    CLASSES,
    COUNT_MISMATCH,
    CRITICAL_LOST,
    EXTRA_WAN,
    LOST_AT_DEVICE,
    UNKNOWN,
    Perturbations,
    Setup,
    compare_device,
)
from hil.frames.catalogue import OVERFLOW_CODE
from hil.model.policy import PolicyConfig, load_config
from hil.model.streams import Alert

BUCKET_MS_TARGET = 60  # about this many time buckets per plot
MAX_EXAMPLES = 10  # divergent alerts listed per scenario (all are counted)

_LETTER = {"S": SUPPRESS, "F": FORWARD, "T": FORWARD | STARTED}
NOT_COMPARABLE = "not comparable"


@dataclass
class BoardRun:
    """What the runner recorded for one scenario on one board."""

    events: list[Event]            # the alerts, at the times the board saw them
    decisions: list[str]           # per alert, the ACK letters: F, T, S per limiter on the
                                   # path ("" = forwarded unfiltered)
    frames: list[Any]              # decoded hil.frames objects sent north, in order
    config: dict[str, Any]         # vocabulary keys in force on the board ({} = defaults)
    per_source: bool = False       # one limiter (and DSP device) per source, else one for all
    frame_errors: int = 0          # frames sent north that do not decode
    critical: tuple[int, ...] = ()  # the board file's critical codes (besides never-throttle)
    slots: int = 16
    tick_start: int = 0            # board ticks at event time 0
    # (t_ms, kind[, order]) done; order "after": after the alert at that same ms
    resets: list[tuple[Any, ...]] = field(default_factory=list)
    persist_ms: int = 60_000
    poll_ms: int = 1000
    ticks_continue: bool = True    # the board's ticks run on through a reset (emulated clock)
    titles: dict[str, str] = field(default_factory=dict)  # source -> originator title (hex)
    frame_t_ms: list[int] = field(default_factory=list)  # when each frame was sent (event time)


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    series: dict[str, Any]
    divergence: dict[str, Any]


def evaluate(run: BoardRun) -> Evaluation:
    cfg = load_config(run.config or None)
    events = run.events
    decisions = run.decisions
    dev_fwd = [("S" not in d) for d in decisions]
    groups = _groups(events, run.per_source)
    comparable = bool(decisions) and all(len(d) == 1 for d in decisions)
    setup = Setup(dsp_cfg=cfg, dev_cfg=cfg, perturbations=Perturbations(
        resets=tuple(("*", *r) for r in run.resets), reset_mode="snapshot",
        snapshot_interval_ms=run.persist_ms, booted_ms=0,
        reset_ticks="continue" if run.ticks_continue else "restart", slots=run.slots,
        poll_interval_ms=run.poll_ms, tick_start=run.tick_start))
    reported = _reported_by_board(run, groups)

    dsp_fwd = [True] * len(events)
    model_dec: list[int] = [0] * len(events)  # SUPPRESS, FORWARD or FORWARD | STARTED
    model_cls: list[str | None] = [None] * len(events)
    model_causes: list[list[str]] = [[] for _ in events]
    model_codes: dict[tuple[str, int], dict[str, Any]] = {}
    for dev, idx in groups.items():
        alerts = [Alert(k, dev, events[i][0], events[i][1], None, 0) for k, i in enumerate(idx)]
        res, fates = compare_device(alerts, setup, fates=True, max_examples=len(alerts) + 1024)
        for i, f in zip(idx, fates, strict=True):
            dsp_fwd[i] = f["dsp"] == "forwarded"
            model_dec[i] = (FORWARD | (STARTED if f["device_started"] else 0)
                            if f["device"] == "forwarded" else SUPPRESS)
            model_cls[i] = f["divergence"]
            model_causes[i] = f["causes"]
        for e in res.examples:
            if e["class"] == COUNT_MISMATCH:
                model_codes[(dev, int(e["alert_code"], 16))] = e
    # per alert: the board decided as the model (STARTED included)
    matches = [comparable and _LETTER[d] == m for d, m in zip(decisions, model_dec, strict=True)]
    mismatch = matches.count(False) if comparable else None

    # -- divergences, per alert ---------------------------------------------------------------
    never = set(cfg.never_throttle)
    classes = dict.fromkeys(CLASSES, 0)
    causes: dict[str, dict[str, int]] = {}
    examples: list[dict[str, Any]] = []
    for i, ((t, code, src), d, x) in enumerate(zip(events, dev_fwd, dsp_fwd, strict=True)):
        if d == x:
            continue
        cls = EXTRA_WAN if d else (CRITICAL_LOST if code in never else LOST_AT_DEVICE)
        if matches[i] and model_cls[i] == cls and model_causes[i]:
            why = model_causes[i]
        else:
            why = [UNKNOWN if comparable else NOT_COMPARABLE]
        classes[cls] += 1
        c = causes.setdefault(cls, {})
        c[why[0]] = c.get(why[0], 0) + 1
        if len(examples) < MAX_EXAMPLES:
            examples.append({"t_ms": t, "alert_code": f"0x{code:04X}", "source": src,
                             "class": cls, "device": "forwarded" if d else "suppressed",
                             "dsp": "forwarded" if x else "discarded", "causes": why})

    # -- suppressed counts, per code ----------------------------------------------------------
    discarded: dict[tuple[str, int], int] = {}
    dev_of = {i: dev for dev, idx in groups.items() for i in idx}
    for i, ((_, code, _), fwd) in enumerate(zip(events, dsp_fwd, strict=True)):
        if not fwd:
            k = (dev_of[i], code)
            discarded[k] = discarded.get(k, 0) + 1
    code_rows = []
    for dev, code in sorted(set(discarded) | set(reported)):
        r, n = reported.get((dev, code), 0), discarded.get((dev, code), 0)
        if r == n:
            continue
        m = model_codes.get((dev, code))
        if comparable and m is not None and m["device_reported"] == r \
                and m["dsp_discarded"] == n and m["causes"]:
            why = m["causes"]
        else:
            why = [UNKNOWN if comparable else NOT_COMPARABLE]
        classes[COUNT_MISMATCH] += 1
        c = causes.setdefault(COUNT_MISMATCH, {})
        c[why[0]] = c.get(why[0], 0) + 1
        code_rows.append({"device": dev, "alert_code": f"0x{code:04X}", "device_reported": r,
                          "dsp_discarded": n, "causes": why,
                          "overflow_slot": code == OVERFLOW_CODE})

    per_alert = classes[CRITICAL_LOST] + classes[LOST_AT_DEVICE] + classes[EXTRA_WAN]
    unknown = sum(d.get(UNKNOWN, 0) for d in causes.values())
    divergence = {"classes": classes, "causes": causes, "count_mismatches": code_rows,
                  "examples": examples, "resets": [list(r) for r in run.resets]}
    metrics = _wan_metrics(run, cfg, dev_fwd, dsp_fwd, never)
    metrics.update({
        "divergences": per_alert,
        "count_mismatches": classes[COUNT_MISMATCH],
        "divergences_unknown": unknown if comparable else None,
        "model_mismatch": mismatch,
    })
    return Evaluation(metrics, _series(events, dev_fwd, dsp_fwd, run.frame_t_ms), divergence)


def _groups(events: list[Event], per_source: bool) -> dict[str, list[int]]:
    """Alert indexes per device as the DSP (and the board's limiters) count them."""
    by_dev: dict[str, list[int]] = {}
    for i, (_, _, src) in enumerate(events):
        by_dev.setdefault(src if per_source else "hub", []).append(i)
    return by_dev


def _reported_by_board(run: BoardRun, groups: dict[str, list[int]]) -> dict[tuple[str, int], int]:
    """Per (device, code), the suppressed count in the board's ONGOING/CLOSED summaries."""
    devices = list(groups)
    by_title = {t.upper(): s for s, t in run.titles.items()}
    out: dict[tuple[str, int], int] = {}
    for f in run.frames:
        if not f.is_summary or f.summary_kind not in (1, 2) or f.suppressed_code is None:
            continue
        dev = devices[0] if len(devices) == 1 else by_title.get(
            (f.originator_title or "").upper(), "?")
        k = (dev, int(f.suppressed_code, 16))
        out[k] = out.get(k, 0) + int(f.suppressed_count or 0)
    return out


def _wan_metrics(run: BoardRun, cfg: PolicyConfig, dev_fwd: list[bool], dsp_fwd: list[bool],
                 never: set[int]) -> dict[str, Any]:
    events, frames = run.events, run.frames
    critical = never | set(run.critical)
    offered = len(events)
    suppressed = offered - sum(dev_fwd)
    critical_lost = sum(1 for (_, code, _), ok in zip(events, dev_fwd, strict=True)
                        if not ok and code in critical)
    alert_frames = [f for f in frames if not f.is_summary]
    summaries = [f for f in frames if f.is_summary]
    reported = sum(int(f.suppressed_count or 0) for f in summaries)
    # critical codes: every one offered must be a frame north
    sent_by_code: dict[int, int] = {}
    for f in alert_frames:
        if f.alert_code:
            c = int(f.alert_code, 16)
            sent_by_code[c] = sent_by_code.get(c, 0) + 1
    offered_critical: dict[int, int] = {}
    for _, code, _ in events:
        if code in critical:
            offered_critical[code] = offered_critical.get(code, 0) + 1
    missing = sum(max(0, n - sent_by_code.get(c, 0)) for c, n in offered_critical.items())
    wan = len(frames) + run.frame_errors  # every FRAME line crossed the WAN, decodable or not
    # An unexpected reset (not soft) restores the last snapshot: alerts suppressed since that
    # write were never reported and never will be. The board writes at most persist_ms apart
    # (checked every poll_ms), so only alerts suppressed that close before such a reset can be
    # lost that way; anything else unreported, and any over-reporting, is a defect.
    risk = run.persist_ms + run.poll_ms
    at_risk = sum(1 for (t, _, _), ok in zip(events, dev_fwd, strict=True) if not ok and any(
        r[1] != "soft" and r[0] - risk < t <= r[0] for r in run.resets))
    under, over = max(0, suppressed - reported), max(0, reported - suppressed)
    return {
        "offered": offered,
        "device_forwarded": offered - suppressed,
        "device_suppressed": suppressed,
        "dsp_forwarded": sum(dsp_fwd),
        "dsp_suppressed": offered - sum(dsp_fwd),
        "alert_frames": len(alert_frames),
        "summary_frames": len(summaries),
        "wan_frames": wan,
        "wan_frames_saved": offered - wan,
        "wan_reduction_pct": round(100.0 * (1 - wan / offered), 2) if offered else 0.0,
        "critical_lost": max(critical_lost, missing),
        "healthy_suppressed": suppressed,
        "summary_reported": reported,
        "unaccounted_suppressed": under + over,
        "suppressed_at_reset_risk": at_risk,
        "unaccounted_beyond_reset_loss": over + max(0, under - at_risk),
        "frame_errors": run.frame_errors,
        "forwarded_frames_missing": max(0, (offered - suppressed) - len(alert_frames)),
    }


def _series(events: list[Event], dev_fwd: list[bool], dsp_fwd: list[bool],
            frame_t_ms: list[int]) -> dict[str, Any]:
    """The report's plots: per code, forwarded/suppressed per time bucket, device and DSP; and
    WAN frames per bucket without the device filter (every alert) and with it (every frame the
    board sent, summaries included, up to the last one after the storm)."""
    end = events[-1][0] if events else 0
    bucket = max(1000, -(-(end + 1) // BUCKET_MS_TARGET))
    nb = end // bucket + 1
    codes: dict[str, dict[str, list[int]]] = {}
    for (t, code, _), dev_ok, dsp_ok in zip(events, dev_fwd, dsp_fwd, strict=True):
        s = codes.setdefault(f"0x{code:04X}", {k: [0] * nb for k in (
            "device_forwarded", "device_suppressed", "dsp_forwarded", "dsp_suppressed")})
        b = t // bucket
        s["device_forwarded" if dev_ok else "device_suppressed"][b] += 1
        s["dsp_forwarded" if dsp_ok else "dsp_suppressed"][b] += 1
    nw = max([end, *frame_t_ms]) // bucket + 1
    without, with_device = [0] * nw, [0] * nw
    for t, _, _ in events:
        without[t // bucket] += 1
    for t in frame_t_ms:
        with_device[t // bucket] += 1
    return {"bucket_ms": bucket, "codes": codes,
            "wan": {"without_device": without, "with_device": with_device}}


__all__ = ["BoardRun", "Evaluation", "evaluate"]
