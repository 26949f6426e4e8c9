"""The pytest plugin, exercised in a child pytest run (pytester)."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(180)


def _plugin_args() -> list[str]:
    """-p hil.pytest_plugin unless the pytest11 entry point already loads it (then -p would
    register the same module twice)."""
    from importlib.metadata import entry_points

    if any(ep.value == "hil.pytest_plugin" for ep in entry_points(group="pytest11")):
        return []
    return ["-p", "hil.pytest_plugin"]


def test_plugin_board_fixture_and_scenarios(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x='''
        def test_hello(board):
            assert board.info["proto"] == "1"
            r = board.command("STATS")
            assert r.ok

        def test_every_scenario_is_offered(hil_scenario):
            assert hil_scenario.events()

        def test_run_one(run_hil_scenario):
            r = run_hil_scenario("quiet_device")
            assert r.verdict == "pass", r.reasons
            assert r.metrics["device_suppressed"] == 0
    ''')
    res = pytester.runpytest_subprocess(*_plugin_args(), "--board", "emulated-esme",
                                        "-q", "-p", "no:cacheprovider")
    from hil.harness.scenarios import SCENARIOS

    res.assert_outcomes(passed=2 + len(SCENARIOS))  # one hil_scenario test per scenario


def test_plugin_skips_an_absent_real_board(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_y='''
        def test_hello(board):
            raise AssertionError("must not run")
    ''')
    res = pytester.runpytest_subprocess(*_plugin_args(), "--board", "pico", "-q",
                                        "-p", "no:cacheprovider")
    res.assert_outcomes(skipped=1)
