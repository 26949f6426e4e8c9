"""Building exactly (docs/frames.md section 4.5): every builder option round-trips through both
host decoders (and construct, byte for byte); the DataNotification date-time is the A-XDR
`0C` + 12 bytes; the long-invoke-id is the one devices set; `build_alert` builds only payload
kinds the message code carries and refuses the summary code; and the host builder and the
device encoder make the same bytes from the same fields, the RTDS alerts among them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from firmware_model import gbcs
from hil.frames import (
    FrameError,
    build_alert,
    build_frame,
    build_summary,
    decode,
    decode_fast,
    dlms_alert_payload,
    dlms_datetime,
    dlms_payload,
    encode,
    iso_to_seconds,
    parse,
    seconds_to_iso,
)
from hil.frames.build import alert_invoke_id
from hil.frames.message_codes import MESSAGE_CODES, alert_class, encodings_of, message_code_for

DATA = Path(__file__).parent / "data" / "rtds-sample"
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
TITLE = st.binary(min_size=8, max_size=8)
COUNTER = st.integers(0, 2**64 - 1)
ALERT = U16.filter(lambda c: c != 0x8FFE)
T2015 = iso_to_seconds("2015-01-01T00:00:00Z")
A0, A1 = bytes.fromhex("00DB1234567890A0"), bytes.fromhex("00DB1234567890A1")
RECIP = bytes.fromhex("90B3D51F30010000")
UNLISTED = 0x1234  # a message code this project does not know


def sample(name: str) -> bytes:
    return bytes.fromhex((DATA / name).read_text().strip())


def decoded(raw: bytes) -> dict:
    ref, fast = decode(raw).to_dict(), decode_fast(raw).to_dict()
    assert ref == fast, raw.hex()
    assert ref["deviations"] == [], raw.hex()  # the builders write only exact forms
    assert encode(parse(raw)) == raw
    return ref


def fw_agrees(raw: bytes, rec: dict) -> None:
    fw = gbcs.fields(raw, gbcs.parse(raw))
    want = {k: (iso_to_seconds(v) if k in ("alert_time", "first_time", "last_time")
                and v is not None else v) for k, v in rec.items()}
    assert fw == {k: want[k] for k in fw}, raw.hex()


def content(raw: bytes) -> bytes:
    tree = parse(raw)
    gs = tree.body if tree.envelope == 0xDF else tree.body.ciphered.content
    return raw[gs.content.start:gs.content.end]


# ---- every builder option through both decoders -------------------------------------------

@st.composite
def alert_options(draw) -> dict:
    encoding = draw(st.sampled_from(["dlms", "gbz", "asn1"]))
    codes = [c for c in [*MESSAGE_CODES, UNLISTED] if encoding in encodings_of(c)]
    opts: dict = dict(encoding=encoding, alert_code=draw(ALERT),
                      message_code=draw(st.one_of(st.none(), st.sampled_from(codes))),
                      envelope=draw(st.sampled_from([None, "signed", "ciphered"])),
                      originator_counter=draw(COUNTER), originator_title=draw(TITLE),
                      recipient_title=draw(TITLE), cra_flag=draw(st.integers(1, 3)),
                      date_time=draw(st.sampled_from([b"", bytes(12)])),
                      other_information_extra=draw(st.sampled_from([b"", bytes(8)])),
                      invocation_counter=draw(U32))
    opts["alert_time"] = draw(st.integers(0, 0x7FFFFFFF))
    if encoding == "dlms":
        opts["invoke_id"] = draw(st.one_of(st.none(), U32))
    if draw(st.booleans()):
        opts["signature"] = draw(st.binary(min_size=64, max_size=64))
    opts["mac"] = draw(st.binary(min_size=12, max_size=12))
    opts["security_control"] = draw(st.sampled_from([0x11, 0x10, 0x31]))
    return opts


@settings(max_examples=400, deadline=None)
@given(opts=alert_options())
def test_every_build_alert_option_round_trips_through_both_decoders(opts: dict) -> None:
    code, when = opts.pop("alert_code"), opts.pop("alert_time")
    raw = build_alert(code, when, **opts)
    rec = decoded(raw)
    msg = opts["message_code"] or message_code_for(code, opts["encoding"])
    envelope = opts["envelope"] or ("signed" if alert_class(msg, code) == "critical"
                                    else "ciphered")
    encrypted = envelope == "ciphered" and bool(opts["security_control"] & 0x20)
    alert = opts["cra_flag"] == 3 and not encrypted
    assert (rec["envelope"], rec["encrypted"], rec["cra_flag"], rec["originator_counter"],
            rec["originator_title"], rec["recipient_title"], rec["message_code"],
            rec["date_time"], rec["other_information_extra"]) == (
        envelope, encrypted, opts["cra_flag"], opts["originator_counter"],
        opts["originator_title"].hex().upper(), opts["recipient_title"].hex().upper(),
        f"0x{msg:04X}", opts["date_time"].hex().upper() or None,
        opts["other_information_extra"].hex().upper() or None)
    assert rec["encoding"] == (None if encrypted else opts["encoding"])
    assert rec["alert_code"] == (f"0x{code:04X}" if alert else None)
    assert rec["alert_time"] == (seconds_to_iso(when) if alert else None)
    if envelope == "signed":
        assert rec["signature_present"] and rec["security_control"] is None
    else:
        assert (rec["signature_present"], rec["security_control"],
                rec["invocation_counter"]) == (False, opts["security_control"],
                                               opts["invocation_counter"])
    if opts["encoding"] == "dlms" and not encrypted:
        tree = parse(raw)
        gs = tree.body if envelope == "signed" else tree.body.ciphered.content
        want = opts["invoke_id"]
        assert gs.content.body.invoke_id == (
            alert_invoke_id(opts["originator_counter"]) if want is None else want)
    fw_agrees(raw, rec)


@settings(max_examples=200, deadline=None)
@given(t=U32, code=U16, count=U32, total=U32, first=U32, last=U32, kind=st.integers(0, 2),
       counter=COUNTER, orig=TITLE, recip=TITLE, invoke=st.one_of(st.none(), U32), ic=U32,
       mac=st.binary(min_size=12, max_size=12))
def test_every_build_summary_option_round_trips(t, code, count, total, first, last, kind,
                                                counter, orig, recip, invoke, ic, mac) -> None:
    raw = build_summary(summary_time=t, suppressed_code=code, suppressed_count=count,
                        episode_total=total, first_time=first, last_time=last, kind=kind,
                        originator_counter=counter, originator_title=orig,
                        recipient_title=recip, invoke_id=invoke, invocation_counter=ic,
                        mac=mac)
    rec = decoded(raw)
    assert (rec["is_summary"], rec["summary_kind"], rec["suppressed_code"],
            rec["suppressed_count"], rec["episode_total"], rec["first_time"],
            rec["last_time"], rec["alert_time"], rec["originator_counter"],
            rec["invocation_counter"]) == (
        True, kind, f"0x{code:04X}", count, total, seconds_to_iso(first),
        seconds_to_iso(last), seconds_to_iso(t), counter, ic)
    assert parse(raw).body.ciphered.content.content.body.invoke_id == (
        alert_invoke_id(counter) if invoke is None else invoke)
    assert raw[-12:] == mac
    fw_agrees(raw, rec)


@settings(max_examples=200, deadline=None)
@given(code=U16, t=U32, notified=st.one_of(st.none(), U32), invoke=U32,
       extra=st.lists(st.tuples(st.just(0x06), U32), max_size=3),
       envelope=st.sampled_from(["signed", "ciphered"]))
def test_dlms_payload_options_round_trip(code, t, notified, invoke, extra, envelope) -> None:
    when = None if notified is None else dlms_datetime(notified)
    payload = dlms_payload([(0x12, code), (0x09, dlms_datetime(t)), *extra],
                           invoke_id=invoke, notification_time=when)
    # the notification date-time is an A-XDR OCTET STRING: 00, or 0C and its 12 bytes
    assert payload[5:6] == b"\x00" if when is None else payload[5:18] == b"\x0c" + when
    raw = build_frame(envelope=envelope, payload=payload, originator_counter=1,
                      originator_title=A0, recipient_title=RECIP, message_code=0x1001)
    rec = decoded(raw)
    assert (rec["encoding"], rec["payload_length"]) == ("dlms", len(payload))
    if code != 0x8FFE:
        assert (rec["alert_code"], rec["alert_time"]) == (f"0x{code:04X}", seconds_to_iso(t))
        fw_agrees(raw, rec)
    tree = parse(raw)
    gs = tree.body if envelope == "signed" else tree.body.ciphered.content
    assert (gs.content.body.invoke_id, gs.content.body.date_time) == (invoke, when)


def test_notification_date_time_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(FrameError, match="notification date-time must be 12 bytes, got 11"):
        dlms_payload([(0x12, 0x8F30)], notification_time=bytes(11))


# ---- header bytes as real devices set them ---------------------------------------------------

def test_the_invoke_id_is_the_one_of_the_rtds_alerts() -> None:
    assert alert_invoke_id(2000) == 0x200007D0 and alert_invoke_id(2003) == 0x200007D3
    assert alert_invoke_id(2**40 + 5) == 0x20000005  # the counter's low 24 bits
    for name in ("GCA-DLMS_NA_8F30_ALERT_GBCS.HEX", "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX",
                 "MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX", "ECS80_NA_8F36_ALERT_GBCS.HEX"):
        raw = sample(name)
        tree = parse(raw)
        gs = tree.body if tree.envelope == 0xDF else tree.body.ciphered.content
        assert gs.content.body.invoke_id == alert_invoke_id(gs.originator_counter), name


GENERIC_RTDS = [  # (file, alert code, encoding, originator title): generic alerts, 0x1000/1001
    ("GCA-DLMS_NA_8F30_ALERT_GBCS.HEX", 0x8F30, "dlms", A0),
    ("GCA-ZigBee_NA_8F30_ALERT_GBCS.HEX", 0x8F30, "gbz", A1),
    ("GNCA-DLMS_NA_810E_ALERT_GBCS.HEX", 0x810E, "dlms", A0),
    ("GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX", 0x810E, "gbz", A1),
]


@pytest.mark.parametrize("name,code,encoding,orig", GENERIC_RTDS,
                         ids=[g[0] for g in GENERIC_RTDS])
def test_build_alert_defaults_rebuild_the_rtds_alerts(name: str, code: int, encoding: str,
                                                      orig: bytes) -> None:
    """Only the fields and the real MAC or signature given: message code, envelope,
    invoke-id and every other header byte are the builders' defaults."""
    raw = sample(name)
    tree = parse(raw)
    signed = tree.envelope == 0xDF
    counter = (tree.body if signed else tree.body.ciphered.content).originator_counter
    message_code = int(decode(raw).message_code, 16)
    trailer = {"signature": raw[-64:]} if signed else {"mac": raw[-12:]}
    assert build_alert(code, T2015, encoding=encoding, originator_counter=counter,
                       originator_title=orig, recipient_title=RECIP, **trailer) == raw
    buf = bytearray(gbcs.FRAME_MAX)
    n = gbcs.build_alert(buf, not signed, counter, orig, RECIP, message_code, code,
                         gbcs.ENC_DLMS if encoding == "dlms" else gbcs.ENC_GBZ, T2015,
                         **trailer)
    assert bytes(buf[:n]) == raw


@settings(max_examples=300, deadline=None)
@given(ciphered=st.booleans(), counter=COUNTER, orig=TITLE, recip=TITLE,
       msg=st.sampled_from([0x1000, 0x1001, 0x0067, 0x00F0, 0x00F2, UNLISTED]), code=ALERT,
       enc=st.sampled_from([gbcs.ENC_DLMS, gbcs.ENC_GBZ]), t=U32, ic=U32,
       invoke=st.one_of(st.none(), U32), trailer=st.binary(min_size=64, max_size=64))
def test_host_builder_and_device_encoder_make_the_same_bytes(ciphered, counter, orig, recip,
                                                             msg, code, enc, t, ic, invoke,
                                                             trailer) -> None:
    encoding = "dlms" if enc == gbcs.ENC_DLMS else "gbz"
    assume(encoding in encodings_of(msg))
    buf = bytearray(gbcs.FRAME_MAX)
    mac, sig = (trailer[:12], None) if ciphered else (None, trailer)
    n = gbcs.build_alert(buf, ciphered, counter, orig, recip, msg, code, enc, t, ic=ic,
                         invoke_id=invoke, mac=mac, signature=sig)
    kw = {"mac": mac} if ciphered else {"signature": sig}
    if encoding == "dlms":
        kw["invoke_id"] = invoke
    assert build_alert(code, t, encoding=encoding, envelope="ciphered" if ciphered else
                       "signed", message_code=msg, originator_counter=counter,
                       originator_title=orig, recipient_title=recip, invocation_counter=ic,
                       **kw) == bytes(buf[:n])


# ---- payload kinds only under the message codes that carry them ----------------------------

@pytest.mark.parametrize("message_code,encoding", [
    (0x1000, "asn1"), (0x1001, "asn1"), (0x0067, "asn1"), (0x00F0, "asn1"), (UNLISTED, "asn1"),
    (0x00CA, "dlms"), (0x00CA, "gbz"), (0x00F0, "gbz"), (0x00F2, "dlms"), (0x00CD, "dlms"),
])
def test_a_payload_kind_its_message_code_never_carries_is_refused(message_code: int,
                                                                   encoding: str) -> None:
    with pytest.raises(FrameError, match=f"message code 0x{message_code:04X} carries .* "
                                         f"payloads, not {encoding}"):
        build_alert(0x8F30, 0, encoding=encoding, message_code=message_code)


@pytest.mark.parametrize("encoding", ["dlms", "gbz", "asn1"])
def test_build_alert_refuses_the_summary_code(encoding: str) -> None:
    with pytest.raises(FrameError, match="0x8FFE is the suppression summary's: build it with "
                                         "build_summary"):
        build_alert(0x8FFE, 0, encoding=encoding)


def test_invoke_id_is_a_dlms_field() -> None:
    with pytest.raises(FrameError, match="invoke_id is a DLMS field"):
        build_alert(0x8F30, 0, encoding="gbz", invoke_id=1)
    with pytest.raises(FrameError, match="unknown encoding 'xml'"):
        build_alert(0x8F30, 0, encoding="xml")


@pytest.mark.parametrize("code,encoding,message_code,envelope", [
    (0x8F30, "dlms", 0x1000, "signed"),      # critical: the generic critical alert, signed
    (0x810E, "gbz", 0x1001, "ciphered"),     # non-critical: MAC'd
    (0xABCD, "dlms", 0x1001, "ciphered"),    # not catalogued: non-critical
    (0x8F3F, "asn1", 0x00CA, "signed"),      # ASN.1 goes under CS06's alert code
    (0x810E, "asn1", 0x00CA, "ciphered"),
])
def test_default_message_code_and_envelope(code: int, encoding: str, message_code: int,
                                           envelope: str) -> None:
    rec = decoded(build_alert(code, 0, encoding=encoding))
    assert (rec["message_code"], rec["envelope"], rec["encoding"]) == (
        f"0x{message_code:04X}", envelope, encoding)


@pytest.mark.parametrize("name", ["ECS80_NA_8F36_ALERT_GBCS.HEX",
                                  "MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX",
                                  "MIIWA-ZigBee_NA_81A0_ALERT_GBCS.HEX",
                                  "CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT_GBCS.HEX"])
def test_use_case_message_codes_travel_as_the_rtds_shows(name: str) -> None:
    """Under a use-case code the alert's class picks the envelope, and the code carries the
    sample's encoding."""
    rec = decoded(sample(name))
    msg, code = int(rec["message_code"], 16), int(rec["alert_code"], 16)
    assert rec["encoding"] in encodings_of(msg)
    assert rec["envelope"] == ("signed" if alert_class(msg, code) == "critical" else "ciphered")
    built = decoded(build_alert(code, rec["alert_time"], encoding=rec["encoding"],
                                message_code=msg))
    assert (built["envelope"], built["message_code"]) == (rec["envelope"], rec["message_code"])


def test_build_frame_still_wraps_any_payload_under_any_code() -> None:
    """The low-level builder makes the frames a decoder must take although no device sends
    them (an ASN.1 payload under 0x1000 decodes as ASN.1, as before)."""
    asn1 = content(build_alert(0x8F3F, 0, encoding="asn1"))
    raw = build_frame(envelope="signed", payload=asn1, originator_counter=1,
                      originator_title=A0, recipient_title=RECIP, message_code=0x1000)
    assert decoded(raw)["encoding"] == "asn1"
    dlms = dlms_alert_payload(0x8F30, 0)
    assert dlms[1:5] == bytes(4)  # payload builders take the invoke-id they are given (0)
