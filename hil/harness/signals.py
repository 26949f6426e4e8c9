"""Stopping a nightly run on a signal.

SIGINT (Ctrl-C) and SIGTERM (what cron, systemd and CI send) would otherwise end the process
where it stands: emulators left running, flash folders left behind, the manifest and the
history still saying `running`. While a run is inside `StopOnSignals`, either signal only sets
the run's stop event: every board ends its scenario in flight (left for `--resume`), stops its
processes and removes its temporary folders, and the command writes the manifest, the reports
and the history before it exits with 128 + the signal's number (130, 143), as a shell would
report the signal. A second signal cuts short what is left to write (the reports' plots take
a moment per result), never the boards' cleanup."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """A context in which STOP_SIGNALS set `stop` instead of ending the process. The first
    signal is kept in `received`; a second one raises KeyboardInterrupt where the main thread
    is (the boards still stop cleanly: the runner joins them before it re-raises). Outside the
    main thread (where Python cannot take signals) it does nothing."""

    def __init__(self, stop: threading.Event, note: str = "") -> None:
        self.stop = stop
        self.note = note
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def exit_status(self) -> int:
        return 128 + self.received if self.received is not None else 0

    @property
    def name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            # asked twice: stop now (KeyboardInterrupt), cutting short what is left to write;
            # every write is atomic, so nothing already recorded is lost
            raise KeyboardInterrupt
        self.received = signum
        self.stop.set()
        if self.note:
            # os.write, not print: a handler may run inside another print's buffered write,
            # and re-entering it raises
            try:
                os.write(2, f"{self.note} ({signal.Signals(signum).name})\n".encode())
            except OSError:
                pass

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        for s, h in self._previous.items():
            signal.signal(s, signal.SIG_DFL if h is None else h)  # None: not set from Python
        self._previous.clear()
