"""Project-level contracts: the README's commands are what CI runs, and every `hil`
subcommand answers --help without a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## The two commands.*?```sh\n(.*?)```", text, re.S)
    assert block, "README must show the two commands in a sh block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_has_exactly_two_commands() -> None:
    assert _readme_commands() == ["make nightly", "make test"]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    lines = [
        ln.strip()
        for ln in (ROOT / ".ci/run").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    assert _readme_commands()[1] in lines
    assert lines[-1] == _readme_commands()[1], "the README test command must be what CI ends with"


def test_hil_help() -> None:
    from hil.cli import COMMANDS

    out = subprocess.run([sys.executable, "-m", "hil.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for name in COMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", sorted(__import__("hil.cli", fromlist=["COMMANDS"]).COMMANDS))
def test_every_subcommand_has_help(name: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hil.cli", name, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "usage: hil " + name in out.stdout
    assert "Traceback" not in out.stderr
