"""GBCS frame layouts as construct definitions that read like the byte tables of
docs/frames.md: the payloads of section 4 inside the envelopes of sections 2 and 3, and
`parse`/`encode` over the whole frame.

These definitions are the reference: they parse and build, so `encode(parse(b)) == b` byte for
byte for every frame without deviations; a frame read with deviations (docs/frames.md
"Deviations") encodes to its exact form, the bytes a conforming device would have sent. They
check the byte-level rules (docs/frames.md "What is rejected") as they read; what the fields
mean (alert code, times, summaries) is view.py's business.
"""

from __future__ import annotations

from construct import (  # type: ignore[import-untyped]
    Array,
    Construct,
    ConstructError,
    Container,
    IfThenElse,
    LazyBound,
    Pass,
    Struct,
    Switch,
    this,
)

from hil.frames.primitives import (
    AbsOffset,
    Checked,
    DerBytes,
    DerLength,
    DerPrefixed,
    FrameError,
    Malformed,
    Nested,
    PeekU8,
    Raw,
    RawRest,
    Reject,
    Sized,
    Tag,
    UInt,
    UntilEnd,
    Window,
    deviate,
    stream_offset,
    take,
)

MAC_LEN = 12
SIGNATURE_LEN = 64
CRA_ALERT = 3
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
SC_COMPRESSED = 0x80
SC_DEFAULT = 0x11  # suite 1, authentication only (every GBCS non-critical alert)
GBZ_PROFILE = 0x0109
DATE_TIME_LEN = 12  # a DLMS date-time, and the A-XDR length byte (0C) in front of one

ENVELOPE_SIGNED = "signed"
ENVELOPE_CIPHERED = "ciphered"

# --------------------------------------------------------------------------------------------
# Payloads (docs/frames.md section 4), chosen by their first byte.

# DLMS data (IEC 62056-6-2 A-XDR, docs/frames.md section 4.1): type byte, then a value whose shape the type fixes.
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
    """DataNotification date-time, an A-XDR OCTET STRING (no type tag): 00 = absent, or 0C and
    a 12-byte DLMS date-time; built exactly so. Read also: 09 0C + 12, the Data octet-string tag
    in front of it, which some meters send (a deviation, docs/frames.md "Deviations")."""

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        first = take(stream, 1, "notification date-time")[0]
        if first == 0x00:
            return None
        if first == 0x09:
            n = take(stream, 1, "notification date-time length")[0]
            if n != DATE_TIME_LEN:
                raise Malformed(f"notification date-time length {n}, expected 12", at + 1)
            deviate(stream, "notification date-time tagged 09 0C", at)
        elif first != DATE_TIME_LEN:
            raise Malformed(f"notification date-time: expected 00, 0C or 09 0C, found "
                            f"0x{first:02X}", at)
        return take(stream, DATE_TIME_LEN, "notification date-time")

    def _build(self, obj, stream, context, path):
        if obj is None:
            stream.write(b"\x00")
            return obj
        data = bytes(obj)
        if len(data) != DATE_TIME_LEN:
            raise FrameError(f"notification date-time must be 12 bytes, got {len(data)}", 0)
        stream.write(bytes((DATE_TIME_LEN,)) + data)
        return obj


# docs/frames.md section 4.1, DLMS DataNotification (`0F`).
DataNotification = Struct(
    Tag(0x0F, "DataNotification tag"),
    "invoke_id" / UInt(4),                # long-invoke-id-and-priority
    "date_time" / NotificationTime(),     # 00, or 0C <12-byte DLMS date-time>
    "body" / DlmsData,                    # 02 nn 12 <alert code> 09 0C <date-time> ...
)

# docs/frames.md section 4.2, GBZ (`01 09`).
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


# docs/frames.md section 4.3, ASN.1 BER (`30`): one TLV, constructed values nested.
BerTlv: Construct = Struct(
    "offset" / AbsOffset(),
    "tag" / Checked(UInt(1), _ber_tag_ok,
                    lambda t: f"multi-byte BER tag 0x{t:02X} not supported"),
    "value" / IfThenElse(lambda c: c.tag & 0x20,
                         Nested(DerPrefixed(UntilEnd(LazyBound(lambda: BerTlv)),
                                            "BER constructed value"), "BER value"),
                         DerBytes("BER value")),
)

# docs/frames.md section 4: the content of a General-Signing block, by its first byte (4.4:
# anything else is kept opaque).
Payload = Struct(
    "start" / AbsOffset(),
    "kind" / PeekU8(),                    # 0F DLMS, 01 GBZ, 30 ASN.1; anything else is opaque
    "body" / Switch(this.kind, {0x0F: DataNotification, 0x01: Gbz, 0x30: BerTlv},
                    default=RawRest()),
    "end" / AbsOffset(),
)

# --------------------------------------------------------------------------------------------
# Envelopes.

# docs/frames.md section 2, General-Signing (critical alerts; also inside General-Ciphering).
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


def security_control_ok(sc: int) -> bool:
    """Authenticated and not compressed: the only security controls this codec reads."""
    return bool(sc & SC_AUTHENTICATED) and not sc & SC_COMPRESSED


SecurityHeader = Struct(
    "security_control" / Checked(UInt(1), security_control_ok,
                                 lambda v: f"security control 0x{v:02X} needs the "
                                           f"authentication bit and no compression"),
    "invocation_counter" / UInt(4),
)

# docs/frames.md section 3, General-Ciphering (non-critical alerts and summaries).
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

# A whole frame: either envelope, by its tag.
Frame = Struct(
    "envelope" / PeekU8(),
    "body" / Switch(this.envelope, {0xDF: GeneralSigning, 0xDD: GeneralCiphering},
                    default=Reject(lambda c: "unknown envelope tag "
                                   + ("(empty frame)" if c.envelope is None
                                      else f"0x{c.envelope:02X}"))),
)


def parse(data: bytes) -> Container:
    """Parse one frame into construct Containers (the whole input must be one frame). The
    top Container's `deviations` lists the deviations read, in byte order."""
    data = bytes(data)
    stream = Window(data, 0)
    try:
        obj = Frame.parse_stream(stream)
    except Malformed as exc:
        raise FrameError(exc.what, exc.offset) from None
    except RecursionError:  # unreachable with MAX_NESTING; kept so nothing untyped escapes
        raise FrameError("frame nested too deeply", 0) from None
    except (ConstructError, ValueError, TypeError, AttributeError, KeyError,
            IndexError) as exc:  # defensive: a construct internal must not escape
        raise FrameError(f"undecodable frame ({type(exc).__name__})",
                         stream_offset(stream)) from None
    if stream.tell() != len(data):
        raise FrameError(f"{len(data) - stream.tell()} trailing bytes after the frame",
                         stream.tell())
    obj.deviations = stream.deviations  # read by view.interpret; Frame.build ignores it
    return obj


def encode(obj: Container | dict) -> bytes:
    """Build a frame from the Containers `parse` returns (or dicts of the same shape)."""
    try:
        return Frame.build(obj)
    except FrameError:
        raise
    except Exception as exc:
        raise FrameError(f"cannot build frame: {exc}", 0) from None

