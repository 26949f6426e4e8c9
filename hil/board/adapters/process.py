"""A board that is a child process (an emulator, QEMU): whether it still runs, told by its exit
status, and how it is stopped. Both reap the process, so a dead board never lingers as a
zombie and its status is known exactly once.

Why a grace period: when a process is killed the kernel closes its files (the pty's master,
so the port fails at once) before its exit status exists. A port that failed is therefore
given a moment to turn into an exit status before the board is judged alive or dead."""

from __future__ import annotations

import os
import select
import signal
import subprocess

# how long a board whose port just failed is given to turn into an exit status
EXIT_GRACE_S = 2.0


def exit_status(proc: subprocess.Popen[bytes], grace: float = 0.0) -> int | None:
    """The process's exit status (reaping it), waiting up to `grace` s for it; None while it
    runs."""
    if grace <= 0:
        return proc.poll()
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        return None


def describe_exit(status: int) -> str:
    """`killed by SIGKILL`, `exit status 1`: an exit status as a person reads it."""
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def stderr_tail(proc: subprocess.Popen[bytes], limit: int = 4096) -> str:
    """The last line a dead process wrote to its stderr pipe ('' if none, or still running):
    usually the reason it died. Reads only what is there: a child of the dead process may
    still hold the pipe open, so waiting for its end could wait forever."""
    if proc.poll() is None or proc.stderr is None or proc.stderr.closed:
        return ""
    fd = proc.stderr.fileno()
    data = b""
    try:
        os.set_blocking(fd, False)
        while len(data) < 1 << 20:
            r, _, _ = select.select([fd], [], [], 0)
            chunk = os.read(fd, 65536) if r else b""
            if not chunk:
                break
            data = (data + chunk)[-limit:]
    except (BlockingIOError, OSError, ValueError):
        pass
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def stop(proc: subprocess.Popen[bytes], timeout: float = 3.0) -> int:
    """Stop the process (SIGTERM, then SIGKILL after `timeout` s), reap it, close its pipes;
    returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f is not None:
            f.close()
    assert proc.returncode is not None
    return proc.returncode

