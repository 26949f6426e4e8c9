# CRC-16/CCITT-FALSE: the one check code of every byte format the device writes -- wire lines
# (docs/wire-protocol.md "Framing"), limiter snapshots (docs/limiter.md "Persistence") and
# persist records (firmware_model/persist.py).
#
# Poly 0x1021, init 0xFFFF, no reflection, xorout 0; check value crc16(b"123456789") == 0x29B1.
# A C port computes the same with the classic bitwise loop over the same bytes.
#
# One function for all of them: crc16(data, end, start) checks data[start:end] in place, so the
# wire reader and emitter check a span of their line buffer without slicing it (a slice is a
# heap allocation per line on MicroPython). Runs unchanged on CPython 3.11 and MicroPython (1.27;
# 1.9.2 on the micro:bit, where a flat build that keeps the limiter's snapshot feature brings
# this file along: emulator/flatbuild.py).

try:
    import binascii

    # CPython: the same CRC in C (crc_hqx is CRC-16/CCITT with a caller-chosen initial value);
    # MicroPython has no crc_hqx.
    _crc_hqx = getattr(binascii, "crc_hqx", None)
except ImportError:  # micro:bit 1.9.2 builds without binascii
    _crc_hqx = None

# A nibble at a time: a 16-entry table is 32 bytes of flash on the micro:bit where a 256-entry
# one would not fit comfortably, and two table steps per byte instead of eight bit steps.
_T = (
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
)  # fmt: skip


def crc16(data, end=-1, start=0, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of data[start:end] (end < 0: to the end of data), continuing from
    crc (0xFFFF: a fresh CRC). data is any bytes-like object; nothing is sliced or copied on
    ports without crc_hqx, so a call allocates no heap."""
    if _crc_hqx is not None:
        # in C; a span costs a memoryview here, which only ports with crc_hqx (CPython) pay
        if start or end >= 0:
            data = memoryview(data)[start:end if end >= 0 else len(data)]
        return _crc_hqx(data, crc)
    if end < 0:
        end = len(data)
    t = _T
    for k in range(start, end):
        b = data[k]
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b >> 4)]
        crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b & 0x0F)]
    return crc
