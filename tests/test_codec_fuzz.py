"""Fuzz all three decoders (construct reference, host fast path, firmware struct codec) with
random bytes and mutated real frames: bit flips, truncation, insertion, deletion, length-field
corruption, lengths rewritten `82 00nn` and splices. The corpus holds the forms devices send
against the rules too (docs/frames.md "Deviations": `82 00nn` lengths, the `09 0C`
notification date-time) next to the exact ones. Only the typed FrameError may escape, and the
decoders must agree: the two host decoders on every field (the deviations they record
included) and on the error offset, the firmware codec on acceptance, on every field it
reports and on the error offset.

Default run: FUZZ_EXAMPLES=40000 mutated frames + a quarter as many random byte strings
(about 15 s). More: `FUZZ_EXAMPLES=1000000 .venv/bin/python -m pytest tests/test_codec_fuzz.py`;
FUZZ_HYPOTHESIS sets the hypothesis examples per hypothesis test (default 1500); FUZZ_SEED
picks another deterministic stream (default 20261121). A 400,000-case run (FUZZ_EXAMPLES=400000
FUZZ_HYPOTHESIS=10000) takes about 3 minutes.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path

from frame_variants import non_minimal, tagged_notification_time
from hypothesis import given, settings
from hypothesis import strategies as st

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
    iso_to_seconds,
)
from hil.frames import identity as host_frames

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40000"))
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
DATA = Path(__file__).parent / "data" / "rtds-sample"


def corpus() -> list[bytes]:
    frames = [bytes.fromhex(p.read_text().strip()) for p in sorted(DATA.glob("*.HEX"))]
    frames += [
        build_summary(summary_time=1, suppressed_code=0x8F75, suppressed_count=3,
                      episode_total=4, first_time=2, last_time=3, kind=1),
        build_alert(0x8F3F, 0, encoding="asn1"),
        build_alert(0x81B2, 7, encoding="gbz", envelope="ciphered", security_control=0x31),
        build_frame(envelope="ciphered", payload=dlms_alert_payload(0x8F12, 5),
                    originator_counter=9, originator_title="00DB1234567890A0",
                    recipient_title="90B3D51F30010000", message_code=0x1001,
                    header={"transaction_id": bytes.fromhex("030000000000000009"),
                            "originator_title": bytes.fromhex("00DB1234567890A0"),
                            "other_information": b"\x10\x01"},
                    date_time=bytes(12)),
    ]
    when = dlms_datetime(820454400)
    notified = dlms_payload([(0x12, 0x8F30), (0x09, when)], notification_time=when,
                            invoke_id=0x20000001)
    for envelope, payload in (("signed", notified),
                              ("ciphered", tagged_notification_time(notified))):
        frames.append(build_frame(envelope=envelope, payload=payload, originator_counter=1,
                                  originator_title="00DB1234567890A0",
                                  recipient_title="90B3D51F30010000", message_code=0x1001))
    exact = list(frames)
    frames += [non_minimal(f)[0] for f in exact[::2]]  # every length below 256 as 82 00nn
    frames += [non_minimal(f, {k % 5})[0] for k, f in enumerate(exact)]  # one of them
    return frames


def mutate(rnd: random.Random, frame: bytes, frames: list[bytes]) -> bytes:
    b = bytearray(frame)
    op = rnd.randrange(8)
    if op == 0:  # bit flips
        for _ in range(rnd.randint(1, 4)):
            i = rnd.randrange(len(b))
            b[i] ^= 1 << rnd.randrange(8)
    elif op == 1:  # truncation
        del b[rnd.randrange(len(b)):]
    elif op == 2:  # insertion
        i = rnd.randrange(len(b) + 1)
        b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3)))
    elif op == 3:  # deletion
        i = rnd.randrange(len(b))
        del b[i:i + rnd.randint(1, 3)]
    elif op == 4:  # length-field corruption: a byte that is or follows a plausible length
        i = rnd.randrange(len(b))
        b[i] = rnd.choice([0x00, 0x01, 0x08, 0x09, 0x0C, 0x7F, 0x80, 0x81, 0x82, 0x83, 0xFF,
                           (b[i] + rnd.choice((-2, -1, 1, 2))) & 0xFF])
    elif op == 5:  # long-form length injected
        i = rnd.randrange(len(b))
        b[i:i + 1] = rnd.choice([b"\x81\x05", b"\x81\x90", b"\x82\x00\x10", b"\x82\x01\x00"])
    elif op == 6:  # a byte that may be a length rewritten 82 00nn (valid if nothing encloses it)
        i = rnd.randrange(len(b))
        if b[i] < 0x80:
            b[i:i + 1] = bytes((0x82, 0, b[i]))
    else:  # splice two frames
        other = rnd.choice(frames)
        b = b[:rnd.randrange(len(b) + 1)] + other[rnd.randrange(len(other)):]
    return bytes(b)


FW_OUT = [0] * gbcs.N_FIELDS


def outcome(raw: bytes) -> tuple:
    """(construct result, fast result, firmware result); each a dict or ("error", offset)."""
    results = []
    for decoder in (decode, decode_fast):
        try:
            d = decoder(raw).to_dict()
            for key in ("alert_time", "first_time", "last_time"):
                d[key] = None if d[key] is None else iso_to_seconds(d[key])
            results.append(d)
        except FrameError as exc:
            assert exc.offset >= 0 and f"at byte {exc.offset}" in str(exc)
            results.append(("error", exc.offset))
    try:
        results.append(gbcs.fields(raw, gbcs.parse(raw, -1, FW_OUT)))
    except gbcs.FrameError as exc:
        results.append(("error", exc.offset))
    return tuple(results)


def identity(raw: bytes) -> tuple:
    try:
        return alert_identity(raw)
    except FrameError as exc:
        return ("error", exc.offset)


def check(raw: bytes) -> bool:
    ref, fast, fw = outcome(raw)
    assert ref == fast, raw.hex()
    ident = identity(raw)
    if isinstance(ref, dict):
        code = ref["alert_code"]
        assert ident == (ref["originator_title"], None if code is None else int(code, 16)), \
            raw.hex()
    else:
        assert ident == ref, raw.hex()
    if isinstance(ref, tuple):
        assert fw == ref, raw.hex()
        return False
    assert isinstance(fw, dict), raw.hex()
    assert fw == {k: ref[k] for k in fw}, raw.hex()
    return True


def test_corpus_decodes_everywhere_and_its_deviating_frames_say_so() -> None:
    frames = corpus()
    assert all(check(f) for f in frames)  # all three decoders accept and agree
    deviating = [f for f in frames if decode_fast(f).deviations]
    assert len(frames) // 3 < len(deviating) < len(frames)


def test_mutated_real_frames() -> None:
    rnd = random.Random(SEED)
    frames = corpus()
    accepted = 0
    for _ in range(EXAMPLES):
        accepted += check(mutate(rnd, rnd.choice(frames), frames))
    # the mutations must exercise both paths, or this test proves little
    assert EXAMPLES // 50 < accepted < EXAMPLES * 9 // 10


def test_random_bytes() -> None:
    rnd = random.Random(SEED + 1)
    starts = Counter()
    for _ in range(max(EXAMPLES // 4, 100)):
        n = rnd.randrange(0, 160)
        head = bytes((rnd.choice((0xDD, 0xDF, rnd.randrange(256))),))
        raw = (head + bytes(rnd.randrange(256) for _ in range(n)))[:n]
        starts[check(raw)] += 1
    assert starts[False] > 0


@settings(max_examples=int(os.environ.get("FUZZ_HYPOTHESIS", "1500")), deadline=None)
@given(st.binary(max_size=200))
def test_hypothesis_bytes(raw: bytes) -> None:
    check(raw)


@settings(max_examples=int(os.environ.get("FUZZ_HYPOTHESIS", "1500")), deadline=None)
@given(frame=st.sampled_from(corpus()), cut=st.integers(0, 400),
       patch=st.binary(min_size=1, max_size=4))
def test_hypothesis_patched_frames(frame: bytes, cut: int, patch: bytes) -> None:
    cut %= len(frame)
    check(frame[:cut] + patch + frame[cut + len(patch):])


def test_alert_identity_shape_memo_matches_decode_fast() -> None:
    """A storm of one shape (memo hits) with every masked field varied, interleaved with
    frames that differ in a structural byte (must miss and be judged by decode_fast)."""
    rnd = random.Random(SEED + 2)
    buf = bytearray(200)
    orig = bytes.fromhex("00DB1234567890A0")
    recip = bytes.fromhex("90B3D51F30010000")
    hits = 0
    for k in range(max(EXAMPLES // 8, 500)):
        ciphered = rnd.random() < 0.5
        enc = rnd.choice((gbcs.ENC_DLMS, gbcs.ENC_GBZ))
        code = rnd.choice((0x8F75, 0x8FFD, 0x0000, 0xFFFF))
        n = gbcs.build_alert(buf, ciphered, rnd.randrange(2**64), bytes(rnd.randrange(256)
                             for _ in range(8)), recip if k % 2 else orig, 0x1001, code, enc,
                             rnd.randrange(2**32), ic=rnd.randrange(2**32),
                             mac=bytes(rnd.randrange(256) for _ in range(12)) if ciphered
                             else None)
        raw = bytearray(buf[:n])
        if rnd.random() < 0.3:  # a structural or masked byte changed, maybe to 0x8FFE's bytes
            i = rnd.randrange(n)
            raw[i] = rnd.choice((0x8F, 0xFE, rnd.randrange(256)))
        raw = bytes(raw)
        before = sum(len(v) for v in host_frames._SHAPES.values())
        check(raw)
        hits += before == sum(len(v) for v in host_frames._SHAPES.values())
    assert hits > EXAMPLES // 16  # the memo was really exercised
    assert sum(len(v) for v in host_frames._SHAPES.values()) <= host_frames._SHAPE_LIMIT


def test_deep_nesting_is_a_typed_error_not_a_recursion_error() -> None:
    nested = b"\x02\x01" * 5000 + b"\x12\x8f\x30"
    payload = b"\x0f\x00\x00\x00\x00\x00" + nested
    raw = build_frame(envelope="ciphered", payload=payload, originator_counter=1,
                      originator_title="00DB1234567890A0", recipient_title="90B3D51F30010000",
                      message_code=0x1001)
    ref, fast, fw = outcome(raw)
    assert ref == fast == fw and ref[0] == "error"
    ber = b"\x02\x01\x00"
    for _ in range(20):
        ber = b"\x30" + bytes((len(ber),)) + ber
    raw = build_frame(envelope="signed", payload=ber, originator_counter=1,
                      originator_title="00DB1234567890A0", recipient_title="90B3D51F30010000",
                      message_code=0x1000)
    ref, fast, fw = outcome(raw)
    assert ref == fast == fw and ref[0] == "error"
