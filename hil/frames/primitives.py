"""GBCS alert frames: construct definitions that read like the byte tables of docs/frames.md.

Two decoders give the same `DecodedFrame` for every input:

* `decode(data)` parses with the construct definitions below (the reference; it also builds,
  so `encode(parse(b)) == b` byte for byte);
* `decode_fast(data)` is a hand-written decoder over `struct`, tested against `decode` on the
  RTDS samples, on generated frames and on fuzzed bytes (tests/test_codec_fuzz.py).

`alert_identity(data)` gives just (originator title, alert code) at storm rate by remembering
frame shapes `decode_fast` has accepted (docs/frames.md section 9).

Both raise only `FrameError`, whose message says what is wrong and at which byte offset of the
frame ("... at byte 37"). Nothing else escapes: no IndexError, struct.error or construct error.

Validation rules both decoders share (one list, docs/frames.md "What is rejected"):
DER lengths are 1..3 bytes and minimal; DLMS and BER nesting is at most MAX_NESTING deep; every
length must fit in its enclosing field and every field must be consumed exactly; the CRA flag is
1, 2 or 3; General-Signing signatures are 0 or 64 bytes; General-Ciphering header fields have
their GBCS sizes (transaction-id 0|9, titles 0|8, other-information 0|>=2); the security control
byte must have the authentication bit (0x10) and not the compression bit (0x80); a summary
(alert code 0x8FFE in a DLMS payload) must have exactly the layout of CONTRACTS.md section 2.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from construct import (  # type: ignore[import-untyped]
    Array,
    Construct,
    ConstructError,
    Container,
    ExplicitError,
    IfThenElse,
    LazyBound,
    ListContainer,
    Pass,
    Struct,
    Switch,
    this,
)

from hil.errors import HilError
from hil.frames.catalogue import MESSAGE_CODE_CRITICAL, SUMMARY_CODE, format_code, message_code_for

MAX_NESTING = 8  # DLMS structure/array and BER constructed nesting; real alerts use <= 3
MAC_LEN = 12
SIGNATURE_LEN = 64
CRA_ALERT = 3
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
SC_COMPRESSED = 0x80
SC_DEFAULT = 0x11  # suite 1, authentication only (every GBCS non-critical alert)
GBZ_PROFILE = 0x0109
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)

ENVELOPE_SIGNED = "signed"
ENVELOPE_CIPHERED = "ciphered"
SUMMARY_KINDS = {0: "started", 1: "ongoing", 2: "closed"}  # summary_kind values (for display)


class FrameError(HilError):
    """A frame is malformed. `offset` is the byte (from the start of the frame) where it was
    found to be wrong; `what` says what was wrong there."""

    exit_status = 3

    def __init__(self, what: str, offset: int) -> None:
        super().__init__(f"{what} at byte {offset}")
        self.what = what
        self.offset = offset


# --------------------------------------------------------------------------------------------
# Building blocks. Every primitive reads through `_take`, so a short read becomes a FrameError
# with the offset where the data ran out, never construct's StreamError. Errors raised while
# parsing are `_Malformed` (an ExplicitError, so GreedyRange & co. never swallow them).


class _Malformed(ExplicitError):
    def __init__(self, what: str, offset: int) -> None:
        super().__init__(f"{what} at byte {offset}")
        self.what = what
        self.offset = offset


class _Window(io.BytesIO):
    """A byte window of the frame that knows where it starts, so offsets stay absolute."""

    def __init__(self, data: bytes, base: int, root: _Window | None = None) -> None:
        super().__init__(data)
        self.base = base
        self.size = len(data)
        self.root = root if root is not None else self
        self.depth = 0


def _pos(stream: Any) -> int:
    return getattr(stream, "base", 0) + stream.tell()


def _left(stream: Any) -> int:
    size = getattr(stream, "size", None)
    if size is None:
        return len(stream.getbuffer()) - stream.tell()
    return int(size - stream.tell())


def _take(stream: Any, n: int, what: str) -> bytes:
    at = _pos(stream)
    data = stream.read(n)
    if len(data) != n:
        raise _Malformed(f"{what} needs {n} bytes, only {len(data)} left", at)
    return bytes(data)


def _fieldname(path: str) -> str:
    return path.rsplit("-> ", 1)[-1].strip() or "field"


class UInt(Construct):
    """Big-endian unsigned (or signed) integer of `size` bytes."""

    def __init__(self, size: int, signed: bool = False) -> None:
        super().__init__()
        self.size = size
        self.signed = signed

    def _parse(self, stream, context, path):
        return int.from_bytes(_take(stream, self.size, _fieldname(path)), "big",
                              signed=self.signed)

    def _build(self, obj, stream, context, path):
        stream.write(int(obj).to_bytes(self.size, "big", signed=self.signed))
        return obj

    def _sizeof(self, context, path):
        return self.size


class Raw(Construct):
    """Exactly `size` bytes (an int or a context function)."""

    def __init__(self, size: Any) -> None:
        super().__init__()
        self.size = size

    def _parse(self, stream, context, path):
        n = self.size(context) if callable(self.size) else self.size
        return _take(stream, n, _fieldname(path))

    def _build(self, obj, stream, context, path):
        n = self.size(context) if callable(self.size) else self.size
        data = bytes(obj)
        if len(data) != n:
            raise FrameError(f"{_fieldname(path)} must be {n} bytes, got {len(data)}", 0)
        stream.write(data)
        return data


class RawRest(Construct):
    """All bytes left in the enclosing length-delimited field."""

    def _parse(self, stream, context, path):
        return bytes(stream.read())

    def _build(self, obj, stream, context, path):
        stream.write(bytes(obj))
        return obj


class Tag(Construct):
    """A constant byte the specification fixes (tag or fixed length)."""

    def __init__(self, value: int, what: str) -> None:
        super().__init__()
        self.flagbuildnone = True
        self.value = value
        self.what = what

    def _parse(self, stream, context, path):
        at = _pos(stream)
        got = _take(stream, 1, self.what)[0]
        if got != self.value:
            raise _Malformed(f"{self.what}: expected 0x{self.value:02X}, found 0x{got:02X}", at)
        return None

    def _build(self, obj, stream, context, path):
        stream.write(bytes((self.value,)))
        return None

    def _sizeof(self, context, path):
        return 1


class PeekU8(Construct):
    """The next byte without consuming it (None at the end of the field)."""

    def _parse(self, stream, context, path):
        b = stream.read(1)
        if b:
            stream.seek(-1, io.SEEK_CUR)
            return b[0]
        return None

    def _build(self, obj, stream, context, path):
        return obj


class AbsOffset(Construct):
    """Offset of this point from the start of the frame (parse only; builds nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.flagbuildnone = True

    def _parse(self, stream, context, path):
        return _pos(stream)

    def _build(self, obj, stream, context, path):
        return obj


class Reject(Construct):
    """Fails with `what`, pointing `back` bytes before the current position."""

    def __init__(self, what: Any, back: int = 0) -> None:
        super().__init__()
        self.what = what
        self.back = back

    def _parse(self, stream, context, path):
        what = self.what(context) if callable(self.what) else self.what
        raise _Malformed(what, _pos(stream) - self.back)

    def _build(self, obj, stream, context, path):
        raise FrameError(self.what if isinstance(self.what, str) else "unbuildable value", 0)


class DerLengthConstruct(Construct):
    """DER length: 0..0x7F in one byte, else 0x81 nn or 0x82 nnnn, always minimal."""

    def _parse(self, stream, context, path):
        at = _pos(stream)
        first = _take(stream, 1, "length")[0]
        if first < 0x80:
            return first
        if first == 0x81:
            n = _take(stream, 1, "length")[0]
            if n < 0x80:
                raise _Malformed(f"non-minimal DER length 81 {n:02X}", at)
            return n
        if first == 0x82:
            n = int.from_bytes(_take(stream, 2, "length"), "big")
            if n < 0x100:
                raise _Malformed(f"non-minimal DER length 82 {n:04X}", at)
            return n
        raise _Malformed(f"unsupported DER length byte 0x{first:02X}", at)

    def _build(self, obj, stream, context, path):
        stream.write(der_length(int(obj)))
        return obj


DerLength = DerLengthConstruct()


class DerPrefixed(Construct):
    """DER length + exactly that many bytes holding `subcon`, which must use them all."""

    def __init__(self, subcon: Construct, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.what = what

    def _parse(self, stream, context, path):
        at = _pos(stream)
        n = DerLength._parse(stream, context, path)
        body_at = _pos(stream)
        if n > _left(stream):
            raise _Malformed(f"{self.what} length {n} exceeds the {_left(stream)} bytes left", at)
        root = getattr(stream, "root", None)
        window = _Window(stream.read(n), body_at, root)
        obj = self.subcon._parsereport(window, context, path)
        if window.tell() != n:
            raise _Malformed(f"{self.what}: {n - window.tell()} unexpected bytes after its "
                             f"content", _pos(window))
        return obj

    def _build(self, obj, stream, context, path):
        inner = io.BytesIO()
        self.subcon._build(obj, inner, context, path)
        data = inner.getvalue()
        stream.write(der_length(len(data)) + data)
        return obj


def DerBytes(what: str) -> DerPrefixed:
    return DerPrefixed(RawRest(), what)


class Sized(Construct):
    """`subcon` in a window of all bytes left in the field except the last `reserve`."""

    def __init__(self, subcon: Construct, reserve: int, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.reserve = reserve
        self.what = what

    def _parse(self, stream, context, path):
        at = _pos(stream)
        n = _left(stream) - self.reserve
        if n < 0:
            raise _Malformed(f"{self.what} has no room for its {self.reserve}-byte MAC", at)
        window = _Window(stream.read(n), at, getattr(stream, "root", None))
        obj = self.subcon._parsereport(window, context, path)
        if window.tell() != n:
            raise _Malformed(f"{self.what}: {n - window.tell()} unexpected bytes after its "
                             f"content", _pos(window))
        return obj

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


class Nested(Construct):
    """Counts nesting depth so hostile input cannot recurse the parser to death."""

    def __init__(self, subcon: Construct, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.what = what

    def _parse(self, stream, context, path):
        root = getattr(stream, "root", None)
        if root is None:
            return self.subcon._parsereport(stream, context, path)
        if root.depth >= MAX_NESTING:
            raise _Malformed(f"{self.what} nested deeper than {MAX_NESTING}", _pos(stream))
        root.depth += 1
        try:
            return self.subcon._parsereport(stream, context, path)
        finally:
            root.depth -= 1

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


class UntilEnd(Construct):
    """Items of `subcon` until the enclosing field is used up (errors propagate)."""

    def __init__(self, subcon: Construct) -> None:
        super().__init__()
        self.subcon = subcon

    def _parse(self, stream, context, path):
        items = ListContainer()
        while _left(stream) > 0:
            items.append(self.subcon._parsereport(stream, context, path))
        return items

    def _build(self, obj, stream, context, path):
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj


class Checked(Construct):
    """`subcon`, then `ok(value)` must hold; else `what(value)` at the field's offset."""

    def __init__(self, subcon: Construct, ok: Any, what: Any) -> None:
        super().__init__()
        self.subcon = subcon
        self.ok = ok
        self.what = what

    def _parse(self, stream, context, path):
        at = _pos(stream)
        value = self.subcon._parsereport(stream, context, path)
        if not self.ok(value):
            raise _Malformed(self.what(value), at)
        return value

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise FrameError(f"length {n} does not fit a 3-byte DER length", 0)


U8, U16, U32, U64 = UInt(1), UInt(2), UInt(4), UInt(8)

# --------------------------------------------------------------------------------------------
# Payloads.

# DLMS data (IEC 62056-6-2 A-XDR): type byte, then a value whose shape the type fixes.
DLMS_FIXED_SIZES = {0x03: 1, 0x05: 4, 0x06: 4, 0x0D: 1, 0x0F: 1, 0x10: 2, 0x11: 1, 0x12: 2,
                    0x14: 8, 0x15: 8, 0x16: 1, 0x17: 4, 0x18: 8, 0x19: 12, 0x1A: 5, 0x1B: 4}
DLMS_SIGNED = {0x05, 0x0F, 0x10, 0x14}
DLMS_BYTE_VALUES = {0x17, 0x18, 0x19, 0x1A, 0x1B}  # kept as bytes, not numbers
DLMS_STRINGS = {0x09, 0x0A, 0x0C}  # octet-string, visible-string, utf8-string: length + bytes
DLMS_NAMES = {0x00: "null-data", 0x01: "array", 0x02: "structure", 0x03: "boolean",
              0x04: "bit-string", 0x05: "double-long", 0x06: "double-long-unsigned",
              0x09: "octet-string", 0x0A: "visible-string", 0x0C: "utf8-string", 0x0D: "bcd",
              0x0F: "integer", 0x10: "long", 0x11: "unsigned", 0x12: "long-unsigned",
              0x14: "long64", 0x15: "long64-unsigned", 0x16: "enum", 0x17: "float32",
              0x18: "float64", 0x19: "date-time", 0x1A: "date", 0x1B: "time"}


def _dlms_value_cases() -> dict[int, Construct]:
    cases: dict[int, Construct] = {0x00: Pass}
    seq = Struct("count" / DerLength,
                 "items" / Array(this.count, LazyBound(lambda: DlmsData)))
    cases[0x01] = Nested(seq, "DLMS array")
    cases[0x02] = Nested(seq, "DLMS structure")
    cases[0x04] = Struct("bits" / DerLength, "data" / Raw(lambda c: (c.bits + 7) // 8))
    for t, size in DLMS_FIXED_SIZES.items():
        cases[t] = Raw(size) if t in DLMS_BYTE_VALUES else UInt(size, signed=t in DLMS_SIGNED)
    for t in DLMS_STRINGS:
        cases[t] = DerBytes(DLMS_NAMES[t])
    return cases


DlmsData = Struct(
    "offset" / AbsOffset(),
    "type" / UInt(1),
    "value" / Switch(this.type, _dlms_value_cases(),
                     default=Reject(lambda c: f"unsupported DLMS data type 0x{c.type:02X}",
                                    back=1)),
)


class NotificationTime(Construct):
    """DataNotification date-time: 00 = absent, or 09 0C <12-byte DLMS date-time>."""

    def _parse(self, stream, context, path):
        at = _pos(stream)
        first = _take(stream, 1, "notification date-time")[0]
        if first == 0x00:
            return None
        if first != 0x09:
            raise _Malformed(f"notification date-time: expected 00 or 09, found 0x{first:02X}",
                             at)
        n = _take(stream, 1, "notification date-time length")[0]
        if n != 12:
            raise _Malformed(f"notification date-time length {n}, expected 12", at + 1)
        return _take(stream, 12, "notification date-time")

    def _build(self, obj, stream, context, path):
        stream.write(b"\x00" if obj is None else b"\x09\x0c" + bytes(obj))
        return obj


DataNotification = Struct(
    Tag(0x0F, "DataNotification tag"),
    "invoke_id" / UInt(4),                # long-invoke-id-and-priority
    "date_time" / NotificationTime(),
    "body" / DlmsData,                    # 02 nn 12 <alert code> 09 0C <date-time> ...
)

Gbz = Struct(
    Tag(0x01, "GBZ profile id (high byte)"),
    Tag(0x09, "GBZ profile id (low byte)"),
    "components" / UInt(1),
    "alert_code" / UInt(2),
    "time" / UInt(4),                     # seconds since 2000-01-01T00:00:00Z
    "rest" / RawRest(),                   # GBZ components, kept opaque
)


def _ber_tag_ok(tag: int) -> bool:
    return tag & 0x1F != 0x1F


BerTlv: Construct = Struct(
    "offset" / AbsOffset(),
    "tag" / Checked(UInt(1), _ber_tag_ok,
                    lambda t: f"multi-byte BER tag 0x{t:02X} not supported"),
    "value" / IfThenElse(lambda c: c.tag & 0x20,
                         Nested(DerPrefixed(UntilEnd(LazyBound(lambda: BerTlv)),
                                            "BER constructed value"), "BER value"),
                         DerBytes("BER value")),
)

Payload = Struct(
    "start" / AbsOffset(),
    "kind" / PeekU8(),                    # 0F DLMS, 01 GBZ, 30 ASN.1; anything else is opaque
    "body" / Switch(this.kind, {0x0F: DataNotification, 0x01: Gbz, 0x30: BerTlv},
                    default=RawRest()),
    "end" / AbsOffset(),
)

# --------------------------------------------------------------------------------------------
# Envelopes.

GeneralSigning = Struct(
    Tag(0xDF, "General-Signing tag"),
    Tag(0x09, "transaction-id length"),
    "cra_flag" / Checked(UInt(1), lambda v: 1 <= v <= 3,
                         lambda v: f"CRA flag 0x{v:02X} is not 01/02/03"),
    "originator_counter" / UInt(8),
    Tag(0x08, "originator-system-title length"),
    "originator_title" / Raw(8),
    Tag(0x08, "recipient-system-title length"),
    "recipient_title" / Raw(8),
    "date_time" / DerBytes("date-time"),
    "other_information" / DerPrefixed(Struct("message_code" / UInt(2),
                                             "extra" / RawRest()), "other-information"),
    "content" / DerPrefixed(Payload, "content"),
    "signature" / Checked(DerBytes("signature"), lambda s: len(s) in (0, SIGNATURE_LEN),
                          lambda s: f"signature of {len(s)} bytes, expected 0 or 64"),
)


def _sized(allowed: tuple[int, ...], what: str) -> Checked:
    return Checked(DerBytes(what),
                   lambda v: len(v) in allowed or (allowed == (0, 2) and len(v) >= 2),
                   lambda v: f"{what} of {len(v)} bytes, expected "
                             + ("0 or >= 2" if allowed == (0, 2) else
                                " or ".join(map(str, allowed))))


def _sc_ok(sc: int) -> bool:
    return bool(sc & SC_AUTHENTICATED) and not sc & SC_COMPRESSED


SecurityHeader = Struct(
    "security_control" / Checked(UInt(1), _sc_ok,
                                 lambda v: f"security control 0x{v:02X} needs the "
                                           f"authentication bit and no compression"),
    "invocation_counter" / UInt(4),
)

GeneralCiphering = Struct(
    Tag(0xDD, "General-Ciphering tag"),
    "transaction_id" / _sized((0, 9), "transaction-id"),
    "originator_title" / _sized((0, 8), "originator-system-title"),
    "recipient_title" / _sized((0, 8), "recipient-system-title"),
    "date_time" / DerBytes("date-time"),
    "other_information" / _sized((0, 2), "other-information"),
    "key_info" / DerBytes("key-info"),
    "ciphered" / DerPrefixed(Struct(
        "header" / SecurityHeader,
        "content" / Sized(IfThenElse(lambda c: c.header.security_control & SC_ENCRYPTED,
                                     RawRest(), GeneralSigning), MAC_LEN, "ciphered content"),
        "mac" / Raw(MAC_LEN),
    ), "ciphered content"),
)

Frame = Struct(
    "envelope" / PeekU8(),
    "body" / Switch(this.envelope, {0xDF: GeneralSigning, 0xDD: GeneralCiphering},
                    default=Reject(lambda c: "unknown envelope tag "
                                   + ("(empty frame)" if c.envelope is None
                                      else f"0x{c.envelope:02X}"))),
)


def parse(data: bytes) -> Container:
    """Parse one frame into construct Containers (the whole input must be one frame)."""
    data = bytes(data)
    stream = _Window(data, 0)
    try:
        obj = Frame.parse_stream(stream)
    except _Malformed as exc:
        raise FrameError(exc.what, exc.offset) from None
    except RecursionError:  # unreachable with MAX_NESTING; kept so nothing untyped escapes
        raise FrameError("frame nested too deeply", 0) from None
    except (ConstructError, ValueError, TypeError, AttributeError, KeyError,
            IndexError) as exc:  # defensive: a construct internal must not escape
        raise FrameError(f"undecodable frame ({type(exc).__name__})", _pos(stream)) from None
    if stream.tell() != len(data):
        raise FrameError(f"{len(data) - stream.tell()} trailing bytes after the frame",
                         stream.tell())
    return obj


def encode(obj: Container | dict) -> bytes:
    """Build a frame from the Containers `parse` returns (or dicts of the same shape)."""
    try:
        return Frame.build(obj)
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"cannot build frame: {exc}", 0) from None


# --------------------------------------------------------------------------------------------
# Times.

_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return 29
    return _DAYS[month - 1]


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


YEAR_MIN, YEAR_MAX = 1970, 9998  # any deviation keeps the instant inside datetime's range


def _days_since_2000(year: int, month: int, day: int) -> int:
    return (datetime(year, month, day) - datetime(2000, 1, 1)).days


def dlms_datetime_seconds(raw: bytes) -> int | None:
    """Seconds since 2000-01-01T00:00:00Z named by a 12-byte DLMS date-time, or None.

    None unless year (1970..9998), month, day, hour, minute and second are all specified and
    in range (the DST/last-day specials 0xFD/0xFE name no single instant). Weekday,
    hundredths and clock status are ignored. Deviation 0x8000 (not specified) reads as UTC,
    as GBCS requires UTC; otherwise it must be -720..720 and, per the DLMS Blue Book
    ("minutes from local time to UTC"), UTC = local + deviation.
    """
    year, month, day, _wd, hour, minute, second, _hs, deviation, _st = struct.unpack(
        ">HBBBBBBBhB", raw)
    if not (YEAR_MIN <= year <= YEAR_MAX and 1 <= month <= 12 and 1 <= day
            and day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if deviation == -0x8000:
        deviation = 0
    elif not -720 <= deviation <= 720:
        return None
    return (_days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            + deviation * 60)


def seconds_to_iso(secs: int | None) -> str | None:
    if secs is None:
        return None
    try:
        return _iso(EPOCH_2000 + timedelta(seconds=secs))
    except OverflowError:
        return None


def iso_to_seconds(value: str | int | datetime) -> int:
    """Seconds since 2000 from an ISO-8601 UTC string, a datetime or an int (passed through)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int((value - EPOCH_2000).total_seconds())


def dlms_datetime(secs: int) -> bytes:
    """12-byte DLMS date-time for a UTC instant, in the RTDS form: weekday FF, hundredths 00,
    deviation 8000 (not specified), status FF."""
    dt = EPOCH_2000 + timedelta(seconds=secs)
    return struct.pack(">HBBBBBBBHB", dt.year, dt.month, dt.day, 0xFF, dt.hour, dt.minute,
                       dt.second, 0, 0x8000, 0xFF)


def generalized_time_seconds(raw: bytes) -> int | None:
    """Seconds since 2000 from an ASN.1 GeneralizedTime "YYYYMMDDHHMMSS[.f...]Z" (year
    1970..9998, fraction dropped), else None: local times without Z, offsets and reduced forms
    are not one known UTC instant here."""
    n = len(raw)
    if n < 15 or raw[n - 1] != 0x5A:  # "Z"
        return None
    for k in range(14):
        if not 0x30 <= raw[k] <= 0x39:
            return None
    if n > 15:
        if raw[14] not in (0x2E, 0x2C) or n == 16:  # "." or ","
            return None
        for k in range(15, n - 1):
            if not 0x30 <= raw[k] <= 0x39:
                return None
    d = [c - 0x30 for c in raw[:14]]
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day = d[4] * 10 + d[5], d[6] * 10 + d[7]
    hour, minute, second = d[8] * 10 + d[9], d[10] * 10 + d[11], d[12] * 10 + d[13]
    if not (YEAR_MIN <= year <= YEAR_MAX and 1 <= month <= 12 and 1 <= day
            and day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59):
        return None
    return _days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def generalized_time_iso(raw: bytes) -> str | None:
    return seconds_to_iso(generalized_time_seconds(raw))


# --------------------------------------------------------------------------------------------
# The decoded view.


@dataclass
class DecodedFrame:
    envelope: str                      # "signed" | "ciphered"
    encrypted: bool
    cra_flag: int | None
    originator_counter: int | None
    originator_title: str | None       # upper-case hex
    recipient_title: str | None
    message_code: str | None           # "0x1001"
    alert_code: str | None             # "0x8F30"; None when encrypted or not an alert
    alert_time: str | None             # "2015-01-01T00:00:00Z"
    encoding: str | None               # "dlms" | "gbz" | "asn1" | None
    signature_present: bool
    security_control: int | None       # General-Ciphering only
    invocation_counter: int | None
    date_time: str | None              # envelope date-time field, hex, None when empty
    other_information_extra: str | None  # other-information bytes after the message code
    payload_length: int
    is_summary: bool = False
    summary_kind: int | None = None    # 0 started, 1 ongoing, 2 closed
    suppressed_code: str | None = None
    suppressed_count: int | None = None
    episode_total: int | None = None
    first_time: str | None = None
    last_time: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _hex(b: bytes) -> str | None:
    return b.hex().upper() if b else None


def _dlms_alert(body: Container, fr: dict[str, Any]) -> None:
    """Alert code and time from a DataNotification body: structure { long-unsigned code,
    octet-string(12) date-time, ... }. Any other shape is not an alert (code None)."""
    if body.type != 0x02 or not body.value["items"]:
        return
    items = body.value["items"]
    if items[0].type != 0x12:
        return
    code = items[0].value
    fr["alert_code"] = format_code(code)
    if len(items) > 1 and items[1].type == 0x09 and len(items[1].value) == 12:
        fr["alert_time"] = seconds_to_iso(dlms_datetime_seconds(items[1].value))
    if code == SUMMARY_CODE:
        _summary(items, fr, body.offset)


SUMMARY_LAYOUT = ((0x12, None, "alert code"), (0x09, 12, "summary date-time"),
                  (0x12, None, "suppressed alert code"), (0x06, None, "suppressed count"),
                  (0x06, None, "episode total"), (0x09, 12, "first suppressed date-time"),
                  (0x09, 12, "last suppressed date-time"), (0x11, None, "summary kind"))


def _summary(items: list, fr: dict[str, Any], offset: int) -> None:
    if len(items) != len(SUMMARY_LAYOUT):
        raise FrameError(f"summary structure has {len(items)} elements, expected 8", offset)
    for item, (t, size, what) in zip(items, SUMMARY_LAYOUT, strict=True):
        if item.type != t or (size is not None and len(item.value) != size):
            raise FrameError(f"summary {what}: wrong DLMS type/size", item.offset)
    if items[7].value > 2:
        raise FrameError(f"summary kind {items[7].value} is not 0/1/2", items[7].offset + 1)
    fr.update(is_summary=True, summary_kind=items[7].value,
              suppressed_code=format_code(items[2].value), suppressed_count=items[3].value,
              episode_total=items[4].value,
              first_time=seconds_to_iso(dlms_datetime_seconds(items[5].value)),
              last_time=seconds_to_iso(dlms_datetime_seconds(items[6].value)))


def _asn1_alert(tlv: Container, fr: dict[str, Any]) -> None:
    """SEQUENCE { INTEGER alert code, ..., GeneralizedTime, ... }: the first INTEGER (if it
    is the first element and a 16-bit non-negative value) is the code, the first
    GeneralizedTime the time."""
    if tlv.tag != 0x30 or not tlv.value:
        return
    first = tlv.value[0]
    if first.tag == 0x02 and 1 <= len(first.value) <= 3 and not first.value[0] & 0x80:
        code = int.from_bytes(first.value, "big")
        if code <= 0xFFFF:
            fr["alert_code"] = format_code(code)
    for child in tlv.value:
        if child.tag == 0x18:
            fr["alert_time"] = generalized_time_iso(child.value)
            break


def _signed_fields(gs: Container, fr: dict[str, Any]) -> None:
    fr.update(cra_flag=gs.cra_flag, originator_counter=gs.originator_counter,
              originator_title=gs.originator_title.hex().upper(),
              recipient_title=gs.recipient_title.hex().upper(),
              message_code=format_code(gs.other_information.message_code),
              other_information_extra=_hex(gs.other_information.extra),
              date_time=_hex(gs.date_time), signature_present=bool(gs.signature))
    payload = gs.content
    kind = payload.kind
    alert = gs.cra_flag == CRA_ALERT  # commands/responses carry no alert code
    if kind == 0x0F:
        fr["encoding"] = "dlms"
        if alert:
            _dlms_alert(payload.body.body, fr)
    elif kind == 0x01:
        fr["encoding"] = "gbz"
        if alert:
            fr["alert_code"] = format_code(payload.body.alert_code)
            fr["alert_time"] = seconds_to_iso(payload.body.time)
    elif kind == 0x30:
        fr["encoding"] = "asn1"
        if alert:
            _asn1_alert(payload.body, fr)


def _blank(envelope: str) -> dict[str, Any]:
    return dict(envelope=envelope, encrypted=False, cra_flag=None, originator_counter=None,
                originator_title=None, recipient_title=None, message_code=None,
                alert_code=None, alert_time=None, encoding=None, signature_present=False,
                security_control=None, invocation_counter=None, date_time=None,
                other_information_extra=None, payload_length=0)


def _check_header(fr: dict[str, Any], header: dict[str, Any], offset: int) -> None:
    """A General-Ciphering header field that is present must agree with the signed block."""
    for key, value in header.items():
        if value is not None and fr[key] is not None and fr[key] != value:
            raise FrameError(f"General-Ciphering {key} {value} differs from the signed "
                             f"content's {fr[key]}", offset)


def _header_fields(dd: Container | dict) -> dict[str, Any]:
    tid = dd["transaction_id"]
    oi = dd["other_information"]
    return {
        "cra_flag": tid[0] if tid else None,
        "originator_counter": int.from_bytes(tid[1:], "big") if tid else None,
        "originator_title": _hex(dd["originator_title"]),
        "recipient_title": _hex(dd["recipient_title"]),
        "message_code": format_code(int.from_bytes(oi[:2], "big")) if oi else None,
        "other_information_extra": _hex(oi[2:]) if oi else None,
        "date_time": _hex(dd["date_time"]),
    }


def interpret(obj: Container) -> DecodedFrame:
    """The decoded view of a parsed frame (raises FrameError on semantic errors)."""
    body = obj.body
    if obj.envelope == 0xDF:
        fr = _blank(ENVELOPE_SIGNED)
        _signed_fields(body, fr)
        fr["payload_length"] = _payload_length(body)
        return DecodedFrame(**fr)
    fr = _blank(ENVELOPE_CIPHERED)
    header = _header_fields(body)
    ciphered = body.ciphered
    sc = ciphered.header.security_control
    fr.update(security_control=sc, invocation_counter=ciphered.header.invocation_counter)
    if sc & SC_ENCRYPTED:
        fr.update({k: v for k, v in header.items()})
        fr.update(encrypted=True, payload_length=len(ciphered.content))
        if header["cra_flag"] is not None and not 1 <= header["cra_flag"] <= 3:
            raise FrameError(f"CRA flag 0x{header['cra_flag']:02X} is not 01/02/03", 2)
        return DecodedFrame(**fr)
    _signed_fields(ciphered.content, fr)
    fr["payload_length"] = _payload_length(ciphered.content)
    _check_header(fr, header, 1)
    return DecodedFrame(**fr)


def _payload_length(gs: Container) -> int:
    return int(gs.content.end - gs.content.start)


def decode(data: bytes) -> DecodedFrame:
    """Decode one frame with the construct definitions (reference decoder)."""
    return interpret(parse(data))


# --------------------------------------------------------------------------------------------
# Fast path: the same decoder by hand over bytes and struct. Same rules, same results (tested
# against `decode`); about an order of magnitude faster (benchmarks/bench_codec.py).

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_U64 = struct.Struct(">Q").unpack_from


class _Reader:
    __slots__ = ("b", "depth", "pending")

    def __init__(self, b: bytes) -> None:
        self.b = b
        self.depth = 0
        self.pending: Any = None  # parsed payload, interpreted once the frame is well-formed

    def need(self, i: int, n: int, end: int, what: str) -> None:
        if i + n > end:
            raise FrameError(f"{what} needs {n} bytes, only {max(end - i, 0)} left", i)

    def length(self, i: int, end: int) -> tuple[int, int]:
        """(length, index after it) of the DER length at i."""
        b = self.b
        if i >= end:
            raise FrameError("length needs 1 bytes, only 0 left", i)
        first = b[i]
        if first < 0x80:
            return first, i + 1
        if first == 0x81:
            self.need(i + 1, 1, end, "length")
            n = b[i + 1]
            if n < 0x80:
                raise FrameError(f"non-minimal DER length 81 {n:02X}", i)
            return n, i + 2
        if first == 0x82:
            self.need(i + 1, 2, end, "length")
            n = _U16(b, i + 1)[0]
            if n < 0x100:
                raise FrameError(f"non-minimal DER length 82 {n:04X}", i)
            return n, i + 3
        raise FrameError(f"unsupported DER length byte 0x{first:02X}", i)

    def field(self, i: int, end: int, what: str) -> tuple[int, int]:
        """(start, end) of the DER-prefixed field at i."""
        n, j = self.length(i, end)
        if j + n > end:
            raise FrameError(f"{what} length {n} exceeds the {end - j} bytes left", i)
        return j, j + n

    def tag(self, i: int, end: int, value: int, what: str) -> None:
        if i >= end:
            raise FrameError(f"{what} needs 1 bytes, only 0 left", i)
        if self.b[i] != value:
            raise FrameError(f"{what}: expected 0x{value:02X}, found 0x{self.b[i]:02X}", i)

    def dlms(self, i: int, end: int) -> tuple[Any, int]:
        """One DLMS data element at i -> ((offset, type, value), next index)."""
        b = self.b
        if i >= end:
            raise FrameError("type needs 1 bytes, only 0 left", i)
        t = b[i]
        j = i + 1
        if t == 0x01 or t == 0x02:
            if self.depth >= MAX_NESTING:
                raise FrameError(f"DLMS {'array' if t == 1 else 'structure'} nested deeper "
                                 f"than {MAX_NESTING}", j)
            count, j = self.length(j, end)
            self.depth += 1
            items = []
            for _ in range(count):
                item, j = self.dlms(j, end)
                items.append(item)
            self.depth -= 1
            return (i, t, items), j
        size = DLMS_FIXED_SIZES.get(t)
        if size is not None:
            self.need(j, size, end, "value")
            raw = b[j:j + size]
            if t in DLMS_BYTE_VALUES:
                return (i, t, raw), j + size
            return (i, t, int.from_bytes(raw, "big", signed=t in DLMS_SIGNED)), j + size
        if t in DLMS_STRINGS:
            s, e = self.field(j, end, DLMS_NAMES[t])
            return (i, t, b[s:e]), e
        if t == 0x00:
            return (i, t, None), j
        if t == 0x04:
            bits, j = self.length(j, end)
            n = (bits + 7) // 8
            self.need(j, n, end, "data")
            return (i, t, b[j:j + n]), j + n
        raise FrameError(f"unsupported DLMS data type 0x{t:02X}", i)

    def ber(self, i: int, end: int) -> tuple[Any, int]:
        """One BER TLV at i -> ((offset, tag, value or children), next index)."""
        b = self.b
        if i >= end:
            raise FrameError("tag needs 1 bytes, only 0 left", i)
        tag = b[i]
        if tag & 0x1F == 0x1F:
            raise FrameError(f"multi-byte BER tag 0x{tag:02X} not supported", i)
        if tag & 0x20:
            if self.depth >= MAX_NESTING:
                raise FrameError(f"BER value nested deeper than {MAX_NESTING}", i + 1)
            s, e = self.field(i + 1, end, "BER constructed value")
            self.depth += 1
            children = []
            while s < e:
                child, s = self.ber(s, e)
                children.append(child)
            self.depth -= 1
            return (i, tag, children), e
        s, e = self.field(i + 1, end, "BER value")
        return (i, tag, b[s:e]), e

    def signed(self, i: int, end: int, fr: dict[str, Any], top: bool = False) -> int:
        """The General-Signing block at i (must end exactly at `end`); fills fr."""
        b = self.b
        self.tag(i, end, 0xDF, "General-Signing tag")
        self.tag(i + 1, end, 0x09, "transaction-id length")
        self.need(i + 2, 1, end, "cra_flag")
        cra = b[i + 2]
        if not 1 <= cra <= 3:
            raise FrameError(f"CRA flag 0x{cra:02X} is not 01/02/03", i + 2)
        self.need(i + 3, 8, end, "originator_counter")
        self.tag(i + 11, end, 0x08, "originator-system-title length")
        self.need(i + 12, 8, end, "originator_title")
        self.tag(i + 20, end, 0x08, "recipient-system-title length")
        self.need(i + 21, 8, end, "recipient_title")
        ds, de = self.field(i + 29, end, "date-time")
        os_, oe = self.field(de, end, "other-information")
        if oe - os_ < 2:
            raise FrameError(f"message_code needs 2 bytes, only {oe - os_} left", os_)
        cs, ce = self.field(oe, end, "content")
        self.payload(cs, ce, fr)
        ss, se = self.field(ce, end, "signature")
        if se - ss not in (0, SIGNATURE_LEN):
            raise FrameError(f"signature of {se - ss} bytes, expected 0 or 64", ce)
        fr.update(cra_flag=cra, originator_counter=_U64(b, i + 3)[0],
                  originator_title=b[i + 12:i + 20].hex().upper(),
                  recipient_title=b[i + 21:i + 29].hex().upper(),
                  message_code=f"0x{_U16(b, os_)[0]:04X}",
                  other_information_extra=_hex(b[os_ + 2:oe]), date_time=_hex(b[ds:de]),
                  signature_present=se > ss, payload_length=ce - cs)
        if se != end:
            raise FrameError(f"{end - se} trailing bytes after the frame" if top else
                             f"ciphered content: {end - se} unexpected bytes after its content",
                             se)
        return se

    def payload(self, i: int, end: int, fr: dict[str, Any]) -> None:
        b = self.b
        if i >= end:
            return
        kind = b[i]
        if kind == 0x0F:
            fr["encoding"] = "dlms"
            self.need(i + 1, 4, end, "invoke_id")
            j = i + 5
            if j >= end:
                raise FrameError("notification date-time needs 1 bytes, only 0 left", j)
            if b[j] == 0x09:
                if j + 1 >= end:
                    raise FrameError("notification date-time length needs 1 bytes, "
                                     "only 0 left", j + 1)
                if b[j + 1] != 12:
                    raise FrameError(f"notification date-time length {b[j + 1]}, "
                                     f"expected 12", j + 1)
                self.need(j + 2, 12, end, "notification date-time")
                j += 14
            elif b[j] == 0x00:
                j += 1
            else:
                raise FrameError(f"notification date-time: expected 00 or 09, found "
                                 f"0x{b[j]:02X}", j)
            body, j = self.dlms(j, end)
            if j != end:
                raise FrameError(f"content: {end - j} unexpected bytes after its content", j)
            self.pending = (_fast_dlms_alert, body)
        elif kind == 0x01:
            fr["encoding"] = "gbz"
            self.tag(i + 1, end, 0x09, "GBZ profile id (low byte)")
            self.need(i + 2, 1, end, "components")
            self.need(i + 3, 2, end, "alert_code")
            self.need(i + 5, 4, end, "time")
            self.pending = (_fast_gbz_alert, (_U16(b, i + 3)[0], _U32(b, i + 5)[0]))
        elif kind == 0x30:
            fr["encoding"] = "asn1"
            tlv, j = self.ber(i, end)
            if j != end:
                raise FrameError(f"content: {end - j} unexpected bytes after its content", j)
            self.pending = (_fast_asn1_alert, tlv)


def _fast_dlms_alert(body: tuple, fr: dict[str, Any]) -> None:
    off, t, items = body
    if t != 0x02 or not items or items[0][1] != 0x12:
        return
    code = items[0][2]
    fr["alert_code"] = f"0x{code:04X}"
    if len(items) > 1 and items[1][1] == 0x09 and len(items[1][2]) == 12:
        fr["alert_time"] = seconds_to_iso(dlms_datetime_seconds(items[1][2]))
    if code != SUMMARY_CODE:
        return
    if len(items) != len(SUMMARY_LAYOUT):
        raise FrameError(f"summary structure has {len(items)} elements, expected 8", off)
    for (ioff, it, iv), (t_, size, what) in zip(items, SUMMARY_LAYOUT, strict=True):
        if it != t_ or (size is not None and len(iv) != size):
            raise FrameError(f"summary {what}: wrong DLMS type/size", ioff)
    kind = items[7][2]
    if kind > 2:
        raise FrameError(f"summary kind {kind} is not 0/1/2", items[7][0] + 1)
    fr.update(is_summary=True, summary_kind=kind, suppressed_code=f"0x{items[2][2]:04X}",
              suppressed_count=items[3][2], episode_total=items[4][2],
              first_time=seconds_to_iso(dlms_datetime_seconds(items[5][2])),
              last_time=seconds_to_iso(dlms_datetime_seconds(items[6][2])))


def _fast_gbz_alert(code_time: tuple[int, int], fr: dict[str, Any]) -> None:
    fr["alert_code"] = f"0x{code_time[0]:04X}"
    fr["alert_time"] = seconds_to_iso(code_time[1])


def _fast_asn1_alert(tlv: tuple, fr: dict[str, Any]) -> None:
    _off, tag, children = tlv
    if tag != 0x30 or not children:
        return
    _o, ftag, fval = children[0]
    if ftag == 0x02 and 1 <= len(fval) <= 3 and not fval[0] & 0x80:
        code = int.from_bytes(fval, "big")
        if code <= 0xFFFF:
            fr["alert_code"] = f"0x{code:04X}"
    for _o, ctag, cval in children:
        if ctag == 0x18:
            fr["alert_time"] = generalized_time_iso(cval)
            break


def decode_fast(data: bytes) -> DecodedFrame:
    """Decode one frame by hand (same result as `decode`, raises only FrameError)."""
    b = bytes(data)
    end = len(b)
    r = _Reader(b)
    if not b:
        raise FrameError("unknown envelope tag (empty frame)", 0)
    if b[0] == 0xDF:
        fr = _blank(ENVELOPE_SIGNED)
        r.signed(0, end, fr, top=True)
        if r.pending and fr["cra_flag"] == CRA_ALERT:
            r.pending[0](r.pending[1], fr)
        return DecodedFrame(**fr)
    if b[0] != 0xDD:
        raise FrameError(f"unknown envelope tag 0x{b[0]:02X}", 0)
    fr = _blank(ENVELOPE_CIPHERED)
    spans = []
    i = 1
    for what, allowed in (("transaction-id", (0, 9)), ("originator-system-title", (0, 8)),
                          ("recipient-system-title", (0, 8)), ("date-time", None),
                          ("other-information", (0, 2)), ("key-info", None)):
        s, e = r.field(i, end, what)
        n = e - s
        if allowed is not None and n not in allowed and not (allowed == (0, 2) and n >= 2):
            expected = "0 or >= 2" if allowed == (0, 2) else " or ".join(map(str, allowed))
            raise FrameError(f"{what} of {n} bytes, expected {expected}", i)
        spans.append((s, e))
        i = e
    cs, ce = r.field(i, end, "ciphered content")
    r.need(cs, 1, ce, "security_control")
    sc = b[cs]
    if not _sc_ok(sc):
        raise FrameError(f"security control 0x{sc:02X} needs the authentication bit and no "
                         f"compression", cs)
    r.need(cs + 1, 4, ce, "invocation_counter")
    inner_end = ce - MAC_LEN
    if inner_end < cs + 5:
        raise FrameError(f"ciphered content has no room for its {MAC_LEN}-byte MAC", cs + 5)
    header = _header_fields({
        "transaction_id": b[spans[0][0]:spans[0][1]],
        "originator_title": b[spans[1][0]:spans[1][1]],
        "recipient_title": b[spans[2][0]:spans[2][1]],
        "date_time": b[spans[3][0]:spans[3][1]],
        "other_information": b[spans[4][0]:spans[4][1]],
    })
    fr.update(security_control=sc, invocation_counter=_U32(b, cs + 1)[0])
    if sc & SC_ENCRYPTED:
        fr.update(header)
        fr.update(encrypted=True, payload_length=inner_end - cs - 5)
    else:
        r.signed(cs + 5, inner_end, fr)
    if ce != end:
        raise FrameError(f"{end - ce} trailing bytes after the frame", ce)
    if fr["encrypted"]:
        if header["cra_flag"] is not None and not 1 <= header["cra_flag"] <= 3:
            raise FrameError(f"CRA flag 0x{header['cra_flag']:02X} is not 01/02/03", 2)
    else:
        if r.pending and fr["cra_flag"] == CRA_ALERT:
            r.pending[0](r.pending[1], fr)
        _check_header(fr, header, 1)
    return DecodedFrame(**fr)


# --------------------------------------------------------------------------------------------
# Builders: frames from fields, for tests, the emulator and the harness.


def dlms_payload(elements: list[tuple[int, Any]], *, invoke_id: int = 0,
                 notification_time: bytes | None = None) -> bytes:
    """DataNotification whose body is a structure of `elements` [(dlms type, value), ...]."""
    items = [Container(type=t, value=v) for t, v in elements]
    body = Container(type=0x02, value=Container(count=len(items), items=items))
    return DataNotification.build(Container(invoke_id=invoke_id,
                                            date_time=notification_time, body=body))


def dlms_alert_payload(alert_code: int, alert_time: Any, *, invoke_id: int = 0,
                       extra: list[tuple[int, Any]] | None = None) -> bytes:
    elements: list[tuple[int, Any]] = [(0x12, alert_code),
                                       (0x09, dlms_datetime(iso_to_seconds(alert_time)))]
    return dlms_payload(elements + list(extra or ()), invoke_id=invoke_id)


def gbz_alert_payload(alert_code: int, alert_time: Any, *, components: int = 0,
                      rest: bytes = b"") -> bytes:
    return Gbz.build(Container(components=components, alert_code=alert_code,
                               time=iso_to_seconds(alert_time), rest=rest))


def asn1_alert_payload(alert_code: int, alert_time: Any, *, extra: bytes = b"") -> bytes:
    code = alert_code.to_bytes(3, "big").lstrip(b"\0") or b"\0"
    if code[0] & 0x80:
        code = b"\0" + code
    secs = iso_to_seconds(alert_time)
    gt = (EPOCH_2000 + timedelta(seconds=secs)).strftime("%Y%m%d%H%M%SZ").encode()
    inner = b"\x02" + der_length(len(code)) + code + b"\x18" + der_length(len(gt)) + gt + extra
    return b"\x30" + der_length(len(inner)) + inner


def summary_payload(*, summary_time: Any, suppressed_code: int, suppressed_count: int,
                    episode_total: int, first_time: Any, last_time: Any, kind: int,
                    invoke_id: int = 0) -> bytes:
    """DLMS DataNotification of the project-defined suppression summary (CONTRACTS.md s.2)."""
    return dlms_payload([
        (0x12, SUMMARY_CODE), (0x09, dlms_datetime(iso_to_seconds(summary_time))),
        (0x12, suppressed_code), (0x06, suppressed_count), (0x06, episode_total),
        (0x09, dlms_datetime(iso_to_seconds(first_time))),
        (0x09, dlms_datetime(iso_to_seconds(last_time))), (0x11, kind)], invoke_id=invoke_id)


def _title(value: str | bytes) -> bytes:
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if len(raw) != 8:
        raise FrameError(f"system title must be 8 bytes, got {len(raw)}", 0)
    return raw


def build_frame(*, envelope: str, payload: bytes, originator_counter: int,
                originator_title: str | bytes, recipient_title: str | bytes,
                message_code: int, cra_flag: int = 3, signature: bytes | None = None,
                security_control: int = SC_DEFAULT, invocation_counter: int = 0,
                mac: bytes = bytes(MAC_LEN), date_time: bytes = b"",
                other_information_extra: bytes = b"", header: dict[str, bytes] | None = None
                ) -> bytes:
    """Build one frame. envelope "signed": General-Signing with `signature` (64 bytes; default
    a zero placeholder). "ciphered": General-Ciphering (MAC placeholder by default) around a
    General-Signing block with no signature; if `security_control` has the encryption bit,
    `payload` is taken as the opaque ciphertext and the envelope fields go in the DD header.
    `header` overrides the DD header fields (bytes) for other cases."""
    orig, recip = _title(originator_title), _title(recipient_title)
    gs = Container(cra_flag=cra_flag, originator_counter=originator_counter,
                   originator_title=orig, recipient_title=recip, date_time=date_time,
                   other_information=Container(message_code=message_code,
                                               extra=other_information_extra),
                   content=Container(kind=payload[0] if payload else None, body=payload),
                   signature=b"")
    if envelope == ENVELOPE_SIGNED:
        gs.signature = bytes(SIGNATURE_LEN) if signature is None else signature
        return GeneralSigning.build(_as_parsed(gs))
    if envelope != ENVELOPE_CIPHERED:
        raise FrameError(f"unknown envelope {envelope!r}", 0)
    encrypted = bool(security_control & SC_ENCRYPTED)
    hdr = {"transaction_id": b"", "originator_title": b"", "recipient_title": b"",
           "date_time": b"", "other_information": b"", "key_info": b""}
    if encrypted:
        hdr.update(transaction_id=bytes((cra_flag,)) + originator_counter.to_bytes(8, "big"),
                   originator_title=orig, recipient_title=recip, date_time=date_time,
                   other_information=message_code.to_bytes(2, "big") + other_information_extra)
    hdr.update(header or {})
    inner = payload if encrypted else GeneralSigning.build(_as_parsed(gs))
    ciphered = bytes((security_control,)) + invocation_counter.to_bytes(4, "big") + inner + mac
    out = bytearray(b"\xdd")
    for key in ("transaction_id", "originator_title", "recipient_title", "date_time",
                "other_information", "key_info"):
        out += der_length(len(hdr[key])) + hdr[key]
    out += der_length(len(ciphered)) + ciphered
    return bytes(out)


def _as_parsed(gs: Container) -> Container:
    """Payload bytes go through as an opaque body (Payload default case)."""
    raw = gs.content.body
    gs.content = Container(kind=-1, body=raw)  # -1 selects the RawRest default when building
    return gs


def build_alert(alert_code: int, alert_time: Any, *, encoding: str = "dlms",
                envelope: str | None = None, message_code: int | None = None,
                originator_counter: int = 0, originator_title: str | bytes = "00DB1234567890A0",
                recipient_title: str | bytes = "90B3D51F30010000", **kwargs: Any) -> bytes:
    """An alert frame from fields. Default envelope follows the message code: 0x1000
    (critical) signed, anything else ciphered; default message code from the catalogue."""
    if message_code is None:
        message_code = message_code_for(alert_code)
    if envelope is None:
        envelope = ENVELOPE_SIGNED if message_code == MESSAGE_CODE_CRITICAL else ENVELOPE_CIPHERED
    makers: dict[str, Callable[[int, Any], bytes]] = {"dlms": dlms_alert_payload, "gbz": gbz_alert_payload, "asn1": asn1_alert_payload}
    if encoding not in makers:
        raise FrameError(f"unknown encoding {encoding!r}", 0)
    payload = makers[encoding](alert_code, alert_time)
    return build_frame(envelope=envelope, payload=payload, originator_counter=originator_counter,
                       originator_title=originator_title, recipient_title=recipient_title,
                       message_code=message_code, **kwargs)


def build_summary(*, summary_time: Any, suppressed_code: int, suppressed_count: int,
                  episode_total: int, first_time: Any, last_time: Any, kind: int,
                  originator_counter: int = 0, originator_title: str | bytes = "00DB1234567890A0",
                  recipient_title: str | bytes = "90B3D51F30010000", **kwargs: Any) -> bytes:
    """The suppression summary frame: General-Ciphering, message code 0x1001."""
    payload = summary_payload(summary_time=summary_time, suppressed_code=suppressed_code,
                              suppressed_count=suppressed_count, episode_total=episode_total,
                              first_time=first_time, last_time=last_time, kind=kind)
    return build_frame(envelope=ENVELOPE_CIPHERED, payload=payload,
                       originator_counter=originator_counter, originator_title=originator_title,
                       recipient_title=recipient_title, message_code=0x1001, **kwargs)


# --------------------------------------------------------------------------------------------
# Alert identity at storm rate: (originator title, alert code) for the DSP comparison.
#
# A storm is thousands of frames of one *shape*: the same bytes except counter, titles,
# invoke-id, alert code and time, invocation counter, MAC and signature, none of which can make
# a frame malformed. Once decode_fast has accepted a frame, its shape is remembered as the
# byte segments between those fields; a later frame of the same length whose segments are
# equal is therefore well-formed too, and its identity is read at known offsets. Anything else
# (first frame of a shape, summaries, encrypted, ASN.1, non-empty General-Ciphering header
# fields) goes through decode_fast. Same results as decode_fast, tested by the fuzz tests.

_SHAPES: dict[int, list[tuple[tuple[tuple[int, int, bytes], ...], int, int]]] = {}
_SHAPE_LIMIT = 256  # bounded memory: forget all shapes when this many are known


def alert_identity(data: bytes) -> tuple[str | None, int | None]:
    """(originator title hex, alert code int or None) of one frame; raises only FrameError.
    Equal to (decode_fast(d).originator_title, int(decode_fast(d).alert_code, 16))."""
    for segments, orig, code_at in _SHAPES.get(len(data), ()):
        for lo, hi, fixed in segments:
            if data[lo:hi] != fixed:
                break
        else:
            code = (data[code_at] << 8) | data[code_at + 1]
            if code != SUMMARY_CODE:
                return data[orig:orig + 8].hex().upper(), code
            break
    raw = bytes(data)
    fr = decode_fast(raw)
    code_int = int(fr.alert_code, 16) if fr.alert_code is not None else None
    if (code_int is not None and not fr.is_summary and fr.encoding in ("dlms", "gbz")
            and not fr.encrypted):
        _remember_shape(raw)
    return fr.originator_title, code_int


def _remember_shape(b: bytes) -> None:
    """Record the shape of an accepted DLMS/GBZ alert frame (see above)."""
    r = _Reader(b)
    end = len(b)
    masks: list[tuple[int, int]] = []
    if b[0] == 0xDD:
        if b[1:7] != bytes(6):  # header fields are checked against the titles: not a shape
            return
        cs, ce = r.field(7, end, "ciphered content")
        masks += [(cs + 1, cs + 5), (ce - MAC_LEN, ce)]
        s = cs + 5
    else:
        s = 0
    masks += [(s + 3, s + 11), (s + 12, s + 20), (s + 21, s + 29)]
    _ds, de = r.field(s + 29, end, "date-time")
    _os, oe = r.field(de, end, "other-information")
    c, ce_ = r.field(oe, end, "content")
    ss, se = r.field(ce_, end, "signature")
    masks.append((ss, se))
    if b[c] == 0x0F:
        masks.append((c + 1, c + 5))
        j = c + 6 if b[c + 5] == 0x00 else c + 19
        item0 = j + 1 + (1 if b[j + 1] < 0x80 else b[j + 1] - 0x7F)
        code_at = item0 + 1
        masks.append((code_at, code_at + 2))
        item1 = item0 + 3
        if item1 + 2 <= ce_ and b[item1] == 0x09 and b[item1 + 1] == 12:
            masks.append((item1 + 2, item1 + 14))
    else:
        code_at = c + 3
        masks += [(code_at, code_at + 2), (c + 5, c + 9)]
    masks.sort()
    segments = []
    pos = 0
    for a, z in masks:
        if a > pos:
            segments.append((pos, a, b[pos:a]))
        pos = max(pos, z)
    if pos < end:
        segments.append((pos, end, b[pos:end]))
    if sum(len(v) for v in _SHAPES.values()) >= _SHAPE_LIMIT:
        _SHAPES.clear()
    _SHAPES.setdefault(end, []).append((tuple(segments), s + 12, code_at))
