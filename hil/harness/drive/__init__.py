"""Driving one scenario on a connected board: the common driver and one clock strategy per
kind of board clock.

    context.py   what every step shares (client, console, options, deadline); judging replies
    driver.py    ScenarioDriver: HELLO to verdict, whatever the clock
    clock.py     ScenarioClock: the interface of a clock strategy
    virtual.py   VirtualClock: time passes by ADVANCE
    realtime.py  RealClock: paced on the host clock, times measured by the board
    config.py    the CONFIG update and its forged copy
    reported.py  what the board reported: frames north, resets
    auth.py      every frame north verified with a test key set (hil run --keys)"""

from hil.harness.drive.clock import ScenarioClock
from hil.harness.drive.config import ConfigCounter
from hil.harness.drive.context import DriveContext
from hil.harness.drive.driver import ScenarioDriver
from hil.harness.drive.realtime import RealClock
from hil.harness.drive.virtual import VirtualClock

__all__ = ["ConfigCounter", "DriveContext", "RealClock", "ScenarioClock", "ScenarioDriver",
           "VirtualClock"]
