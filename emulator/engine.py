"""The engine interface: what runs a board's firmware behind an emulated UART.

An engine gets the board definition, a `write(bytes)` callback for everything the firmware
sends (the pty), a flash directory and a clock. The emulator's main loop (emulator/__main__.py)
calls `start()` once, `feed(data)` with every chunk of bytes the host writes (any chunking:
the engine splits lines), `idle()` whenever nothing arrived for a while (real-time boards run
their housekeeping there), and `stop()` at the end. Resets and power cuts are the engine's
business: after one, the firmware boots again from flash and says so (EVENT BOOT).

Engines:
- "cpython" (emulator/engine_cpython.py): firmware_model imported in this process.
- "micropython" (emulator/engine_micropython.py, if present): firmware_model in real
  MicroPython 1.27 under node.
- "native" (emulator/engine_native.py): the C port's host build (ports/c/), a child process.
To add one: subclass Engine, register it in ENGINES below (module path, class name).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from emulator.boardfile import BoardSpec
    from emulator.clock import VirtualClock
    from emulator.flash import FlashFs

# engine name -> (module, class); modules are imported only when that engine is used
ENGINES: dict[str, tuple[str, str]] = {
    "cpython": ("emulator.engine_cpython", "CPythonEngine"),
    "micropython": ("emulator.engine_micropython", "MicroPythonEngine"),
    "native": ("emulator.engine_native", "NativeEngine"),
}


class EngineError(Exception):
    """An engine cannot be created or has failed (message says why)."""


class Engine(ABC):
    name = "abstract"

    def __init__(self, spec: BoardSpec, write: Callable[[bytes], None], flash: FlashFs,
                 clock: VirtualClock) -> None:
        self.spec = spec
        self.write = write
        self.flash = flash
        self.clock = clock

    @abstractmethod
    def start(self) -> None:
        """Power on: boot the firmware (it restores from flash and emits EVENT BOOT)."""

    @abstractmethod
    def feed(self, data: bytes) -> None:
        """Bytes from the host, in any chunking."""

    def idle(self) -> None:
        """Nothing arrived for a while (real-time mode runs housekeeping here)."""
        return None

    def stop(self) -> None:
        """Power off (nothing is flushed)."""
        return None


def create_engine(name: str, spec: BoardSpec, write: Callable[[bytes], None], flash: FlashFs,
                  clock: VirtualClock) -> Engine:
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    modname, cls = ENGINES[name]
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as e:
        raise EngineError(f"engine {name!r} is not available: {e}") from None
    return getattr(mod, cls)(spec, write, flash, clock)
