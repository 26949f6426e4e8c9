"""The console log of a board session: every line exchanged with the board, timestamped, so a
report can show exactly what crossed the link, noise included."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO


class ConsoleLog:
    """Every line exchanged with a board, one per line: UTC time, seconds since open, direction
    ('>' host to board, '<' board to host, '#' harness note), the bytes as text (non-printable
    bytes escaped). Appends and flushes per line so a crash loses nothing written."""

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._f: IO[str] | None = None
        self._t0 = time.monotonic()
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._f = open(path, "a", encoding="utf-8")  # noqa: SIM115 (held for the session)

    def log(self, direction: str, data: bytes | str) -> None:
        if self._f is None:
            return
        if isinstance(data, bytes):
            text = data.rstrip(b"\r\n").decode("ascii", "backslashreplace")
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
        else:
            text = data
        now = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self._f.write(f"{now} {time.monotonic() - self._t0:9.3f} {direction} {text}\n")
        self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
