"""The options of a nightly run: time limits, retries, link-quality limits, parallelism and
time compression, read by the runner (hil.harness.runner) and by the scenario driver
(hil.harness.drive)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hil.board.adapters import BoardAdapter
from hil.board.registry import BoardDef


@dataclass
class RunOptions:
    step_timeout: float = 10.0  # one command's answer
    scenario_timeout: float = 240.0  # one scenario, all steps
    retries: int = 2  # error retries per scenario (ladder rungs)
    # the link is bad (error, not a verdict on the firmware) when CRC/format errors exceed
    # both this count and this fraction of the lines received in a scenario
    crc_error_limit: int = 20
    crc_error_rate: float = 0.02
    jobs: int = 2
    run_timeout: float = 1800.0  # the whole matrix; scenarios not started by then: error
    # scenario time compression for every board (hil.harness.pacing); None: each board file's
    # time_scale (1 for a virtual clock: scenarios as written)
    time_scale: int | None = None
    # a test key set (`hil keys generate DIR`, absolute path): handed to the emulated boards,
    # whose frames are then MAC'd and signed, and every frame a board sends is verified with
    # it (hil.harness.drive.auth); None: the board files' own `keys`, if any
    keys: str | None = None
    adapter_wrapper: Callable[[BoardAdapter, str, str], BoardAdapter] | None = None  # tests
    # deploys the firmware before a board's first scenario; None: hil.board.deploy for boards that
    # need it (real MicroPython boards), nothing for emulated ones
    deployer: Callable[[BoardDef, BoardAdapter], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
