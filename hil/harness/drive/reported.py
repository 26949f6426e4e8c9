"""What the board reported during a scenario, read back from the protocol client's lines
for the comparison: the frames it sent north (decoded) and the resets it went through."""

from __future__ import annotations

import bisect
from typing import Any

from firmware_model.board import RESET_KINDS
from firmware_model.ticks import TICKS_PERIOD
from hil.board.client import ProtocolClient
from hil.frames import FrameError, decode_fast
from hil.harness.scenarios import Event


def board_resets(client: ProtocolClient, tick_start: int, events: list[Event],
                 alert_acks: list[float]) -> list[tuple[int, str, str]]:
    """(t_ms, kind, order) of every reset the board reported (EVENT BOOT cause=soft|hard|
    watchdog|brownout t=<ticks>) in this scenario: the ones the scenario asked for and any
    behind the harness's back, which the model must know about to replay the board. order:
    "after" when the board restarted after the alert acknowledged at that same ms, else
    "before" (lines arrive in the order the board wrote them; alert_acks: host receipt time of
    each ALERT's answer)."""
    out = []
    for ln in client.boot_events:
        kv = ln.kv()
        if kv.get("cause") in RESET_KINDS and kv.get("t", "").isdigit():
            t = (int(kv["t"]) - tick_start) % TICKS_PERIOD
            k = bisect.bisect_right(alert_acks, ln.t)  # alerts answered before this boot
            after = k > 0 and events[k - 1][0] == t
            out.append((t, kv["cause"], "after" if after else "before"))
    return sorted(out)


def board_frames(client: ProtocolClient) -> tuple[list[Any], list[int], int, list[str]]:
    """(decoded frames, the board's ticks when each was sent, undecodable count, errors)."""
    out, ticks, bad, errs = [], [], 0, []
    for ln in sorted((x for x in client.lines if x.verb == "FRAME"),
                     key=lambda x: (x.boot, x.seq)):
        try:
            out.append(decode_fast(bytes.fromhex(ln.args[1])))
            ticks.append(int(ln.args[0]))
        except (FrameError, ValueError, IndexError) as e:
            bad += 1
            errs.append(str(e))
    return out, ticks, bad, errs
