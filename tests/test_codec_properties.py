"""Properties across the three codecs: what the firmware builds the host parses to the same
fields, what the host builds (within what the device handles) the firmware parses to the same
fields, construct round-trips every generated frame byte for byte, and the firmware's integer
calendar agrees with datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model import gbcs
from hil.frames import (
    EPOCH_2000,
    asn1_alert_payload,
    build_frame,
    build_summary,
    decode,
    decode_fast,
    dlms_alert_payload,
    dlms_datetime,
    dlms_payload,
    encode,
    gbz_alert_payload,
    iso_to_seconds,
    parse,
)

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
TITLE = st.binary(min_size=8, max_size=8)
# 2000-01-01 .. 2135: what a uint32 GBZ time and the firmware's DLMS writer both cover
SECS = st.integers(0, 0xFFFFFFFF)
COUNTER = st.integers(0, 2**64 - 1)


def host_fields(raw: bytes, decoder=decode) -> dict:
    d = decoder(raw).to_dict()
    for key in ("alert_time", "first_time", "last_time"):
        d[key] = None if d[key] is None else iso_to_seconds(d[key])
    return d


def fw_fields(raw: bytes) -> dict:
    return gbcs.fields(raw, gbcs.parse(raw))


def same(fw: dict, host: dict) -> None:
    assert fw == {k: host[k] for k in fw}


@settings(max_examples=300, deadline=None)
@given(ciphered=st.booleans(), counter=COUNTER, orig=TITLE, recip=TITLE,
       msg=st.sampled_from([0x1000, 0x1001, 0x0067, 0x00F0]),
       code=U16.filter(lambda c: c != gbcs.SUMMARY_CODE),
       enc=st.sampled_from([gbcs.ENC_DLMS, gbcs.ENC_GBZ]), t=SECS, ic=U32, invoke=U32,
       mac=st.one_of(st.none(), st.binary(min_size=12, max_size=12)))
def test_firmware_built_alert_parses_on_host(ciphered, counter, orig, recip, msg, code, enc, t,
                                             ic, invoke, mac) -> None:
    buf = bytearray(160)
    n = gbcs.build_alert(buf, ciphered, counter, orig, recip, msg, code, enc, t, ic=ic,
                         invoke_id=invoke, mac=mac if ciphered else None)
    raw = bytes(buf[:n])
    host = host_fields(raw)
    assert host == host_fields(raw, decode_fast)
    assert (host["envelope"], host["originator_counter"], host["originator_title"],
            host["recipient_title"], host["message_code"], host["alert_code"],
            host["alert_time"], host["encoding"]) == (
        "ciphered" if ciphered else "signed", counter, orig.hex().upper(), recip.hex().upper(),
        f"0x{msg:04X}", f"0x{code:04X}", t, "dlms" if enc == gbcs.ENC_DLMS else "gbz")
    same(fw_fields(raw), host)
    assert encode(parse(raw)) == raw


def test_firmware_refuses_to_build_an_alert_with_the_summary_code() -> None:
    buf = bytearray(160)
    try:
        gbcs.build_alert(buf, True, 1, bytes(8), bytes(8), 0x1001, gbcs.SUMMARY_CODE,
                         gbcs.ENC_DLMS, 0)
    except ValueError as exc:
        assert "summary" in str(exc)
    else:
        raise AssertionError("build_alert accepted 0x8FFE")


@settings(max_examples=200, deadline=None)
@given(counter=COUNTER, orig=TITLE, recip=TITLE, t=SECS, code=U16, count=U32, total=U32,
       first=SECS, last=SECS, kind=st.integers(0, 2), ic=U32)
def test_firmware_built_summary_parses_on_host(counter, orig, recip, t, code, count, total,
                                               first, last, kind, ic) -> None:
    buf = bytearray(160)
    n = gbcs.build_summary(buf, counter, orig, recip, t, code, count, total, first, last, kind,
                           ic=ic)
    raw = bytes(buf[:n])
    host = host_fields(raw)
    assert (host["is_summary"], host["summary_kind"], host["suppressed_code"],
            host["suppressed_count"], host["episode_total"], host["first_time"],
            host["last_time"], host["alert_time"], host["message_code"]) == (
        True, kind, f"0x{code:04X}", count, total, first, last, t, "0x1001")
    same(fw_fields(raw), host)
    # and the host builder makes the very same bytes from the same fields
    assert raw == build_summary(summary_time=t, suppressed_code=code, suppressed_count=count,
                                episode_total=total, first_time=first, last_time=last,
                                kind=kind, originator_counter=counter, originator_title=orig,
                                recipient_title=recip, invocation_counter=ic)


# ---- host-built frames, including shapes the firmware never builds but must parse ----------

def dlms_element(depth: int = 0) -> st.SearchStrategy:
    leaves = st.one_of(
        st.tuples(st.just(0x12), U16), st.tuples(st.just(0x06), U32),
        st.tuples(st.just(0x11), st.integers(0, 255)), st.tuples(st.just(0x16), st.integers(0, 255)),
        st.tuples(st.just(0x10), st.integers(-0x8000, 0x7FFF)),
        st.tuples(st.just(0x05), st.integers(-2**31, 2**31 - 1)),
        st.tuples(st.just(0x15), st.integers(0, 2**64 - 1)),
        st.tuples(st.just(0x09), st.binary(max_size=140)),
        st.tuples(st.just(0x0A), st.binary(max_size=10)),
        st.tuples(st.just(0x03), st.integers(0, 1)), st.tuples(st.just(0x00), st.none()),
        st.tuples(st.just(0x19), st.binary(min_size=12, max_size=12)))
    if depth >= 2:
        return leaves
    return st.one_of(leaves, st.lists(dlms_element(depth + 1), max_size=4).map(
        lambda items: (0x02, {"count": len(items), "items": [
            {"type": t, "value": v} for t, v in items]})))


@st.composite
def host_payload(draw) -> bytes:
    kind = draw(st.sampled_from(["dlms", "dlms-extra", "gbz", "asn1", "summary", "opaque"]))
    code = draw(U16)
    t = draw(st.integers(0, 0xFFFFFFFF))
    if kind == "dlms":
        return dlms_alert_payload(code, t, invoke_id=draw(U32))
    if kind == "dlms-extra":
        return dlms_alert_payload(code, t, extra=draw(st.lists(dlms_element(), max_size=4)))
    if kind == "gbz":
        return gbz_alert_payload(code, t, components=draw(st.integers(0, 255)),
                                 rest=draw(st.binary(max_size=20)))
    if kind == "asn1":
        return asn1_alert_payload(code, min(t, 0x7FFFFFFF),
                                  extra=draw(st.sampled_from([b"", b"\x02\x02\x03\xe9",
                                                              b"\x30\x03\x02\x01\x00"])))
    if kind == "summary":
        return dlms_payload([(0x12, 0x8FFE), (0x09, dlms_datetime(t)), (0x12, code),
                             (0x06, draw(U32)), (0x06, draw(U32)), (0x09, dlms_datetime(t)),
                             (0x09, dlms_datetime(t)), (0x11, draw(st.integers(0, 2)))])
    return draw(st.binary(max_size=300).filter(lambda b: not b or b[0] not in (0x0F, 0x01, 0x30)))


@settings(max_examples=400, deadline=None)
@given(payload=host_payload(), envelope=st.sampled_from(["signed", "ciphered"]),
       counter=COUNTER, orig=TITLE, recip=TITLE, msg=U16, cra=st.integers(1, 3),
       sc=st.sampled_from([0x11, 0x31, 0x10, 0x51]), ic=U32,
       date_time=st.sampled_from([b"", bytes(12)]),
       extra=st.sampled_from([b"", bytes(8), bytes(range(16))]))
def test_host_built_frame_parses_on_firmware_and_round_trips(payload, envelope, counter, orig,
                                                             recip, msg, cra, sc, ic, date_time,
                                                             extra) -> None:
    raw = build_frame(envelope=envelope, payload=payload, originator_counter=counter,
                      originator_title=orig, recipient_title=recip, message_code=msg,
                      cra_flag=cra, security_control=sc, invocation_counter=ic,
                      date_time=date_time, other_information_extra=extra)
    host = host_fields(raw)
    assert host == host_fields(raw, decode_fast)
    assert (host["cra_flag"], host["originator_counter"], host["originator_title"],
            host["message_code"]) == (cra, counter, orig.hex().upper(), f"0x{msg:04X}")
    if len(payload) > 2 and envelope == "ciphered" and sc & 0x20:
        assert host["encrypted"] and host["alert_code"] is None
    same(fw_fields(raw), host)
    assert encode(parse(raw)) == raw


@settings(max_examples=300, deadline=None)
@given(secs=st.integers(-(10**10), 10**11))
def test_firmware_calendar_matches_datetime(secs: int) -> None:
    dt = EPOCH_2000 + timedelta(seconds=secs)
    c = gbcs.civil_from_seconds(secs, [0] * 6)
    assert tuple(c) == (dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second)
    assert gbcs.days_since_2000(dt.year, dt.month, dt.day) == (
        datetime(dt.year, dt.month, dt.day, tzinfo=UTC) - EPOCH_2000).days
    if 0 <= secs <= 0xFFFFFFFF:
        buf = bytearray(12)
        gbcs.put_dlms_time(buf, 0, secs)
        assert bytes(buf) == dlms_datetime(secs)
        assert gbcs.dlms_time(buf, 0) == secs
