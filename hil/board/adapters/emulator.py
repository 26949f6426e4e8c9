"""An emulated board: `python -m emulator` in a child process, reached through the pty it
opens. The child is the board's power: killing it is a power cut, respawning it on the same
flash directory a power cycle."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hil.board.adapters.port import PortAdapter
from hil.board.errors import BoardError, PortGone
from hil.paths import ROOT


class EmulatorAdapter(PortAdapter):
    """An emulated board: spawns `python -m emulator --board X.toml`, reads its `PORT <path>`
    line, and opens the pty with pyserial. The flash directory is kept across respawns, so a
    respawn is a power cycle (state restored from the snapshot), as on hardware."""

    def __init__(self, board_file: str, name: str | None = None, *,
                 ticks_start: int | None = None, flash_dir: str | None = None,
                 start_timeout: float = 20.0) -> None:
        super().__init__()
        self.board_file = board_file
        self.name = name or Path(board_file).stem
        self.ticks_start = ticks_start
        self._own_flash = flash_dir is None
        self.flash_dir = flash_dir or tempfile.mkdtemp(prefix=f"hil-{self.name}-flash-")
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: str | None = None

    def describe(self) -> str:
        pid = self.proc.pid if self.proc else "-"
        return f"{self.name} emulator pid={pid} port={self.path}"

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", "emulator", "--board", self.board_file,
               "--flash", self.flash_dir]
        if self.ticks_start is not None:
            cmd += ["--ticks-start", str(self.ticks_start)]
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
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()[-500:]
            self._kill()
            msg = err.decode(errors="replace").strip().splitlines()
            raise BoardError(f"{self.name}: emulator did not start: "
                             f"{msg[-1] if msg else 'no PORT line'}", "emulator did not start")
        self.path = line[5:].strip().decode()

    def _open(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._spawn()
        assert self.path is not None
        self._open_port(self.path)

    def _read(self, timeout: float) -> bytes:
        if self.proc is not None and self.proc.poll() is not None:
            raise PortGone(f"{self.name}: emulator exited ({self.proc.returncode})")
        return super()._read(timeout)

    def _write(self, data: bytes) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise PortGone(f"{self.name}: emulator exited ({self.proc.returncode})")
        super()._write(data)

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
        p = self.proc
        if p is None:
            return
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in (p.stdout, p.stderr):
            if f is not None:
                f.close()
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
