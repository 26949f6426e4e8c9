"""Lenient where devices are, strict where it matters (docs/frames.md "Deviations"): the forms
real devices send against the rules (DER lengths `82 00nn`, the notification date-time tagged
`09 0C`) decode, in both host decoders and the device codec, to the fields of the exact frame,
with each deviation recorded once at its byte; what is truly malformed is still a FrameError at
the same offset in all three; and construct re-encodes a deviating frame to its exact form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from frame_variants import length_count, non_minimal, tagged_notification_time

from firmware_model import gbcs
from hil.frames import (
    FrameError,
    alert_identity,
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
)

DATA = Path(__file__).parent / "data" / "rtds-sample"
ORIG = "00DB1234567890A0"
RECIP = "90B3D51F30010000"
DEVIATION = re.compile(r"^non-minimal DER length 82 00([0-9A-F]{2}) at byte (\d+)$")


def exact_frames() -> dict[str, bytes]:
    frames = {p.name: bytes.fromhex(p.read_text().strip()) for p in sorted(DATA.glob("*.HEX"))}
    when = dlms_datetime(iso_to_seconds("2026-11-21T12:00:00Z"))
    frames.update({
        "summary": build_summary(summary_time=1, suppressed_code=0x8F75, suppressed_count=3,
                                 episode_total=4, first_time=2, last_time=3, kind=1),
        "asn1": build_alert(0x8F3F, 0, encoding="asn1"),
        "encrypted": build_alert(0x81B2, 7, encoding="gbz", envelope="ciphered",
                                 security_control=0x31),
        "header fields": build_frame(
            envelope="ciphered", payload=dlms_alert_payload(0x8F12, 5), originator_counter=9,
            originator_title=ORIG, recipient_title=RECIP, message_code=0x1001,
            header={"transaction_id": bytes.fromhex("030000000000000009"),
                    "originator_title": bytes.fromhex(ORIG),
                    "other_information": b"\x10\x01"}, date_time=bytes(12)),
        "notification time": build_frame(
            envelope="signed", payload=dlms_payload([(0x12, 0x8F30), (0x09, when)],
                                                    notification_time=when, invoke_id=7),
            originator_counter=7, originator_title=ORIG, recipient_title=RECIP,
            message_code=0x1000),
        "long content": build_alert(0x8F1C, 9, signature=bytes(range(64)),
                                    other_information_extra=bytes(8), date_time=bytes(12)),
    })
    return frames


EXACT = exact_frames()


def host(raw: bytes) -> dict:
    """Both host decoders' record (they must agree on every field, deviations included)."""
    ref, fast = decode(raw).to_dict(), decode_fast(raw).to_dict()
    assert ref == fast, raw.hex()
    return ref


def firmware_agrees(raw: bytes, rec: dict) -> None:
    fw = gbcs.fields(raw, gbcs.parse(raw))
    want = dict(rec)
    for key in ("alert_time", "first_time", "last_time"):
        want[key] = None if want[key] is None else iso_to_seconds(want[key])
    assert fw == {k: want[k] for k in fw}, raw.hex()
    code = rec["alert_code"]
    assert alert_identity(raw) == (rec["originator_title"],
                                   None if code is None else int(code, 16))


def same_fields(variant: dict, exact: dict) -> None:
    """Equal but for the deviations and the content bytes they add."""
    skip = ("deviations", "payload_length")
    assert {k: v for k, v in variant.items() if k not in skip} == {
        k: v for k, v in exact.items() if k not in skip}
    assert variant["payload_length"] >= exact["payload_length"]


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_frames_have_no_deviations(name: str) -> None:
    assert host(EXACT[name])["deviations"] == []


@pytest.mark.parametrize("name", sorted(EXACT))
def test_each_length_in_the_82_00nn_form_decodes_and_is_recorded(name: str) -> None:
    raw = EXACT[name]
    exact = host(raw)
    count = length_count(raw)
    assert count >= 4
    for k in range(count):
        variant, _ = non_minimal(raw, {k})
        rec = host(variant)
        same_fields(rec, exact)
        [deviation] = rec["deviations"]
        m = DEVIATION.match(deviation)
        assert m, deviation
        at = int(m.group(2))
        assert variant[at:at + 3] == bytes((0x82, 0, int(m.group(1), 16)))
        firmware_agrees(variant, rec)
        assert encode(parse(variant)) == raw  # construct writes the exact form back


@pytest.mark.parametrize("name", sorted(EXACT))
def test_every_length_in_the_82_00nn_form_at_once(name: str) -> None:
    raw = EXACT[name]
    variant, count = non_minimal(raw)
    rec = host(variant)
    same_fields(rec, host(raw))
    offsets = [int(m.group(2)) for m in map(DEVIATION.match, rec["deviations"]) if m]
    assert len(offsets) == len(rec["deviations"]) == count
    assert offsets == sorted(set(offsets))  # once each, in byte order
    assert all(variant[at] == 0x82 and variant[at + 1] == 0 for at in offsets)
    firmware_agrees(variant, rec)
    assert encode(parse(variant)) == raw


def test_the_reported_form_of_the_issue_decodes() -> None:
    """`82 00 DE` where `81 DE` would do, at byte 36: the content length of a signed frame
    whose other-information is 5 bytes, as in the reference data."""
    exact = build_frame(envelope="signed", payload=bytes(222), originator_counter=1,
                        originator_title=ORIG, recipient_title=RECIP, message_code=0x1000,
                        other_information_extra=bytes(3))
    assert exact[36:38] == b"\x81\xde"
    variant = exact[:36] + b"\x82\x00\xde" + exact[38:]
    rec = host(variant)
    assert rec["deviations"] == ["non-minimal DER length 82 00DE at byte 36"]
    assert rec["payload_length"] == 222 and rec["encoding"] is None
    firmware_agrees(variant, rec)
    assert encode(parse(variant)) == exact


def test_notification_date_time_tagged_09_0c_is_read_and_recorded() -> None:
    when = dlms_datetime(iso_to_seconds("2026-11-21T12:00:00Z"))
    exact_payload = dlms_payload([(0x12, 0x8F30), (0x09, when)], notification_time=when)
    assert exact_payload[5:18] == b"\x0c" + when  # A-XDR OCTET STRING: length, then bytes
    for envelope, message_code in (("signed", 0x1000), ("ciphered", 0x1001)):
        kw = dict(envelope=envelope, originator_counter=3, originator_title=ORIG,
                  recipient_title=RECIP, message_code=message_code)
        exact = build_frame(payload=exact_payload, **kw)
        variant = build_frame(payload=tagged_notification_time(exact_payload), **kw)
        at = variant.index(b"\x0f\x00\x00\x00\x00\x09\x0c") + 5
        rec = host(variant)
        assert rec["deviations"] == [f"notification date-time tagged 09 0C at byte {at}"]
        same_fields(rec, host(exact))
        assert rec["alert_code"] == "0x8F30" and rec["alert_time"] == "2026-11-21T12:00:00Z"
        firmware_agrees(variant, rec)
        assert encode(parse(variant)) == exact


def _patched(raw: bytes, at: int, new: bytes, old: int = 1) -> bytes:
    return raw[:at] + new + raw[at + old:]


def _signed(payload: bytes) -> bytes:
    return build_frame(envelope="signed", payload=payload, originator_counter=1,
                       originator_title=ORIG, recipient_title=RECIP, message_code=0x1000)


GCA = EXACT["GCA-DLMS_NA_8F30_ALERT_GBCS.HEX"]
GNCA = EXACT["GNCA-DLMS_NA_810E_ALERT_GBCS.HEX"]
STILL_MALFORMED = [
    # (frame, byte offset, words the message must contain)
    (_patched(GCA, 29, b"\x81\x00"), 29, "non-minimal DER length 81 00"),  # no device sends it
    (_patched(GCA, 29, b"\x83\x00\x00\x00"), 29, "unsupported DER length byte 0x83"),
    (_patched(GCA, 29, b"\x80"), 29, "unsupported DER length byte 0x80"),
    (_patched(GCA, 33, b"\x82\x00\xff"), 33, "content length 255 exceeds"),
    (GCA[:29] + b"\x82\x00", 30, "length needs 2 bytes, only 1 left"),
    (_patched(GNCA, 1, b"\x82\x00\x01"), 1, "transaction-id of 1 bytes"),
    # the DataNotification of GCA starts at byte 34, its date-time at 39
    (_patched(GCA, 39, b"\x0b"), 39, "notification date-time: expected 00, 0C or 09 0C, "
                                     "found 0x0B"),
    (_patched(GCA, 39, b"\x09\x0b"), 40, "notification date-time length 11, expected 12"),
    (_signed(b"\x0f\x00\x00\x00\x00\x0c" + bytes(5)), 40,
     "notification date-time needs 12 bytes, only 5 left"),
    (_signed(b"\x0f\x00\x00\x00\x00\x09\x0c" + bytes(3)), 41,
     "notification date-time needs 12 bytes, only 3 left"),
]


@pytest.mark.parametrize("raw,offset,words", STILL_MALFORMED,
                         ids=[m[2][:40] for m in STILL_MALFORMED])
@pytest.mark.parametrize("decoder", [decode, decode_fast], ids=["construct", "fast"])
def test_truly_malformed_frames_are_still_rejected(raw: bytes, offset: int, words: str,
                                                   decoder) -> None:
    with pytest.raises(FrameError) as info:
        decoder(raw)
    assert words in str(info.value) and str(info.value).endswith(f"at byte {offset}")
    with pytest.raises(gbcs.FrameError) as fw:
        gbcs.parse(raw)
    assert fw.value.offset == offset


def test_deviations_are_a_fresh_list_per_frame() -> None:
    variant, _ = non_minimal(GCA, {0})
    first, again = decode_fast(variant), decode_fast(variant)
    assert first.deviations == again.deviations and first.deviations is not again.deviations
    assert decode_fast(GCA).deviations == [] and first.to_dict()["deviations"] is not \
        first.deviations
