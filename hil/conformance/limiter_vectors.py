"""A limiter vector (vectors/limiter/*.json, docs/limiter.md) run over the wire, through the
board's limiter-under-test verbs (docs/wire-protocol.md, "Limiter under test").

Each event becomes one command (offer -> LOFFER, poll -> LPOLL, ...; a reset reads the snapshot
out with LSNAP, patches, re-checksums and truncates it here as the in-process runner does, and
writes it back with LPUT before LRESTORE), and each answer is compared with what the vector
expects of that event as it arrives: the first difference ends the vector, naming the event.

What the wire cannot say is not faked: a config value that is not an integer, a mode's name or
a list of codes (JSON typing checks of the Python Config.from_dict: booleans, floats, decimal
strings) is left out when the vector expects it refused, and makes the vector not applicable
when it expects it accepted."""

from __future__ import annotations

import json
from typing import Any

from firmware_model import wire
from hil.board.client import ProtocolClient, Reply
from hil.conformance.outcome import Mismatch, NotApplicable

TICKS_TOP = wire.SEQ_MOD - 1  # ticks on the wire are 0 .. 2**30 - 1, as seqs
DEFAULT_SLOTS = 16
SNAPSHOT_CHUNK = 256  # bytes per LPUT line (512 hex digits, well inside MAX_LINE)

# a vector's event kinds and the types of their arguments (docs/limiter.md)
EVENT_ARGS: dict[str, tuple[tuple[type, ...], ...]] = {
    "offer": ((int,), (int,)),
    "poll": ((int,),),
    "level": ((int,),),
    "pop": (),
    "clear": (),
    "configure": ((dict,),),
    "reset": ((int,), (int,), (list,), (bool,), (int, type(None))),
}
RESET_MIN_ARGS = 2  # ["reset", t_snap, t_boot]; patches, fix_crc and truncate_to are optional
DECISION_NAMES = {0: "0 (SUPPRESS)", 1: "1 (FORWARD)", 3: "3 (FORWARD|STARTED)"}
SNAPSHOT_ERROR = "SnapshotError"  # the in-process runner's name for a refused snapshot

Expected = tuple[str, Any]  # (what, value): ("decision", 3), ("error", "code"), ...


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# -- the file's shape -------------------------------------------------------------------------

def check_limiter_vector(v: dict[str, Any]) -> None:
    """Raise ValueError("<field>: ...") if v is not a limiter vector a runner can read."""
    expect = v.get("expect")
    if not isinstance(expect, dict):
        raise ValueError("expect: missing or not an object")
    if "events" not in v and "config_errors" not in v and "slot_errors" not in v:
        raise ValueError("events: missing (a limiter vector has events, config_errors or "
                         "slot_errors)")
    if "config" in v and not isinstance(v["config"], dict):
        raise ValueError("config: not an object")
    if "slots" in v and not _is_int(v["slots"]):
        raise ValueError("slots: not an integer")
    if "stats" in expect and not isinstance(expect["stats"], dict):
        raise ValueError("expect.stats: not an object")
    for key, item in (("config_errors", dict), ("slot_errors", int)):
        if key not in v:
            continue
        if not isinstance(v[key], list):
            raise ValueError(f"{key}: not a list")
        for i, x in enumerate(v[key]):
            if not isinstance(x, item) or isinstance(x, bool):
                raise ValueError(f"{key}[{i}]: not {'an object' if item is dict else 'an integer'}")
        want = expect.get(key)
        if not isinstance(want, list) or len(want) != len(v[key]):
            raise ValueError(f"expect.{key}: not a list of one result per entry of {key}")
        for i, x in enumerate(want):
            if x is not None and not isinstance(x, str):
                raise ValueError(f"expect.{key}[{i}]: {x!r} is neither null nor a key")
    events = v.get("events", [])
    if not isinstance(events, list):
        raise ValueError("events: not a list")
    for i, ev in enumerate(events):
        _check_event(i, ev)
    if events:
        expectations(v)  # the expect lists must fit the events


def _check_event(i: int, ev: Any) -> None:
    where = f"events[{i}]"
    if not isinstance(ev, list) or not ev or not isinstance(ev[0], str):
        raise ValueError(f"{where}: not a list starting with the event's kind")
    kinds = EVENT_ARGS.get(ev[0])
    if kinds is None:
        return  # a kind without a wire form (yet): the vector is reported not applicable
    args = ev[1:]
    least = RESET_MIN_ARGS if ev[0] == "reset" else len(kinds)
    if not least <= len(args) <= len(kinds):
        raise ValueError(f"{where}: {ev[0]} takes {len(kinds)} argument(s), has {len(args)}")
    for k, (a, types) in enumerate(zip(args, kinds, strict=False)):
        if not isinstance(a, types) or (isinstance(a, bool) and bool not in types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ValueError(f"{where}[{k + 1}]: {a!r} is not {names}")
    times = (1, 2) if ev[0] == "reset" else (1,) if ev[0] in ("offer", "poll", "level") else ()
    for k in times:
        if not 0 <= ev[k] <= TICKS_TOP:
            raise ValueError(f"{where}[{k}]: time {ev[k]} outside 0..2**30-1")
    if ev[0] == "reset" and len(ev) > 3:
        for k, p in enumerate(ev[3]):
            if not (isinstance(p, list) and len(p) == 2 and all(map(_is_int, p))
                    and 0 <= p[1] <= 255):
                raise ValueError(f"{where}[3][{k}]: not an [offset, byte] pair")


def expectations(v: dict[str, Any]) -> list[Expected | None]:
    """What the vector expects of each event (None: nothing it checks), from its expect lists.
    ValueError("expect.<list>: ...") if the lists do not fit the events."""
    events = v["events"]
    expect = v["expect"]
    errors: dict[int, str] = {}
    for i, e in enumerate(expect.get("errors", [])):
        if not (isinstance(e, list) and len(e) == 2 and _is_int(e[0]) and isinstance(e[1], str)
                and 0 <= e[0] < len(events)):
            raise ValueError(f"expect.errors[{i}]: not [event index, key]")
        errors[e[0]] = e[1]
    queues: dict[str, list[Any]] = {}
    for key in ("decisions", "polls", "levels"):
        if key in expect:
            vals = expect[key]
            if not isinstance(vals, list) or not all(map(_is_int, vals)):
                raise ValueError(f"expect.{key}: not a list of integers")
            queues[key] = list(vals)
    pops: dict[int, list[list[int]]] = {}
    for i, s in enumerate(expect.get("summaries", [])):
        if not (isinstance(s, list) and len(s) == 7 and all(map(_is_int, s))
                and 0 <= s[0] < len(events) and events[s[0]][0] == "pop"):
            raise ValueError(f"expect.summaries[{i}]: not [index of a pop event, kind, code, "
                             "count, total, first, last]")
        pops.setdefault(s[0], []).append(s[1:])
    out: list[Expected | None] = []
    for i, ev in enumerate(events):
        op = ev[0]
        if i in errors:
            if op not in ("offer", "configure", "reset"):
                raise ValueError(f"expect.errors: event {i} is a {op}, which cannot fail")
            out.append(("error", errors[i]))
            continue
        kind = {"offer": "decisions", "poll": "polls", "level": "levels"}.get(op)
        if kind is not None:
            if kind not in queues:
                out.append(None)
            elif not queues[kind]:
                raise ValueError(f"expect.{kind}: fewer values than {op} events that do not fail")
            else:
                out.append((kind, queues[kind].pop(0)))
        elif op == "pop":
            out.append(("summaries", pops.get(i, [])) if "summaries" in expect else None)
        else:
            out.append(("ok", None) if "errors" in expect else None)
    for key, left in queues.items():
        if left:
            raise ValueError(f"expect.{key}: {len(left)} more values than events")
    return out


# -- what the wire can say --------------------------------------------------------------------

def _word_ok(s: str) -> bool:
    return bool(s) and all(33 <= ord(c) <= 126 for c in s) and not any(c in s for c in "!@*=,")


def _int_value(v: Any) -> int | None:
    # an integer, or the "0x..." string Config.from_dict reads as one
    if _is_int(v):
        return int(v)
    if isinstance(v, str) and v[:2] in ("0x", "0X"):
        try:
            return int(v[2:], 16)
        except ValueError:
            return None
    return None


def config_words(d: dict[str, Any]) -> str | None:
    """The LNEW/LCONF form of a config dict (`key=value` words), or None if a value has no
    wire form."""
    words = []
    for k, v in d.items():
        if not _word_ok(k):
            return None
        if k == "never_throttle":
            if not isinstance(v, list):
                return None
            codes = [_int_value(c) for c in v]
            if any(c is None for c in codes):
                return None
            words.append(f"{k}=" + ",".join(str(c) for c in codes))
        elif k == "throttle_mode" and isinstance(v, str):
            if not _word_ok(v) or v.lstrip("-").isdigit():
                return None  # a decimal string would reach the board as an integer
            words.append(f"{k}={v}")
        else:
            n = _int_value(v)
            if n is None:
                return None
            words.append(f"{k}={n}")
    return " ".join(words)


# -- running ----------------------------------------------------------------------------------

def _nak(r: Reply) -> tuple[str, str]:
    return (r.code or "", " ".join(r.args[1:]))


def _command(client: ProtocolClient, verb: str, args: str = "") -> Reply:
    r = client.command(verb, args)
    if not r.ok:
        code, detail = _nak(r)
        if code == wire.E_UNSUPPORTED:
            raise NotApplicable(f"{verb} answered E_UNSUPPORTED {detail}".rstrip())
        if code == wire.E_INTERNAL and "MemoryError" in detail:
            raise NotApplicable(f"{verb}: the board ran out of memory ({detail})")
    return r


def _refused_key(r: Reply, codes: tuple[str, ...], what: str) -> str:
    code, detail = _nak(r)
    if code not in codes:
        raise Mismatch(f"{what}: the board answered NAK {code} {detail}".rstrip())
    return detail.split(" ")[0]


def _int_field(r: Reply, key: str, what: str) -> int:
    v = r.kv().get(key, "")
    if not v.isdigit():
        raise Mismatch(f"{what}: ACK without {key}=<n>: {' '.join(r.args)}")
    return int(v)


def _show(ev: list[Any]) -> str:
    text = json.dumps(ev)
    return text if len(text) <= 100 else text[:97] + "..."


def _describe(x: Expected | tuple[str, Any]) -> str:
    what, val = x
    if what == "error":
        return f"refused naming {val!r}"
    if what == "decisions":
        return "decision " + DECISION_NAMES.get(val, str(val))
    if what == "polls":
        return f"poll -> {val} pending"
    if what == "levels":
        return f"level {val}"
    if what == "summaries":
        return f"summaries {json.dumps(val)}"
    return "accepted"


class LimiterOverWire:
    """One vector against the board's limiter under test."""

    def __init__(self, client: ProtocolClient, v: dict[str, Any]) -> None:
        self.client = client
        self.v = v
        self.skipped = 0  # checks the wire cannot express (JSON typing of Config.from_dict)

    def run(self) -> str:
        """Raises Mismatch at the first difference, NotApplicable if the board cannot be asked;
        returns a note on what was left out (empty if nothing)."""
        for op in {ev[0] for ev in self.v.get("events", [])}:
            if op not in EVENT_ARGS:
                raise NotApplicable(f"event kind {op!r} has no wire form in this runner")
        if "config_errors" in self.v:
            self._config_errors()
        if "slot_errors" in self.v:
            self._slot_errors()
        if "events" in self.v:
            self._events()
        if self.skipped:
            return (f"{self.skipped} JSON typing check(s) of Config.from_dict left out "
                    "(no wire form)")
        return ""

    def _new(self, slots: int, words: str) -> Reply:
        return _command(self.client, "LNEW", f"{slots} {words}".rstrip())

    def _config_errors(self) -> None:
        ran = 0
        for i, (d, want) in enumerate(zip(self.v["config_errors"],
                                          self.v["expect"]["config_errors"], strict=True)):
            words = config_words(d)
            if words is None:
                self.skipped += 1
                continue
            ran += 1
            r = self._new(DEFAULT_SLOTS, words)
            got = None if r.ok else _refused_key(r, (wire.E_CONFIG, wire.E_ARG),
                                                 f"config_errors[{i}]")
            if got != want:
                raise Mismatch(f"config_errors[{i}] {json.dumps(d)}: expected "
                               f"{'accepted' if want is None else f'refused naming {want!r}'}"
                               f", got {'accepted' if got is None else f'refused naming {got!r}'}")
        if not ran and "slot_errors" not in self.v and "events" not in self.v:
            raise NotApplicable("every config_errors entry is a JSON typing check (no wire form)")

    def _slot_errors(self) -> None:
        for i, (n, want) in enumerate(zip(self.v["slot_errors"], self.v["expect"]["slot_errors"],
                                          strict=True)):
            r = self._new(n, "")
            got = None if r.ok else _refused_key(r, (wire.E_ARG,), f"slot_errors[{i}]")
            if got != want:
                raise Mismatch(f"slot_errors[{i}] ({n} slots): expected "
                               f"{'accepted' if want is None else f'refused naming {want!r}'}"
                               f", got {'accepted' if got is None else f'refused naming {got!r}'}")

    def _events(self) -> None:
        v = self.v
        slots = v.get("slots", DEFAULT_SLOTS)
        words = config_words(v.get("config", {}))
        if words is None:
            raise NotApplicable("the vector's config has a value with no wire form")
        r = self._new(slots, words)
        if not r.ok:
            code, detail = _nak(r)
            raise Mismatch(f"LNEW {slots} {words}: the board refused the vector's config: "
                           f"NAK {code} {detail}".rstrip())
        for i, (ev, want) in enumerate(zip(v["events"], expectations(v), strict=True)):
            got = self._event(i, ev, want)
            if got is not None and want is not None and got != want:
                raise Mismatch(f"event {i} {_show(ev)}: expected {_describe(want)}, got "
                               f"{_describe(got)}")
        if "stats" in v["expect"]:
            r = _command(self.client, "LSTATS")
            got_stats = r.kv()
            for k, w in v["expect"]["stats"].items():
                g = got_stats.get(k)
                if g != str(w):
                    raise Mismatch(f"after the last event: expected stats {k}={w}, got "
                                   f"{k}={g if g is not None else '(missing)'}")

    def _event(self, i: int, ev: list[Any], want: Expected | None) -> tuple[str, Any] | None:
        op = ev[0]
        what = f"event {i} {_show(ev)}"
        c = self.client
        if op == "offer":
            r = _command(c, "LOFFER", f"{ev[1]} {ev[2]}")
            if not r.ok:
                return ("error", _refused_key(r, (wire.E_ARG,), what))
            return ("decisions", _int_field(r, "d", what))
        if op == "poll":
            return ("polls", _int_field(_ok(_command(c, "LPOLL", str(ev[1])), what), "pending",
                                        what))
        if op == "level":
            return ("levels", _int_field(_ok(_command(c, "LLEVEL", str(ev[1])), what), "level",
                                         what))
        if op == "pop":
            r = _ok(_command(c, "LPOP"), what)
            sums = []
            for ln in r.lines:
                if ln.verb != "LSUM":
                    continue
                if len(ln.args) != 6 or not all(a.isdigit() for a in ln.args):
                    raise Mismatch(f"{what}: malformed LSUM line: {' '.join(ln.args)}")
                sums.append([int(a) for a in ln.args])
            return ("summaries", sums)
        if op == "clear":
            _ok(_command(c, "LCLEAR"), what)
            return ("ok", None)
        if op == "configure":
            words = config_words(ev[1])
            if words is None:
                if want is not None and want[0] == "error":
                    self.skipped += 1
                    return None
                raise NotApplicable(f"{what}: a config value with no wire form, expected "
                                    "accepted")
            r = _command(c, "LCONF", words)
            return ("ok", None) if r.ok else ("error", _refused_key(r, (wire.E_CONFIG,), what))
        return self._reset(ev, what)

    def _reset(self, ev: list[Any], what: str) -> tuple[str, Any]:
        # ["reset", t_snap, t_boot, patches, fix_crc, truncate_to], as vectors/limiter_runner.py
        c = self.client
        r = _ok(_command(c, "LSNAP", str(ev[1])), what)
        blob = bytearray()
        for ln in r.lines:
            if ln.verb != "LBLOB":
                continue
            if len(ln.args) != 2 or ln.args[0] != str(len(blob)):
                raise Mismatch(f"{what}: LBLOB lines out of order: {' '.join(ln.args)[:40]}")
            try:
                blob += bytes.fromhex(ln.args[1])
            except ValueError:
                raise Mismatch(f"{what}: LBLOB line with bad hex") from None
        if str(len(blob)) != r.kv().get("bytes"):
            raise Mismatch(f"{what}: LSNAP sent {len(blob)} bytes, its ACK says "
                           f"{r.kv().get('bytes')}")
        for off, val in ev[3] if len(ev) > 3 else []:
            if not -len(blob) <= off < len(blob):
                raise Mismatch(f"{what}: patch offset {off} outside the {len(blob)}-byte "
                               "snapshot")
            blob[off] = val
        if len(ev) > 4 and ev[4] and len(blob) >= 2:
            crc = wire.crc16(bytes(blob[:-2]))
            blob[-2:] = bytes((crc >> 8, crc & 0xFF))
        if len(ev) > 5 and ev[5] is not None:
            blob = blob[: ev[5]]
        for off in range(0, max(len(blob), 1), SNAPSHOT_CHUNK):
            part = blob[off:off + SNAPSHOT_CHUNK].hex().upper()
            _ok(_command(c, "LPUT", f"{off} {part}".rstrip()), what)
        r = _command(c, "LRESTORE", str(ev[2]))
        if r.ok:
            return ("ok", None)
        key = _refused_key(r, (wire.E_ARG,), what)
        if key != "snapshot":
            raise Mismatch(f"{what}: LRESTORE refused naming {key!r}, not the snapshot")
        st = _ok(_command(c, "LSTATS"), what).kv()
        if st.get("offered") != "0" or st.get("pending_summaries") != "0":
            raise Mismatch(f"{what}: the refused snapshot left state behind (offered="
                           f"{st.get('offered')}, pending_summaries={st.get('pending_summaries')})")
        return ("error", SNAPSHOT_ERROR)


def _ok(r: Reply, what: str) -> Reply:
    if not r.ok:
        code, detail = _nak(r)
        raise Mismatch(f"{what}: the board answered NAK {code} {detail}".rstrip())
    return r
