"""Progress of a long run on stderr: items done, rate and time left.

On a terminal, one status line redrawn in place (carriage return) at most `interval_s` apart,
then a closing line. Elsewhere (a log file, CI, a pipe) nothing is redrawn: a plain line at
most every `line_interval_s`, so a short run prints nothing and a long one a few lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")


def _clock(s: float) -> str:
    s = int(s + 0.5)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class ProgressLine:
    """`track(items)` passes items through, counting them; `fraction()` (0..1, how much of
    the input is behind the items so far) gives the time left."""

    def __init__(self, what: str = "alerts", *, out: IO[str] | None = None,
                 fraction: Callable[[], float] | None = None, interval_s: float = 0.25,
                 line_interval_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 tty: bool | None = None) -> None:
        self.what = what
        self.out = out if out is not None else sys.stderr
        self.fraction = fraction
        self.tty = self.out.isatty() if tty is None else tty
        self.interval_s = interval_s if self.tty else line_interval_s
        self.clock = clock
        self.done = 0
        self.updates = 0
        self._t0 = clock()
        self._next = self._t0 + self.interval_s
        self._width = 0

    def track(self, items: Iterable[T]) -> Iterator[T]:
        for x in items:
            self.done += 1
            # the clock is read every 256 items: cheap beside an alert's comparison
            if not self.done & 255 and self.clock() >= self._next:
                self._show(self.clock())
            yield x

    def status(self, now: float) -> str:
        elapsed = max(now - self._t0, 1e-9)
        rate = self.done / elapsed
        text = f"{self.done:,} {self.what}, {rate:,.0f}/s"
        frac = self.fraction() if self.fraction is not None else 0.0
        if 0 < frac < 1:
            text += f", {frac:.0%}, about {_clock(elapsed * (1 - frac) / frac)} left"
        return text

    def _show(self, now: float) -> None:
        self._next = now + self.interval_s
        self.updates += 1
        text = self.status(now)
        if self.tty:
            self.out.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.out.write(f"progress: {text}\n")
        self.out.flush()

    def close(self) -> None:
        """The closing line on a terminal (nothing elsewhere: the result says it)."""
        if self.tty:
            now = self.clock()
            text = f"{self.done:,} {self.what} in {_clock(now - self._t0)}, " \
                   f"{self.done / max(now - self._t0, 1e-9):,.0f}/s"
            self.out.write("\r" + text.ljust(self._width) + "\n")
            self.out.flush()
