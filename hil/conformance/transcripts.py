"""A wire transcript (vectors/wire/*.json; format in docs/wire-protocol.md, "Conformance
transcripts") played against a board, byte for byte: host lines in, the device lines expected
back, in order, nothing more and nothing less.

Played on the raw link (the adapter), not through hil.board.client: the client's job is to hide
what a transcript checks (retries, duplicates, resends). Before the steps a HELLO with host seq
`h` says what the placeholders stand for on this board (ring, max, boot, the next device seq);
the transcript's host seqs are written relative to it (`{h+1}`), so it runs on a board that has
seen other seqs before.

Placeholders, between braces:

    host lines            {crc} the line's CRC ({badcrc}: a wrong one); {pad:EXPR} 'A's so
                          the line is EXPR bytes long
    device lines          {seq} the next device seq (lines are consecutive); {crc} a correct
                          CRC; {int} {word} {hex} {fw} any value of that form ({int:name},
                          {word:name}, {hex:name}, {seq:name} also remember it); {...} any
                          further words
    both                  an expression of integers and names joined by + and -, e.g. {h+2},
                          {next-ring}, {first}: h, ring, max, boot (from the HELLO), next (the
                          device's next seq when the step starts), i (a repeat's count), or a
                          name remembered by an earlier line
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from firmware_model import wire
from hil.board.adapters.base import BoardAdapter
from hil.board.errors import ProtocolError
from hil.conformance.outcome import Mismatch, NotApplicable

MOD = wire.SEQ_MOD  # seqs and ticks wrap at 2**30; every expression is taken modulo it
BUILTINS = ("h", "ring", "max", "boot", "next")
STEP_KEYS = {"send", "expect", "na_if", "repeat", "note"}
KINDS = {
    "int": r"\d+",
    "word": r"[^ *]+",
    "hex": r"[0-9A-F]+",
    "fw": r"sha256:[0-9a-f]{16}|crc16:[0-9A-F]{4}",
}
_NAME = r"[a-z_][a-z0-9_]*"
_EXPR = re.compile(rf"^(?:{_NAME}|\d+)(?:[+-](?:{_NAME}|\d+))*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ERROR_CODES = (wire.E_NOISE, wire.E_FORMAT, wire.E_CRC, wire.E_TOOLONG, wire.E_VERB, wire.E_ARG,
               wire.E_AUTH, wire.E_CONFIG, wire.E_UNSUPPORTED, wire.E_GONE, wire.E_INTERNAL)


def _names(expr: str) -> list[str]:
    return re.findall(_NAME, expr)


def evaluate(expr: str, env: dict[str, Any]) -> Any:
    """An expression's value: a lone name may stand for a remembered word (a str); anything
    with + or - is integer arithmetic modulo 2**30."""
    if re.fullmatch(_NAME, expr):
        return env[expr]
    total = 0
    for sign, term in re.findall(rf"([+-]?)({_NAME}|\d+)", expr):
        val = int(term) if term.isdigit() else env[term]
        if not isinstance(val, int):
            raise Mismatch(f"{{{expr}}}: {term} is the word {val!r}, not a number")
        total += -val if sign == "-" else val
    return total % MOD


# -- patterns ---------------------------------------------------------------------------------

@dataclass
class Segment:
    text: str = ""  # literal text, or:
    kind: str = ""  # "seq", "crc", "pad", "...", "expr" or a KINDS key
    arg: str = ""  # the expression (expr, pad) or the name a value is remembered by


def parse_pattern(text: str, device: bool) -> list[Segment]:
    """ValueError naming the placeholder if the text is not a valid pattern."""
    segs: list[Segment] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        if m.start() > pos:
            segs.append(Segment(text=text[pos:m.start()]))
        pos = m.end()
        body = m.group(1)
        kind, _, arg = body.partition(":")
        if body == "crc" or (body == "badcrc" and not device):
            if not segs or not segs[-1].text.endswith("*"):
                raise ValueError(f"{{{body}}} must follow '*'")
            segs.append(Segment(kind="crc", arg="bad" if body == "badcrc" else ""))
        elif device and body == "...":
            segs.append(Segment(kind="..."))
        elif device and (kind in KINDS or kind == "seq") and (not arg or re.fullmatch(_NAME, arg)):
            segs.append(Segment(kind=kind, arg=arg))
        elif not device and kind == "pad" and _EXPR.match(arg):
            segs.append(Segment(kind="pad", arg=arg))
        elif _EXPR.match(body):
            segs.append(Segment(kind="expr", arg=body))
        else:
            raise ValueError(f"{{{body}}} is not a placeholder of "
                             f"{'device' if device else 'host'} lines")
    if pos < len(text):
        segs.append(Segment(text=text[pos:]))
    if "{" in "".join(s.text for s in segs) or "}" in "".join(s.text for s in segs):
        raise ValueError("unbalanced brace")
    return segs


def render_host(segs: list[Segment], env: dict[str, Any]) -> bytes:
    """A host line's bytes ("\\n" not included): placeholders filled, the CRC computed over the
    bytes from the last host mark before its '*'."""
    parts: list[str] = []
    pad_at = -1
    pad_len = 0
    crc_at = -1
    bad = 0
    for s in segs:
        if s.kind == "":
            parts.append(s.text)
        elif s.kind == "expr":
            parts.append(str(evaluate(s.arg, env)))
        elif s.kind == "pad":
            pad_at, pad_len = len(parts), int(evaluate(s.arg, env))
            parts.append("")
        else:  # crc
            crc_at = len(parts)
            bad = 1 if s.arg else 0  # {badcrc}: the right CRC with its lowest bit flipped
            parts.append("0000")
    if pad_at >= 0:
        parts[pad_at] = "A" * max(0, pad_len - sum(len(p) for p in parts))
    if crc_at >= 0:
        head = "".join(parts[:crc_at])[:-1]  # up to, not including, "*"
        body = head[head.rfind("!"):] if "!" in head else head
        parts[crc_at] = f"{wire.crc16(body.encode('latin-1')) ^ bad:04X}"
    return "".join(parts).encode("latin-1")


def show_pattern(segs: list[Segment], env: dict[str, Any], next_seq: int) -> str:
    """The pattern as text with what is known filled in (for messages)."""
    out = []
    for s in segs:
        if s.kind == "":
            out.append(s.text)
        elif s.kind == "seq":
            out.append(str(next_seq))
        elif s.kind == "expr":
            try:
                out.append(str(evaluate(s.arg, env)))
            except (KeyError, Mismatch):
                out.append("{" + s.arg + "}")
        elif s.kind == "...":
            out.append("{...}")
        else:
            out.append("{" + s.kind + (":" + s.arg if s.arg else "") + "}")
    return "".join(out)


def match_device(segs: list[Segment], line: str, env: dict[str, Any],
                 next_seq: int) -> dict[str, Any] | None:
    """The values the line's placeholders remember if the line matches, else None."""
    rx = []
    groups: list[tuple[str, str]] = []  # (group name, kind:name)
    crc_group = ""
    for n, s in enumerate(segs):
        g = f"g{n}"
        if s.kind == "":
            rx.append(re.escape(s.text))
        elif s.kind == "seq":
            rx.append(f"(?P<{g}>{next_seq})")
            groups.append((g, "int:" + s.arg))
        elif s.kind == "expr":
            rx.append(re.escape(str(evaluate(s.arg, env))))
        elif s.kind == "crc":
            rx.append(f"(?P<{g}>[0-9A-F]{{4}})")
            crc_group = g
        elif s.kind == "...":
            rx.append(r"(?: [^ *]+)*")
        else:
            rx.append(f"(?P<{g}>{KINDS[s.kind]})")
            groups.append((g, ("word:" if s.kind in ("word", "hex", "fw") else "int:") + s.arg))
    m = re.fullmatch("".join(rx), line)
    if m is None:
        return None
    if crc_group:
        star = m.start(crc_group) - 1
        if f"{wire.crc16(line[:star].encode('latin-1')):04X}" != m.group(crc_group):
            return None
    got: dict[str, Any] = {}
    for g, spec in groups:
        kind, _, name = spec.partition(":")
        if name:
            got[name] = int(m.group(g)) if kind == "int" else m.group(g)
    return got


# -- the file's shape -------------------------------------------------------------------------

@dataclass
class CompiledStep:
    send: list[Segment] | None
    expect: list[list[Segment] | tuple[str, str, str]]  # a pattern, or ("resent", FROM, TO)
    na_if: tuple[str, ...]
    repeat: str


def compile_steps(steps: list[Any]) -> list[CompiledStep]:
    """ValueError("steps[k].<field>: ...") for a step that is malformed."""
    known = set(BUILTINS)
    out = []
    for k, st in enumerate(steps):
        where = f"steps[{k}]"
        if not isinstance(st, dict):
            raise ValueError(f"{where}: not an object")
        for key in st:
            if key not in STEP_KEYS:
                raise ValueError(f"{where}.{key}: unknown key (known: "
                                 f"{', '.join(sorted(STEP_KEYS))})")
        if "send" not in st and "expect" not in st:
            raise ValueError(f"{where}: neither send nor expect")
        scope = known | ({"i"} if "repeat" in st else set())
        repeat = st.get("repeat", "")
        if repeat and (not isinstance(repeat, str) or not _EXPR.match(repeat)):
            raise ValueError(f"{where}.repeat: not an expression")
        _check_names(f"{where}.repeat", repeat, known)
        send = None
        if "send" in st:
            if not isinstance(st["send"], str):
                raise ValueError(f"{where}.send: not a string")
            try:
                st["send"].encode("latin-1")
                send = parse_pattern(st["send"], device=False)
            except UnicodeEncodeError:
                raise ValueError(f"{where}.send: characters beyond \\u00ff (one byte each)") \
                    from None
            except ValueError as err:
                raise ValueError(f"{where}.send: {err}") from None
            for s in send:
                if s.kind in ("expr", "pad"):
                    _check_names(f"{where}.send", s.arg, scope)
        expect: list[list[Segment] | tuple[str, str, str]] = []
        raw = st.get("expect", [])
        if not isinstance(raw, list):
            raise ValueError(f"{where}.expect: not a list")
        for j, e in enumerate(raw):
            w = f"{where}.expect[{j}]"
            if isinstance(e, dict):
                r = e.get("resent")
                if set(e) != {"resent"} or not (isinstance(r, list) and len(r) == 2 and all(
                        isinstance(x, str) and _EXPR.match(x) for x in r)):
                    raise ValueError(f"{w}: an object must be {{\"resent\": [FROM, TO]}}")
                for x in r:
                    _check_names(w, x, scope)
                expect.append(("resent", r[0], r[1]))
                continue
            if not isinstance(e, str):
                raise ValueError(f"{w}: not a string")
            try:
                segs = parse_pattern(e, device=True)
            except ValueError as err:
                raise ValueError(f"{w}: {err}") from None
            if not e.startswith("@"):
                raise ValueError(f"{w}: a device line starts with '@'")
            for s in segs:
                if s.kind == "expr":
                    _check_names(w, s.arg, scope)
            for s in segs:
                if s.arg and s.kind not in ("expr", "pad"):
                    scope = scope | {s.arg}
                    known.add(s.arg)
            expect.append(segs)
        na_if = st.get("na_if", [])
        if not isinstance(na_if, list) or any(c not in ERROR_CODES for c in na_if):
            raise ValueError(f"{where}.na_if: not a list of error codes of "
                             "docs/wire-protocol.md")
        if not isinstance(st.get("note", ""), str):
            raise ValueError(f"{where}.note: not a string")
        out.append(CompiledStep(send, expect, tuple(na_if), repeat))
    return out


def _check_names(where: str, expr: str, scope: set[str]) -> None:
    for n in _names(expr):
        if n not in scope:
            raise ValueError(f"{where}: {{{expr}}} names {n!r}, which no earlier line "
                             "remembers (and is not one of " + ", ".join(BUILTINS) + ")")


def check_transcript(v: dict[str, Any]) -> None:
    """Raise ValueError("<field>: ...") if v is not a transcript a runner can play."""
    steps = v.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ValueError("steps: missing, empty or not a list")
    needs = v.get("needs", {})
    if not isinstance(needs, dict) or not all(isinstance(x, str) for x in needs.values()):
        raise ValueError("needs: not an object of HELLO keys and values")
    compile_steps(steps)


# -- playing ----------------------------------------------------------------------------------

def _printable(b: bytes, limit: int = 120) -> str:
    s = "".join(chr(c) if 32 <= c < 127 else f"\\x{c:02x}" for c in b)
    return s if len(s) <= limit else s[: limit - 3] + "..."


class TranscriptPlayer:
    """One transcript on one open adapter. `h` is a host seq the board has not just executed
    (the HELLO before the steps uses it; the steps' {h+k} follow it)."""

    def __init__(self, adapter: BoardAdapter, h: int, *, line_timeout: float = 10.0,
                 quiet: float = 0.25) -> None:
        self.adapter = adapter
        self.env: dict[str, Any] = {"h": h % MOD}
        self.line_timeout = line_timeout
        self.quiet = quiet
        self.hello: dict[str, str] = {}
        self.next_seq = 0
        self.held: dict[int, bytes] = {}  # device lines of this boot by seq (for RESEND checks)
        self.last_hseq = h % MOD  # the last host seq sent: the session starts above it

    def _read(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            raw = self.adapter.read_line(left)
            if raw is None:
                return None
            if not raw.strip():
                continue  # an empty line is a keep-alive, in both directions
            if wire.DEVICE_MARK not in raw and wire.HOST_MARK in raw:
                continue  # our own line echoed by a console
            return raw

    def _hold(self, raw: bytes) -> None:
        try:
            seq, verb, args, noise = wire.decode(raw, wire.DEVICE_MARK)
        except wire.WireError:
            return
        if noise == 0:
            if seq == 0:
                self.held.clear()  # a new boot: the numbering restarted
            self.held[seq] = raw
            self.next_seq = (seq + 1) % MOD

    def start(self) -> dict[str, str]:
        """HELLO with seq h; returns its fields. ProtocolError if the board does not answer."""
        h = self.env["h"]
        self.adapter.write(wire.encode(wire.HOST_MARK, h, "HELLO"))
        deadline = time.monotonic() + self.line_timeout
        while time.monotonic() < deadline:
            raw = self._read(deadline - time.monotonic())
            if raw is None:
                break
            self._hold(raw)
            try:
                _, verb, args, _ = wire.decode(raw, wire.DEVICE_MARK)
            except wire.WireError:
                continue
            if verb == "HELLO":
                self.hello = dict(a.split("=", 1) for a in args if "=" in a)
            elif verb == "ACK" and args[:1] == [str(h)]:
                for key in ("ring", "max", "boot"):
                    val = self.hello.get(key, "")
                    if not val.isdigit():
                        raise ProtocolError(f"{self.adapter.name}: HELLO without {key}=<n>",
                                            "no hello")
                    self.env[key] = int(val)
                return self.hello
        raise ProtocolError(f"{self.adapter.name}: no answer to HELLO", "no hello")

    def unmet_needs(self, needs: dict[str, str]) -> str | None:
        for key, want in needs.items():
            have = self.hello.get(key)
            if key == "caps":
                if want not in (have or "").split(","):
                    return f"needs caps {want} (HELLO caps={have or '(none)'})"
            elif have != want:
                return f"needs {key}={want} (HELLO {key}={have or '(none)'})"
        return None

    def play(self, steps: list[CompiledStep]) -> None:
        """Raises Mismatch at the first difference, NotApplicable when a step's answer is one
        of its na_if codes."""
        for k, st in enumerate(steps):
            count = int(evaluate(st.repeat, self.env)) if st.repeat else 1
            for i in range(count):
                if st.repeat:
                    self.env["i"] = i
                self._step(k, st, f"step {k}" + (f" (repeat {i})" if st.repeat else ""))
        raw = self._read(self.quiet)
        if raw is not None:
            raise Mismatch(f"after the last step: unexpected line {_printable(raw)!r}")

    def _step(self, k: int, st: CompiledStep, where: str) -> None:
        self.env["next"] = self.next_seq
        hseq: int | None = None
        sent = ""
        if st.send is not None:
            data = render_host(st.send, self.env)
            try:
                hseq = wire.decode(data, wire.HOST_MARK)[0]
                self.last_hseq = hseq
            except wire.WireError:
                pass  # a deliberately broken line
            sent = f" {_printable(data, 60)!r}"
            self.adapter.write(data + b"\n")
        todo: list[tuple[list[Segment] | None, bytes | None]] = []
        for e in st.expect:
            if isinstance(e, tuple):
                first, last = evaluate(e[1], self.env), evaluate(e[2], self.env)
                s = first
                while s != last:
                    if s not in self.held:
                        raise Mismatch(f"{where}{sent}: cannot check the resend of seq {s}: "
                                       "it was not received in this boot")
                    todo.append((None, self.held[s]))
                    s = (s + 1) % MOD
            else:
                todo.append((e, None))
        for segs, same in todo:
            raw = self._read(self.line_timeout)
            if segs is None:
                assert same is not None
                want = _printable(same)
            else:
                want = show_pattern(segs, self.env, self.next_seq)
            if raw is None:
                raise Mismatch(f"{where}{sent}: expected {want!r}, got nothing within "
                               f"{self.line_timeout:g} s")
            if segs is None:
                ok = raw == same  # a resent line: unchanged, byte for byte
            else:
                got = match_device(segs, raw.decode("latin-1"), self.env, self.next_seq)
                ok = got is not None
                if got is not None:
                    self.env.update(got)
                    self._hold(raw)
            if not ok:
                self._not_applicable(raw, hseq, st.na_if, where, sent)
                raise Mismatch(f"{where}{sent}: expected {want!r}, got {_printable(raw)!r}")

    @staticmethod
    def _not_applicable(raw: bytes, hseq: int | None, na_if: tuple[str, ...], where: str,
                        sent: str) -> None:
        if hseq is None or not na_if:
            return
        try:
            _, verb, args, _ = wire.decode(raw, wire.DEVICE_MARK)
        except wire.WireError:
            return
        if verb == "NAK" and len(args) > 1 and args[0] == str(hseq) and args[1] in na_if:
            raise NotApplicable(f"{where}{sent} answered {' '.join(args[1:])}")
