"""Construct building blocks of the GBCS codec, and its one error type.

Every block reads through `take`, so a short read becomes an error with the offset where the
data ran out, never construct's StreamError. Errors raised while parsing are `Malformed` (an
ExplicitError, so GreedyRange & co. never swallow them); `layouts.parse` turns them into
`FrameError`, the only error the codec lets out. Offsets are absolute (bytes from the start of
the frame) because every length-delimited field is parsed in a `Window` that knows where it
starts.

Lenient where devices are: a form real devices are known to send although the rules say
otherwise (docs/frames.md "Deviations") is read, and recorded with `deviate` in the root
window's `deviations`, in the same "<what> at byte <offset>" words an error would use; `parse`
hands the list to the decoded view. Building is always exact (minimal DER lengths).

The blocks know DER lengths and byte windows, not GBCS: the formats built from them are in
layouts.py, as construct's core.py keeps its primitives apart from the formats using them.
"""

from __future__ import annotations

import io
from typing import Any

from construct import Construct, ExplicitError, ListContainer  # type: ignore[import-untyped]

from hil.errors import HilError

MAX_NESTING = 8  # DLMS structure/array and BER constructed nesting; real alerts use <= 3


class FrameError(HilError):
    """A frame is malformed. `offset` is the byte (from the start of the frame) where it was
    found to be wrong; `what` says what was wrong there."""

    exit_status = 3

    def __init__(self, what: str, offset: int) -> None:
        super().__init__(f"{what} at byte {offset}")
        self.what = what
        self.offset = offset


class Malformed(ExplicitError):
    """A parse-time FrameError (`what`, `offset`) in the shape construct lets through."""

    def __init__(self, what: str, offset: int) -> None:
        super().__init__(f"{what} at byte {offset}")
        self.what = what
        self.offset = offset


class Window(io.BytesIO):
    """A byte window of the frame that knows where it starts, so offsets stay absolute. The
    root window (the whole frame) also holds the nesting depth and the deviations read."""

    def __init__(self, data: bytes, base: int, root: Window | None = None) -> None:
        super().__init__(data)
        self.base = base
        self.size = len(data)
        self.root = root if root is not None else self
        self.depth = 0
        if root is None:
            self.deviations: list[str] = []


def deviate(stream: Any, what: str, offset: int) -> None:
    """Record that the frame deviates from the rules at `offset` in a way devices are known to
    (read on, do not fail). Outside a Window (a bare stream) there is nowhere to record it."""
    root = getattr(stream, "root", None)
    if root is not None:
        root.deviations.append(f"{what} at byte {offset}")


def stream_offset(stream: Any) -> int:
    """The absolute frame offset of the stream's position."""
    return getattr(stream, "base", 0) + stream.tell()


def _left(stream: Any) -> int:
    size = getattr(stream, "size", None)
    if size is None:
        return len(stream.getbuffer()) - stream.tell()
    return int(size - stream.tell())


def take(stream: Any, n: int, what: str) -> bytes:
    """Exactly `n` bytes of `what`, or Malformed at the offset where they ran out."""
    at = stream_offset(stream)
    data = stream.read(n)
    if len(data) != n:
        raise Malformed(f"{what} needs {n} bytes, only {len(data)} left", at)
    return bytes(data)


def _fieldname(path: str) -> str:
    return path.rsplit("-> ", 1)[-1].strip() or "field"


class UInt(Construct):
    """Big-endian unsigned (or signed) integer of `size` bytes."""

    def __init__(self, size: int, signed: bool = False) -> None:
        super().__init__()
        self.size = size
        self.signed = signed

    def _parse(self, stream, context, path):
        return int.from_bytes(take(stream, self.size, _fieldname(path)), "big",
                              signed=self.signed)

    def _build(self, obj, stream, context, path):
        stream.write(int(obj).to_bytes(self.size, "big", signed=self.signed))
        return obj

    def _sizeof(self, context, path):
        return self.size


class Raw(Construct):
    """Exactly `size` bytes (an int or a context function)."""

    def __init__(self, size: Any) -> None:
        super().__init__()
        self.size = size

    def _parse(self, stream, context, path):
        n = self.size(context) if callable(self.size) else self.size
        return take(stream, n, _fieldname(path))

    def _build(self, obj, stream, context, path):
        n = self.size(context) if callable(self.size) else self.size
        data = bytes(obj)
        if len(data) != n:
            raise FrameError(f"{_fieldname(path)} must be {n} bytes, got {len(data)}", 0)
        stream.write(data)
        return data


class RawRest(Construct):
    """All bytes left in the enclosing length-delimited field."""

    def _parse(self, stream, context, path):
        return bytes(stream.read())

    def _build(self, obj, stream, context, path):
        stream.write(bytes(obj))
        return obj


class Tag(Construct):
    """A constant byte the specification fixes (tag or fixed length)."""

    def __init__(self, value: int, what: str) -> None:
        super().__init__()
        self.flagbuildnone = True
        self.value = value
        self.what = what

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        got = take(stream, 1, self.what)[0]
        if got != self.value:
            raise Malformed(f"{self.what}: expected 0x{self.value:02X}, found 0x{got:02X}", at)
        return None

    def _build(self, obj, stream, context, path):
        stream.write(bytes((self.value,)))
        return None

    def _sizeof(self, context, path):
        return 1


class PeekU8(Construct):
    """The next byte without consuming it (None at the end of the field)."""

    def _parse(self, stream, context, path):
        b = stream.read(1)
        if b:
            stream.seek(-1, io.SEEK_CUR)
            return b[0]
        return None

    def _build(self, obj, stream, context, path):
        return obj


class AbsOffset(Construct):
    """Offset of this point from the start of the frame (parse only; builds nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.flagbuildnone = True

    def _parse(self, stream, context, path):
        return stream_offset(stream)

    def _build(self, obj, stream, context, path):
        return obj


class Reject(Construct):
    """Fails with `what`, pointing `back` bytes before the current position."""

    def __init__(self, what: Any, back: int = 0) -> None:
        super().__init__()
        self.what = what
        self.back = back

    def _parse(self, stream, context, path):
        what = self.what(context) if callable(self.what) else self.what
        raise Malformed(what, stream_offset(stream) - self.back)

    def _build(self, obj, stream, context, path):
        raise FrameError(self.what if isinstance(self.what, str) else "unbuildable value", 0)


class DerLengthConstruct(Construct):
    """DER length: 0..0x7F in one byte, else 0x81 nn or 0x82 nnnn; built minimal. Read: also
    0x82 00nn, the fixed-width form real frames use for lengths below 256 (a deviation);
    0x81 nn with nn < 0x80 stays malformed (no device is known to send it)."""

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        first = take(stream, 1, "length")[0]
        if first < 0x80:
            return first
        if first == 0x81:
            n = take(stream, 1, "length")[0]
            if n < 0x80:
                raise Malformed(f"non-minimal DER length 81 {n:02X}", at)
            return n
        if first == 0x82:
            n = int.from_bytes(take(stream, 2, "length"), "big")
            if n < 0x100:
                deviate(stream, f"non-minimal DER length 82 {n:04X}", at)
            return n
        raise Malformed(f"unsupported DER length byte 0x{first:02X}", at)

    def _build(self, obj, stream, context, path):
        stream.write(der_length(int(obj)))
        return obj


DerLength = DerLengthConstruct()


class DerPrefixed(Construct):
    """DER length + exactly that many bytes holding `subcon`, which must use them all."""

    def __init__(self, subcon: Construct, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.what = what

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        n = DerLength._parse(stream, context, path)
        body_at = stream_offset(stream)
        if n > _left(stream):
            raise Malformed(f"{self.what} length {n} exceeds the {_left(stream)} bytes left", at)
        root = getattr(stream, "root", None)
        window = Window(stream.read(n), body_at, root)
        obj = self.subcon._parsereport(window, context, path)
        if window.tell() != n:
            raise Malformed(f"{self.what}: {n - window.tell()} unexpected bytes after its "
                             f"content", stream_offset(window))
        return obj

    def _build(self, obj, stream, context, path):
        inner = io.BytesIO()
        self.subcon._build(obj, inner, context, path)
        data = inner.getvalue()
        stream.write(der_length(len(data)) + data)
        return obj


def DerBytes(what: str) -> DerPrefixed:
    return DerPrefixed(RawRest(), what)


class Sized(Construct):
    """`subcon` in a window of all bytes left in the field except the last `reserve`."""

    def __init__(self, subcon: Construct, reserve: int, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.reserve = reserve
        self.what = what

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        n = _left(stream) - self.reserve
        if n < 0:
            raise Malformed(f"{self.what} has no room for its {self.reserve}-byte MAC", at)
        window = Window(stream.read(n), at, getattr(stream, "root", None))
        obj = self.subcon._parsereport(window, context, path)
        if window.tell() != n:
            raise Malformed(f"{self.what}: {n - window.tell()} unexpected bytes after its "
                             f"content", stream_offset(window))
        return obj

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


class Nested(Construct):
    """Counts nesting depth so hostile input cannot recurse the parser to death."""

    def __init__(self, subcon: Construct, what: str) -> None:
        super().__init__()
        self.subcon = subcon
        self.what = what

    def _parse(self, stream, context, path):
        root = getattr(stream, "root", None)
        if root is None:
            return self.subcon._parsereport(stream, context, path)
        if root.depth >= MAX_NESTING:
            raise Malformed(f"{self.what} nested deeper than {MAX_NESTING}", stream_offset(stream))
        root.depth += 1
        try:
            return self.subcon._parsereport(stream, context, path)
        finally:
            root.depth -= 1

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


class UntilEnd(Construct):
    """Items of `subcon` until the enclosing field is used up (errors propagate)."""

    def __init__(self, subcon: Construct) -> None:
        super().__init__()
        self.subcon = subcon

    def _parse(self, stream, context, path):
        items = ListContainer()
        while _left(stream) > 0:
            items.append(self.subcon._parsereport(stream, context, path))
        return items

    def _build(self, obj, stream, context, path):
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj


class Checked(Construct):
    """`subcon`, then `ok(value)` must hold; else `what(value)` at the field's offset."""

    def __init__(self, subcon: Construct, ok: Any, what: Any) -> None:
        super().__init__()
        self.subcon = subcon
        self.ok = ok
        self.what = what

    def _parse(self, stream, context, path):
        at = stream_offset(stream)
        value = self.subcon._parsereport(stream, context, path)
        if not self.ok(value):
            raise Malformed(self.what(value), at)
        return value

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, context, path)


def der_length(n: int) -> bytes:
    """The minimal DER length bytes for `n` (docs/frames.md section 1)."""
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    if n < 0x10000:
        return bytes((0x82, n >> 8, n & 0xFF))
    raise FrameError(f"length {n} does not fit a 3-byte DER length", 0)
