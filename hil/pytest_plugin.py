"""pytest plugin: HIL boards and scenarios as fixtures.

Enable with the entry point (pyproject.toml, `[project.entry-points.pytest11]`
`hil = "hil.pytest_plugin"`) or `-p hil.pytest_plugin`. Options:

    --board NAME|PATH   board to test against (default: emulated-chub; a real board by
                        naming its TOML, e.g. --board pico; absent -> tests skip)

Fixtures:

    board               session: the board, opened, HELLO checked (protocol version, firmware
                        hash); `board.client` is a hil.board.ProtocolClient, `board.info` the
                        HELLO fields, `board.command(verb, args)` one protocol command
    hil_board_def       session: the hil.board.registry.BoardDef behind it
    hil_scenario        a hil.harness.scenarios.Scenario; a test that takes it runs once per scenario
    run_hil_scenario    function: run_hil_scenario(scenario) -> hil.harness.results.ScenarioResult on
                        a fresh board state, through the nightly's runner (same verdicts)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DEFAULT_BOARD = "emulated-chub"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("hil", "hardware-in-the-loop boards")
    g.addoption("--board", action="store", default=DEFAULT_BOARD, metavar="NAME|PATH",
                help=f"HIL board name or board file (default {DEFAULT_BOARD}; a real board "
                "by name, e.g. pico)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hil_scenario" in metafunc.fixturenames:
        from hil.harness.scenarios import SCENARIOS

        metafunc.parametrize("hil_scenario", list(SCENARIOS.values()),
                             ids=list(SCENARIOS), indirect=True)


class BoardHandle:
    def __init__(self, board_def: Any, adapter: Any, client: Any, info: dict[str, str]) -> None:
        self.definition = board_def
        self.adapter = adapter
        self.client = client
        self.info = info

    @property
    def name(self) -> str:
        return str(self.definition.name)

    def command(self, verb: str, args: str = "") -> Any:
        return self.client.command(verb, args)


@pytest.fixture(scope="session")
def hil_board_def(request: pytest.FixtureRequest) -> Any:
    from hil.board.registry import load_board
    from hil.errors import HilError

    try:
        return load_board(request.config.getoption("--board"))
    except HilError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def board(hil_board_def: Any) -> Iterator[BoardHandle]:
    from hil.board.client import ProtocolClient
    from hil.board.errors import BoardError

    why = hil_board_def.absent_reason()
    if why:
        pytest.skip(f"board {hil_board_def.name}: {why}")
    adapter = hil_board_def.make_adapter()
    try:
        adapter.open()
        client = ProtocolClient(adapter)
        info = client.hello()
        hil_board_def.check_firmware(info)
    except BoardError as e:
        _shutdown(adapter)
        pytest.fail(f"board {hil_board_def.name}: {e.reason}: {e}", pytrace=False)
    try:
        yield BoardHandle(hil_board_def, adapter, client, info)
    finally:
        _shutdown(adapter)


def _shutdown(adapter: Any) -> None:
    stop = getattr(adapter, "shutdown", None)
    (stop or adapter.close)()


@pytest.fixture
def hil_scenario(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def run_hil_scenario(hil_board_def: Any, tmp_path: Path) -> Callable[[Any], Any]:
    from hil.harness.options import RunOptions
    from hil.harness.results import RunFolder
    from hil.harness.runner import BoardSession

    def run(scenario: Any) -> Any:
        if isinstance(scenario, str):
            from hil.harness.scenarios import select

            scenario = select([scenario])[0]
        folder = RunFolder(tmp_path / "hil")
        folder.path.mkdir(parents=True, exist_ok=True)
        session = BoardSession(hil_board_def, folder, RunOptions())
        try:
            r = session.run_scenario(scenario)
        finally:
            session.shutdown()
            session.console.close()
        folder.write_result(r)
        return r

    return run
