"""The C port's SHA-256 / HMAC-SHA256 (against FIPS 180-4 vectors and Python's hashlib/hmac),
its GBCS encoder (byte-identical to firmware_model/gbcs.py's builders), the alert code the hub
reads back from a meter's frame, and the config update's checks (ports/c/src/)."""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import random

import pytest

from firmware_model import config_update, gbcs
from firmware_model.limiter import Config
from tests import c_port


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    path = c_port.build("lib")
    if isinstance(path, str):
        pytest.skip(path)
    return c_port.bind_codecs(c_port.load(path))


def sha(lib: ctypes.CDLL, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    lib.as_sha256(data, len(data), out)
    return out.raw


def mac(lib: ctypes.CDLL, key: bytes, data: bytes) -> bytes:
    out = ctypes.create_string_buffer(32)
    lib.as_hmac(key, len(key), data, len(data), out)
    return out.raw


def test_sha256_fips_vectors(lib: ctypes.CDLL) -> None:
    assert sha(lib, b"abc").hex() == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha(lib, b"").hex() == \
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert sha(lib, b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex() == \
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"


def test_sha256_and_hmac_match_python_at_every_length(lib: ctypes.CDLL) -> None:
    rng = random.Random(12)
    for n in list(range(0, 200)) + [1000, 4095, 4096, 10000]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert sha(lib, data) == hashlib.sha256(data).digest(), n
        key = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 32, 63, 64, 65, 100])))
        assert mac(lib, key, data) == hmac.new(key, data, hashlib.sha256).digest(), n


def test_hmac_rfc4231_case_2(lib: ctypes.CDLL) -> None:
    assert mac(lib, b"Jefe", b"what do ya want for nothing?").hex() == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def _titles(rng: random.Random) -> tuple[bytes, bytes]:
    return bytes(rng.randrange(256) for _ in range(8)), bytes(rng.randrange(256) for _ in range(8))


def test_alert_frames_are_byte_identical(lib: ctypes.CDLL) -> None:
    rng = random.Random(7)
    for _ in range(3000):
        ciphered = rng.random() < 0.5
        enc = rng.choice([gbcs.ENC_DLMS, gbcs.ENC_GBZ])
        counter = rng.choice([0, 1, rng.randrange(2**64), (rng.randrange(2**20) << 32) | 5])
        orig, recip = _titles(rng)
        msg = rng.choice([gbcs.MSG_CRITICAL, gbcs.MSG_NON_CRITICAL, rng.randrange(65536)])
        code = rng.randrange(65536)
        if code == gbcs.SUMMARY_CODE:
            continue
        t = rng.choice([0, rng.randrange(2**32), 2**32 - 1, 820454400])
        want = bytearray(gbcs.FRAME_MAX)
        n = gbcs.build_alert(want, ciphered, counter, orig, recip, msg, code, enc, t)
        got = ctypes.create_string_buffer(128)
        m = lib.as_build_alert(got, ciphered, counter, orig, recip, msg, code, enc, t)
        assert got.raw[:m] == bytes(want[:n])
        out = [0] * gbcs.N_FIELDS
        assert gbcs.parse(want, n, out)[gbcs.F_ALERT_CODE] == lib.as_alert_code(got.raw, m)
    assert lib.as_build_alert(ctypes.create_string_buffer(128), 1, 1, bytes(8), bytes(8),
                              0x1001, gbcs.SUMMARY_CODE, gbcs.ENC_DLMS, 0) == 0


def test_summary_frames_are_byte_identical(lib: ctypes.CDLL) -> None:
    rng = random.Random(8)
    for _ in range(3000):
        counter = rng.randrange(2**64)
        orig, recip = _titles(rng)
        args = [rng.choice([0, rng.randrange(2**32), 2**32 - 1]) for _ in range(2)]
        code = rng.randrange(65536)
        count, total = rng.randrange(2**30), rng.randrange(2**30)
        kind = rng.randrange(3)
        want = bytearray(gbcs.FRAME_MAX)
        n = gbcs.build_summary(want, counter, orig, recip, args[0], code, count, total,
                               args[1], args[0], kind)
        got = ctypes.create_string_buffer(128)
        m = lib.as_build_summary(got, counter, orig, recip, args[0], code, count, total,
                                 args[1], args[0], kind)
        assert got.raw[:m] == bytes(want[:n])
        assert lib.as_alert_code(got.raw, m) == gbcs.SUMMARY_CODE


def _check(lib: ctypes.CDLL, msg: bytes, counter: int = 0, last: bytes = bytes(32)) -> tuple:
    fresh = ctypes.c_int(-1)
    r = lib.as_cu_check(counter, last, msg, len(msg), ctypes.byref(fresh))
    return r, fresh.value


def test_config_update_checks_in_the_documented_order(lib: ctypes.CDLL) -> None:
    key = config_update.TEST_KEY
    good = config_update.build(Config(), 5, key)
    assert _check(lib, good) == (0, 1)
    assert _check(lib, good, 5, good[-32:]) == (0, 0)          # an identical retry
    assert _check(lib, good, 5, bytes(32))[0] == config_update.REPLAY
    assert _check(lib, good, 6, good[-32:])[0] == config_update.REPLAY
    assert _check(lib, good[:-1])[0] == config_update.BAD_FORMAT
    assert _check(lib, b"XY" + good[2:])[0] == config_update.BAD_FORMAT
    forged = good[:-1] + bytes([good[-1] ^ 1])
    assert _check(lib, forged)[0] == config_update.BAD_MAC
    assert _check(lib, config_update.build(Config(), 5, b"another key"))[0] == \
        config_update.BAD_MAC
    bad = Config()
    bad.amber_threshold = 200
    assert _check(lib, config_update.build(bad, 9, key))[0] == config_update.OUT_OF_RANGE
    body = bytearray(good[:-32])
    body[2] = 2
    assert _check(lib, bytes(body) + config_update.hmac_sha256(key, bytes(body)))[0] == \
        config_update.BAD_VERSION
