# mypy: ignore-errors
# (MicroPython source: CPython never imports this file; see the docstring)
"""`machine` for the emulated MicroPython board (MicroPython source, /lib/machine.py in the VM):
the part of a real port's machine module that host tools and firmware use without hardware.
reset() and soft_reset() end the VM at once, as on a board (nothing after them runs); the
next boot's reset_cause() says which."""

import _hw
import _port

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "watchdog": WDT_RESET,
           "brownout": PWRON_RESET, "soft": SOFT_RESET}


def reset():
    _hw.reset("hard")


def soft_reset():
    _hw.reset("soft")


def reset_cause():
    return _CAUSES.get(_port.cause, PWRON_RESET)


def unique_id():
    return b"\xa1\x57\x02\x00\x00\x00\x00\x01"


def freq(hz=None):
    if hz is None:
        return 125_000_000
    return None


def idle():
    _hw.sleep_ms(1)
