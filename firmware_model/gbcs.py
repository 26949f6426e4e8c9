# GBCS alert frames on the device: build what the device sends north, parse what the comms
# hub relays. Runs unchanged on CPython 3.11 and MicroPython (1.27; written for 1.9.2 too:
# no f-strings, no dataclasses, no construct, only struct/bytearray/ints).
#
# Byte layouts: docs/frames.md. The host decoder (hil/frames/) is an independent
# implementation of the same tables; tests/test_codec_properties.py checks that each parses
# what the other builds, and the fuzz tests that both reject the same malformed frames.
#
# Allocation: builders write into a caller's preallocated bytearray with pack_into and return
# the frame length; parse() fills a caller's preallocated list and reports titles as offsets
# into the frame, so relaying an alert allocates nothing but the (rare) long ints of 8-byte
# counters and of times after 2034 on 30-bit small-int ports.

# ruff: noqa: UP031  (%-formatting: smaller and present on every MicroPython port)

try:
    import ustruct as struct
except ImportError:
    import struct

MAC_LEN = 12
SIG_LEN = 64
MAX_NESTING = 8
SC_AUTH_ONLY = 0x11  # suite 1, authentication only: the device never encrypts
SUMMARY_CODE = 0x8FFE  # project-defined suppression summary (docs/frames.md section 5)
MSG_CRITICAL = 0x1000
MSG_NON_CRITICAL = 0x1001
INVOKE_ID_FLAGS = 0x20000000  # long-invoke-id-and-priority: processing option break-on-error

ENV_SIGNED = 1
ENV_CIPHERED = 2
ENC_NONE = 0
ENC_DLMS = 1
ENC_GBZ = 2
ENC_ASN1 = 3

KIND_STARTED = 0
KIND_ONGOING = 1
KIND_CLOSED = 2

YEAR_MIN = 1970
YEAR_MAX = 9998

# Indices of the list parse() fills. Absent values are -1 (None for times).
F_ENVELOPE = 0        # ENV_SIGNED / ENV_CIPHERED
F_ENCRYPTED = 1       # 0 / 1
F_CRA = 2
F_COUNTER_HI = 3      # originator counter, high and low 32 bits
F_COUNTER_LO = 4
F_ORIG = 5            # offset of the 8-byte originator system title in the frame
F_RECIP = 6           # offset of the recipient system title
F_MSG_CODE = 7
F_ALERT_CODE = 8
F_ENCODING = 9        # ENC_*
F_ALERT_TIME = 10     # seconds since 2000-01-01T00:00:00Z, or None
F_SIG_PRESENT = 11
F_SC = 12             # security control byte (ciphered only)
F_IC = 13             # invocation counter (ciphered only)
F_SUMMARY_KIND = 14
F_SUPP_CODE = 15
F_SUPP_COUNT = 16
F_EP_TOTAL = 17
F_FIRST_TIME = 18
F_LAST_TIME = 19
F_PAYLOAD_LEN = 20
N_FIELDS = 21

DLMS_ALERT_LEN = 25   # 0F iiii 00 02 02 12 cccc 09 0C <12>
GBZ_ALERT_LEN = 9     # 01 09 00 cccc tttttttt
SUMMARY_LEN = 68      # see docs/frames.md "Suppression summary"
FRAME_MAX = 128       # longest frame the builders write (the summary): size buffers by it

# DLMS fixed-size types -> value size; 0 = not fixed-size.
_FIXED = bytearray(0x1C)
for _t, _n in ((0x03, 1), (0x05, 4), (0x06, 4), (0x0D, 1), (0x0F, 1), (0x10, 2), (0x11, 1),
               (0x12, 2), (0x14, 8), (0x15, 8), (0x16, 1), (0x17, 4), (0x18, 8), (0x19, 12),
               (0x1A, 5), (0x1B, 4)):
    _FIXED[_t] = _n
_MDAYS = b"\x1f\x1c\x1f\x1e\x1f\x1e\x1f\x1f\x1e\x1f\x1e\x1f"


class FrameError(ValueError):
    def __init__(self, what, offset):
        super().__init__("%s at byte %d" % (what, offset))
        self.what = what
        self.offset = offset


# ---- time -------------------------------------------------------------------------------

def days_since_2000(y, m, d):
    # Proleptic Gregorian (H. Hinnant's days_from_civil), floor division on both VMs.
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 730425


def civil_from_seconds(secs, out):
    # out[0..5] = year, month, day, hour, minute, second of a UTC instant (secs since 2000).
    days = secs // 86400
    rem = secs - days * 86400
    z = days + 730425
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + 3 if mp < 10 else mp - 9
    out[0] = yoe + era * 400 + (1 if m <= 2 else 0)
    out[1] = m
    out[2] = doy - (153 * mp + 2) // 5 + 1
    out[3] = rem // 3600
    out[4] = (rem // 60) % 60
    out[5] = rem % 60
    return out


def _mdays(y, m):
    if m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        return 29
    return _MDAYS[m - 1]


def _instant(y, mo, d, h, mi, s):
    if not (YEAR_MIN <= y <= YEAR_MAX and 1 <= mo <= 12 and 1 <= d and d <= _mdays(y, mo)
            and h <= 23 and mi <= 59 and s <= 59):
        return None
    return days_since_2000(y, mo, d) * 86400 + h * 3600 + mi * 60 + s


def dlms_time(b, i):
    # 12-byte DLMS date-time at b[i:] -> seconds since 2000, or None when it names no single
    # UTC instant. Deviation 0x8000 = unspecified = UTC (GBCS); else UTC = local + deviation.
    t = _instant((b[i] << 8) | b[i + 1], b[i + 2], b[i + 3], b[i + 5], b[i + 6], b[i + 7])
    if t is None:
        return None
    dev = (b[i + 9] << 8) | b[i + 10]
    if dev == 0x8000:
        return t
    if dev >= 0x8000:
        dev -= 0x10000
    if dev < -720 or dev > 720:
        return None
    return t + dev * 60


def _generalized_time(b, i, n):
    # ASN.1 GeneralizedTime "YYYYMMDDHHMMSS[.f...]Z" -> seconds since 2000, else None.
    if n < 15 or b[i + n - 1] != 0x5A:
        return None
    for k in range(14):
        if not 0x30 <= b[i + k] <= 0x39:
            return None
    if n > 15:
        if (b[i + 14] != 0x2E and b[i + 14] != 0x2C) or n == 16:
            return None
        for k in range(15, n - 1):
            if not 0x30 <= b[i + k] <= 0x39:
                return None
    return _instant(_dec(b, i, 4), _dec(b, i + 4, 2), _dec(b, i + 6, 2), _dec(b, i + 8, 2),
                    _dec(b, i + 10, 2), _dec(b, i + 12, 2))


def _dec(b, i, n):
    v = 0
    for k in range(n):
        v = v * 10 + b[i + k] - 0x30
    return v


_civil = [0, 0, 0, 0, 0, 0]


def put_dlms_time(buf, i, secs):
    # 12-byte DLMS date-time in the RTDS form: weekday FF, hundredths 00, deviation 8000, FF.
    c = civil_from_seconds(secs, _civil)
    struct.pack_into(">HBBBBBBBHB", buf, i, c[0], c[1], c[2], 0xFF, c[3], c[4], c[5], 0,
                     0x8000, 0xFF)
    return i + 12


# ---- lengths ------------------------------------------------------------------------------

def _len(b, i, end):
    # DER length at i (validated: 1..3 bytes, 81 nn minimal). Its size is _lsize(b[i]).
    if i >= end:
        raise FrameError("length needs 1 bytes, only 0 left", i)
    first = b[i]
    if first < 0x80:
        return first
    if first == 0x81:
        if i + 2 > end:
            raise FrameError("length needs 1 bytes, only 0 left", i + 1)
        if b[i + 1] < 0x80:
            raise FrameError("non-minimal DER length", i)
        return b[i + 1]
    if first == 0x82:  # also 82 00nn: real frames send that fixed-width form, read it
        if i + 3 > end:
            raise FrameError("length needs 2 bytes", i + 1)
        return (b[i + 1] << 8) | b[i + 2]
    raise FrameError("unsupported DER length byte", i)


def _lsize(first):
    return 1 if first < 0x80 else first - 0x7F


def _field(b, i, end, what):
    # Validates the DER-prefixed field at i; returns the index after it.
    n = _len(b, i, end)
    j = i + _lsize(b[i]) + n
    if j > end:
        raise FrameError("%s length %d exceeds the bytes left" % (what, n), i)
    return j


def _need(i, n, end, what):
    if i + n > end:
        raise FrameError("%s needs %d bytes" % (what, n), i)


def _tag(b, i, end, value, what):
    if i >= end:
        raise FrameError("%s needs 1 bytes, only 0 left" % what, i)
    if b[i] != value:
        raise FrameError("%s: expected 0x%02X, found 0x%02X" % (what, value, b[i]), i)


def _put_len(buf, i, n):
    if n < 0x80:
        buf[i] = n
        return i + 1
    if n < 0x100:
        buf[i] = 0x81
        buf[i + 1] = n
        return i + 2
    buf[i] = 0x82
    buf[i + 1] = n >> 8
    buf[i + 2] = n & 0xFF
    return i + 3


# ---- building -----------------------------------------------------------------------------

def _put_bytes(buf, i, src, n):
    # n bytes of src (or zeros: placeholder MAC/signature when src is None)
    if src is None:
        for k in range(n):
            buf[i + k] = 0
    else:
        if len(src) != n:
            raise ValueError("expected %d bytes" % n)
        for k in range(n):  # no slice assignment: micro:bit 1.9.2 builds lack it
            buf[i + k] = src[k]
    return i + n


def _put_signed(buf, i, counter, orig, recip, msg_code, content_len, sig_len):
    # General-Signing header up to and including the content length; returns content index.
    buf[i] = 0xDF
    buf[i + 1] = 9
    buf[i + 2] = 3  # CRA flag: alert
    struct.pack_into(">II", buf, i + 3, counter >> 32, counter & 0xFFFFFFFF)
    buf[i + 11] = 8
    _put_bytes(buf, i + 12, orig, 8)
    buf[i + 20] = 8
    _put_bytes(buf, i + 21, recip, 8)
    buf[i + 29] = 0     # date-time: absent
    buf[i + 30] = 2     # other-information: message code only
    struct.pack_into(">H", buf, i + 31, msg_code)
    return _put_len(buf, i + 33, content_len)


def _envelope(buf, ciphered, counter, orig, recip, msg_code, content_len, ic):
    # Writes the envelope headers; returns the content index. Content + trailer follow.
    if not ciphered:
        return _put_signed(buf, 0, counter, orig, recip, msg_code, content_len, SIG_LEN)
    signed_len = 34 + _lsize(content_len) + content_len  # ... content, signature length 00
    for k in range(1, 7):
        buf[k] = 0  # six empty header fields, as in every RTDS non-critical alert
    buf[0] = 0xDD
    j = _put_len(buf, 7, 5 + signed_len + MAC_LEN)
    buf[j] = SC_AUTH_ONLY
    struct.pack_into(">I", buf, j + 1, ic)
    return _put_signed(buf, j + 5, counter, orig, recip, msg_code, content_len, 0)


def _trailer(buf, i, ciphered, mac, signature):
    if ciphered:
        buf[i] = 0  # no signature inside General-Ciphering
        return _put_bytes(buf, i + 1, mac, MAC_LEN)
    buf[i] = SIG_LEN
    return _put_bytes(buf, i + 1, signature, SIG_LEN)


def _put_dlms_head(buf, i, invoke_id, count, code, t2000):
    buf[i] = 0x0F
    struct.pack_into(">I", buf, i + 1, invoke_id)
    buf[i + 5] = 0        # no notification date-time
    buf[i + 6] = 0x02
    buf[i + 7] = count
    buf[i + 8] = 0x12
    struct.pack_into(">H", buf, i + 9, code)
    buf[i + 11] = 0x09
    buf[i + 12] = 12
    return put_dlms_time(buf, i + 13, t2000)


def _invoke_id(invoke_id, counter):
    # None: as devices set it (RTDS: 0x200007D0 for counter 2000), the counter's low 24 bits
    # with processing option "break on error"
    return INVOKE_ID_FLAGS | (counter & 0xFFFFFF) if invoke_id is None else invoke_id


def build_alert(buf, ciphered, counter, orig, recip, msg_code, code, encoding, t2000,
                ic=0, invoke_id=None, mac=None, signature=None):
    # One alert frame into buf; returns its length. ciphered: General-Ciphering (MAC only)
    # else General-Signing; encoding ENC_DLMS or ENC_GBZ; t2000: seconds since 2000 UTC.
    if code == SUMMARY_CODE:  # reserved: a summary has its own layout (build_summary)
        raise ValueError("0x8FFE is the summary code, not an alert")
    if encoding == ENC_DLMS:
        n = DLMS_ALERT_LEN
    elif encoding == ENC_GBZ:
        n = GBZ_ALERT_LEN
    else:
        raise ValueError("encoding must be ENC_DLMS or ENC_GBZ")
    i = _envelope(buf, ciphered, counter, orig, recip, msg_code, n, ic)
    if encoding == ENC_DLMS:
        i = _put_dlms_head(buf, i, _invoke_id(invoke_id, counter), 2, code, t2000)
    else:
        buf[i] = 0x01
        buf[i + 1] = 0x09
        buf[i + 2] = 0    # no GBZ components
        struct.pack_into(">HI", buf, i + 3, code, t2000)
        i += 9
    return _trailer(buf, i, ciphered, mac, signature)


def build_summary(buf, counter, orig, recip, t2000, code, count, total, first, last, kind,
                  ic=0, invoke_id=None, mac=None):
    # The suppression summary frame (General-Ciphering, 0x1001, DLMS alert 0x8FFE).
    i = _envelope(buf, True, counter, orig, recip, MSG_NON_CRITICAL, SUMMARY_LEN, ic)
    i = _put_dlms_head(buf, i, _invoke_id(invoke_id, counter), 8, SUMMARY_CODE, t2000)
    buf[i] = 0x12
    buf[i + 3] = 0x06
    buf[i + 8] = 0x06
    struct.pack_into(">HBIBI", buf, i + 1, code, 0x06, count, 0x06, total)
    buf[i + 13] = 0x09
    buf[i + 14] = 12
    put_dlms_time(buf, i + 15, first)
    buf[i + 27] = 0x09
    buf[i + 28] = 12
    put_dlms_time(buf, i + 29, last)
    buf[i + 41] = 0x11
    buf[i + 42] = kind
    return _trailer(buf, i + 43, True, mac, None)


# ---- parsing ------------------------------------------------------------------------------

_items = [0] * 8        # offsets of the first 8 elements of the DLMS body structure
_ber = [-1, -1]         # top SEQUENCE's first child, first GeneralizedTime child


def _dlms(b, i, end, depth, top):
    # Validates one DLMS data element at i; returns the index after it. top: record the
    # offsets of the body structure's first 8 elements in _items.
    if i >= end:
        raise FrameError("type needs 1 bytes, only 0 left", i)
    t = b[i]
    j = i + 1
    if t == 0x01 or t == 0x02:
        if depth >= MAX_NESTING:
            raise FrameError("DLMS nested too deeply", j)
        count = _len(b, j, end)
        j += _lsize(b[j])
        k = 0
        while k < count:
            if top and k < 8:
                _items[k] = j
            j = _dlms(b, j, end, depth + 1, False)
            k += 1
        return j
    n = _FIXED[t] if t < 0x1C else 0
    if n:
        _need(j, n, end, "value")
        return j + n
    if t == 0x09 or t == 0x0A or t == 0x0C:
        return _field(b, j, end, "string")
    if t == 0x00:
        return j
    if t == 0x04:
        bits = _len(b, j, end)
        j += _lsize(b[j])
        n = (bits + 7) // 8
        _need(j, n, end, "data")
        return j + n
    raise FrameError("unsupported DLMS data type", i)


def _ber_tlv(b, i, end, depth):
    # Validates one BER TLV at i; returns the index after it. Records the top SEQUENCE's
    # first child and first GeneralizedTime child in _ber.
    if i >= end:
        raise FrameError("tag needs 1 bytes, only 0 left", i)
    tag = b[i]
    if tag & 0x1F == 0x1F:
        raise FrameError("multi-byte BER tag not supported", i)
    if not tag & 0x20:
        return _field(b, i + 1, end, "BER value")
    if depth >= MAX_NESTING:
        raise FrameError("BER nested too deeply", i + 1)
    e = _field(b, i + 1, end, "BER constructed value")
    s = i + 1 + _lsize(b[i + 1])
    while s < e:
        if depth == 0:
            if _ber[0] < 0:
                _ber[0] = s
            if b[s] == 0x18 and _ber[1] < 0:
                _ber[1] = s
        s = _ber_tlv(b, s, e, depth + 1)
    return e


def _vstart(b, i):
    # index of the value of the TLV / DLMS string at i (after tag and length)
    return i + 1 + _lsize(b[i + 1])


_body = [0]             # offset of the DLMS notification body


def _payload(b, i, end, out):
    # Validates the payload b[i:end] and sets the encoding; _interpret reads it later, once
    # the whole frame is known to be well-formed.
    if i >= end:
        return
    kind = b[i]
    if kind == 0x0F:
        out[F_ENCODING] = ENC_DLMS
        _need(i + 1, 4, end, "invoke_id")
        j = i + 5
        if j >= end:
            raise FrameError("notification date-time needs 1 bytes", j)
        if b[j] == 0x0C:  # A-XDR octet-string: 0C + 12-byte date-time
            _need(j + 1, 12, end, "notification date-time")
            j += 13
        elif b[j] == 0x09:  # 09 0C + 12: the tag some meters put in front
            if j + 1 >= end:
                raise FrameError("notification date-time length needs 1 bytes", j + 1)
            if b[j + 1] != 12:
                raise FrameError("notification date-time length must be 12", j + 1)
            _need(j + 2, 12, end, "notification date-time")
            j += 14
        elif b[j] == 0x00:
            j += 1
        else:
            raise FrameError("notification date-time: expected 00, 0C or 09 0C", j)
        _body[0] = j
        e = _dlms(b, j, end, 0, True)
        if e != end:
            raise FrameError("content: unexpected bytes after its content", e)
    elif kind == 0x01:
        out[F_ENCODING] = ENC_GBZ
        _tag(b, i + 1, end, 0x09, "GBZ profile id (low byte)")
        _need(i + 2, 1, end, "components")
        _need(i + 3, 2, end, "alert_code")
        _need(i + 5, 4, end, "time")
    elif kind == 0x30:
        out[F_ENCODING] = ENC_ASN1
        _ber[0] = -1
        _ber[1] = -1
        e = _ber_tlv(b, i, end, 0)
        if e != end:
            raise FrameError("content: unexpected bytes after its content", e)


def _interpret(b, i, end, out):
    # Alert code/time (and summary fields) of the well-formed payload b[i:end].
    out[F_PAYLOAD_LEN] = end - i
    enc = out[F_ENCODING]
    if out[F_CRA] != 3:  # commands and responses carry no alert code
        return
    if enc == ENC_GBZ:
        out[F_ALERT_CODE] = (b[i + 3] << 8) | b[i + 4]
        out[F_ALERT_TIME] = struct.unpack_from(">I", b, i + 5)[0]
    elif enc == ENC_ASN1:
        f = _ber[0]
        if b[i] != 0x30 or f < 0:
            return
        v = _vstart(b, f)
        n = _len(b, f + 1, end)
        if b[f] == 0x02 and 1 <= n <= 3 and not b[v] & 0x80:
            code = 0
            for k in range(n):
                code = (code << 8) | b[v + k]
            if code <= 0xFFFF:
                out[F_ALERT_CODE] = code
        g = _ber[1]
        if g >= 0:
            out[F_ALERT_TIME] = _generalized_time(b, _vstart(b, g), _len(b, g + 1, end))
    elif enc == ENC_DLMS:
        j = _body[0]
        if b[j] != 0x02:
            return
        count = _len(b, j + 1, end)
        e0 = _items[0]
        if count == 0 or b[e0] != 0x12:
            return
        code = (b[e0 + 1] << 8) | b[e0 + 2]
        out[F_ALERT_CODE] = code
        if count > 1:
            e1 = _items[1]
            if b[e1] == 0x09 and _len(b, e1 + 1, end) == 12:
                out[F_ALERT_TIME] = dlms_time(b, _vstart(b, e1))
        if code == SUMMARY_CODE:
            _summary(b, j, count, out)


_SUMMARY_TYPES = b"\x12\x09\x12\x06\x06\x09\x09\x11"


def _summary(b, j, count, out):
    if count != 8:
        raise FrameError("summary structure must have 8 elements", j)
    for k in range(8):
        e = _items[k]
        if b[e] != _SUMMARY_TYPES[k] or (b[e] == 0x09 and _len(b, e + 1, len(b)) != 12):
            raise FrameError("summary element has the wrong DLMS type/size", e)
    e = _items[7]
    if b[e + 1] > 2:
        raise FrameError("summary kind is not 0/1/2", e + 1)
    out[F_SUMMARY_KIND] = b[e + 1]
    e = _items[2]
    out[F_SUPP_CODE] = (b[e + 1] << 8) | b[e + 2]
    out[F_SUPP_COUNT] = struct.unpack_from(">I", b, _items[3] + 1)[0]
    out[F_EP_TOTAL] = struct.unpack_from(">I", b, _items[4] + 1)[0]
    out[F_FIRST_TIME] = dlms_time(b, _vstart(b, _items[5]))
    out[F_LAST_TIME] = dlms_time(b, _vstart(b, _items[6]))


def _signed(b, i, end, out):
    # Validates the General-Signing block b[i:end] (it must fill it) and fills the envelope
    # fields; returns the content start (content end in _span[0]).
    _tag(b, i, end, 0xDF, "General-Signing tag")
    _tag(b, i + 1, end, 0x09, "transaction-id length")
    _need(i + 2, 1, end, "cra_flag")
    cra = b[i + 2]
    if cra < 1 or cra > 3:
        raise FrameError("CRA flag is not 01/02/03", i + 2)
    _need(i + 3, 8, end, "originator_counter")
    _tag(b, i + 11, end, 0x08, "originator-system-title length")
    _need(i + 12, 8, end, "originator_title")
    _tag(b, i + 20, end, 0x08, "recipient-system-title length")
    _need(i + 21, 8, end, "recipient_title")
    oi = _field(b, i + 29, end, "date-time")
    ci = _field(b, oi, end, "other-information")
    os_ = oi + _lsize(b[oi])
    if ci - os_ < 2:
        raise FrameError("message_code needs 2 bytes", os_)
    si = _field(b, ci, end, "content")
    cs = ci + _lsize(b[ci])
    _payload(b, cs, si, out)
    se = _field(b, si, end, "signature")
    n = se - si - _lsize(b[si])
    if n != 0 and n != SIG_LEN:
        raise FrameError("signature must be 0 or 64 bytes", si)
    if se != end:
        raise FrameError("unexpected bytes after the signed content", se)
    out[F_CRA] = cra
    hi, lo = struct.unpack_from(">II", b, i + 3)
    out[F_COUNTER_HI] = hi
    out[F_COUNTER_LO] = lo
    out[F_ORIG] = i + 12
    out[F_RECIP] = i + 21
    out[F_MSG_CODE] = (b[os_] << 8) | b[os_ + 1]
    out[F_SIG_PRESENT] = 1 if n else 0
    _span[0] = si
    return cs


_span = [0]


def _clear(out):
    for k in range(N_FIELDS):
        out[k] = -1
    out[F_ENCRYPTED] = 0
    out[F_ENCODING] = ENC_NONE
    out[F_ALERT_TIME] = None
    out[F_FIRST_TIME] = None
    out[F_LAST_TIME] = None
    out[F_SIG_PRESENT] = 0


def _same(b, x, y, n):
    for k in range(n):
        if b[x + k] != b[y + k]:
            return False
    return True


def _differs(b, h, s, end):
    # Header field at h vs signed-block field at s (both DER-prefixed): differ only when
    # both are non-empty and not byte-equal (an empty field says nothing).
    hn = _len(b, h, end)
    sn = _len(b, s, end)
    if hn == 0 or sn == 0:
        return False
    return hn != sn or not _same(b, h + _lsize(b[h]), s + _lsize(b[s]), hn)


def parse(b, n=-1, out=None):
    # Parse the frame b[:n] (n=-1: all of b) into out (a list of N_FIELDS; allocated if
    # None) and return out. Raises FrameError(what, offset) for any malformed frame.
    end = len(b) if n < 0 else n
    if end > len(b):
        raise FrameError("frame length %d beyond the %d-byte buffer" % (end, len(b)), len(b))
    if out is None:
        out = [0] * N_FIELDS
    _clear(out)
    if end == 0:
        raise FrameError("unknown envelope tag (empty frame)", 0)
    if b[0] == 0xDF:
        out[F_ENVELOPE] = ENV_SIGNED
        cs = _signed(b, 0, end, out)
        _interpret(b, cs, _span[0], out)
        return out
    if b[0] != 0xDD:
        raise FrameError("unknown envelope tag", 0)
    out[F_ENVELOPE] = ENV_CIPHERED
    # transaction-id, originator, recipient, date-time, other-information, key-info
    # (field at x, its value at xv, value size xn: a length may be 82 00nn, so xv - x varies)
    tid = 1
    ot = _field(b, tid, end, "transaction-id")
    tv = tid + _lsize(b[tid])
    if ot - tv != 0 and ot - tv != 9:
        raise FrameError("transaction-id must be 0 or 9 bytes", tid)
    rt = _field(b, ot, end, "originator-system-title")
    ov = ot + _lsize(b[ot])
    if rt - ov != 0 and rt - ov != 8:
        raise FrameError("originator-system-title must be 0 or 8 bytes", ot)
    dt = _field(b, rt, end, "recipient-system-title")
    rv = rt + _lsize(b[rt])
    if dt - rv != 0 and dt - rv != 8:
        raise FrameError("recipient-system-title must be 0 or 8 bytes", rt)
    oi = _field(b, dt, end, "date-time")
    ki = _field(b, oi, end, "other-information")
    oin = ki - oi - _lsize(b[oi])
    if oin == 1:
        raise FrameError("other-information must be 0 or >= 2 bytes", oi)
    cl = _field(b, ki, end, "key-info")
    ce = _field(b, cl, end, "ciphered content")
    cs = cl + _lsize(b[cl])
    _need(cs, 1, ce, "security_control")
    sc = b[cs]
    if not sc & 0x10 or sc & 0x80:
        raise FrameError("security control needs the authentication bit, no compression", cs)
    _need(cs + 1, 4, ce, "invocation_counter")
    inner = ce - MAC_LEN
    if inner < cs + 5:
        raise FrameError("ciphered content has no room for its MAC", cs + 5)
    out[F_SC] = sc
    out[F_IC] = struct.unpack_from(">I", b, cs + 1)[0]
    if sc & 0x20:
        if ce != end:
            raise FrameError("trailing bytes after the frame", ce)
        out[F_ENCRYPTED] = 1
        out[F_PAYLOAD_LEN] = inner - cs - 5
        if oin >= 2:
            hv = oi + _lsize(b[oi])
            out[F_MSG_CODE] = (b[hv] << 8) | b[hv + 1]
        if ot - tv == 9:
            if b[tv] < 1 or b[tv] > 3:
                raise FrameError("CRA flag is not 01/02/03", 2)
            out[F_CRA] = b[tv]
            hi, lo = struct.unpack_from(">II", b, tv + 1)
            out[F_COUNTER_HI] = hi
            out[F_COUNTER_LO] = lo
        if rt - ov == 8:
            out[F_ORIG] = ov
        if dt - rv == 8:
            out[F_RECIP] = rv
        return out
    s = cs + 5
    ps = _signed(b, s, inner, out)
    if ce != end:
        raise FrameError("trailing bytes after the frame", ce)
    _interpret(b, ps, _span[0], out)
    # A header field that is present must agree with the signed block (cra + counter,
    # titles, message code, other-information extra, date-time).
    if ot - tv == 9 and not _same(b, tv, s + 2, 9):
        raise FrameError("General-Ciphering transaction-id differs from the signed block", 1)
    if rt - ov == 8 and not _same(b, ov, s + 12, 8):
        raise FrameError("General-Ciphering originator title differs from the signed block", 1)
    if dt - rv == 8 and not _same(b, rv, s + 21, 8):
        raise FrameError("General-Ciphering recipient title differs from the signed block", 1)
    soi = s + 29 + _lsize(b[s + 29]) + _len(b, s + 29, end)  # signed other-information
    if oin >= 2:
        hv = oi + _lsize(b[oi])
        sv = soi + _lsize(b[soi])
        if b[hv] != b[sv] or b[hv + 1] != b[sv + 1]:
            raise FrameError("General-Ciphering message code differs from the signed block", 1)
        sn = _len(b, soi, end) - 2
        if oin > 2 and sn > 0 and (oin - 2 != sn or not _same(b, hv + 2, sv + 2, sn)):
            raise FrameError("General-Ciphering other-information differs from the signed "
                             "block", 1)
    if _differs(b, dt, s + 29, end):
        raise FrameError("General-Ciphering date-time differs from the signed block", 1)
    return out


def title_hex(b, off):
    # Upper-case hex of the 8-byte system title at off (allocates: host/diagnostics only).
    if off < 0:
        return None
    return "".join(["%02X" % b[off + k] for k in range(8)])


def counter_of(out):
    if out[F_COUNTER_HI] < 0:
        return None
    return (out[F_COUNTER_HI] << 32) | out[F_COUNTER_LO]


_ENVELOPES = (None, "signed", "ciphered")
_ENCODINGS = (None, "dlms", "gbz", "asn1")


def _opt(v):
    return None if v < 0 else v


def _code(v):
    return None if v < 0 else "0x%04X" % v


def fields(b, out):
    # The parse result as a dict named and formatted like the host decoder's DecodedFrame
    # (times stay seconds since 2000). Allocates: for tests and diagnostics, not hot paths.
    return {
        "envelope": _ENVELOPES[out[F_ENVELOPE]], "encrypted": bool(out[F_ENCRYPTED]),
        "cra_flag": _opt(out[F_CRA]), "originator_counter": counter_of(out),
        "originator_title": title_hex(b, out[F_ORIG]),
        "recipient_title": title_hex(b, out[F_RECIP]),
        "message_code": _code(out[F_MSG_CODE]), "alert_code": _code(out[F_ALERT_CODE]),
        "alert_time": out[F_ALERT_TIME], "encoding": _ENCODINGS[out[F_ENCODING]],
        "signature_present": bool(out[F_SIG_PRESENT]), "security_control": _opt(out[F_SC]),
        "invocation_counter": _opt(out[F_IC]), "payload_length": out[F_PAYLOAD_LEN],
        "is_summary": out[F_SUMMARY_KIND] >= 0, "summary_kind": _opt(out[F_SUMMARY_KIND]),
        "suppressed_code": _code(out[F_SUPP_CODE]),
        "suppressed_count": _opt(out[F_SUPP_COUNT]), "episode_total": _opt(out[F_EP_TOTAL]),
        "first_time": out[F_FIRST_TIME], "last_time": out[F_LAST_TIME],
    }
