# Entry point on a real MicroPython board: the wire protocol on the REPL console (USB CDC or
# UART). Copy firmware_model/*.py to the board and run `import firmware_model.main` from
# boot/main.py (or this file as main.py on flat boards). Lines come from sys.stdin, lines go to
# sys.stdout; time is time.ticks_ms(); flash is the board's own filesystem.
import sys
import time

try:
    from firmware_model import board, persist, wire
except ImportError:  # flat layout
    import board
    import persist
    import wire


class RtcClock:
    """ticks_ms from the hardware; wall clock = last CLOCK + elapsed (no RTC assumed)."""

    virtual = False

    def __init__(self):
        self._wall = 1767225600
        self._at = time.ticks_ms()

    def ticks_ms(self):
        return time.ticks_ms()

    def wall_s(self):
        return self._wall + time.ticks_diff(time.ticks_ms(), self._at) // 1000

    def set_wall(self, s):
        self._wall = s
        self._at = time.ticks_ms()


class MachineHost:
    """Resets a real board can do to itself."""

    def can_reset(self, kind):
        return kind in ("soft", "hard")

    def reset(self, kind):
        import machine  # only real boards have it; tests import this module without it

        time.sleep_ms(50)  # let the ACK leave the USB buffer
        if kind == "soft":
            machine.soft_reset()
        machine.reset()


def _write(b):
    out = getattr(sys.stdout, "buffer", sys.stdout)
    out.write(b)


def _cause():
    try:
        import machine  # only real boards have it

        c = machine.reset_cause()
        for name, kind in (("WDT_RESET", "watchdog"), ("SOFT_RESET", "soft"),
                           ("HARD_RESET", "hard"), ("PWRON_RESET", "power")):
            if c == getattr(machine, name, None):
                return kind
    except (ImportError, AttributeError):
        pass
    return "power"


def run(fw="", name="board"):
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    if not fw:
        try:
            fw = wire.firmware_hash(here)
        except OSError:
            fw = "unknown"
    b = board.Board(_write, RtcClock(), persist.OsFs("/alertstorm/"), host=MachineHost(),
                    name=name, engine="micropython-" + sys.platform, fw=fw)
    b.boot(_cause())
    inp = getattr(sys.stdin, "buffer", sys.stdin)
    try:
        import select

        p = select.poll()
        p.register(sys.stdin, select.POLLIN)
    except (ImportError, AttributeError):
        p = None
    while True:
        # housekeeping (summaries, snapshot) must run while the host is silent too
        if p is not None and not p.poll(b.poll_ms):
            b.housekeeping()
            continue
        line = inp.readline()
        if line:
            if isinstance(line, str):
                line = line.encode()
            b.handle_line(line)
        b.housekeeping()


if __name__ == "__main__":
    run()
