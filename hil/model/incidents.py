"""Where the DSP model records what SECMP0062 says the DSP records: amber events in a
security log, red threshold anomaly incidents, and throttled counts for request management.

The DSP model talks to a small `EventSink` interface, so that its hot path only appends a
tuple to a list; `SqliteIncidentStore` writes them with `executemany` every `batch` events
and at `flush()`/`close()`, one transaction per batch. `NullSink` records nothing (for
benchmarks and for the comparison, which only needs decisions).

Schema (docs/dsp-model.md, "SQLite schema"): see `SCHEMA` below.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hil.errors import InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS security_log (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT    NOT NULL,
    event           TEXT    NOT NULL,          -- 'amber_threshold_crossed'
    t_ms            INTEGER NOT NULL,          -- DSP receipt time of the crossing alert
    window_start_ms INTEGER NOT NULL,          -- start of the device window it happened in
    count           INTEGER NOT NULL           -- device count in that window (= threshold)
);
CREATE INDEX IF NOT EXISTS security_log_device ON security_log (device_id, t_ms);

CREATE TABLE IF NOT EXISTS incidents (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT 'red_threshold_anomaly',
    opened_ms       INTEGER NOT NULL,          -- receipt time of the alert that crossed red
    window_start_ms INTEGER NOT NULL,
    crossings       INTEGER NOT NULL DEFAULT 1, -- red crossings while the incident was open
    last_crossing_ms INTEGER NOT NULL,
    resolved_ms     INTEGER,                   -- NULL while the device is red
    UNIQUE (device_id, opened_ms)
);
CREATE INDEX IF NOT EXISTS incidents_unresolved ON incidents (device_id) WHERE resolved_ms IS NULL;

CREATE TABLE IF NOT EXISTS request_management (
    id              INTEGER PRIMARY KEY,
    device_id       TEXT    NOT NULL,
    alert_code      INTEGER NOT NULL,
    sequence_id     INTEGER NOT NULL,          -- ThrottledAlertSequenceId (episode)
    t_ms            INTEGER NOT NULL,          -- forwarded alert's receipt time / episode end
    kind            TEXT    NOT NULL,          -- 'forwarded' | 'episode_closed'
    throttled_count INTEGER NOT NULL,          -- ThrottledAlertCount / residual at close
    episode_total   INTEGER NOT NULL           -- discarded in the episode so far
);
CREATE INDEX IF NOT EXISTS request_management_episode
    ON request_management (device_id, alert_code, sequence_id);
"""


class EventSink:
    """What the DSP model records. Methods are called on the DSP's hot path: keep them cheap."""

    def amber(self, device: str, t_ms: int, window_start_ms: int, count: int) -> None:
        pass

    def incident_opened(self, device: str, t_ms: int, window_start_ms: int) -> None:
        pass

    def incident_crossed(self, device: str, opened_ms: int, t_ms: int) -> None:
        pass

    def incident_resolved(self, device: str, opened_ms: int, t_ms: int) -> None:
        pass

    def throttled(self, device: str, code: int, sequence_id: int, t_ms: int, kind: str,
                  count: int, total: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


NullSink = EventSink


class MemorySink(EventSink):
    """Keeps every event as a tuple in a list (tests)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def amber(self, device: str, t_ms: int, window_start_ms: int, count: int) -> None:
        self.events.append(("amber", device, t_ms, window_start_ms, count))

    def incident_opened(self, device: str, t_ms: int, window_start_ms: int) -> None:
        self.events.append(("incident_opened", device, t_ms, window_start_ms))

    def incident_crossed(self, device: str, opened_ms: int, t_ms: int) -> None:
        self.events.append(("incident_crossed", device, opened_ms, t_ms))

    def incident_resolved(self, device: str, opened_ms: int, t_ms: int) -> None:
        self.events.append(("incident_resolved", device, opened_ms, t_ms))

    def throttled(self, device: str, code: int, sequence_id: int, t_ms: int, kind: str,
                  count: int, total: int) -> None:
        self.events.append(("throttled", device, code, sequence_id, t_ms, kind, count, total))


class SqliteIncidentStore(EventSink):
    """The DSP's records in SQLite (":memory:" by default, or a file path).

    Writes are buffered per table and flushed with executemany every `batch` events, in one
    transaction; incident updates are applied after the inserts of the same flush so that
    an update always finds its row.
    """

    def __init__(self, path: str | Path = ":memory:", batch: int = 1000) -> None:
        try:
            self.db = sqlite3.connect(str(path))
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise InputError(f"{path}: cannot open incident store: {exc}") from None
        self.batch = batch
        self._amber: list[tuple[Any, ...]] = []
        self._opened: list[tuple[Any, ...]] = []
        self._crossed: list[tuple[Any, ...]] = []
        self._resolved: list[tuple[Any, ...]] = []
        self._throttled: list[tuple[Any, ...]] = []
        self._pending = 0

    def amber(self, device: str, t_ms: int, window_start_ms: int, count: int) -> None:
        self._amber.append((device, "amber_threshold_crossed", t_ms, window_start_ms, count))
        self._bump()

    def incident_opened(self, device: str, t_ms: int, window_start_ms: int) -> None:
        self._opened.append((device, t_ms, window_start_ms, t_ms))
        self._bump()

    def incident_crossed(self, device: str, opened_ms: int, t_ms: int) -> None:
        self._crossed.append((t_ms, device, opened_ms))
        self._bump()

    def incident_resolved(self, device: str, opened_ms: int, t_ms: int) -> None:
        self._resolved.append((t_ms, device, opened_ms))
        self._bump()

    def throttled(self, device: str, code: int, sequence_id: int, t_ms: int, kind: str,
                  count: int, total: int) -> None:
        self._throttled.append((device, code, sequence_id, t_ms, kind, count, total))
        self._bump()

    def _bump(self) -> None:
        self._pending += 1
        if self._pending >= self.batch:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        with self.db:  # one transaction per batch
            if self._amber:
                self.db.executemany(
                    "INSERT INTO security_log (device_id, event, t_ms, window_start_ms, count) "
                    "VALUES (?, ?, ?, ?, ?)", self._amber)
            if self._opened:
                self.db.executemany(
                    "INSERT INTO incidents (device_id, opened_ms, window_start_ms, "
                    "last_crossing_ms) VALUES (?, ?, ?, ?)", self._opened)
            if self._crossed:
                self.db.executemany(
                    "UPDATE incidents SET crossings = crossings + 1, last_crossing_ms = ? "
                    "WHERE device_id = ? AND opened_ms = ?", self._crossed)
            if self._resolved:
                self.db.executemany(
                    "UPDATE incidents SET resolved_ms = ? WHERE device_id = ? AND opened_ms = ?",
                    self._resolved)
            if self._throttled:
                self.db.executemany(
                    "INSERT INTO request_management (device_id, alert_code, sequence_id, t_ms, "
                    "kind, throttled_count, episode_total) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    self._throttled)
        for buf in (self._amber, self._opened, self._crossed, self._resolved, self._throttled):
            buf.clear()
        self._pending = 0

    def close(self) -> None:
        self.flush()
        self.db.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self.flush()
        return self.db.execute(sql, params).fetchall()
