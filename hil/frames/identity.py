"""Alert identity at storm rate: `alert_identity(data)` gives just (originator title, alert
code) for the DSP comparison, remembering frame shapes `decode_fast` has accepted
(docs/frames.md section 9).

A storm is thousands of frames of one *shape*: the same bytes except counter, titles,
invoke-id, notification and alert times, alert code, invocation counter, MAC and signature,
none of which can make a frame malformed. Once decode_fast has accepted a frame, its shape is
remembered as the byte segments between those fields (a deviation such as a non-minimal length
lies in a segment, so frames of one shape share it); a later frame of the same length whose
segments are equal is therefore well-formed too, and its identity is read at known offsets.
Anything else (first frame of a shape, summaries, encrypted, ASN.1, non-empty
General-Ciphering header fields) goes through decode_fast. Same results as decode_fast,
tested by the fuzz tests.
"""

from __future__ import annotations

from hil.frames.catalogue import SUMMARY_CODE
from hil.frames.fast import Reader, decode_fast
from hil.frames.layouts import MAC_LEN

_SHAPES: dict[int, list[tuple[tuple[tuple[int, int, bytes], ...], int, int]]] = {}
_SHAPE_LIMIT = 256  # bounded memory: forget all shapes when this many are known


def alert_identity(data: bytes) -> tuple[str | None, int | None]:
    """(originator title hex, alert code int or None) of one frame; raises only FrameError.
    Equal to (decode_fast(d).originator_title, int(decode_fast(d).alert_code, 16))."""
    for segments, orig, code_at in _SHAPES.get(len(data), ()):
        for lo, hi, fixed in segments:
            if data[lo:hi] != fixed:
                break
        else:
            code = (data[code_at] << 8) | data[code_at + 1]
            if code != SUMMARY_CODE:
                return data[orig:orig + 8].hex().upper(), code
            break
    raw = bytes(data)
    fr = decode_fast(raw)
    code_int = int(fr.alert_code, 16) if fr.alert_code is not None else None
    if (code_int is not None and not fr.is_summary and fr.encoding in ("dlms", "gbz")
            and not fr.encrypted):
        _remember_shape(raw)
    return fr.originator_title, code_int


def _remember_shape(b: bytes) -> None:
    """Record the shape of an accepted DLMS/GBZ alert frame (see above)."""
    r = Reader(b)
    end = len(b)
    masks: list[tuple[int, int]] = []
    if b[0] == 0xDD:
        if b[1:7] != bytes(6):  # header fields are checked against the titles: not a shape
            return
        cs, ce = r.field(7, end, "ciphered content")
        masks += [(cs + 1, cs + 5), (ce - MAC_LEN, ce)]
        s = cs + 5
    else:
        s = 0
    masks += [(s + 3, s + 11), (s + 12, s + 20), (s + 21, s + 29)]
    _ds, de = r.field(s + 29, end, "date-time")
    _os, oe = r.field(de, end, "other-information")
    c, ce_ = r.field(oe, end, "content")
    ss, se = r.field(ce_, end, "signature")
    masks.append((ss, se))
    if b[c] == 0x0F:
        masks.append((c + 1, c + 5))
        j = c + 6  # the body, after the notification date-time: 00, 0C + 12 or 09 0C + 12
        if b[c + 5] != 0x00:
            j = c + 18 if b[c + 5] == 0x0C else c + 19
            masks.append((j - 12, j))
        item0 = j + 1 + (1 if b[j + 1] < 0x80 else b[j + 1] - 0x7F)
        code_at = item0 + 1
        masks.append((code_at, code_at + 2))
        item1 = item0 + 3
        if item1 + 2 <= ce_ and b[item1] == 0x09 and b[item1 + 1] == 12:
            masks.append((item1 + 2, item1 + 14))
    else:
        code_at = c + 3
        masks += [(code_at, code_at + 2), (c + 5, c + 9)]
    masks.sort()
    segments = []
    pos = 0
    for a, z in masks:
        if a > pos:
            segments.append((pos, a, b[pos:a]))
        pos = max(pos, z)
    if pos < end:
        segments.append((pos, end, b[pos:end]))
    if sum(len(v) for v in _SHAPES.values()) >= _SHAPE_LIMIT:
        _SHAPES.clear()
    _SHAPES.setdefault(end, []).append((tuple(segments), s + 12, code_at))
