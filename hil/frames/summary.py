"""The suppression summary (docs/frames.md section 5, "The suppression summary frame"): its
one DLMS structure layout, the one rule both decoders apply to it, and the elements the builder
writes from it.

A summary is a DLMS alert whose code is SUMMARY_CODE (0x8FFE); the project defines it, GBCS
does not. Its structure must be exactly SUMMARY_LAYOUT (element count, DLMS types,
octet-string sizes) and its kind 0..2, else the frame is malformed: a summary the DSP
misreads would hide a storm, so a near-miss is an error, not "not a summary".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hil.frames.catalogue import SUMMARY_CODE, format_code
from hil.frames.primitives import FrameError
from hil.frames.times import dlms_datetime, dlms_datetime_seconds, iso_to_seconds, seconds_to_iso

SUMMARY_KINDS = {0: "started", 1: "ongoing", 2: "closed"}  # summary_kind values (for display)

_DATE_TIME = 0x09  # octet-string; every octet-string of the layout is a 12-byte date-time

# The structure's elements in order: (DLMS type, octet-string size or None, what it is for
# error messages, the builder's keyword). The rows of docs/frames.md section 5's table.
SUMMARY_LAYOUT: tuple[tuple[int, int | None, str, str], ...] = (
    (0x12, None, "alert code", "alert_code"),                      # long-unsigned 0x8FFE
    (_DATE_TIME, 12, "summary date-time", "summary_time"),
    (0x12, None, "suppressed alert code", "suppressed_code"),      # long-unsigned
    (0x06, None, "suppressed count", "suppressed_count"),          # double-long-unsigned
    (0x06, None, "episode total", "episode_total"),                # double-long-unsigned
    (_DATE_TIME, 12, "first suppressed date-time", "first_time"),
    (_DATE_TIME, 12, "last suppressed date-time", "last_time"),
    (0x11, None, "summary kind", "kind"),                          # unsigned
)


def summary_fields(items: Sequence[tuple[int, int, Any]], offset: int) -> dict[str, Any]:
    """The DecodedFrame summary fields of a summary's structure, given as its elements'
    (frame offset, DLMS type, value); `offset` is the structure's. Raises FrameError at the
    element that breaks SUMMARY_LAYOUT."""
    if len(items) != len(SUMMARY_LAYOUT):
        raise FrameError(f"summary structure has {len(items)} elements, expected "
                         f"{len(SUMMARY_LAYOUT)}", offset)
    for (at, t, value), (want, size, what, _name) in zip(items, SUMMARY_LAYOUT, strict=True):
        if t != want or (size is not None and len(value) != size):
            raise FrameError(f"summary {what}: wrong DLMS type/size", at)
    got = {name: item for item, (_t, _size, _what, name) in zip(items, SUMMARY_LAYOUT,
                                                                 strict=True)}
    kind_at, _t, kind = got["kind"]
    if kind > 2:
        raise FrameError(f"summary kind {kind} is not 0/1/2", kind_at + 1)  # the value byte
    return dict(is_summary=True, summary_kind=kind,
                suppressed_code=format_code(got["suppressed_code"][2]),
                suppressed_count=got["suppressed_count"][2],
                episode_total=got["episode_total"][2],
                first_time=seconds_to_iso(dlms_datetime_seconds(got["first_time"][2])),
                last_time=seconds_to_iso(dlms_datetime_seconds(got["last_time"][2])))


def summary_elements(*, summary_time: Any, suppressed_code: int, suppressed_count: int,
                     episode_total: int, first_time: Any, last_time: Any,
                     kind: int) -> list[tuple[int, Any]]:
    """The structure's [(DLMS type, value), ...] in SUMMARY_LAYOUT order; times are ISO-8601
    strings, datetimes or seconds since 2000."""
    given = dict(alert_code=SUMMARY_CODE, summary_time=summary_time,
                 suppressed_code=suppressed_code, suppressed_count=suppressed_count,
                 episode_total=episode_total, first_time=first_time, last_time=last_time,
                 kind=kind)
    return [(t, dlms_datetime(iso_to_seconds(given[name])) if t == _DATE_TIME else given[name])
            for t, _size, _what, name in SUMMARY_LAYOUT]
