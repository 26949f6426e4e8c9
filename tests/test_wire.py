"""firmware_model/wire.py: CRC, line codec, resync after noise, bounded line reader, ring and
RESEND. The same module runs on the device; tests/test_wire_micropython.py runs it there."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_model import crc, wire

WORD = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                      blacklist_characters="!@*"), min_size=1, max_size=12)


def crc16_py(data: bytes | bytearray, end: int = -1, start: int = 0) -> int:
    """crc.crc16 as it runs on MicroPython, where binascii has no crc_hqx: the nibble table."""
    c_version, crc._crc_hqx = crc._crc_hqx, None
    try:
        return int(crc.crc16(data, end, start))
    finally:
        crc._crc_hqx = c_version


def test_crc_check_value() -> None:
    # The CRC-16/CCITT-FALSE catalogue check value.
    assert crc.crc16(b"123456789") == 0x29B1
    assert crc16_py(b"123456789") == 0x29B1
    assert crc16_py(b"") == 0xFFFF


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_portable_crc_equals_c_crc(data: bytes) -> None:
    assert crc16_py(data) == binascii.crc_hqx(data, 0xFFFF)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([wire.HOST_MARK, wire.DEVICE_MARK]), st.integers(0, wire.SEQ_MOD - 1),
       st.from_regex(r"\A[A-Z]{1,8}\Z"), st.lists(WORD, max_size=6))
def test_roundtrip(mark: bytes, seq: int, verb: str, args: list[str]) -> None:
    line = wire.encode(mark, seq, verb, " ".join(args) or None)
    assert line.endswith(b"\n") and all(0x20 <= c < 0x7F for c in line[:-1])
    assert wire.decode(line, mark) == (seq, verb, args, 0)
    assert wire.decode(line[:-1] + b"\r\n", mark) == (seq, verb, args, 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1000), st.integers(1, 255))
def test_any_single_byte_corruption_is_rejected(pos: int, xor: int) -> None:
    line = bytearray(wire.encode(wire.HOST_MARK, 42, "ALERT", "8F0C esme"))
    pos %= len(line) - 1  # keep the "\n"
    line[pos] ^= xor
    if line[pos] == 10:
        return  # a new "\n" splits the line: the reader sees two lines, tested elsewhere
    try:
        got = wire.decode(bytes(line), wire.HOST_MARK)
    except wire.WireError as e:
        assert e.code in (wire.E_CRC, wire.E_FORMAT, wire.E_NOISE)
    else:
        # Only corruption in front of the mark can leave a valid line (it becomes noise).
        assert got[:3] == (42, "ALERT", ["8F0C", "esme"])


def test_partial_line_in_front_of_a_good_one_is_noise() -> None:
    good = wire.encode(wire.HOST_MARK, 6, "HELLO")
    assert wire.decode(b"!5 ALE" + good, wire.HOST_MARK) == (6, "HELLO", [], 6)


@pytest.mark.parametrize("line,code", [
    (b"garbage\n", wire.E_NOISE),
    (b"!1 HELLO\n", wire.E_FORMAT),
    (b"!1 HELLO*81bb\n", wire.E_FORMAT),
    (b"!1 HELLO*81BC\n", wire.E_CRC),
    (b"!x HELLO*" + b"%04X" % crc.crc16(b"!x HELLO") + b"\n", wire.E_FORMAT),
    (b"!1*" + b"%04X" % crc.crc16(b"!1") + b"\n", wire.E_FORMAT),
    (b"!1 HE\x01LO*" + b"%04X" % crc.crc16(b"!1 HE\x01LO") + b"\n", wire.E_FORMAT),
])
def test_typed_errors(line: bytes, code: str) -> None:
    with pytest.raises(wire.WireError) as ei:
        wire.decode(line, wire.HOST_MARK)
    assert ei.value.code == code


def test_echoed_host_line_is_noise_to_the_host() -> None:
    with pytest.raises(wire.WireError) as ei:
        wire.decode(wire.encode(wire.HOST_MARK, 1, "HELLO"), wire.DEVICE_MARK)
    assert ei.value.code == wire.E_NOISE


def test_line_reader_splits_chunks_and_bounds_memory() -> None:
    out: list[bytes | None] = []
    r = wire.LineReader(16)
    for chunk in (b"ab", b"c\nde", b"f\n", b"x" * 40, b"y\nok\r\n"):
        r.feed(chunk, out.append)
    assert out == [b"abc", b"def", None, b"ok\r"]
    assert r.pending() == 0
    r.feed(b"half", out.append)
    assert r.pending() == 4


def test_emitter_ring_and_resend() -> None:
    sent: list[bytes] = []
    em = wire.Emitter(sent.append, ring=4)
    lines = [em.emit("X", str(i)) for i in range(6)]
    assert [wire.decode(ln, wire.DEVICE_MARK)[0] for ln in lines] == list(range(6))
    sent.clear()
    assert em.resend(3) == 3
    assert sent == lines[3:]  # byte-identical, original seqs
    sent.clear()
    with pytest.raises(wire.WireError) as ei:
        em.resend(0)
    assert ei.value.code == wire.E_GONE and ei.value.detail == "oldest=2"
    assert sent == lines[2:]  # what is still held is sent anyway
    with pytest.raises(wire.WireError) as ei:
        em.resend(7)
    assert ei.value.code == wire.E_ARG
    assert em.resend(6) == 0


def test_emitter_seq_wraps_at_2_30() -> None:
    sent: list[bytes] = []
    em = wire.Emitter(sent.append, ring=8, seq=wire.SEQ_MOD - 2)
    for i in range(4):
        em.emit("X", str(i))
    seqs = [wire.decode(ln, wire.DEVICE_MARK)[0] for ln in sent]
    assert seqs == [wire.SEQ_MOD - 2, wire.SEQ_MOD - 1, 0, 1]
    sent.clear()
    assert em.resend(wire.SEQ_MOD - 1) == 3
    assert wire.seq_diff(1, wire.SEQ_MOD - 1) == 2


def test_hex_helpers() -> None:
    assert wire.hexlify(b"\x01\xab") == "01AB"
    assert wire.unhexlify("01ab") == b"\x01\xab"
    with pytest.raises(ValueError):
        wire.unhexlify("0")
    with pytest.raises(ValueError):
        wire.unhexlify("zz")


def test_firmware_hash_is_content_and_name_sensitive(tmp_path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("ignored")
    h1 = wire.firmware_hash(str(tmp_path))
    assert h1.startswith("sha256:") and len(h1) == 7 + 16
    (tmp_path / "notes.txt").write_text("still ignored")
    assert wire.firmware_hash(str(tmp_path)) == h1
    (tmp_path / "a.py").write_text("x = 2\n")
    h2 = wire.firmware_hash(str(tmp_path))
    assert h2 != h1
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert wire.firmware_hash(str(tmp_path)) != h2


@pytest.mark.parametrize("verb,args", [("ACK", "7 t=1 hub=F"), ("HELLO", None), ("NAK", ""),
                                       ("EVENT", "BOOT n=1 cause=power restore=none t=0")])
@pytest.mark.parametrize("seq", [0, 9, 10, 12345, wire.SEQ_MOD - 1])
def test_emit_builds_exactly_the_encoded_line(verb: str, args: str | None, seq: int) -> None:
    sent: list[bytes] = []
    em = wire.Emitter(sent.append, ring=4, seq=seq)
    line = em.emit(verb, args)
    assert bytes(line) == wire.encode(wire.DEVICE_MARK, seq, verb, args) == bytes(sent[0])
    assert em.seq == (seq + 1) % wire.SEQ_MOD


@pytest.mark.parametrize("num", [0, 7, 10, 99, 1073741823])
@pytest.mark.parametrize("data", [b"", b"\x00", bytes(range(256)), b"\xde\xad\xbe\xef" * 30])
def test_emit_hex_is_emit_of_the_hex_text(num: int, data: bytes) -> None:
    got: list[bytes] = []
    want: list[bytes] = []
    buf = bytearray(data) + b"\xff\xff"  # bytes past n are not sent
    line = wire.Emitter(got.append, ring=2, seq=41).emit_hex("FRAME", num, buf, len(data))
    wire.Emitter(want.append, ring=2, seq=41).emit("FRAME", f"{num} {wire.hexlify(data)}")
    assert bytes(line) == bytes(got[0]) == bytes(want[0])
    seq, verb, args, _ = wire.decode(bytes(line), wire.DEVICE_MARK)
    assert (seq, verb, args) == (41, "FRAME", [str(num), data.hex().upper()])


def test_crc16_of_a_span_matches_crc16_of_the_slice() -> None:
    data = bytes(range(200))
    for i, n in ((0, 0), (0, 200), (5, 9), (17, 150)):
        assert crc.crc16(data, n, i) == crc16_py(data[i:n]) == crc.crc16(data[i:n])
        assert crc16_py(data, n, i) == crc16_py(data[i:n])
    # continuing from a running value (firmware_hash's fallback feeds its stream in pieces)
    head = crc.crc16(data, 77)
    assert crc.crc16(data, -1, 77, head) == crc.crc16(data[77:], -1, 0, head) == crc16_py(data)
