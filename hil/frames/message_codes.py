"""GBCS message codes, the first two bytes of other-information: the one home for which payload
encoding each code carries, and for the message code and envelope class an alert is sent under
by default (docs/frames.md section 4.5, "Which message code carries what").

A GBCS parser chooses the payload layout by message code (the DCC's open-source GBCS parser
does), so a payload under a message code that never carries its kind is a frame no device
sends: such a parser shows it as opaque bytes. The generic alert codes 0x1000 (critical) and
0x1001 (non-critical) carry DLMS DataNotifications (electricity meter, comms hub) or GBZ (gas);
a use-case code carries its use case's one encoding. Sources: ../shared/gbcs/NOTES.md, the
RTDS 4.5.0 samples in tests/data/rtds-sample/ and the DCC parser's choice of layout. A code
not listed is not known here: DLMS and GBZ may go under it (a parser recognises them by their
first bytes), ASN.1 never (its layouts are chosen by message code alone).

Cheap to import (no construct), like catalogue.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.frames.catalogue import CATALOGUE, CRITICAL, NON_CRITICAL

DLMS = "dlms"  # the DecodedFrame.encoding names
GBZ = "gbz"
ASN1 = "asn1"

MESSAGE_CODE_CRITICAL = 0x1000
MESSAGE_CODE_NON_CRITICAL = 0x1001
# The ASN.1 alert an alert is sent as when no message code is given: CS06's activate-firmware
# alert (SEQUENCE { alert code, GeneralizedTime, ... }), the RTDS's ASN.1 alert sample.
MESSAGE_CODE_ASN1_ALERT = 0x00CA


@dataclass(frozen=True)
class MessageCodeInfo:
    code: int
    name: str
    encodings: tuple[str, ...]


_ENTRIES = (
    MessageCodeInfo(MESSAGE_CODE_CRITICAL, "generic critical alert", (DLMS, GBZ)),
    MessageCodeInfo(MESSAGE_CODE_NON_CRITICAL, "generic non-critical alert", (DLMS, GBZ)),
    MessageCodeInfo(0x0067, "ECS80 supply outage restore alert", (DLMS,)),
    MessageCodeInfo(MESSAGE_CODE_ASN1_ALERT, "CS06 activate firmware alert", (ASN1,)),
    MessageCodeInfo(0x00CB, "CS02b update security credentials alert", (ASN1,)),
    MessageCodeInfo(0x00CC, "future-dated alert (ESME)", (DLMS,)),
    MessageCodeInfo(0x00CD, "future-dated alert (GSME)", (GBZ,)),
    MessageCodeInfo(0x00CE, "firmware distribution receipt alert (ESME)", (DLMS,)),
    MessageCodeInfo(0x00CF, "firmware distribution receipt alert (GSME)", (GBZ,)),
    MessageCodeInfo(0x00F0, "meter integrity issue warning alert (ESME)", (DLMS,)),
    MessageCodeInfo(0x00F2, "meter integrity issue warning alert (GSME)", (GBZ,)),
    MessageCodeInfo(0x00B2, "GCS62 GPF device log backup alert", (ASN1,)),
    MessageCodeInfo(0x0128, "CCS08 firmware transfer alert", (ASN1,)),
)

MESSAGE_CODES: dict[int, MessageCodeInfo] = {e.code: e for e in _ENTRIES}

_UNLISTED = (DLMS, GBZ)


def encodings_of(message_code: int) -> tuple[str, ...]:
    """The payload encodings a frame of `message_code` may carry (rule above)."""
    info = MESSAGE_CODES.get(message_code)
    return info.encodings if info is not None else _UNLISTED


def message_code_for(alert_code: int, encoding: str = DLMS) -> int:
    """Default message code for sending `alert_code` in an `encoding` payload: the generic
    critical or non-critical alert code by the alert's catalogue class for DLMS and GBZ,
    MESSAGE_CODE_ASN1_ALERT for ASN.1 (no generic code carries ASN.1)."""
    if encoding == ASN1:
        return MESSAGE_CODE_ASN1_ALERT
    info = CATALOGUE.get(alert_code)
    if info is not None and info.default_class == CRITICAL:
        return MESSAGE_CODE_CRITICAL
    return MESSAGE_CODE_NON_CRITICAL


def alert_class(message_code: int, alert_code: int) -> str:
    """CRITICAL or NON_CRITICAL: how an alert travels (critical ones signed). The generic
    codes say it themselves; under a use-case code the alert's catalogue class decides, as in
    the RTDS samples (0x0067 with 0x8F36 and 0x00CA with 0x8F66 signed, 0x00F0 and 0x00F2
    with 0x81A0 MAC'd)."""
    if message_code == MESSAGE_CODE_CRITICAL:
        return CRITICAL
    if message_code == MESSAGE_CODE_NON_CRITICAL:
        return NON_CRITICAL
    info = CATALOGUE.get(alert_code)
    return info.default_class if info is not None else NON_CRITICAL
