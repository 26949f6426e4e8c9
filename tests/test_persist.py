"""firmware_model/persist.py: atomic CRC-checked records, bounded-frequency snapshots, and a
limiter's suppression counts surviving a reset (torn or corrupt snapshots rejected, typed)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import mpvm
from firmware_model import persist
from firmware_model.limiter import SUPPRESS, Config, Limiter


class DictFs:
    """A filesystem of named byte strings; `fat=True` refuses rename over an existing file."""

    def __init__(self, fat: bool = False) -> None:
        self.files: dict[str, bytes] = {}
        self.fat = fat
        self.writes = 0

    def open(self, name: str, mode: str = "rb") -> DictFile:
        if "r" in mode and name not in self.files:
            raise OSError(2, name)
        return DictFile(self, name, mode)

    def rename(self, old: str, new: str) -> None:
        if self.fat and new in self.files:
            raise OSError(17, new)
        self.files[new] = self.files.pop(old)

    def remove(self, name: str) -> None:
        del self.files[name]


class DictFile:
    def __init__(self, fs: DictFs, name: str, mode: str) -> None:
        self.fs, self.name, self.mode = fs, name, mode
        if "w" in mode:
            fs.files[name] = b""

    def write(self, b: bytes) -> int:
        self.fs.files[self.name] += bytes(b)
        self.fs.writes += 1
        return len(b)

    def read(self) -> bytes:
        return self.fs.files[self.name]

    def close(self) -> None:
        pass


def test_record_round_trip_and_exact_layout() -> None:
    rec = persist.encode(b"abc")
    assert rec[:5] == b"PZ\x01\x00\x03" and rec[5:8] == b"abc" and len(rec) == 10
    assert persist.decode(rec) == b"abc"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.data())
def test_any_truncation_or_byte_error_is_rejected(payload: bytes, data: st.DataObject) -> None:
    rec = persist.encode(payload)
    cut = data.draw(st.integers(0, len(rec) - 1))
    with pytest.raises(persist.CorruptRecord):
        persist.decode(rec[:cut])
    pos = data.draw(st.integers(0, len(rec) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(rec)
    bad[pos] ^= flip
    with pytest.raises(persist.CorruptRecord):
        persist.decode(bytes(bad))


def test_other_version_is_rejected() -> None:
    rec = bytearray(persist.encode(b"x"))
    rec[2] = 2
    with pytest.raises(persist.CorruptRecord, match="version"):
        persist.decode(bytes(rec))


@pytest.mark.parametrize("fat", [False, True])
def test_save_replaces_atomically_and_load_reads_back(fat: bool) -> None:
    fs = DictFs(fat)
    assert persist.load(fs, "x") is None
    persist.save(fs, "x", b"one")
    persist.save(fs, "x", b"two")
    assert persist.load(fs, "x") == b"two" and set(fs.files) == {"x"}


def test_power_lost_between_remove_and_rename_uses_the_complete_temp_file() -> None:
    fs = DictFs()
    fs.files["x.tmp"] = persist.encode(b"new")
    assert persist.load(fs, "x") == b"new"


def test_unwritable_flash_is_a_typed_error() -> None:
    class Full(DictFs):
        def open(self, name: str, mode: str = "rb") -> DictFile:
            raise OSError(28, "no space")

    with pytest.raises(persist.PersistError, match="cannot write"):
        persist.save(Full(), "x", b"1")
    with pytest.raises(persist.PersistError, match="exceeds"):
        persist.save(DictFs(), "x", bytes(70000))


def test_power_cut_during_write_keeps_the_old_snapshot(tmp_path) -> None:
    flash = pytest.importorskip("emulator.flash")
    fs = flash.FlashFs(tmp_path)
    persist.save(fs, "lim", b"old")
    fs.arm_powercut(4)
    with pytest.raises(flash.PowerLoss):
        persist.save(fs, "lim", b"new contents")
    assert persist.load(fs, "lim") == b"old"


CFG = Config.from_dict({"red_threshold": 5, "amber_threshold": 3, "code_limit": 2,
                        "throttle_n": 4, "device_window_ms": 10000, "code_window_ms": 10000,
                        "summary_interval_ms": 600000})


def storm(lim: Limiter, t0: int, n: int) -> int:
    return sum(lim.offer(0x8F01 + (k % 2), t0 + 37 * k) == SUPPRESS for k in range(n))


def test_suppression_counted_before_a_reset_is_reported_after_it() -> None:
    fs = DictFs()
    store = persist.SnapshotStore(fs, "lim", min_interval_ms=60000)
    lim = Limiter(CFG)
    assert store.restore(lim, 0) == "none"
    suppressed = storm(lim, 0, 200)
    assert suppressed > 0 and lim.pending() == 0  # nothing reported yet
    assert store.maybe_save(lim, 7400, force=True) > 0
    # reset: a new limiter, the tick counter restarted at an arbitrary value
    after = Limiter(CFG)
    assert persist.SnapshotStore(fs, "lim").restore(after, 123456) == "ok"
    assert after.stats()["suppressed"] == suppressed
    after.poll(123456 + 100000)  # the storm is over: episodes close, counts come out
    reported = 0
    while (s := after.pop_summary()) is not None:
        reported += s[2]
    assert reported == suppressed


@pytest.mark.parametrize("damage", ["record", "snapshot", "torn"])
def test_corrupt_snapshot_is_rejected_and_the_limiter_starts_clean(damage: str) -> None:
    fs = DictFs()
    lim = Limiter(CFG)
    storm(lim, 0, 200)
    persist.SnapshotStore(fs, "lim").maybe_save(lim, 7400, force=True)
    rec = bytearray(fs.files["lim"])
    if damage == "record":
        rec[-1] ^= 1  # record CRC
    elif damage == "snapshot":  # a record whose payload (the limiter snapshot) is damaged
        payload = bytearray(persist.decode(bytes(rec)))
        payload[20] ^= 0x55
        rec = bytearray(persist.encode(bytes(payload)))
    else:
        rec = rec[: len(rec) // 2]
    fs.files["lim"] = bytes(rec)
    fresh = Limiter(CFG)
    assert persist.SnapshotStore(fs, "lim").restore(fresh, 0) == "corrupt"
    assert fresh.stats()["offered"] == 0 and fresh.pending() == 0
    assert storm(fresh, 0, 3) == 0  # and it works


def test_snapshot_writes_are_bounded_per_hour() -> None:
    fs = DictFs()
    store = persist.SnapshotStore(fs, "lim", min_interval_ms=60000)
    lim = Limiter(CFG)
    store.restore(lim, 0)
    for k in range(36000):  # an hour of a storm, one alert and one save attempt per 100 ms
        t = k * 100
        lim.offer(0x8F01, t)
        store.maybe_save(lim, t)
    assert 55 <= store.writes <= 60
    idle = store.writes
    for k in range(600):  # the storm stopped: the last changes are written once, then nothing
        store.maybe_save(lim, 3600000 + 60000 * (k + 1))
    assert store.writes == idle + 1


@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_persist_on_micropython_filesystem() -> None:
    code = """
import json, os
from firmware_model import persist
from firmware_model.limiter import Config, Limiter
fs = persist.OsFs('/')
lim = Limiter(Config.from_dict({"red_threshold": 5, "amber_threshold": 3, "code_limit": 2,
                                "device_window_ms": 10000, "code_window_ms": 10000}))
for k in range(100):
    lim.offer(0x8F01, k * 37)
store = persist.SnapshotStore(fs, "lim")
n1 = store.maybe_save(lim, 4000, True)
n2 = store.maybe_save(lim, 5000, True)
again = Limiter(lim.cfg)
ok = persist.SnapshotStore(fs, "lim").restore(again, 99)
listing = sorted(os.listdir('/'))
f = open('/lim', 'rb'); b = bytearray(f.read()); f.close()
b[30] ^= 1
f = open('/lim', 'wb'); f.write(b); f.close()
bad = persist.SnapshotStore(fs, "lim").restore(Limiter(lim.cfg), 99)
print(json.dumps([n1 == n2 > 0, ok, again.stats()["suppressed"], lim.stats()["suppressed"],
                  "lim" in listing and "lim.tmp" not in listing, bad]))
"""
    files = mpvm.package_files("firmware_model", ["__init__.py", "crc.py", "limiter.py",
                                                   "ticks.py", "persist.py"])
    res = mpvm.run_json(code, files)
    assert isinstance(res, list)
    same, ok, s_after, s_before, renamed, bad = res
    assert same and ok == "ok" and s_after == s_before > 0 and renamed and bad == "corrupt"
    assert json.dumps(res)
