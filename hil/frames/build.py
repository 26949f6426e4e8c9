"""Frame builders: GBCS alert and summary frames from fields, for tests, the emulator and the
harness, built exactly (docs/frames.md section 4.5): minimal DER lengths, the DataNotification
date-time as A-XDR writes it, the long-invoke-id as devices set it, and in `build_alert` only
payload kinds the message code carries (message_codes.py). Payloads and the General-Signing
block are built with layouts.py's definitions; the General-Ciphering wrapper is assembled byte
by byte around them. `build_frame` is the low-level builder: it wraps any payload bytes under
any message code, and `header=...` sets the General-Ciphering header apart from the signed
block, for frames the decoders must take or reject.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from construct import Container  # type: ignore[import-untyped]

from hil.frames.catalogue import CRITICAL, SUMMARY_CODE, format_code
from hil.frames.layouts import (
    ENVELOPE_CIPHERED,
    ENVELOPE_SIGNED,
    MAC_LEN,
    SC_DEFAULT,
    SC_ENCRYPTED,
    SIGNATURE_LEN,
    DataNotification,
    Gbz,
    GeneralSigning,
)
from hil.frames.message_codes import (
    ASN1,
    DLMS,
    GBZ,
    MESSAGE_CODE_NON_CRITICAL,
    alert_class,
    encodings_of,
    message_code_for,
)
from hil.frames.primitives import FrameError, der_length
from hil.frames.summary import summary_elements
from hil.frames.times import EPOCH_2000, dlms_datetime, iso_to_seconds

# long-invoke-id-and-priority as the RTDS alerts carry it (0x200007D0 from originator counter
# 2000, 0x200007D3 from 2003): the counter's low 24 bits as the invoke-id, and of the flag bits
# only processing option "break on error" (bit 29): normal priority, unconfirmed, not
# self-descriptive.
INVOKE_ID_FLAGS = 0x20000000
INVOKE_ID_MASK = 0xFFFFFF


def alert_invoke_id(originator_counter: int) -> int:
    """The long-invoke-id-and-priority a device puts in the alert with this counter."""
    return INVOKE_ID_FLAGS | (originator_counter & INVOKE_ID_MASK)


def dlms_payload(elements: list[tuple[int, Any]], *, invoke_id: int = 0,
                 notification_time: bytes | None = None) -> bytes:
    """DataNotification whose body is a structure of `elements` [(dlms type, value), ...].
    `notification_time` (12 bytes, a DLMS date-time) is written 0C + 12 bytes, absent 00."""
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
    """DLMS DataNotification of the project-defined suppression summary (summary.py,
    docs/frames.md section 5)."""
    return dlms_payload(summary_elements(
        summary_time=summary_time, suppressed_code=suppressed_code,
        suppressed_count=suppressed_count, episode_total=episode_total, first_time=first_time,
        last_time=last_time, kind=kind), invoke_id=invoke_id)


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


_ALERT_PAYLOADS: dict[str, Callable[[int, Any], bytes]] = {
    DLMS: dlms_alert_payload, GBZ: gbz_alert_payload, ASN1: asn1_alert_payload}


def build_alert(alert_code: int, alert_time: Any, *, encoding: str = DLMS,
                envelope: str | None = None, message_code: int | None = None,
                originator_counter: int = 0, originator_title: str | bytes = "00DB1234567890A0",
                recipient_title: str | bytes = "90B3D51F30010000", invoke_id: int | None = None,
                **kwargs: Any) -> bytes:
    """An alert frame from fields, as a device sends it. The message code defaults by encoding
    and the alert's catalogue class (message_codes.message_code_for) and must carry `encoding`;
    the envelope defaults to signed for a critical alert, ciphered otherwise
    (message_codes.alert_class); a DLMS payload's invoke-id defaults to
    alert_invoke_id(originator_counter). The summary code 0x8FFE is refused: its layout is
    build_summary's. Other keywords go to build_frame."""
    if alert_code == SUMMARY_CODE:
        raise FrameError(f"alert code {format_code(SUMMARY_CODE)} is the suppression "
                         f"summary's: build it with build_summary", 0)
    if encoding not in _ALERT_PAYLOADS:
        raise FrameError(f"unknown encoding {encoding!r}", 0)
    if message_code is None:
        message_code = message_code_for(alert_code, encoding)
    carried = encodings_of(message_code)
    if encoding not in carried:
        raise FrameError(f"message code {format_code(message_code)} carries "
                         f"{' or '.join(carried)} payloads, not {encoding}", 0)
    if envelope is None:
        critical = alert_class(message_code, alert_code) == CRITICAL
        envelope = ENVELOPE_SIGNED if critical else ENVELOPE_CIPHERED
    if encoding == DLMS:
        payload = dlms_alert_payload(alert_code, alert_time, invoke_id=(
            alert_invoke_id(originator_counter) if invoke_id is None else invoke_id))
    elif invoke_id is not None:
        raise FrameError(f"invoke_id is a DLMS field: {encoding} payloads have none", 0)
    else:
        payload = _ALERT_PAYLOADS[encoding](alert_code, alert_time)
    return build_frame(envelope=envelope, payload=payload, originator_counter=originator_counter,
                       originator_title=originator_title, recipient_title=recipient_title,
                       message_code=message_code, **kwargs)


def build_summary(*, summary_time: Any, suppressed_code: int, suppressed_count: int,
                  episode_total: int, first_time: Any, last_time: Any, kind: int,
                  originator_counter: int = 0, originator_title: str | bytes = "00DB1234567890A0",
                  recipient_title: str | bytes = "90B3D51F30010000", invoke_id: int | None = None,
                  **kwargs: Any) -> bytes:
    """The suppression summary frame: General-Ciphering, message code 0x1001; the invoke-id
    defaults to alert_invoke_id(originator_counter), as for any alert."""
    payload = summary_payload(summary_time=summary_time, suppressed_code=suppressed_code,
                              suppressed_count=suppressed_count, episode_total=episode_total,
                              first_time=first_time, last_time=last_time, kind=kind,
                              invoke_id=(alert_invoke_id(originator_counter) if invoke_id is None
                                         else invoke_id))
    return build_frame(envelope=ENVELOPE_CIPHERED, payload=payload,
                       originator_counter=originator_counter, originator_title=originator_title,
                       recipient_title=recipient_title,
                       message_code=MESSAGE_CODE_NON_CRITICAL, **kwargs)
