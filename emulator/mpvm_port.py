# mypy: ignore-errors
# (MicroPython source: CPython never imports this file; see the docstring)
"""The port layer of the emulated MicroPython board, in MicroPython: module `_port` inside the
VM (the CPU thread, emulator/mpvm_port.mjs, writes it to /lib/_port.py at every boot).

What a real port provides in C and the WebAssembly build lacks, or has differently:
- the board clock (virtual time for ADVANCE, or the host's), the reset host the firmware asks
  for resets, and the UART the firmware writes its protocol lines to (raw, like
  sys.stdout.buffer on a board);
- the main loop of main.py (`attach`, `step`): read what the UART received, feed the board, run
  its housekeeping when the line is quiet; Ctrl-C stops it with KeyboardInterrupt, as on a board;
- `time.sleep*` that idle (the build's spin in a loop no Ctrl-C can stop), `asyncio.run`
  (the build's asyncio runs on JavaScript timers, which a board does not have) and `input`
  (the build's reads a console that always answers 0, and spins);
- `os.ilistdir` 4-tuples with the size, as littlefs/FAT ports give (VfsPosix gives 3).
errno numbers need nothing here: the C library boundary already speaks MicroPython's
(emulator/mpvm_wasm.mjs).
"""

import asyncio
import builtins
import os
import sys
import time
from asyncio import core

import _hw
import micropython

import __main__

_ONCE = (0,)  # iterating it is a backward jump: where the VM raises a pending Ctrl-C
clock = None
host = None
cause = "power"
_idle_ms = 50
_uart = None  # the raw console (opened at init: the CPU thread marks it raw)


class Clock:
    """ticks_ms on the 2**30 circle; virtual: moves only with advance() (the host's ADVANCE)."""

    def __init__(self, start, elapsed, virtual, wall, wall_at):
        self.virtual = virtual
        self._start = start
        self.elapsed_ms = elapsed
        self._wall = wall
        self._wall_at = wall_at
        if not virtual:
            self._t0 = time.ticks_ms() - elapsed

    def _sync(self):
        if not self.virtual:
            self.elapsed_ms = time.ticks_diff(time.ticks_ms(), self._t0)

    def ticks_ms(self):
        self._sync()
        return (self._start + self.elapsed_ms) & 0x3FFFFFFF

    def advance(self, ms):
        if not self.virtual:
            raise RuntimeError("real-time clock")
        self.elapsed_ms += ms

    def wall_s(self):
        self._sync()
        return self._wall + (self.elapsed_ms - self._wall_at) // 1000

    def set_wall(self, s):
        self._sync()
        self._wall = s
        self._wall_at = self.elapsed_ms

    def state(self):
        self._sync()
        return f"{self.elapsed_ms} {self._wall} {self._wall_at}"


class Host:
    """Resets the board can ask for; serve() returns after the current input, the CPU thread
    performs the reset (the ACK has gone out)."""

    def __init__(self):
        self.pending = None

    def can_reset(self, kind):
        return kind in ("soft", "hard", "watchdog", "brownout")

    def reset(self, kind):
        self.pending = kind


def write(b):
    _uart.write(b)


def init(ticks, elapsed, virtual, wall, wall_at, why, idle_ms):
    global clock, host, cause, _idle_ms, _uart
    clock = Clock(ticks, elapsed, virtual, wall, wall_at)
    host = Host()
    cause = why
    _idle_ms = idle_ms
    _uart = open("/dev/stdout", "wb")
    time.sleep = sleep
    time.sleep_ms = sleep_ms
    time.sleep_us = sleep_us
    os.ilistdir = ilistdir
    builtins.input = input_line
    # no JavaScript event loop on a board: tasks run inside asyncio.run() only
    core._schedule_run_iter = _no_timer
    core.new_event_loop()
    asyncio.run = run
    core.run = run
    core.run_until_complete = run_until_complete
    core.Loop.run_until_complete = _loop_run_until_complete
    core.Loop.run_forever = _loop_run_forever
    core.Loop.stop = _loop_stop


# -- main.py and its loop ---------------------------------------------------------------------

def run_file(name):
    """Run a flash file as the board's boot.py/main.py: in __main__, its exception printed."""
    try:
        with open(name) as f:
            src = f.read()
    except OSError:
        return
    micropython.kbd_intr(3)
    try:
        exec(compile(src, name, "exec"), __main__.__dict__)
    except SystemExit:
        pass
    except BaseException as e:  # noqa: B036 (a board prints whatever ended main.py)
        sys.print_exception(e)
    finally:
        # an attached main loop goes on running main.py: Ctrl-C still interrupts it
        micropython.kbd_intr(-1 if _app is None else 3)


def run_main():
    run_file("main.py")


def attach(app):
    """main.py's last word: the board's main loop is `step`, called by the CPU thread per
    wake-up (input, or a quiet line on a real-clock board). One call each, not one endless
    loop: this build collects garbage only between calls from JavaScript."""
    global _app, _buf, _mv, _rd
    _app = app
    _buf = bytearray(1024)
    _mv = memoryview(_buf)
    _rd = sys.stdin.buffer.readinto
    micropython.kbd_intr(3)  # main.py is running: Ctrl-C interrupts it, as on a board


_app = None


def step(n):
    """firmware_model/main.py's loop body with the UART as its console: `n` bytes are waiting
    (0: the line was quiet). Returns the reset the firmware asked for, "repl" when the loop
    ended with an exception (printed, as a board prints what ended main.py), else None."""
    try:
        for _ in _ONCE:  # a Ctrl-C that woke the board is raised here
            pass
        if n:
            n = _rd(_mv[:min(n, 1024)])
            _app.feed(bytes(_mv[:n]))
        elif not clock.virtual:
            _app.housekeeping()
    except BaseException as e:  # noqa: B036 (whatever ends the main loop is printed)
        micropython.kbd_intr(-1)
        sys.print_exception(e)
        return "repl"
    return host.pending


# -- time: sleeping idles the board ---------------------------------------------------------

def sleep_ms(ms):
    if ms > 0:
        _hw.sleep_ms(int(ms))
        # a backward jump: a Ctrl-C that ended the sleep is raised here, inside the sleep (as a
        # port's delay raises it), not after the caller's next statements
        for _ in _ONCE:
            pass


def sleep(s):
    ms = int(s * 1000)
    if ms > 0:
        _hw.sleep_ms(ms)
        for _ in _ONCE:
            pass


def sleep_us(us):
    end = time.ticks_add(time.ticks_us(), us)
    if us >= 2000:
        _hw.sleep_ms(us // 1000 - 1)
    while time.ticks_diff(end, time.ticks_us()) > 0:
        pass


# -- input: a line from the console, echoed as the REPL's readline does -------------------------

def input_line(prompt=""):
    if prompt:
        _uart.write(str(prompt).encode())
    line = bytearray()
    rd = sys.stdin.buffer.read
    while True:
        c = rd(1)[0]
        if c in (10, 13):
            _uart.write(b"\r\n")
            return line.decode()
        if c in (8, 127):
            if line:
                line = line[:-1]
                _uart.write(b"\x08 \x08")
        elif c == 4 and not line:
            raise EOFError
        elif c >= 32:
            line.append(c)
            _uart.write(bytes((c,)))


# -- os -------------------------------------------------------------------------------------------

_os_ilistdir = os.ilistdir


def ilistdir(d="."):
    return _with_sizes(d)


def _with_sizes(d):
    base = "" if d in ("", ".") else d.rstrip("/") + "/"
    for e in _os_ilistdir(d):
        if e[1] == 0x8000:
            try:
                e = (e[0], e[1], e[2], os.stat(base + e[0])[6])
            except OSError:
                pass
        yield e


# -- asyncio.run: the scheduler loop of extmod/asyncio, over this build's task queue ----------

def _no_timer(dt):
    pass


def run(coro):
    return run_until_complete(core.create_task(coro))


def run_until_complete(main_task=None):
    excs_all = (core.CancelledError, Exception)
    excs_stop = (core.CancelledError, StopIteration)
    queue = core._task_queue
    while True:
        dt = 1
        while dt > 0:
            t = queue.peek()
            if not t:
                # nothing can wake (this board has no I/O queue): finished
                core.cur_task = core._top_level_task
                return None
            dt = max(0, time.ticks_diff(t.ph_key, time.ticks_ms()))
            if dt > 0:
                _hw.sleep_ms(dt)
        t = queue.pop()
        core.cur_task = t
        try:
            exc = t.data
            if not exc:
                t.coro.send(None)
            else:
                t.data = None
                t.coro.throw(exc)
        except excs_all as er:
            assert t.data is None
            if t is main_task:
                # the caller awaits the main task: its result or exception goes to run()
                core.cur_task = core._top_level_task
                if callable(t.state):
                    t.state(t, er)
                elif t.state and t.state is not True:
                    while t.state.peek():
                        queue.push(t.state.pop())
                t.state = False
                t.data = er
                if isinstance(er, StopIteration):
                    return er.value
                raise er
            if t.state:
                waiting = False
                if t.state is True:
                    t.state = None
                elif callable(t.state):
                    t.state(t, er)
                    t.state = False
                    waiting = True
                else:
                    while t.state.peek():
                        queue.push(t.state.pop())
                        waiting = True
                    t.state = False
                if not waiting and not isinstance(er, excs_stop):
                    queue.push(t)
                t.data = er
            elif t.state is None:
                t.data = exc
                core._exc_context["exception"] = exc
                core._exc_context["future"] = t
                core.Loop.call_exception_handler(core._exc_context)


_stop_task = None


def _loop_run_until_complete(aw):
    return run_until_complete(core._promote_to_task(aw))


async def _forever():
    while True:
        await core.sleep_ms(3_600_000)


def _loop_run_forever():
    global _stop_task
    _stop_task = core.create_task(_forever())
    try:
        run_until_complete(_stop_task)
    except core.CancelledError:
        pass


def _loop_stop():
    if _stop_task is not None:
        _stop_task.cancel()
