# Flash persistence for the device: small named records written atomically, checked on load.
#
# A record on flash is   "PZ" version:u8 length:u16be payload crc16:u16be
# (CRC-16/CCITT-FALSE, firmware_model/crc.py, over everything before it). save() writes
# "<name>.tmp" then renames it over "<name>", so a power cut leaves either the old record or the
# new one, never a mix; a record that is torn or corrupt anyway (flash wear, a filesystem
# without atomic rename) fails its length or CRC check and load() raises CorruptRecord instead
# of returning bad bytes.
#
# The filesystem is passed in (`fs`): anything with open(name, mode), rename(old, new),
# remove(name) -- MicroPython's os + open via OsFs() (what firmware_model/main.py and the
# micropython engine use), or emulator/flash.py's FlashFs.
#
# SnapshotStore bounds flash wear: a limiter snapshot is written only when something changed
# and at most once per min_interval_ms (docs/limiter.md "Persistence": with the default
# 60 s that is at most 60 writes/hour, about 4 KB/hour for a busy 16-slot table).
# ruff: noqa: UP031  (%-formatting: MicroPython 1.9.2 has no f-strings)

import os

try:
    from firmware_model.crc import crc16
    from firmware_model.limiter import SnapshotError
    from firmware_model.ticks import ticks_diff
except ImportError:  # pragma: no cover  (flat layout: micro:bit)
    from crc import crc16
    from limiter import SnapshotError
    from ticks import ticks_diff

VERSION = 1
MAX_PAYLOAD = 0xFFFF


class PersistError(Exception):
    """A record could not be read or written."""


class CorruptRecord(PersistError):
    """A record exists but is torn, corrupt or of another version: its content is unusable."""


class OsFs:
    """The board's own filesystem (MicroPython os/open, or CPython): record `name` is the file
    prefix + name. A prefix ending in "/" is a directory, made here if it is missing."""

    def __init__(self, prefix=""):
        self.prefix = prefix
        self.writes = 0  # files opened for writing: the board's STATS flash_writes
        if len(prefix) > 1 and prefix[-1] == "/":
            try:
                os.mkdir(prefix[:-1])
            except OSError:
                pass  # it exists (anything else shows up as the first save's PersistError)

    def open(self, name, mode="rb"):
        if "w" in mode:
            self.writes += 1
        return open(self.prefix + name, mode)

    def rename(self, old, new):
        os.rename(self.prefix + old, self.prefix + new)

    def remove(self, name):
        os.remove(self.prefix + name)


def encode(payload):
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise PersistError("record of %d bytes exceeds %d" % (n, MAX_PAYLOAD))
    b = bytearray(b"PZ")
    b.append(VERSION)
    b.append(n >> 8)
    b.append(n & 0xFF)
    b.extend(payload)
    c = crc16(b)
    b.append(c >> 8)
    b.append(c & 0xFF)
    return bytes(b)


def decode(rec):
    """The payload of an encoded record; CorruptRecord if it is not exactly one good record."""
    if len(rec) < 7 or rec[0:2] != b"PZ":
        raise CorruptRecord("not a record (%d bytes)" % len(rec))
    if rec[2] != VERSION:
        raise CorruptRecord("record version %d, expected %d" % (rec[2], VERSION))
    n = (rec[3] << 8) | rec[4]
    if len(rec) != n + 7:
        raise CorruptRecord("torn record: %d of %d bytes" % (len(rec), n + 7))
    if crc16(rec, n + 5) != ((rec[n + 5] << 8) | rec[n + 6]):
        raise CorruptRecord("record CRC mismatch")
    return bytes(rec[5:5 + n])


def save(fs, name, payload):
    """Write a record atomically: temp file, then rename over the old one."""
    rec = encode(payload)
    tmp = name + ".tmp"
    try:
        f = fs.open(tmp, "wb")
        try:
            f.write(rec)
        finally:
            f.close()
        try:
            fs.rename(tmp, name)
        except OSError:
            # FAT cannot rename over an existing file: remove first. If power fails in
            # between, load() finds the complete temp file and uses it.
            try:
                fs.remove(name)
            except OSError:
                pass
            fs.rename(tmp, name)
    except OSError as e:
        raise PersistError("cannot write %s: %s" % (name, e)) from None
    return len(rec)


def _read(fs, name):
    try:
        f = fs.open(name, "rb")
    except OSError:
        return None
    try:
        return f.read()
    finally:
        f.close()


def load(fs, name):
    """The payload last saved under name, or None if there is none; CorruptRecord if the
    record is damaged (the caller starts clean and reports it)."""
    rec = _read(fs, name)
    if rec is None:
        rec = _read(fs, name + ".tmp")  # power failed between remove and rename (FAT)
        if rec is None:
            return None
    return decode(rec)


class SnapshotStore:
    """Saves one limiter's snapshot at bounded frequency and restores it at boot."""

    def __init__(self, fs, name="limiter", min_interval_ms=60000):
        self.fs = fs
        self.name = name
        self.min_interval_ms = min_interval_ms
        self.writes = 0
        self._saved_at = None
        self._saved_stats = None

    def restore(self, lim, now_ms):
        """Restore lim from flash. Returns "ok", "none" (nothing saved) or "corrupt" (the
        snapshot was rejected; lim starts clean). Never raises for bad flash content."""
        self._saved_at = now_ms
        try:
            blob = load(self.fs, self.name)
        except CorruptRecord:
            return "corrupt"
        if blob is None:
            return "none"
        try:
            lim.restore(blob, now_ms)
        except SnapshotError:
            return "corrupt"
        self._saved_stats = lim.stats()
        return "ok"

    def maybe_save(self, lim, now_ms, force=False):
        """Write a snapshot if the limiter changed and min_interval_ms has passed since the
        last write (or force). Returns the bytes written (0 if nothing was written)."""
        if not force and self._saved_at is not None and \
                ticks_diff(now_ms, self._saved_at) < self.min_interval_ms:
            return 0
        st = lim.stats()
        if not force and st == self._saved_stats:
            return 0
        n = save(self.fs, self.name, lim.snapshot(now_ms))
        self.writes += 1
        self._saved_at = now_ms
        self._saved_stats = st
        return n
