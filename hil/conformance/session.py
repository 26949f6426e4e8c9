"""One board under conformance: reached as the harness reaches it (a board file ->
BoardDef.make_adapter -> hil.board.client.ProtocolClient), then every limiter vector through
its limiter-under-test verbs and every wire transcript on its raw link.

Lifecycle: one adapter for all the limiter vectors (each starts with LNEW, a fresh limiter, so
they do not share state); each transcript on a freshly started board where the board can be
started fresh (an emulated one: a new process on an empty flash), else on the same link after
the previous one, its host seqs above every seq sent before. A board error (port gone, no
answer) is that vector's `error`; the board is started again for the next one. A board that
cannot hold the firmware at all (the micro:bit under QEMU) has every vector not applicable,
with the board's own words for why."""

from __future__ import annotations

import time
from collections.abc import Callable

from hil.board.adapters.base import BoardAdapter
from hil.board.client import ProtocolClient
from hil.board.errors import BoardAbsent, BoardError, CannotTakeCode
from hil.board.registry import BoardDef
from hil.conformance.limiter_vectors import LimiterOverWire
from hil.conformance.outcome import (
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    Mismatch,
    NotApplicable,
    Outcome,
)
from hil.conformance.transcripts import TranscriptPlayer, compile_steps
from hil.conformance.vectors import LIMITER, Vector

AdapterWrapper = Callable[[BoardAdapter], BoardAdapter]
LUT_CAP = "lut"
ERRORS_IN_A_ROW = 3  # then the board is unhealthy: the rest are errors without being tried


class ConformanceSession:
    """`run(vectors)` -> one Outcome per vector, in order; `hello` is what the board said."""

    def __init__(self, board: BoardDef, *, wrapper: AdapterWrapper | None = None,
                 step_timeout: float = 10.0,
                 on_outcome: Callable[[Outcome], None] | None = None) -> None:
        self.board = board
        self.wrapper = wrapper
        self.step_timeout = step_timeout
        self.on_outcome = on_outcome
        self.hello: dict[str, str] = {}
        self.adapter: BoardAdapter | None = None
        self.client: ProtocolClient | None = None
        self.next_h = 1  # a host seq above every one this session has sent on the adapter
        self.cannot_hold: str | None = None
        self.unhealthy: str | None = None
        self._errors_in_a_row = 0

    # -- the board -----------------------------------------------------------------------------
    def _start(self) -> BoardAdapter:
        self.shutdown()
        a = self.board.make_adapter()
        if self.wrapper is not None:
            a = self.wrapper(a)
        self.adapter = a
        a.open()
        self.next_h = 1
        return a

    def _connect(self) -> ProtocolClient:
        a = self.adapter if self.adapter is not None else self._start()
        self.client = ProtocolClient(a, step_timeout=self.step_timeout)
        self.hello = self.client.hello()
        # the client numbers its commands 1, 2, ...: the count is the last seq it sent
        self.next_h = self.client.counters.commands + 1
        return self.client

    def shutdown(self) -> None:
        if self.adapter is not None:
            self.adapter.shutdown()
        self.adapter = None
        self.client = None

    @property
    def fresh_per_transcript(self) -> bool:
        # an emulated process is a new board on an empty flash, and so is a new QEMU process
        # running the C port's image (nothing to deploy); the MicroPython micro:bit (deployed
        # at every start) and real boards are kept
        return self.board.emulated and self.board.spec.engine != "qemu"

    # -- running -------------------------------------------------------------------------------
    def run(self, vectors: list[Vector]) -> list[Outcome]:
        why = self.board.absent_reason()
        if why:
            raise BoardAbsent(why if why.startswith(self.board.name) else
                              f"{self.board.name}: {why}")
        out: list[Outcome] = []
        try:
            for v in vectors:
                t0 = time.monotonic()
                o = self._one(v)
                o.wall_s = round(time.monotonic() - t0, 3)
                out.append(o)
                if self.on_outcome is not None:
                    self.on_outcome(o)
        finally:
            self.shutdown()
        return out

    def _one(self, v: Vector) -> Outcome:
        if self.cannot_hold:
            return Outcome(v.name, NOT_APPLICABLE, self.cannot_hold)
        if self.unhealthy:
            return Outcome(v.name, ERROR, self.unhealthy)
        o = self._try(v)
        self._errors_in_a_row = self._errors_in_a_row + 1 if o.status == ERROR else 0
        if self._errors_in_a_row >= ERRORS_IN_A_ROW:
            self.unhealthy = f"board unhealthy ({ERRORS_IN_A_ROW} errors in a row; the last: " \
                f"{o.message})"
        return o

    def _try(self, v: Vector) -> Outcome:
        try:
            note = self._limiter(v) if v.kind == LIMITER else self._transcript(v)
            return Outcome(v.name, PASS, note)
        except Mismatch as e:
            return Outcome(v.name, FAIL, str(e))
        except NotApplicable as e:
            return Outcome(v.name, NOT_APPLICABLE, str(e))
        except CannotTakeCode as e:
            self.cannot_hold = f"{self.board.name} cannot hold the firmware ({e.reason}: {e})"
            self.shutdown()
            return Outcome(v.name, NOT_APPLICABLE, self.cannot_hold)
        except BoardError as e:
            self.shutdown()  # the next vector starts the board again
            return Outcome(v.name, ERROR, f"{e.reason}: {e}")

    def _limiter(self, v: Vector) -> str:
        client = self.client if self.client is not None else self._connect()
        if LUT_CAP not in self.hello.get("caps", "").split(","):
            raise NotApplicable("the board has no limiter-under-test verbs (HELLO caps="
                                f"{self.hello.get('caps', '(none)')})")
        try:
            return LimiterOverWire(client, v.data).run()
        finally:
            self.next_h = client.counters.commands + 1

    def _transcript(self, v: Vector) -> str:
        if self.fresh_per_transcript or self.adapter is None:
            self._start()
        assert self.adapter is not None
        self.client = None  # the raw link is the transcript's now
        player = TranscriptPlayer(self.adapter, self.next_h, line_timeout=self.step_timeout)
        try:
            self.hello = player.start()
            unmet = player.unmet_needs(v.data.get("needs", {}))
            if unmet:
                raise NotApplicable(unmet)
            player.play(compile_steps(v.data["steps"]))
        finally:
            self.next_h = player.last_hseq + 1
        return ""
