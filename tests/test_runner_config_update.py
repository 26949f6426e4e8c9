"""The config_update scenario: the authenticated CONFIG path on every board. A forged update
(wrong MAC) goes first and must be refused with E_AUTH; the genuine one (same counter) must
then be accepted, and the storm must be decided under it: a board that ignores the update, or
accepts the forgery, fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from link_wrap import AdapterWrapper

from firmware_model import config_update, wire
from firmware_model.limiter import Config, Limiter
from hil.board.adapters import BoardAdapter
from hil.board.registry import load_board
from hil.harness.options import RunOptions
from hil.harness.results import FAIL, PASS, RunFolder
from hil.harness.runner import run_matrix
from hil.harness.scenarios import SCENARIOS

pytestmark = pytest.mark.timeout(120)

SC = SCENARIOS["config_update"]
CLOCK_CODE = 0x8F0C


def _run(tmp_path: Path, board: str, wrapper: Any = None) -> Any:
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir(parents=True, exist_ok=True)
    r = run_matrix([load_board(board)], [SC], folder, RunOptions(adapter_wrapper=wrapper))[0]
    log = (folder.path / r.console).read_text()
    return r, log


class RewriteConfig(AdapterWrapper):
    """Wraps an adapter and changes the n-th CONFIG command on its way to the board."""

    def __init__(self, inner: BoardAdapter, nth: int, change: Any) -> None:
        super().__init__(inner, nth=nth, change=change, seen=0)

    def write(self, data: bytes) -> None:
        seq, verb, args, _ = wire.decode(data, wire.HOST_MARK)
        if verb == "CONFIG":
            self.seen += 1
            if self.seen == self.nth:
                verb, text = self.change(bytes.fromhex(args[0]))
                data = wire.encode(wire.HOST_MARK, seq, verb, text)
        self.inner.write(data)


def test_the_config_is_one_an_ignoring_board_would_decide_differently() -> None:
    events = SC.events()
    assert SC.forged_config_first and SC.config

    def decide(cfg: Config) -> list[int]:
        lim = Limiter(cfg, 16)
        return [lim.offer(code, t) for t, code, _ in events]

    new, old = decide(Config.from_dict(dict(SC.config))), decide(Config())
    assert sum(a != b for a, b in zip(new, old, strict=True)) > 100
    # the extra never-throttle code: never suppressed under the update, mostly under defaults
    clock = [i for i, e in enumerate(events) if e[1] == CLOCK_CODE]
    assert all(new[i] for i in clock) and sum(not old[i] for i in clock) > 30


@pytest.mark.parametrize("board", ["emulated-chub", "emulated-esme"])
def test_forged_update_refused_genuine_applied_storm_decided_under_it(
        tmp_path: Path, board: str) -> None:
    r, log = _run(tmp_path, board)
    assert r.verdict == PASS, r.reasons
    m = r.metrics
    assert m["forged_config_refused"] == 1 and m["time_scale"] == 1
    assert m["model_mismatch"] == 0 and m["divergences"] == 0 and m["critical_lost"] == 0
    configs = [ln for ln in log.splitlines() if " > !" in ln and " CONFIG " in ln]
    assert len(configs) == 2  # the forged one, then the genuine one
    assert "E_AUTH" in log and " applied" in log


def test_a_board_that_ignores_the_update_fails(tmp_path: Path) -> None:
    # the genuine CONFIG never reaches the board: it gets a STATS instead (and ACKs it)
    r, _ = _run(tmp_path, "emulated-chub",
                lambda a, b, s: RewriteConfig(a, 2, lambda msg: ("STATS", None)))
    assert r.verdict == FAIL
    violated = " ".join(x for x in r.reasons if x.startswith("violated"))
    for metric in ("critical_lost", "model_mismatch", "divergences"):
        assert metric in violated, r.reasons
    assert r.metrics["forged_config_refused"] == 1


def test_a_board_that_accepts_a_forged_update_fails(tmp_path: Path) -> None:
    def remac(msg: bytes) -> tuple[str, str]:  # as if the board did not check the MAC
        body = msg[:-config_update.MAC_LEN]
        return "CONFIG", (body + config_update.hmac_sha256(config_update.TEST_KEY, body)).hex()

    r, log = _run(tmp_path, "emulated-chub", lambda a, b, s: RewriteConfig(a, 1, remac))
    assert r.verdict == FAIL
    assert [x for x in r.reasons if x.startswith("violated")] == [
        "violated: forged_config_refused = 0 (must be == 1: a config update that fails "
        "authentication is refused (E_AUTH))"]
    assert "forged CONFIG accepted" in log


def test_a_board_that_refuses_the_genuine_update_fails_without_retry(tmp_path: Path) -> None:
    def bad_mac(msg: bytes) -> tuple[str, str]:
        return "CONFIG", (msg[:-1] + bytes([msg[-1] ^ 1])).hex()

    r, _ = _run(tmp_path, "emulated-chub", lambda a, b, s: RewriteConfig(a, 2, bad_mac))
    assert r.verdict == FAIL and r.attempts == 1  # the firmware's decision, not the rig's
    assert r.reasons[0].startswith("config refused: the board refused the update: E_AUTH")


def test_micropython_board_refuses_the_forgery_and_applies_the_update(tmp_path: Path) -> None:
    from emulator.engine_micropython import available

    if not available():
        pytest.skip("node or the MicroPython WebAssembly package is not installed")
    r, _ = _run(tmp_path, "mpvm-chub")
    assert r.verdict == PASS, r.reasons
    assert r.metrics["forged_config_refused"] == 1 and r.metrics["model_mismatch"] == 0
