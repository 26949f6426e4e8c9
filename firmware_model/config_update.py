# Authenticated runtime config update (Working Group Q3): one binary message carries a
# monotonic counter and every vocabulary field of docs/policy.md, authenticated with
# HMAC-SHA256 under the device's key. Layout (big-endian; docs/limiter.md "Config update"):
#
#   off size field
#    0   2   magic "CU"
#    2   1   version (1)
#    3   1   never_throttle count n (0..16)
#    4   4   counter (1..2**32-1; strictly increasing per device)
#    8   4   device_window_ms          12  2  amber_threshold       14  2  red_threshold
#   16   4   code_window_ms            20  2  code_limit            22  1  throttle_mode (1|2)
#   23   1   reserved (0)              24  2  throttle_n            26  4  throttle_period_ms
#   30   4   summary_interval_ms       34  2n never_throttle codes
#   34+2n 32 HMAC-SHA256(key, bytes 0 .. 34+2n-1)
#
# The device accepts a message only if the MAC verifies, the counter is above the last accepted
# one (an identical retry of the last accepted message is acknowledged again, without effect),
# and every field is in range; anything else is rejected with a reason and the old config stays.
# HMAC is built on hashlib.sha256 because MicroPython has no hmac module on most ports. A port
# without hashlib (the micro:bit's 1.9.2) cannot import this module; boards then answer
# config updates with "unsupported" (firmware_model/board.py).
# ruff: noqa: UP031  (%-formatting: MicroPython 1.9.2 has no f-strings)

import hashlib

try:
    from firmware_model import persist
    from firmware_model.limiter import NEVER_THROTTLE_MAX, Config
except ImportError:  # pragma: no cover  (flat layout)
    import persist
    from limiter import NEVER_THROTTLE_MAX, Config

VERSION = 1
HEADER = 34
MAC_LEN = 32
STATE_FILE = "cfgctr"  # last accepted counter + MAC (persist record)
KEY_FILE = "devkey"
# Test key for emulated boards only; a real device is provisioned with its own KEY_FILE.
TEST_KEY = b"alertstorm-test-device-key-0001!"

# rejection reasons (the code a board reports)
OK = 0
BAD_FORMAT = 1
BAD_MAC = 2
REPLAY = 3
OUT_OF_RANGE = 4
BAD_VERSION = 5
REASONS = ("ok", "bad_format", "bad_mac", "replay", "out_of_range", "bad_version")


class ConfigRejected(ValueError):
    """An update was refused; `reason` is one of the codes above, the old config stays."""

    def __init__(self, reason, detail):
        super().__init__("%s: %s" % (REASONS[reason], detail))
        self.reason = reason


class AuthError(ConfigRejected):
    """Bad MAC or a replayed counter."""


def hmac_sha256(key, msg):
    """RFC 2104 HMAC with SHA-256 (block size 64)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b"\x00" * (64 - len(key))
    inner = hashlib.sha256(bytes([b ^ 0x36 for b in key]))
    inner.update(msg)
    outer = hashlib.sha256(bytes([b ^ 0x5C for b in key]))
    outer.update(inner.digest())
    return outer.digest()


def _eq(a, b):
    # constant time: do not leak how many MAC bytes matched
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0


def _be(b, p, n):
    v = 0
    for i in range(n):
        v = (v << 8) | b[p + i]
    return v


def _put(b, v, n):
    for i in range(n - 1, -1, -1):
        b.append((v >> (8 * i)) & 0xFF)


def build(cfg, counter, key):
    """The update message for cfg (a Config) with this counter, MAC'd with key (host side;
    also runs on MicroPython). Does not validate cfg: tests build out-of-range messages."""
    nt = cfg.never_throttle
    b = bytearray(b"CU")
    b.append(VERSION)
    b.append(len(nt))
    _put(b, counter, 4)
    _put(b, cfg.device_window_ms, 4)
    _put(b, cfg.amber_threshold, 2)
    _put(b, cfg.red_threshold, 2)
    _put(b, cfg.code_window_ms, 4)
    _put(b, cfg.code_limit, 2)
    b.append(cfg.throttle_mode)
    b.append(0)
    _put(b, cfg.throttle_n, 2)
    _put(b, cfg.throttle_period_ms, 4)
    _put(b, cfg.summary_interval_ms, 4)
    for c in nt:
        _put(b, c, 2)
    b.extend(hmac_sha256(key, b))
    return bytes(b)


def parse(msg, key):
    """(counter, Config) from a message whose MAC verifies under key; ConfigRejected if not."""
    if len(msg) < 4 or msg[0:2] != b"CU":
        raise ConfigRejected(BAD_FORMAT, "not a config update")
    n = msg[3]
    if len(msg) != HEADER + 2 * n + MAC_LEN:
        raise ConfigRejected(BAD_FORMAT, "length %d, expected %d" % (len(msg), HEADER + 2 * n + MAC_LEN))
    body = msg[:HEADER + 2 * n]
    if not _eq(hmac_sha256(key, body), msg[HEADER + 2 * n:]):
        raise AuthError(BAD_MAC, "MAC does not verify")
    if msg[2] != VERSION:
        raise ConfigRejected(BAD_VERSION, "version %d" % msg[2])
    if n > NEVER_THROTTLE_MAX:
        raise ConfigRejected(OUT_OF_RANGE, "never_throttle: %d codes" % n)
    if msg[23] != 0:
        raise ConfigRejected(BAD_FORMAT, "reserved byte %d" % msg[23])
    cfg = Config()
    cfg.device_window_ms = _be(msg, 8, 4)
    cfg.amber_threshold = _be(msg, 12, 2)
    cfg.red_threshold = _be(msg, 14, 2)
    cfg.code_window_ms = _be(msg, 16, 4)
    cfg.code_limit = _be(msg, 20, 2)
    cfg.throttle_mode = msg[22]
    cfg.throttle_n = _be(msg, 24, 2)
    cfg.throttle_period_ms = _be(msg, 26, 4)
    cfg.summary_interval_ms = _be(msg, 30, 4)
    cfg.never_throttle = tuple([_be(msg, HEADER + 2 * i, 2) for i in range(n)])
    try:
        cfg.validate()
    except ValueError as e:
        raise ConfigRejected(OUT_OF_RANGE, str(e)) from None
    return _be(msg, 4, 4), cfg


def device_key(fs):
    """The key provisioned in flash, or TEST_KEY on an unprovisioned (emulated) board."""
    try:
        k = persist.load(fs, KEY_FILE)
    except persist.PersistError:
        k = None
    return k if k else TEST_KEY


class Verifier:
    """Replay state of one device: the last accepted counter and that message's MAC."""

    def __init__(self, key, counter=0, last_mac=b""):
        self.key = key
        self.counter = counter
        self.last_mac = last_mac

    def check(self, msg):
        """The Config a message carries, or ConfigRejected. Returns (cfg, fresh): fresh is
        False for an identical retry of the last accepted message (same ACK, nothing new)."""
        counter, cfg = parse(msg, self.key)
        mac = bytes(msg[-MAC_LEN:])
        if counter == self.counter and self.counter and _eq(mac, self.last_mac):
            return cfg, False
        if counter <= self.counter:
            raise AuthError(REPLAY, "counter %d, last accepted %d" % (counter, self.counter))
        return cfg, True

    def accept(self, msg):
        self.counter = _be(msg, 4, 4)
        self.last_mac = bytes(msg[-MAC_LEN:])

    def state(self):
        b = bytearray()
        _put(b, self.counter, 4)
        b.extend(self.last_mac)
        return bytes(b)


def load_verifier(fs):
    key = device_key(fs)
    try:
        st = persist.load(fs, STATE_FILE)
    except persist.PersistError:
        # A damaged replay record must not reopen old counters: refuse updates until the
        # operator re-provisions (a fresh key resets the counter).
        raise AuthError(REPLAY, "replay state unreadable") from None
    if not st or len(st) != 4 + MAC_LEN:
        return Verifier(key)
    return Verifier(key, _be(st, 0, 4), bytes(st[4:]))


def apply(fs, msg):
    """Check an update against the device's key and replay state in fs; on success record
    the counter and return the new Config (the caller configures its limiters with it).
    Raises ConfigRejected (AuthError for MAC/replay); on any rejection nothing changes."""
    v = load_verifier(fs)
    cfg, fresh = v.check(msg)
    if fresh:
        v.accept(msg)
        persist.save(fs, STATE_FILE, v.state())
    return cfg
