"""The wire protocol (docs/wire-protocol.md) from the host's side, over any BoardAdapter.

Line encode/decode is firmware_model.wire: one home for the format, shared with the device.
What this adds is the host's discipline:

- one command in flight; read until the ACK/NAK that carries its seq;
- silence, or a `NAK -` with no answer after it (the device could not parse a line: ours, or
  the noise around it) -> send the SAME seq again; the device executes a seq once and answers
  `ACK <seq> dup first=<s>`, so a retry never repeats an alert; we then RESEND from s to get
  what the first execution emitted. A `NAK -` is a suspicion, not a failed try: the budget is
  time and silent tries (see _exchange), so noise cannot use it up;
- a RESET is confirmed by its ACK or by the `EVENT BOOT` that follows it, never sent twice
  on a suspicion (the device forgets its last seq when it restarts);
- device lines are numbered: a gap, or a line that fails its CRC/format check, is repaired by
  `RESEND <first missing>`; resent lines are identical (same seq), so we de-duplicate by
  (boot, seq) and nothing the device emitted is lost while it is still in the device's ring;
- `@0 EVENT BOOT` starts a new boot epoch (seq numbering restarts; the ring is lost);
- counters: CRC/format errors, noise bytes, retries, resends, lines lost for good (E_GONE).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from firmware_model import wire
from hil.board.adapters.base import BoardAdapter
from hil.board.errors import ProtocolError


@dataclass
class DeviceLine:
    boot: int  # boot epoch as seen by this client (0 before the first EVENT BOOT)
    seq: int
    verb: str
    args: list[str]
    t: float  # host monotonic time of receipt

    def kv(self) -> dict[str, str]:
        return dict(a.split("=", 1) for a in self.args if "=" in a)


@dataclass
class Reply:
    ok: bool
    seq: int
    args: list[str]
    lines: list[DeviceLine] = field(default_factory=list)  # output of this command, in order
    code: str | None = None  # NAK error code

    def kv(self) -> dict[str, str]:
        return dict(a.split("=", 1) for a in self.args if "=" in a)


@dataclass
class LinkCounters:
    commands: int = 0
    retries: int = 0  # command lines sent again (after silence or a `NAK -`)
    timeouts: int = 0  # tries that met silence for a whole step timeout
    crc_errors: int = 0  # device lines that failed CRC/format here
    noise_bytes: int = 0
    nak_stream: int = 0  # `NAK -`: the device could not parse a line (ours, or noise)
    resends: int = 0
    lost_lines: int = 0  # device lines gone from its ring before we could RESEND them
    boots: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class ProtocolClient:
    def __init__(self, adapter: BoardAdapter, *, step_timeout: float = 5.0, retries: int = 3,
                 quiet: float = 0.1, nak_wait: float = 0.3) -> None:
        self.adapter = adapter
        self.step_timeout = step_timeout
        self.retries = retries
        self.quiet = quiet  # silence after a damaged line before we ask for a RESEND
        # after a `NAK -`, how long the answer to our line is waited for before it is sent
        # again: the board answers a line of ours it could read within a round trip
        self.nak_wait = nak_wait
        self.counters = LinkCounters()
        self.hello_info: dict[str, str] = {}
        self._hseq = 0
        self._boot = 0
        self._expect: int | None = None  # next device seq we expect in this boot
        self._missing: set[int] = set()
        self._damaged = False
        self._seen: set[tuple[int, int]] = set()
        self._acks: dict[int, DeviceLine] = {}
        self._inflight: set[int] = set()  # host seqs whose answer is awaited
        self._collect: list[DeviceLine] = []
        self.lines: list[DeviceLine] = []  # every device line accepted, in receipt order
        self.boot_events: list[DeviceLine] = []

    # -- reading ---------------------------------------------------------------------------
    def _ingest(self, raw: bytes) -> None:
        if not raw.strip():
            return
        try:
            seq, verb, args, noise = wire.decode(raw, wire.DEVICE_MARK)
        except wire.WireError as e:
            if e.code == wire.E_NOISE:
                # our own line echoed by a REPL console is not noise
                if wire.HOST_MARK not in raw:
                    self.counters.noise_bytes += len(raw)
                return
            self.counters.crc_errors += 1
            self._damaged = True
            return
        self.counters.noise_bytes += noise
        now = time.monotonic()
        if verb == "EVENT" and args[:1] == ["BOOT"] and seq == 0:
            last = self.boot_events[-1] if self.boot_events else None
            if last is not None and last.boot == self._boot and last.args == args:
                return  # the resend of the boot line we already have
            if (self._boot, 0) in self._seen or self._expect not in (None, 0):
                self._boot += 1  # a new boot: seq numbering restarted
            self.counters.boots += 1
            self._missing.clear()
            self._damaged = False
            self._expect = 0
        key = (self._boot, seq)
        if key in self._seen:
            return  # a resent duplicate
        if self._expect is None:
            self._expect = seq
        d = wire.seq_diff(seq, self._expect)
        if d > 0:
            for s in range(self._expect, seq):
                self._missing.add(s % wire.SEQ_MOD)
            self._expect = (seq + 1) % wire.SEQ_MOD
        elif d == 0:
            self._expect = (seq + 1) % wire.SEQ_MOD
        else:
            self._missing.discard(seq)
        self._seen.add(key)
        line = DeviceLine(self._boot, seq, verb, args, now)
        self.lines.append(line)
        if verb == "EVENT" and args[:1] == ["BOOT"]:
            self.boot_events.append(line)
        if verb in ("ACK", "NAK") and args:
            if args[0] == "-":
                self.counters.nak_stream += 1
            elif args[0].isdigit():
                h = int(args[0])
                if h not in self._inflight:
                    return  # the dup answering a try too many of a command already answered
                if "dup" not in args or h not in self._acks:  # the original answer wins
                    self._acks[h] = line
        self._collect.append(line)

    # -- commands --------------------------------------------------------------------------
    def command(self, verb: str, args: str = "", timeout: float | None = None) -> Reply:
        """Send one command and return its reply with every line it produced. Raises
        ProtocolError when no ACK/NAK arrives (reason `timeout` after `retries` + 1 silent
        tries of `timeout` s each; `link noise` when the board kept answering damaged lines
        instead, past the same time), PortGone if the port goes."""
        self._hseq = (self._hseq + 1) % wire.SEQ_MOD
        hseq = self._hseq
        line = wire.encode(wire.HOST_MARK, hseq, verb, args or None)
        timeout = self.step_timeout if timeout is None else timeout
        self.counters.commands += 1
        start_collect = len(self._collect)
        self._inflight.add(hseq)
        try:
            if not self._exchange(verb, hseq, line, timeout):
                # a RESET confirmed by the boot that follows it: its ACK was lost on the way
                self.adapter.console.log("#", f"RESET {args}: confirmed by EVENT BOOT "
                                              "(its ACK was lost)")
                out = self._collect[start_collect:]
                del self._collect[start_collect:]
                return Reply(True, hseq, [], out)
            ack = self._acks.pop(hseq)
            if ack.verb == "ACK" and verb != "RESEND":
                first = ack.kv().get("first")
                if "dup" in ack.args and first is not None and first.isdigit():
                    # our first try was executed and its answer lost: fetch what it emitted;
                    # the original ACK (with the decisions) is among the resent lines
                    self._resend(int(first))
                    original = self._acks.pop(hseq, None)
                    if original is None or "dup" in original.args:
                        raise ProtocolError(f"{self.adapter.name}: {verb} was executed but its "
                                            "answer is gone from the device's ring",
                                            "lines lost")
                    ack = original
            if verb != "RESEND" and (self._missing or self._damaged):
                self._repair()
        finally:
            self._inflight.discard(hseq)
            self._acks.pop(hseq, None)
        out = sorted((x for x in self._collect[start_collect:] if x is not ack),
                     key=lambda x: (x.boot, x.seq))
        del self._collect[start_collect:]
        code = ack.args[1] if ack.verb == "NAK" and len(ack.args) > 1 else None
        return Reply(ack.verb == "ACK", hseq, ack.args[1:], out, code)

    def _exchange(self, verb: str, hseq: int, line: bytes, timeout: float) -> bool:
        """Write `line` until the answer with seq `hseq` is in (True), or, for a RESET, the
        boot line that follows it (False). The budget is time and silent tries, never the
        `NAK -` lines noise makes the board send (docs/wire-protocol.md 2):

        - silence for `timeout` after a write is a real timeout: the same seq goes again, and
          after `retries` + 1 of them the command fails with reason `timeout`;
        - a `NAK -` may answer our line or the noise around it, so it is only a suspicion: the
          answer is waited for `nak_wait` s more, then the same seq goes again (the device
          executes a seq once, so a try too many costs a `dup`, never a repeated alert); a
          board that keeps answering only noise fails with reason `link noise` once
          `timeout` x (`retries` + 1) has passed;
        - a RESET is never sent again on a suspicion: the device forgets the seq it executed
          when it restarts, so a second RESET would reset it twice."""
        budget_end = time.monotonic() + timeout * (self.retries + 1)
        naks = self.counters.nak_stream
        silent = 0
        tries = 0
        while True:
            if tries:
                self.counters.retries += 1
            tries += 1
            self.adapter.write(line)
            outcome = self._await(verb, hseq, time.monotonic() + timeout)
            if outcome == "answer":
                return True
            if outcome == "boot":
                return False
            if outcome == "silence":
                self.counters.timeouts += 1
                silent += 1
                if silent > self.retries:
                    raise ProtocolError(f"{self.adapter.name}: no answer to {verb} in "
                                        f"{silent} tries of {timeout:g} s each", "timeout")
            elif time.monotonic() >= budget_end:
                raise ProtocolError(
                    f"{self.adapter.name}: {verb} unanswered after {tries} tries in "
                    f"{timeout * (self.retries + 1):g} s while the board answered "
                    f"{self.counters.nak_stream - naks} lines it could not read (NAK -): "
                    "line noise",
                    "link noise")

    def _await(self, verb: str, hseq: int, until: float) -> str:
        """Read until the answer to `hseq` ("answer"), a boot after a RESET ("boot"), `until`
        with nothing but silence ("silence"), or `nak_wait` after a `NAK -` with no answer
        ("nak")."""
        naks, boots = self.counters.nak_stream, self.counters.boots
        nak_until: float | None = None
        while hseq not in self._acks:
            if verb == "RESET" and self.counters.boots != boots:
                return "boot"
            if nak_until is None and self.counters.nak_stream != naks:
                nak_until = until if verb == "RESET" else \
                    min(until, time.monotonic() + self.nak_wait)
            limit = until if nak_until is None else nak_until
            left = limit - time.monotonic()
            if left <= 0:
                return "silence" if nak_until is None else "nak"
            raw = self.adapter.read_line(min(left, self.quiet) if self._damaged else left)
            if raw is not None:
                self._ingest(raw)
            elif self._damaged and verb != "RESEND":
                self._repair()  # our ACK may have been the damaged line
        return "answer"

    def _repair(self) -> None:
        if self._missing:
            first = min(self._missing, key=lambda s: wire.seq_diff(s, self._expect or 0))
        elif self._expect is not None:
            first = self._expect
        else:
            self._damaged = False
            return
        self._damaged = False
        self._resend(first)

    def _resend(self, first: int) -> None:
        self.counters.resends += 1
        saved = self._collect
        self._collect = []
        try:
            r = self.command("RESEND", str(first))
        finally:
            got, self._collect = self._collect, saved
        self._collect.extend(got)
        if not r.ok and r.code == wire.E_GONE:
            oldest = dict(a.split("=", 1) for a in r.args if "=" in a).get("oldest", "")
            if oldest.isdigit():
                lost = {s for s in self._missing if wire.seq_diff(s, int(oldest)) < 0}
                self.counters.lost_lines += len(lost)
                self._missing -= lost
        self._missing = {s for s in self._missing if (self._boot, s) not in self._seen}

    def drain(self, wait: float = 0.2) -> list[DeviceLine]:
        """Read unsolicited lines (e.g. EVENT BOOT after a reset) for up to `wait` s."""
        start = len(self._collect)
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            raw = self.adapter.read_line(left)
            if raw is None:
                break
            self._ingest(raw)
        out = self._collect[start:]
        del self._collect[start:]
        return out

    def hello(self) -> dict[str, str]:
        """HELLO, checked: the board must speak protocol version wire.PROTOCOL_VERSION."""
        try:
            r = self.command("HELLO")
        except ProtocolError as e:
            raise ProtocolError(f"{self.adapter.name}: no hello ({e})", "no hello") from None
        for ln in r.lines:
            if ln.verb == "HELLO":
                info = ln.kv()
                if info.get("proto") != str(wire.PROTOCOL_VERSION):
                    raise ProtocolError(
                        f"{self.adapter.name}: protocol version {info.get('proto')!r}, "
                        f"host speaks {wire.PROTOCOL_VERSION}", "protocol version")
                self.hello_info = info
                return info
        raise ProtocolError(f"{self.adapter.name}: HELLO acknowledged without a HELLO line",
                            "no hello")

    def resync(self) -> None:
        """After a reconnect: forget partial state of the link (the device may have rebooted)."""
        self._damaged = False
        self._missing.clear()
        self._expect = None
        self._acks.clear()
        self._boot += 1  # lines from here on may be a new boot whose EVENT BOOT we missed
