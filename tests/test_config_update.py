"""firmware_model/config_update.py: HMAC-SHA256 on hashlib, replay protection, identical
retry, range checks with reasons, nothing changes on rejection; same bytes in MicroPython."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import mpvm
from firmware_model import config_update as cu
from firmware_model import persist
from firmware_model.limiter import Config

KEY = cu.TEST_KEY


class DictFs:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def open(self, name: str, mode: str = "rb"):  # type: ignore[no-untyped-def]
        fs = self
        if "r" in mode:
            if name not in fs.files:
                raise OSError(2, name)

        class F:
            def write(self, b: bytes) -> int:
                fs.files[name] = fs.files.get(name, b"") + bytes(b)
                return len(b)

            def read(self) -> bytes:
                return fs.files[name]

            def close(self) -> None:
                pass

        if "w" in mode:
            fs.files[name] = b""
        return F()

    def rename(self, old: str, new: str) -> None:
        self.files[new] = self.files.pop(old)

    def remove(self, name: str) -> None:
        del self.files[name]


def cfg(**k: object) -> Config:
    c = Config()
    for key, v in k.items():
        setattr(c, key, v)
    return c


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=150), st.binary(max_size=300))
def test_hmac_equals_the_standard_library(key: bytes, msg: bytes) -> None:
    assert cu.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def test_layout_is_as_documented() -> None:
    c = cfg(never_throttle=(0x8F3F, 0x0001))
    m = cu.build(c, 0x01020304, KEY)
    assert len(m) == 34 + 4 + 32
    assert m[:4] == b"CU\x01\x02" and m[4:8] == bytes([1, 2, 3, 4])
    assert m[8:12] == (3600000).to_bytes(4, "big") and m[12:14] == (50).to_bytes(2, "big")
    assert m[22] == 1 and m[23] == 0 and m[34:38] == bytes([0x8F, 0x3F, 0, 1])
    assert m[38:] == hmac.new(KEY, m[:38], hashlib.sha256).digest()


def test_accept_then_replay_then_identical_retry() -> None:
    fs = DictFs()
    new = cfg(red_threshold=200, amber_threshold=20, throttle_mode=2, never_throttle=(0x8F3F,))
    m5 = cu.build(new, 5, KEY)
    assert cu.apply(fs, m5) == new
    state = dict(fs.files)
    # identical retry of the last accepted message: same result, nothing rewritten
    assert cu.apply(fs, m5) == new and fs.files == state
    for counter in (4, 5):  # lower, or equal with different content: replay
        with pytest.raises(cu.AuthError) as ei:
            cu.apply(fs, cu.build(cfg(red_threshold=300), counter, KEY))
        assert ei.value.reason == cu.REPLAY and str(ei.value).startswith("replay")
    assert fs.files == state
    # an older accepted message retried after a newer one is a replay
    assert cu.apply(fs, cu.build(Config(), 6, KEY)) == Config()
    with pytest.raises(cu.AuthError):
        cu.apply(fs, m5)


@pytest.mark.parametrize("pos", [0, 3, 4, 10, 22, 33, 40, 69])
def test_any_altered_byte_is_rejected(pos: int) -> None:
    fs = DictFs()
    m = bytearray(cu.build(Config(), 1, KEY))
    m[pos] ^= 0x01
    with pytest.raises(cu.ConfigRejected) as ei:
        cu.apply(fs, bytes(m))
    assert ei.value.reason in (cu.BAD_MAC, cu.BAD_FORMAT)
    assert fs.files == {}


def test_wrong_key_is_bad_mac_and_provisioned_key_is_used() -> None:
    fs = DictFs()
    with pytest.raises(cu.AuthError) as ei:
        cu.apply(fs, cu.build(Config(), 1, b"another key"))
    assert ei.value.reason == cu.BAD_MAC
    persist.save(fs, cu.KEY_FILE, b"another key")
    assert cu.apply(fs, cu.build(Config(), 1, b"another key")) == Config()


@pytest.mark.parametrize("field, value", [
    ("device_window_ms", 999), ("device_window_ms", 86400001), ("amber_threshold", 0),
    ("red_threshold", 0), ("code_window_ms", 0), ("throttle_mode", 3), ("throttle_mode", 0),
    ("throttle_n", 0), ("throttle_period_ms", 999), ("summary_interval_ms", 86400001),
    ("amber_threshold", 101),
])
def test_out_of_range_field_is_rejected_naming_it(field: str, value: int) -> None:
    fs = DictFs()
    with pytest.raises(cu.ConfigRejected) as ei:
        cu.apply(fs, cu.build(cfg(**{field: value}), 1, KEY))
    assert ei.value.reason == cu.OUT_OF_RANGE and field in str(ei.value)
    assert not isinstance(ei.value, cu.AuthError)
    # the counter was not consumed: the corrected message with the same counter is accepted
    assert cu.apply(fs, cu.build(Config(), 1, KEY)) == Config()


def test_format_errors() -> None:
    good = cu.build(Config(), 1, KEY)
    for bad, reason in [(b"", cu.BAD_FORMAT), (b"XX" + good[2:], cu.BAD_FORMAT),
                        (good[:-1], cu.BAD_FORMAT), (good + b"\x00", cu.BAD_FORMAT)]:
        with pytest.raises(cu.ConfigRejected) as ei:
            cu.parse(bad, KEY)
        assert ei.value.reason == reason
    # authenticated but malformed: version, reserved byte, too many codes
    def resign(b: bytearray) -> bytes:
        body = bytes(b[:-32])
        return body + cu.hmac_sha256(KEY, body)
    m = bytearray(good)
    m[2] = 2
    with pytest.raises(cu.ConfigRejected) as ei:
        cu.parse(resign(m), KEY)
    assert ei.value.reason == cu.BAD_VERSION
    m = bytearray(good)
    m[23] = 1
    with pytest.raises(cu.ConfigRejected) as ei:
        cu.parse(resign(m), KEY)
    assert ei.value.reason == cu.BAD_FORMAT
    many = cu.build(cfg(never_throttle=tuple(range(17))), 1, KEY)
    with pytest.raises(cu.ConfigRejected) as ei:
        cu.parse(many, KEY)
    assert ei.value.reason == cu.OUT_OF_RANGE


def test_damaged_replay_state_refuses_updates() -> None:
    fs = DictFs()
    cu.apply(fs, cu.build(Config(), 1, KEY))
    fs.files[cu.STATE_FILE] = fs.files[cu.STATE_FILE][:-1]
    with pytest.raises(cu.AuthError, match="replay state"):
        cu.apply(fs, cu.build(Config(), 2, KEY))


@settings(max_examples=200, deadline=None)
@given(st.integers(1000, 86400000), st.integers(1, 65535), st.integers(0, 65535),
       st.sampled_from([1, 2]), st.lists(st.integers(0, 0xFFFF), max_size=16),
       st.integers(1, 2**32 - 1))
def test_every_valid_config_round_trips(window: int, red: int, limit: int, mode: int,
                                        nt: list[int], counter: int) -> None:
    c = cfg(device_window_ms=window, red_threshold=red, amber_threshold=max(1, red // 2),
            code_limit=limit, throttle_mode=mode, never_throttle=tuple(nt))
    assert cu.parse(cu.build(c, counter, KEY), KEY) == (counter, c)


@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_same_messages_and_decisions_in_micropython() -> None:
    c = cfg(red_threshold=7, amber_threshold=7, never_throttle=(1, 2, 0xFFFF), throttle_mode=2)
    code = """
import json
from firmware_model import config_update as cu, persist
from firmware_model.limiter import Config
c = Config.from_dict(CFG_DICT)
fs = persist.OsFs('/')
m = cu.build(c, 2**32 - 1, cu.TEST_KEY)
out = [m.hex() if hasattr(m, 'hex') else None, cu.apply(fs, m) == c, cu.apply(fs, m) == c]
try:
    cu.apply(fs, cu.build(Config(), 5, cu.TEST_KEY))
except cu.AuthError as e:
    out.append(e.reason)
bad = bytearray(m); bad[9] ^= 1
try:
    cu.apply(fs, bytes(bad))
except cu.AuthError as e:
    out.append(e.reason)
print(json.dumps(out))
""".replace("CFG_DICT", repr(c.to_dict()))
    files = mpvm.package_files("firmware_model", ["__init__.py", "crc.py", "limiter.py",
                                                   "ticks.py", "persist.py", "config_update.py"])
    res = mpvm.run_json(code, files)
    assert res == [cu.build(c, 2**32 - 1, KEY).hex(), True, True, cu.REPLAY, cu.BAD_MAC]
