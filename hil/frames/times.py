"""Times in GBCS frames: the 12-byte DLMS date-time, ASN.1 GeneralizedTime, and the codec's
own currency, whole seconds since 2000-01-01T00:00:00Z (the device's epoch), with ISO-8601
UTC strings ("2015-01-01T00:00:00Z") at the edges (docs/frames.md section 4).

A time that names no single UTC instant (unspecified fields, DST specials, local times,
years outside 1970..9998) reads as None, never as an error: the frame is still well-formed.
Pure Python over `struct` and `datetime`; no construct.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)

_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        return 29
    return _DAYS[month - 1]


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


YEAR_MIN, YEAR_MAX = 1970, 9998  # any deviation keeps the instant inside datetime's range


def _days_since_2000(year: int, month: int, day: int) -> int:
    return (datetime(year, month, day) - datetime(2000, 1, 1)).days


def dlms_datetime_seconds(raw: bytes) -> int | None:
    """Seconds since 2000-01-01T00:00:00Z named by a 12-byte DLMS date-time, or None.

    None unless year (1970..9998), month, day, hour, minute and second are all specified and
    in range (the DST/last-day specials 0xFD/0xFE name no single instant). Weekday,
    hundredths and clock status are ignored. Deviation 0x8000 (not specified) reads as UTC,
    as GBCS requires UTC; otherwise it must be -720..720 and, per the DLMS Blue Book
    ("minutes from local time to UTC"), UTC = local + deviation.
    """
    year, month, day, _wd, hour, minute, second, _hs, deviation, _st = struct.unpack(
        ">HBBBBBBBhB", raw)
    if not (YEAR_MIN <= year <= YEAR_MAX and 1 <= month <= 12 and 1 <= day
            and day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59):
        return None
    if deviation == -0x8000:
        deviation = 0
    elif not -720 <= deviation <= 720:
        return None
    return (_days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            + deviation * 60)


def seconds_to_iso(secs: int | None) -> str | None:
    if secs is None:
        return None
    try:
        return _iso(EPOCH_2000 + timedelta(seconds=secs))
    except OverflowError:
        return None


def iso_to_seconds(value: str | int | datetime) -> int:
    """Seconds since 2000 from an ISO-8601 UTC string, a datetime or an int (passed through)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int((value - EPOCH_2000).total_seconds())


def dlms_datetime(secs: int) -> bytes:
    """12-byte DLMS date-time for a UTC instant, in the RTDS form: weekday FF, hundredths 00,
    deviation 8000 (not specified), status FF."""
    dt = EPOCH_2000 + timedelta(seconds=secs)
    return struct.pack(">HBBBBBBBHB", dt.year, dt.month, dt.day, 0xFF, dt.hour, dt.minute,
                       dt.second, 0, 0x8000, 0xFF)


def generalized_time_seconds(raw: bytes) -> int | None:
    """Seconds since 2000 from an ASN.1 GeneralizedTime "YYYYMMDDHHMMSS[.f...]Z" (year
    1970..9998, fraction dropped), else None: local times without Z, offsets and reduced forms
    are not one known UTC instant here."""
    n = len(raw)
    if n < 15 or raw[n - 1] != 0x5A:  # "Z"
        return None
    for k in range(14):
        if not 0x30 <= raw[k] <= 0x39:
            return None
    if n > 15:
        if raw[14] not in (0x2E, 0x2C) or n == 16:  # "." or ","
            return None
        for k in range(15, n - 1):
            if not 0x30 <= raw[k] <= 0x39:
                return None
    d = [c - 0x30 for c in raw[:14]]
    year = d[0] * 1000 + d[1] * 100 + d[2] * 10 + d[3]
    month, day = d[4] * 10 + d[5], d[6] * 10 + d[7]
    hour, minute, second = d[8] * 10 + d[9], d[10] * 10 + d[11], d[12] * 10 + d[13]
    if not (YEAR_MIN <= year <= YEAR_MAX and 1 <= month <= 12 and 1 <= day
            and day <= _days_in_month(year, month)
            and hour <= 23 and minute <= 59 and second <= 59):
        return None
    return _days_since_2000(year, month, day) * 86400 + hour * 3600 + minute * 60 + second


def generalized_time_iso(raw: bytes) -> str | None:
    return seconds_to_iso(generalized_time_seconds(raw))
