"""An emulated board: `python -m emulator` in a child process, reached through the pty it
opens. The child is the board's power: killing it is a power cut, respawning it on the same
flash directory a power cycle. A child that died is known by its exit status (hil.board.
adapters.process), reaped, and respawned on the next open: the recovery ladder's first rung."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hil.board.adapters import process
from hil.board.adapters.port import PortAdapter
from hil.board.errors import BoardError, PortGone, ProcessExited
from hil.paths import ROOT


class EmulatorAdapter(PortAdapter):
    """An emulated board: spawns `python -m emulator --board X.toml`, reads its `PORT <path>`
    line, and opens the pty with pyserial. The flash directory is kept across respawns, so a
    respawn is a power cycle (state restored from the snapshot), as on hardware."""

    def __init__(self, board_file: str, name: str | None = None, *,
                 ticks_start: int | None = None, flash_dir: str | None = None,
                 start_timeout: float = 20.0, keys: str | None = None) -> None:
        super().__init__()
        self.keys = keys  # a test key set for the board's security module (emulator --keys)
        self.board_file = board_file
        self.name = name or Path(board_file).stem
        self.ticks_start = ticks_start
        self._own_flash = flash_dir is None
        self.flash_dir = flash_dir or tempfile.mkdtemp(prefix=f"hil-{self.name}-flash-")
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: str | None = None
        self._spawned = False  # a start after the first is a respawn (a power cycle)
        self._exited: str | None = None  # how the last process ended, once it did
        self._exit_status = 0

    def describe(self) -> str:
        pid = self.proc.pid if self.proc else "-"
        return f"{self.name} emulator pid={pid} port={self.path}"

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", "emulator", "--board", self.board_file,
               "--flash", self.flash_dir]
        if self.ticks_start is not None:
            cmd += ["--ticks-start", str(self.ticks_start)]
        if self.keys is not None:
            cmd += ["--keys", os.path.abspath(self.keys)]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env, cwd=str(ROOT))
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                line = self.proc.stdout.readline()
                break
            if self.proc.poll() is not None:
                break
        if not line.startswith(b"PORT "):
            why = process.stderr_tail(self.proc) or "no PORT line"
            self._kill()
            raise BoardError(f"{self.name}: emulator did not start: {why}",
                             "emulator did not start")
        self.path = line[5:].strip().decode()

    def _open(self) -> None:
        if self.proc is not None:
            self._reap()
        if self.proc is None:
            self._start()
        assert self.path is not None
        try:
            self._open_port(self.path)
        except PortGone:
            # the pty vanished under a process not reaped yet: a board dying (its files close
            # before its exit status exists) or one that lost its port; either way it is
            # power-cycled, as a board without a port is no board
            if self._reap(process.EXIT_GRACE_S) is None:
                self.console.log("#", f"{self.describe()}: its port is gone; power cycle")
                self._kill()
            self._start()
            assert self.path is not None
            self._open_port(self.path)

    def _start(self) -> None:
        if self._spawned:
            self.console.log("#", f"respawn emulator on its flash {self.flash_dir} "
                                  "(a power cycle)")
        self._exited = None
        self._spawn()
        self._spawned = True

    def _reap(self, grace: float = 0.0) -> int | None:
        """The emulator's exit status if it exited (then reaped, noted once, forgotten); None
        while it runs."""
        p = self.proc
        if p is None:
            return None
        status = process.exit_status(p, grace)
        if status is not None:
            why = process.describe_exit(status)
            tail = process.stderr_tail(p)
            self.console.log("#", f"emulator pid={p.pid} exited: {why}"
                                  + (f" ({tail})" if tail else ""))
            self._exited = f"{self.name}: emulator pid={p.pid} exited: {why}"
            self._exit_status = status
            process.stop(p)
            self.proc = None
        return status

    def _gone(self, e: PortGone | None = None) -> ProcessExited | PortGone:
        """The error for a port that failed (`e`) or a process found dead: ProcessExited when
        the exit status says it died, with a moment's grace for it to (see process)."""
        self._reap(process.EXIT_GRACE_S if e is not None else 0.0)
        if self.proc is None and self._exited is not None:
            return ProcessExited(self._exited, self._exit_status)
        return e if e is not None else PortGone(f"{self.name}: emulator is not running")

    def _read(self, timeout: float) -> bytes:
        if self.proc is None or self._reap() is not None:
            raise self._gone()
        try:
            return super()._read(timeout)
        except PortGone as e:
            raise self._gone(e) from None

    def _write(self, data: bytes) -> None:
        if self.proc is None or self._reap() is not None:
            raise self._gone()
        try:
            super()._write(data)
        except PortGone as e:
            raise self._gone(e) from None

    def healthy(self) -> bool:
        return self.is_open and self.proc is not None and self.proc.poll() is None

    def hard_reset(self) -> bool:
        """Power-cycle: stop the emulator process and start it again on the same flash."""
        self.console.log("#", "hard reset (respawn emulator)")
        self.close()
        self._kill()
        self.open()
        return True

    def _kill(self) -> None:
        if self.proc is not None:
            process.stop(self.proc)
            self.proc = None

    def kill_process(self) -> None:
        """Make the port vanish the hard way (tests, and what a crashed emulator looks like)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def shutdown(self) -> None:
        self.close()
        self._kill()
        if self._own_flash:
            shutil.rmtree(self.flash_dir, ignore_errors=True)
