"""The real RTDS alert frames: every sample decodes to expected.jsonl (plus the fields derived by
hand below), round-trips byte for byte, and is rebuilt exactly by both builders; malformed
frames give FrameError with the right byte offset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware_model import gbcs
from hil.frames import (
    FrameError,
    build_frame,
    build_summary,
    decode,
    decode_fast,
    dlms_datetime_seconds,
    encode,
    iso_to_seconds,
    parse,
)

DATA = Path(__file__).parent / "data" / "rtds-sample"
EXPECTED = [json.loads(line) for line in (DATA / "expected.jsonl").read_text().splitlines()]

# Derived by hand from the bytes (see docs/frames.md "Worked examples").
BY_HAND = {
    "CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT_GBCS.HEX":
        dict(envelope="signed", encoding="asn1", alert_time="2030-01-15T09:00:00Z",
             signature_present=True, payload_length=39),
    "ECS80_NA_8F36_ALERT_GBCS.HEX":
        dict(envelope="signed", encoding="dlms", alert_time="2015-01-01T00:00:00Z",
             signature_present=True, payload_length=53),
    "GCA-DLMS_NA_8F30_ALERT_GBCS.HEX":
        dict(envelope="signed", encoding="dlms", alert_time="2015-01-01T00:00:00Z",
             signature_present=True, payload_length=25),
    "GCA-ZigBee_NA_8F30_ALERT_GBCS.HEX":
        dict(envelope="signed", encoding="gbz", alert_time="2015-01-01T00:00:00Z",
             signature_present=True, payload_length=9),
    "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX":
        dict(envelope="ciphered", encoding="dlms", alert_time="2015-01-01T00:00:00Z",
             security_control=0x11, invocation_counter=0, signature_present=False),
    "GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX":
        dict(envelope="ciphered", encoding="gbz", alert_time="2015-01-01T00:00:00Z",
             security_control=0x11, signature_present=False),
    "MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX":
        dict(envelope="ciphered", encoding="dlms", alert_time="2015-01-01T00:00:00Z",
             payload_length=29),
    "MIIWA-ZigBee_NA_81A0_ALERT_GBCS.HEX":
        dict(envelope="ciphered", encoding="gbz", alert_time="2015-01-01T00:00:00Z",
             payload_length=11),
}

ORIG_A0 = bytes.fromhex("00DB1234567890A0")
ORIG_A1 = bytes.fromhex("00DB1234567890A1")
RECIP = bytes.fromhex("90B3D51F30010000")
T2015 = iso_to_seconds("2015-01-01T00:00:00Z")


def sample(name: str) -> bytes:
    return bytes.fromhex((DATA / name).read_text().strip())


def test_every_sample_has_an_expectation() -> None:
    assert sorted(e["file"] for e in EXPECTED) == sorted(p.name for p in DATA.glob("*.HEX"))
    assert sorted(BY_HAND) == sorted(e["file"] for e in EXPECTED)


@pytest.mark.parametrize("exp", EXPECTED, ids=[e["file"] for e in EXPECTED])
@pytest.mark.parametrize("decoder", [decode, decode_fast], ids=["construct", "fast"])
def test_sample_decodes_to_expected_fields(exp: dict, decoder) -> None:
    got = decoder(sample(exp["file"])).to_dict()
    want = {k: v for k, v in exp.items() if k != "file"} | BY_HAND[exp["file"]]
    assert {k: got[k] for k in want} == want
    assert got["encrypted"] is False and got["is_summary"] is False


@pytest.mark.parametrize("exp", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_sample_round_trips_byte_exact(exp: dict) -> None:
    raw = sample(exp["file"])
    assert encode(parse(raw)) == raw


@pytest.mark.parametrize("exp", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_firmware_codec_parses_sample_like_host(exp: dict) -> None:
    raw = sample(exp["file"])
    fw = gbcs.fields(raw, gbcs.parse(raw))
    host = decode(raw).to_dict()
    host["alert_time"] = iso_to_seconds(host["alert_time"])
    assert fw == {k: host[k] for k in fw}


def test_firmware_builder_reproduces_rtds_frames_exactly() -> None:
    buf = bytearray(200)
    gnca = sample("GNCA-DLMS_NA_810E_ALERT_GBCS.HEX")
    n = gbcs.build_alert(buf, True, 2000, ORIG_A0, RECIP, 0x1001, 0x810E, gbcs.ENC_DLMS, T2015,
                         invoke_id=0x200007D0, mac=gnca[-12:])
    assert bytes(buf[:n]) == gnca
    gnca_z = sample("GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX")
    n = gbcs.build_alert(buf, True, 3000, ORIG_A1, RECIP, 0x1001, 0x810E, gbcs.ENC_GBZ, T2015,
                         mac=gnca_z[-12:])
    assert bytes(buf[:n]) == gnca_z
    gca = sample("GCA-DLMS_NA_8F30_ALERT_GBCS.HEX")
    n = gbcs.build_alert(buf, False, 2000, ORIG_A0, RECIP, 0x1000, 0x8F30, gbcs.ENC_DLMS, T2015,
                         invoke_id=0x200007D0, signature=gca[-64:])
    assert bytes(buf[:n]) == gca
    gca_z = sample("GCA-ZigBee_NA_8F30_ALERT_GBCS.HEX")
    n = gbcs.build_alert(buf, False, 3000, ORIG_A1, RECIP, 0x1000, 0x8F30, gbcs.ENC_GBZ, T2015,
                         signature=gca_z[-64:])
    assert bytes(buf[:n]) == gca_z


def test_host_builder_reproduces_rtds_frames_exactly() -> None:
    for name, envelope, orig, code in (
            ("MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX", "ciphered", ORIG_A0, 0x00F0),
            ("ECS80_NA_8F36_ALERT_GBCS.HEX", "signed", ORIG_A0, 0x0067),
            ("CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT_GBCS.HEX", "signed", ORIG_A0, 0x00CA)):
        raw = sample(name)
        tree = parse(raw)
        gs = tree.body if envelope == "signed" else tree.body.ciphered.content
        payload = raw[gs.content.start:gs.content.end]
        kw = ({"signature": gs.signature} if envelope == "signed"
              else {"mac": tree.body.ciphered.mac})
        built = build_frame(envelope=envelope, payload=payload,
                            originator_counter=gs.originator_counter, originator_title=orig,
                            recipient_title=gs.recipient_title, message_code=code, **kw)
        assert built == raw, name


def test_summary_frame_decodes_to_its_fields() -> None:
    raw = build_summary(summary_time="2026-11-21T12:00:00Z", suppressed_code=0x8F75,
                        suppressed_count=41, episode_total=250,
                        first_time="2026-11-21T11:00:00Z", last_time="2026-11-21T11:59:59Z",
                        kind=1, originator_counter=77)
    for decoder in (decode, decode_fast):
        d = decoder(raw).to_dict()
        assert (d["envelope"], d["message_code"], d["alert_code"], d["encoding"]) == (
            "ciphered", "0x1001", "0x8FFE", "dlms")
        assert (d["is_summary"], d["summary_kind"], d["suppressed_code"], d["suppressed_count"],
                d["episode_total"], d["first_time"], d["last_time"], d["alert_time"]) == (
            True, 1, "0x8F75", 41, 250, "2026-11-21T11:00:00Z", "2026-11-21T11:59:59Z",
            "2026-11-21T12:00:00Z")
    assert encode(parse(raw)) == raw


def test_encrypted_frame_yields_envelope_fields_from_the_header() -> None:
    raw = build_frame(envelope="ciphered", payload=bytes(range(30)), originator_counter=5,
                      originator_title=ORIG_A0, recipient_title=RECIP, message_code=0x1001,
                      security_control=0x31, invocation_counter=9)
    for decoder in (decode, decode_fast):
        d = decoder(raw)
        assert (d.encrypted, d.alert_code, d.encoding, d.cra_flag, d.originator_counter,
                d.originator_title, d.message_code, d.security_control,
                d.invocation_counter, d.payload_length) == (
            True, None, None, 3, 5, "00DB1234567890A0", "0x1001", 0x31, 9, 30)
    fw = gbcs.fields(raw, gbcs.parse(raw))
    assert (fw["encrypted"], fw["alert_code"], fw["originator_counter"],
            fw["originator_title"]) == (True, None, 5, "00DB1234567890A0")
    assert encode(parse(raw)) == raw


def _flip(raw: bytes, at: int, value: int) -> bytes:
    b = bytearray(raw)
    b[at] = value
    return bytes(b)


GCA = sample("GCA-DLMS_NA_8F30_ALERT_GBCS.HEX")
GNCA = sample("GNCA-DLMS_NA_810E_ALERT_GBCS.HEX")
MALFORMED = [
    # (frame, byte offset, words the message must contain)
    (b"", 0, "empty frame"),
    (b"\x30\x00", 0, "unknown envelope tag 0x30"),
    (GCA[:18], 12, "originator_title needs 8 bytes, only 6 left"),
    (_flip(GCA, 2, 0x07), 2, "CRA flag 0x07"),
    (_flip(GCA, 11, 0x07), 11, "originator-system-title length"),
    (_flip(GCA, 29, 0x81), 29, "non-minimal DER length"),
    (_flip(GCA, 29, 0x80), 29, "unsupported DER length byte 0x80"),
    (_flip(GCA, 33, 0x7F), 33, "content length 127 exceeds"),
    (_flip(GCA, 42, 0x13), 42, "unsupported DLMS data type 0x13"),
    (_flip(GCA, 59, 0x3F), 59, "signature of 63 bytes"),
    (GCA + b"\x00", len(GCA), "1 trailing bytes"),
    (_flip(GNCA, 8, 0x01), 8, "security control 0x01"),
    (_flip(GNCA, 7, 0x10), 13, "no room for its 12-byte MAC"),
    (GNCA[:-1], 7, "ciphered content length 77 exceeds"),
    (_flip(GNCA, 1, 0x01), 1, "transaction-id of 1 bytes"),
]


@pytest.mark.parametrize("raw,offset,words", MALFORMED, ids=[m[2] for m in MALFORMED])
@pytest.mark.parametrize("decoder", [decode, decode_fast], ids=["construct", "fast"])
def test_malformed_frame_reports_what_and_where(raw: bytes, offset: int, words: str,
                                                decoder) -> None:
    with pytest.raises(FrameError) as info:
        decoder(raw)
    assert info.value.offset == offset
    assert words in str(info.value) and str(info.value).endswith(f"at byte {offset}")
    with pytest.raises(gbcs.FrameError) as fw:
        gbcs.parse(raw)
    assert fw.value.offset == offset


def test_summary_with_wrong_layout_is_rejected() -> None:
    raw = build_summary(summary_time=0, suppressed_code=0x8F75, suppressed_count=1,
                        episode_total=1, first_time=0, last_time=0, kind=2)
    bad_kind = bytearray(raw)
    bad_kind[-14] = 3  # kind byte sits before signature length 00 and the 12-byte MAC
    for decoder in (decode, decode_fast):
        with pytest.raises(FrameError, match="summary kind 3"):
            decoder(bytes(bad_kind))
    with pytest.raises(gbcs.FrameError):
        gbcs.parse(bytes(bad_kind))


@pytest.mark.parametrize("dt,expected", [
    ("07DF0101FF000000008000FF", "2015-01-01T00:00:00Z"),       # deviation unspecified: UTC
    ("07DF0101FF0C000000FFC400", "2015-01-01T11:00:00Z"),       # deviation -60: UTC = local - 1h
    ("FFFF0101FF000000008000FF", None),                          # year unspecified
    ("07DFFE01FF000000008000FF", None),                          # DST-begin month special
    ("07DF0230FF000000008000FF", None),                          # 30 February
    ("07DF0101FFFF0000008000FF", None),                          # hour unspecified
    ("07DF0101FF0000FFFF8000FF", None),                          # second unspecified
    ("07DF0101FF00000000FD00FF", None),                          # deviation -768 out of range
    ("07DF0101FF0000003B8000FF", "2015-01-01T00:00:00Z"),       # hundredths ignored
])
def test_dlms_datetime_rules(dt: str, expected: str | None) -> None:
    raw = bytes.fromhex(dt)
    secs = dlms_datetime_seconds(raw)
    assert secs == (None if expected is None else iso_to_seconds(expected))
    assert gbcs.dlms_time(raw, 0) == secs


def test_only_alert_frames_carry_an_alert_code() -> None:
    gbz = sample("GCA-ZigBee_NA_8F30_ALERT_GBCS.HEX")
    for cra in (1, 2):
        raw = _flip(gbz, 2, cra)
        for decoder in (decode, decode_fast):
            d = decoder(raw)
            assert (d.cra_flag, d.encoding, d.alert_code, d.alert_time) == (cra, "gbz", None,
                                                                           None)
        fw = gbcs.fields(raw, gbcs.parse(raw))
        assert (fw["cra_flag"], fw["encoding"], fw["alert_code"]) == (cra, "gbz", None)
