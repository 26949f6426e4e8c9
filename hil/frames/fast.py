"""The fast decoder: `decode_fast`, the same decoder as view.py's `decode` written by hand
over bytes and `struct`. Same rules, same results, the same FrameError offsets (tested against
`decode` on the RTDS samples, generated frames and fuzzed bytes, tests/test_codec_fuzz.py);
about an order of magnitude faster (benchmarks/bench_codec.py).

It fills the same DecodedFrame through view.py's shared helpers and applies summary.py's rule;
the walk over the bytes and the reading of each payload's alert are its own.
"""

from __future__ import annotations

import struct
from typing import Any

from hil.frames.catalogue import SUMMARY_CODE, format_code
from hil.frames.layouts import (
    CRA_ALERT,
    DLMS_BYTE_VALUES,
    DLMS_FIXED_SIZES,
    DLMS_NAMES,
    DLMS_SIGNED,
    DLMS_STRINGS,
    ENVELOPE_CIPHERED,
    ENVELOPE_SIGNED,
    MAC_LEN,
    SC_ENCRYPTED,
    SIGNATURE_LEN,
    security_control_ok,
)
from hil.frames.primitives import MAX_NESTING, FrameError
from hil.frames.summary import summary_fields
from hil.frames.times import dlms_datetime_seconds, generalized_time_iso, seconds_to_iso
from hil.frames.view import DecodedFrame, blank_fields, check_header, header_fields, hex_or_none

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from
_U64 = struct.Struct(">Q").unpack_from


class Reader:
    """Bounds-checked reads over one frame's bytes. Indices are absolute, so an error's offset
    is the frame offset. `pending` holds the payload's alert reading until the whole frame has
    proved well-formed: `decode` parses everything before it interprets, so a frame with a
    structural fault and a bad summary must report the structural fault here too.
    `deviations` collects the deviations read (docs/frames.md "Deviations"), in byte order."""

    __slots__ = ("b", "depth", "pending", "deviations")

    def __init__(self, b: bytes) -> None:
        self.b = b
        self.depth = 0
        self.pending: Any = None  # parsed payload, interpreted once the frame is well-formed
        self.deviations: list[str] = []

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
            if n < 0x100:  # the fixed-width form real frames use: read it, record it
                self.deviations.append(f"non-minimal DER length 82 {n:04X} at byte {i}")
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
                  message_code=format_code(_U16(b, os_)[0]),
                  other_information_extra=hex_or_none(b[os_ + 2:oe]), date_time=hex_or_none(b[ds:de]),
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
            nt = b[j]
            if nt == 0x00:
                j += 1
            elif nt == 0x0C:
                self.need(j + 1, 12, end, "notification date-time")
                j += 13
            elif nt == 0x09:  # the octet-string tag some meters put in front
                if j + 1 >= end:
                    raise FrameError("notification date-time length needs 1 bytes, "
                                     "only 0 left", j + 1)
                if b[j + 1] != 12:
                    raise FrameError(f"notification date-time length {b[j + 1]}, "
                                     f"expected 12", j + 1)
                self.deviations.append(f"notification date-time tagged 09 0C at byte {j}")
                self.need(j + 2, 12, end, "notification date-time")
                j += 14
            else:
                raise FrameError(f"notification date-time: expected 00, 0C or 09 0C, found "
                                 f"0x{nt:02X}", j)
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
    fr["alert_code"] = format_code(code)
    if len(items) > 1 and items[1][1] == 0x09 and len(items[1][2]) == 12:
        fr["alert_time"] = seconds_to_iso(dlms_datetime_seconds(items[1][2]))
    if code == SUMMARY_CODE:
        fr.update(summary_fields(items, off))


def _fast_gbz_alert(code_time: tuple[int, int], fr: dict[str, Any]) -> None:
    fr["alert_code"] = format_code(code_time[0])
    fr["alert_time"] = seconds_to_iso(code_time[1])


def _fast_asn1_alert(tlv: tuple, fr: dict[str, Any]) -> None:
    _off, tag, children = tlv
    if tag != 0x30 or not children:
        return
    _o, ftag, fval = children[0]
    if ftag == 0x02 and 1 <= len(fval) <= 3 and not fval[0] & 0x80:
        code = int.from_bytes(fval, "big")
        if code <= 0xFFFF:
            fr["alert_code"] = format_code(code)
    for _o, ctag, cval in children:
        if ctag == 0x18:
            fr["alert_time"] = generalized_time_iso(cval)
            break


def decode_fast(data: bytes) -> DecodedFrame:
    """Decode one frame by hand (same result as `decode`, raises only FrameError)."""
    b = bytes(data)
    end = len(b)
    r = Reader(b)
    if not b:
        raise FrameError("unknown envelope tag (empty frame)", 0)
    if b[0] == 0xDF:
        fr = blank_fields(ENVELOPE_SIGNED)
        r.signed(0, end, fr, top=True)
        if r.pending and fr["cra_flag"] == CRA_ALERT:
            r.pending[0](r.pending[1], fr)
        fr["deviations"] = r.deviations
        return DecodedFrame(**fr)
    if b[0] != 0xDD:
        raise FrameError(f"unknown envelope tag 0x{b[0]:02X}", 0)
    fr = blank_fields(ENVELOPE_CIPHERED)
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
    if not security_control_ok(sc):
        raise FrameError(f"security control 0x{sc:02X} needs the authentication bit and no "
                         f"compression", cs)
    r.need(cs + 1, 4, ce, "invocation_counter")
    inner_end = ce - MAC_LEN
    if inner_end < cs + 5:
        raise FrameError(f"ciphered content has no room for its {MAC_LEN}-byte MAC", cs + 5)
    header = header_fields({
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
        check_header(fr, header, 1)
    fr["deviations"] = r.deviations
    return DecodedFrame(**fr)
