"""The decoded view of a GBCS frame: `DecodedFrame`, what the construct Containers of
layouts.py mean (`interpret`), and `decode`, the reference decoder (parse + interpret).

The helpers that fill a DecodedFrame from envelope fields (`blank_fields`, `header_fields`,
`check_header`, `hex_or_none`) are shared with the fast decoder (fast.py) so both give the same
record; the summary rule is summary.py's, shared the same way. How a payload's alert code and
time are found is written once per decoder on purpose: the fuzz tests compare the two
(tests/test_codec_fuzz.py), which only finds bugs while they are separate readings of the rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from construct import Container  # type: ignore[import-untyped]

from hil.frames.catalogue import SUMMARY_CODE, format_code
from hil.frames.layouts import CRA_ALERT, ENVELOPE_CIPHERED, ENVELOPE_SIGNED, SC_ENCRYPTED, parse
from hil.frames.primitives import FrameError
from hil.frames.summary import summary_fields
from hil.frames.times import dlms_datetime_seconds, generalized_time_iso, seconds_to_iso


@dataclass
class DecodedFrame:
    """One frame as both decoders see it (docs/frames.md section 6, "Decode output")."""

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
    # what the frame does that the rules say it should not, but devices are known to:
    # "non-minimal DER length 82 00DE at byte 36", ... in byte order; [] for an exact frame
    deviations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# Filling a DecodedFrame: shared by both decoders.


def hex_or_none(b: bytes) -> str | None:
    """Upper-case hex of a field, None when it is empty."""
    return b.hex().upper() if b else None


def blank_fields(envelope: str) -> dict[str, Any]:
    """DecodedFrame keyword arguments for `envelope` before any field is read."""
    return dict(envelope=envelope, encrypted=False, cra_flag=None, originator_counter=None,
                originator_title=None, recipient_title=None, message_code=None,
                alert_code=None, alert_time=None, encoding=None, signature_present=False,
                security_control=None, invocation_counter=None, date_time=None,
                other_information_extra=None, payload_length=0)


def check_header(fr: dict[str, Any], header: dict[str, Any], offset: int) -> None:
    """A General-Ciphering header field that is present must agree with the signed block."""
    for key, value in header.items():
        if value is not None and fr[key] is not None and fr[key] != value:
            raise FrameError(f"General-Ciphering {key} {value} differs from the signed "
                             f"content's {fr[key]}", offset)


def header_fields(dd: Container | dict) -> dict[str, Any]:
    """The DecodedFrame fields a General-Ciphering header carries (None where empty)."""
    tid = dd["transaction_id"]
    oi = dd["other_information"]
    return {
        "cra_flag": tid[0] if tid else None,
        "originator_counter": int.from_bytes(tid[1:], "big") if tid else None,
        "originator_title": hex_or_none(dd["originator_title"]),
        "recipient_title": hex_or_none(dd["recipient_title"]),
        "message_code": format_code(int.from_bytes(oi[:2], "big")) if oi else None,
        "other_information_extra": hex_or_none(oi[2:]) if oi else None,
        "date_time": hex_or_none(dd["date_time"]),
    }


# --------------------------------------------------------------------------------------------
# The construct path.


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
        fr.update(summary_fields([(i.offset, i.type, i.value) for i in items], body.offset))


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
              other_information_extra=hex_or_none(gs.other_information.extra),
              date_time=hex_or_none(gs.date_time), signature_present=bool(gs.signature))
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


def interpret(obj: Container) -> DecodedFrame:
    """The decoded view of a parsed frame (raises FrameError on semantic errors)."""
    body = obj.body
    fr = blank_fields(ENVELOPE_SIGNED if obj.envelope == 0xDF else ENVELOPE_CIPHERED)
    fr["deviations"] = list(obj.get("deviations", ()))
    if obj.envelope == 0xDF:
        _signed_fields(body, fr)
        fr["payload_length"] = _payload_length(body)
        return DecodedFrame(**fr)
    header = header_fields(body)
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
    check_header(fr, header, 1)
    return DecodedFrame(**fr)


def _payload_length(gs: Container) -> int:
    return int(gs.content.end - gs.content.start)


def decode(data: bytes) -> DecodedFrame:
    """Decode one frame with the construct definitions (reference decoder)."""
    return interpret(parse(data))
