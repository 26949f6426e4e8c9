# ruff: noqa: UP031  (%-formatting on purpose: MicroPython 1.9.2 has no f-strings, and % is its cheapest formatter)
# Device wire protocol: the line codec both ends share (spec: docs/wire-protocol.md).
#
# One message per line of printable ASCII, so it survives a MicroPython USB REPL console:
#
#     <mark><seq> <VERB>[ <arg>]...*<CRC>\n        e.g.  !7 ALERT 8F0C esme*1D0B\n
#
# mark is "!" host->device or "@" device->host; CRC is CRC-16/CCITT-FALSE (firmware_model/crc.py)
# of every byte from the mark up to (not including) "*", as 4 upper-case hex digits. The reader takes the LAST
# mark on a line, so whatever a partial line left in front of a good one is noise, not a
# reason to lose the good one.
#
# Runs unchanged on CPython 3.11 and MicroPython (1.27; 1.9.2 on the micro:bit): no
# f-strings, no bytes.hex(), no bytes %-formatting; preallocated buffers on the byte paths.

import os

try:
    from firmware_model.crc import crc16
except ImportError:  # flat layout (micro:bit, a board's root directory)
    from crc import crc16
try:
    from binascii import hexlify as _hexlify
except ImportError:  # micro:bit 1.9.2 builds without binascii
    _hexlify = None  # type: ignore[assignment]

PROTOCOL_VERSION = 1
HOST_MARK = b"!"
DEVICE_MARK = b"@"
MAX_LINE = 1024  # bytes of a line without its "\n"; longer lines are discarded whole
SEQ_MOD = 0x40000000  # seq numbers wrap at 2**30 (a small int on every port)

# Typed error codes (the NAK line's reason). One word each, so hosts can switch on them.
E_NOISE = "E_NOISE"  # bytes without a mark (line noise, REPL chatter, a partial line's head)
E_FORMAT = "E_FORMAT"  # a mark, but no well-formed "<seq> <VERB>...*XXXX"
E_CRC = "E_CRC"  # well-formed, CRC does not match
E_TOOLONG = "E_TOOLONG"  # more than MAX_LINE bytes before "\n": discarded
E_VERB = "E_VERB"  # unknown verb (e.g. from a newer protocol version)
E_ARG = "E_ARG"  # missing or malformed argument
E_AUTH = "E_AUTH"  # config update failed authentication (or is a replay)
E_CONFIG = "E_CONFIG"  # config update authentic but its values are invalid
E_UNSUPPORTED = "E_UNSUPPORTED"  # verb valid but not on this board/engine
E_GONE = "E_GONE"  # RESEND asked for lines older than the ring holds
E_INTERNAL = "E_INTERNAL"  # firmware exception; the loop survives and says so

_HEXU = b"0123456789ABCDEF"


def _ndigits(v):
    """Decimal digits of v >= 0."""
    n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


def _put_uint(b, p, v):
    """Write v >= 0 in decimal into b at p; return the index after it."""
    q = p + _ndigits(v)
    k = q
    while True:
        k -= 1
        b[k] = 48 + v % 10
        v //= 10
        if not v:
            return q


class WireError(Exception):
    """A line that cannot be accepted. code is one of the E_* words; detail is short text."""

    def __init__(self, code, detail=""):
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def encode(mark, seq, verb, args=None):
    """One protocol line as bytes, "\\n" included. args: a str of space-separated printable
    words without marks or "*" (callers build it; nothing is escaped)."""
    if args:
        body = ("%s%d %s %s" % (mark.decode(), seq, verb, args)).encode()
    else:
        body = ("%s%d %s" % (mark.decode(), seq, verb)).encode()
    return body + ("*%04X\n" % crc16(body)).encode()


def _is_hex4(b, i):
    for k in range(i, i + 4):
        c = b[k]
        if not (48 <= c <= 57 or 65 <= c <= 70):  # 0-9 A-F
            return False
    return True


def decode(line, mark):
    """Parse one line (bytes, with or without "\\r\\n"). Returns (seq, verb, args, noise):
    args a list of str, noise the number of bytes before the mark that were skipped.
    Raises WireError(E_NOISE | E_FORMAT | E_CRC)."""
    n = len(line)
    while n and line[n - 1] in (10, 13, 32):  # "\r\n" and trailing blanks are framing
        n -= 1
    i = line.rfind(mark, 0, n)
    if i < 0:
        raise WireError(E_NOISE, str(n))
    j = line.rfind(b"*", i, n)
    if j < 0 or n - j != 5 or not _is_hex4(line, j + 1):
        raise WireError(E_FORMAT, "crc field")
    want = 0
    for k in range(j + 1, n):  # _is_hex4 checked: 0-9 A-F
        c = line[k]
        want = (want << 4) | (c - 48 if c <= 57 else c - 55)
    if crc16(line, j, i) != want:
        raise WireError(E_CRC, "")
    for k in range(i + 1, j):
        c = line[k]
        if c < 32 or c > 126:
            raise WireError(E_FORMAT, "byte %d" % c)
    parts = line[i + 1 : j].decode().split(" ")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1]:
        raise WireError(E_FORMAT, "seq/verb")
    seq = int(parts[0])
    if seq >= SEQ_MOD:
        raise WireError(E_FORMAT, "seq range")
    return seq, parts[1], parts[2:], i


def nargs(args, n):
    """A command's argument words must be exactly n: else WireError(E_ARG)."""
    if len(args) != n:
        raise WireError(E_ARG, "want %d args" % n)


def uint_arg(s, top):
    """A decimal argument word 0..top as an int: else WireError(E_ARG)."""
    if not s.isdigit() or len(s) > 10 or int(s) > top:
        raise WireError(E_ARG, "value " + s[:12])
    return int(s)


def seq_diff(a, b):
    """a - b on the seq circle (like time.ticks_diff, period 2**30)."""
    return ((a - b + (SEQ_MOD >> 1)) & (SEQ_MOD - 1)) - (SEQ_MOD >> 1)


class LineReader:
    """Bytes in, complete lines out, in bounded memory. A line longer than MAX_LINE is
    discarded up to its "\\n" and reported once as None (the caller answers E_TOOLONG)."""

    def __init__(self, max_line=MAX_LINE):
        self._buf = bytearray(max_line)
        self._n = 0
        self._over = False

    def feed(self, data, sink):
        """sink(line_bytes) per complete line ("\\n" stripped), sink(None) per over-long line."""
        buf = self._buf
        cap = len(buf)
        n = self._n
        for c in data:
            if c == 10:
                if self._over:
                    self._over = False
                    sink(None)
                else:
                    sink(bytes(memoryview(buf)[:n]))  # one copy, not a slice and a copy
                n = 0
            elif self._over:
                pass
            elif n < cap:
                buf[n] = c
                n += 1
            else:
                self._over = True
                n = 0
        self._n = n

    def pending(self):
        """Bytes held of an unfinished line."""
        return self._n


class Emitter:
    """Device side output: numbers lines, writes them, and keeps the last `ring` lines so the
    host can ask for any of them again (RESEND) after a garbled read."""

    def __init__(self, write, ring=64, seq=0):
        self._write = write
        self._ring = [None] * ring
        self._size = ring
        self.size = ring  # lines held for RESEND (HELLO's ring=)
        self.seq = seq  # seq of the next line

    def emit(self, verb, args=None):
        """Write encode(DEVICE_MARK, seq, verb, args), byte for byte, built in place in one
        bytearray of its exact size (the line the RESEND ring keeps); args costs one copy
        (str -> bytes)."""
        seq = self.seq
        ab = args.encode() if args else b""
        na = len(ab)
        nv = len(verb)
        line = bytearray(_ndigits(seq) + nv + (na + 1 if na else 0) + 8)
        line[0] = 64  # "@" (DEVICE_MARK)
        p = _put_uint(line, 1, seq)
        line[p] = 32
        p += 1
        for k in range(nv):  # verbs are ASCII
            line[p + k] = ord(verb[k])
        p += nv
        if na:
            line[p] = 32
            line[p + 1 : p + 1 + na] = ab
            p += 1 + na
        return self._finish(line, p, seq)

    def _finish(self, line, p, seq):
        # "*XXXX\n" after the body line[:p]; keep the line for RESEND; write it
        hx = _HEXU
        crc = crc16(line, p)
        line[p] = 42  # "*"
        line[p + 1] = hx[crc >> 12]
        line[p + 2] = hx[(crc >> 8) & 15]
        line[p + 3] = hx[(crc >> 4) & 15]
        line[p + 4] = hx[crc & 15]
        line[p + 5] = 10
        self._ring[seq % self._size] = line
        self.seq = (seq + 1) % SEQ_MOD
        self._write(line)
        return line

    def emit_hex(self, verb, num, data, n):
        """emit(verb, "%d %s" % (num, upper-case hex of data[:n])), byte for byte, without the
        copies: the line is built in place in one bytearray of its exact size (the line the
        RESEND ring keeps, so the only allocation that must stay), the hex through a lookup
        table, the CRC over the buffer. num >= 0."""
        seq = self.seq
        nv = len(verb)
        L = _ndigits(seq) + nv + _ndigits(num) + 2 * n + 10  # mark, 3 blanks, "*XXXX\n"
        line = bytearray(L)
        line[0] = 64  # "@" (DEVICE_MARK)
        p = _put_uint(line, 1, seq)
        line[p] = 32
        p += 1
        for k in range(nv):  # verbs are ASCII
            line[p + k] = ord(verb[k])
        p += nv
        line[p] = 32
        p = _put_uint(line, p + 1, num)
        line[p] = 32
        p += 1
        hx = _HEXU
        for k in range(n):
            c = data[k]
            line[p] = hx[c >> 4]
            line[p + 1] = hx[c & 15]
            p += 2
        return self._finish(line, p, seq)

    def oldest(self):
        """Oldest seq still held (== self.seq when nothing was emitted yet)."""
        held = 0
        for x in self._ring:
            if x is not None:
                held += 1
        return (self.seq - held) % SEQ_MOD

    def resend(self, first):
        """Write again, unchanged, every held line from seq `first` on. Returns the number
        written; raises WireError(E_GONE, oldest) if some asked-for lines are no longer held
        (after writing the ones that are) and WireError(E_ARG) for a seq not yet emitted."""
        ahead = seq_diff(self.seq, first)
        if ahead < 0:
            raise WireError(E_ARG, "seq %d not emitted yet" % first)
        oldest = self.oldest()
        start = first
        if seq_diff(first, oldest) < 0:
            start = oldest
        k = 0
        s = start
        while s != self.seq:
            self._write(self._ring[s % self._size])
            s = (s + 1) % SEQ_MOD
            k += 1
        if start != first:
            raise WireError(E_GONE, "oldest=%d" % oldest)
        return k


def hexlify(data):
    """Upper-case hex str of bytes (MicroPython 1.9.2 has no bytes.hex())."""
    if _hexlify is None:
        return "".join("%02X" % b for b in data)
    return _hexlify(data).decode().upper()


def unhexlify(s):
    """bytes from a hex str; ValueError on odd length or a non-hex digit."""
    if len(s) & 1:
        raise ValueError("odd hex length")
    out = bytearray(len(s) >> 1)
    for k in range(len(out)):
        out[k] = int(s[2 * k : 2 * k + 2], 16)
    return bytes(out)


def firmware_hash(path, names=None):
    """Identity of the deployed firmware: "sha256:" + the first 16 hex digits of SHA-256 over,
    for each *.py file of `path` in byte order of name: name "\\n" size "\\n" content.
    Without hashlib (micro:bit) the same stream goes through CRC-16 -> "crc16:XXXX".
    The host computes it with this same function over the files it deploys."""
    crc = [0xFFFF]  # the CRC-16 fallback's running value (a list: updated in a closure)
    try:
        import hashlib  # here, not at the top: once per boot, and absent on the micro:bit

        h = hashlib.sha256()
        update = h.update
    except ImportError:
        h = None

        def update(b):
            crc[0] = crc16(b, -1, 0, crc[0])

    if names is None:
        names = [n for n in os.listdir(path) if n.endswith(".py")]
    names = sorted(names)
    buf = bytearray(256)
    mv = memoryview(buf)
    for name in names:
        p = path + "/" + name
        update(("%s\n%d\n" % (name, os.stat(p)[6])).encode())
        with open(p, "rb") as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                update(mv[:k])
    if h is None:
        return "crc16:%04X" % crc[0]
    return "sha256:" + hexlify(h.digest())[:16].lower()
