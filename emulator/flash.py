"""File-backed flash for emulated boards, with a write counter and power-loss injection.

The firmware sees only a small filesystem interface (what firmware_model/persist.py uses and
what MicroPython's os/open give a real board): open(name, mode), rename(old, new),
remove(name), listdir(), stat(name). Every byte written is counted; `arm_powercut(n)` makes
power fail when n more bytes have been written: the write in progress keeps only its first
bytes (a torn write) and PowerLoss is raised. PowerLoss is a BaseException so firmware code
that survives ordinary errors (`except Exception`) cannot swallow a power cut."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class PowerLoss(BaseException):
    """The power failed during a flash write (raised through the firmware to the engine)."""


class FlashFile:
    def __init__(self, fs: FlashFs, f: Any, writable: bool) -> None:
        self._fs = fs
        self._f = f
        self._writable = writable

    def write(self, data: bytes | bytearray | memoryview) -> int:
        data = bytes(data)
        keep = self._fs._take(len(data))
        if keep < len(data):
            self._f.write(data[:keep])
            self._f.flush()
            self._f.close()
            self._fs._fire()
        self._f.write(data)
        return len(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def readinto(self, buf: bytearray | memoryview) -> int:
        return self._f.readinto(buf)

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> FlashFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FlashFs:
    """A directory standing in for the board's flash filesystem."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.writes = 0  # write() calls
        self.bytes_written = 0
        self._cut_after: int | None = None

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name in (".", ".."):
            raise OSError(22, f"flash: bad file name {name!r}")
        return self.root / name

    def arm_powercut(self, nbytes: int) -> None:
        """Power fails once `nbytes` more bytes have been written (0: at the next write)."""
        if nbytes < 0:
            raise ValueError("nbytes must be >= 0")
        self._cut_after = nbytes

    @property
    def powercut_armed(self) -> bool:
        return self._cut_after is not None

    def _take(self, n: int) -> int:
        """Account for a write of n bytes; returns how many reach the flash."""
        self.writes += 1
        if self._cut_after is None or n <= self._cut_after:
            if self._cut_after is not None:
                self._cut_after -= n
            self.bytes_written += n
            return n
        keep = self._cut_after
        self.bytes_written += keep
        return keep

    def _fire(self) -> None:
        self._cut_after = None
        raise PowerLoss("power cut during a flash write")

    def open(self, name: str, mode: str = "rb") -> FlashFile:
        if "b" not in mode:
            mode += "b"
        return FlashFile(self, open(self._path(name), mode), "w" in mode or "a" in mode)

    def rename(self, old: str, new: str) -> None:
        os.replace(self._path(old), self._path(new))  # atomic, as littlefs's rename is

    def remove(self, name: str) -> None:
        os.remove(self._path(name))

    def listdir(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def stat(self, name: str) -> os.stat_result:
        return os.stat(self._path(name))

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()
