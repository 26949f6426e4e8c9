"""Frames in the forms real devices send but the project's builders never write
(docs/frames.md "Deviations"), made from exact frames for the codec tests: DER lengths in the
fixed-width `82 00nn` form, and the DataNotification date-time with the Data octet-string tag
`09` in front of its `0C` length."""

from __future__ import annotations

from unittest import mock

from hil.frames import encode, parse, primitives


def length_count(frame: bytes) -> int:
    """How many DER lengths below 256 construct writes when it re-encodes `frame`."""
    return non_minimal(frame, which=set())[1]


def non_minimal(frame: bytes, which: set[int] | None = None) -> tuple[bytes, int]:
    """`frame` re-encoded with the lengths below 256 whose index (in the order construct
    builds them, not byte order) is in `which`, all if None, written `82 00nn`; returns the
    frame and how many lengths below 256 construct wrote."""
    exact = primitives.der_length
    seen = [0]

    def der_length(n: int) -> bytes:
        if n >= 0x100:
            return exact(n)
        k = seen[0]
        seen[0] += 1
        return bytes((0x82, 0, n)) if which is None or k in which else exact(n)

    with mock.patch.object(primitives, "der_length", der_length):
        out = encode(parse(frame))
    return out, seen[0]


def tagged_notification_time(payload: bytes) -> bytes:
    """A DataNotification payload with its `0C` + 12 date-time written `09 0C` + 12."""
    assert payload[0] == 0x0F and payload[5] == 0x0C, payload.hex()
    return payload[:5] + b"\x09" + payload[5:]
