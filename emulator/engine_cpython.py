"""The cpython engine: firmware_model imported in this process and driven line by line.

The firmware gets the virtual clock (instead of time.ticks_ms), the emulated flash (instead
of the board's littlefs) and this engine as its `host` for resets and power cuts. A reset
throws the Board object away and boots a new one: RAM is gone, flash is what survives,
exactly the firmware's view of a real reset."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from emulator.boardfile import BoardSpec
from emulator.clock import VirtualClock
from emulator.engine import Engine, EngineError
from emulator.flash import FlashFs, PowerLoss
from emulator.keystore import KeyStore, KeyStoreError
from emulator.security import KeyStoreProvider
from firmware_model import board as fw_board
from firmware_model import wire
from firmware_model.board import RESET_KINDS
from firmware_model.limiter import Config

FIRMWARE_DIR = str(Path(fw_board.__file__).resolve().parent)


class CPythonEngine(Engine):
    name = "cpython"

    def __init__(self, spec: BoardSpec, write: Callable[[bytes], None], flash: FlashFs,
                 clock: VirtualClock) -> None:
        super().__init__(spec, write, flash, clock)
        self.reader = wire.LineReader()
        self.board: fw_board.Board | None = None
        self._pending_reset: str | None = None
        self.boots = 0
        self.fw = wire.firmware_hash(FIRMWARE_DIR)
        self.crypto: KeyStoreProvider | None = None
        if spec.keys:  # the board's security module, provisioned with the test key set
            try:
                self.crypto = KeyStoreProvider(KeyStore(spec.keys), spec.titles)
            except KeyStoreError as e:
                raise EngineError(str(e)) from None

    # -- the Board's host interface -----------------------------------------------------------
    def can_reset(self, kind: str) -> bool:
        return kind in RESET_KINDS  # an emulated board can do every kind

    def reset(self, kind: str) -> None:
        self._pending_reset = kind  # done after the current line: the ACK has gone out

    def powercut(self, nbytes: int) -> None:
        self.flash.arm_powercut(nbytes)

    # -- Engine ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._boot("power")

    def _boot(self, cause: str) -> None:
        s = self.spec
        self.board = fw_board.Board(
            self.write, self.clock, self.flash, host=self, name=s.name, role=s.role,
            placement=s.limiter, engine=self.name, slots=s.slots, poll_ms=s.poll_ms,
            persist_ms=s.persist_ms, ring=s.ring, fw=self.fw, titles=s.titles,
            critical=s.critical, crypto=self.crypto,
            config=Config.from_dict(dict(s.config)) if s.config else None)
        self.boots += 1
        try:
            self.board.boot(cause)
        except PowerLoss:
            self._boot("brownout")

    def feed(self, data: bytes) -> None:
        self.reader.feed(data, self._line)

    def _line(self, line: bytes | None) -> None:
        assert self.board is not None
        try:
            if line is None:
                self.board._line(None)
            else:
                self.board.handle_line(line)
        except PowerLoss:
            self._pending_reset = None
            self._boot("brownout")
            return
        if self._pending_reset is not None:
            kind, self._pending_reset = self._pending_reset, None
            self._boot(kind)

    def idle(self) -> None:
        if self.board is not None and not self.clock.virtual:
            try:
                self.board.housekeeping()
            except PowerLoss:
                self._boot("brownout")


def flash_dir_default(name: str) -> str:
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), "alertstorm-flash-" + name)
