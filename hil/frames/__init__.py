"""GBCS frames, the codec layer of hil/ (docs/frames.md). Nothing here imports another wing.

Which file holds what:

* primitives.py: construct building blocks (DER lengths, byte windows) and FrameError, the only
  error the codec raises;
* layouts.py: the frame layouts, reading like docs/frames.md's byte tables; parse, encode;
* times.py: DLMS date-time, GeneralizedTime, seconds since 2000, ISO-8601;
* summary.py: the suppression summary's layout and the one rule both decoders apply to it;
* view.py: DecodedFrame, interpret, decode (the construct reference decoder);
* fast.py: decode_fast (the hand-written decoder, same results);
* build.py: frames from fields;
* message_codes.py: which payload encoding each message code carries, and an alert's default
  message code and envelope class;
* identity.py: alert_identity, (originator, code) at storm rate;
* catalogue.py: what an alert code means, and how one is written and read;
* security.py: a frame's MAC or signature checked (verify) or made (authenticate) with a test
  key set (docs/frames.md section 11); the only module that needs `cryptography`.

Decoding is lenient where devices are, strict where it matters (docs/frames.md "Deviations",
"What is rejected"). Read although the rules say otherwise, because real devices send it, and
recorded in DecodedFrame.deviations: a DER length below 256 in the fixed-width 82 00nn form;
the DataNotification date-time tagged 09 0C. Rejected, by both decoders at the same offset:
other non-minimal lengths (81 nn with nn < 0x80) and lengths of more than 3 bytes; DLMS and BER
nesting deeper than MAX_NESTING; a length that does not fit its enclosing field or a field not
consumed exactly; a CRA flag other than 1, 2 or 3; General-Signing signatures other than 0 or
64 bytes; General-Ciphering header fields of other than their GBCS sizes (transaction-id 0|9,
titles 0|8, other-information 0|>=2); a security control byte without the authentication bit
(0x10) or with the compression bit (0x80); a summary (alert code 0x8FFE in a DLMS payload)
without exactly the layout of docs/frames.md section 5. Building is exact: minimal lengths, the
date-time as A-XDR writes it (00 or 0C + 12), header bytes as real devices set them.

The public names below are loaded from their module on first use (PEP 562), so importing
hil.frames.catalogue alone, as the policy configuration and the comparison do, does not import
construct and the rest of the codec.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and readers see; _EXPORTS below is what runs
    from hil.frames.build import asn1_alert_payload as asn1_alert_payload
    from hil.frames.build import build_alert as build_alert
    from hil.frames.build import build_frame as build_frame
    from hil.frames.build import build_summary as build_summary
    from hil.frames.build import dlms_alert_payload as dlms_alert_payload
    from hil.frames.build import dlms_payload as dlms_payload
    from hil.frames.build import gbz_alert_payload as gbz_alert_payload
    from hil.frames.build import summary_payload as summary_payload
    from hil.frames.fast import decode_fast as decode_fast
    from hil.frames.identity import alert_identity as alert_identity
    from hil.frames.layouts import ENVELOPE_CIPHERED as ENVELOPE_CIPHERED
    from hil.frames.layouts import ENVELOPE_SIGNED as ENVELOPE_SIGNED
    from hil.frames.layouts import encode as encode
    from hil.frames.layouts import parse as parse
    from hil.frames.primitives import FrameError as FrameError
    from hil.frames.security import Auth as Auth
    from hil.frames.security import authenticate as authenticate
    from hil.frames.security import verify as verify
    from hil.frames.summary import SUMMARY_KINDS as SUMMARY_KINDS
    from hil.frames.times import EPOCH_2000 as EPOCH_2000
    from hil.frames.times import dlms_datetime as dlms_datetime
    from hil.frames.times import dlms_datetime_seconds as dlms_datetime_seconds
    from hil.frames.times import generalized_time_iso as generalized_time_iso
    from hil.frames.times import generalized_time_seconds as generalized_time_seconds
    from hil.frames.times import iso_to_seconds as iso_to_seconds
    from hil.frames.times import seconds_to_iso as seconds_to_iso
    from hil.frames.view import DecodedFrame as DecodedFrame
    from hil.frames.view import decode as decode
    from hil.frames.view import interpret as interpret

# module -> the public names it holds (tests/test_frames_api.py checks this against the block
# above).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "hil.frames.build": ("asn1_alert_payload", "build_alert", "build_frame", "build_summary",
                         "dlms_alert_payload", "dlms_payload", "gbz_alert_payload",
                         "summary_payload"),
    "hil.frames.fast": ("decode_fast",),
    "hil.frames.identity": ("alert_identity",),
    "hil.frames.layouts": ("ENVELOPE_CIPHERED", "ENVELOPE_SIGNED", "encode", "parse"),
    "hil.frames.primitives": ("FrameError",),
    "hil.frames.security": ("Auth", "authenticate", "verify"),
    "hil.frames.summary": ("SUMMARY_KINDS",),
    "hil.frames.times": ("EPOCH_2000", "dlms_datetime", "dlms_datetime_seconds",
                         "generalized_time_iso", "generalized_time_seconds", "iso_to_seconds",
                         "seconds_to_iso"),
    "hil.frames.view": ("DecodedFrame", "decode", "interpret"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
