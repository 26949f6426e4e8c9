"""The codec package's surface: the one rule for writing and reading an alert code
(hil.frames.catalogue), the names hil.frames re-exports, and that the catalogue stays cheap to
import (no construct) for the configuration and the comparison."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import hil.frames
from hil.errors import ConfigError
from hil.frames.catalogue import format_code, parse_code
from hil.model.policy import PolicyConfig


@pytest.mark.parametrize(("given", "code"), [
    ("1234", 0x1234),       # four hex digits: hex, although it also reads as decimal
    ("0x1234", 0x1234),
    ("0X1234", 0x1234),
    ("36671", 36671),       # not four hex digits: decimal (36671 == 0x8F3F)
    ("8f3f", 0x8F3F),
    (" 8F3F ", 0x8F3F),
    ("0x8f3f", 0x8F3F),
    ("123", 123),           # three digits: decimal
    ("65535", 0xFFFF),
    ("0", 0),
    (0x8F3F, 0x8F3F),
    (0, 0),
    (0xFFFF, 0xFFFF),
])
def test_parse_code_rule(given: object, code: int) -> None:
    assert parse_code(given) == code


@pytest.mark.parametrize(("given", "why"), [
    ("0x10000", "out of range"),
    ("65536", "out of range"),
    ("-1", "out of range"),
    (65536, "out of range"),
    (-1, "out of range"),
    (True, "is not an alert code"),
    (False, "is not an alert code"),
    ("zz", "is not an alert code"),
    ("8F3G", "is not an alert code"),
    ("", "is not an alert code"),
    ("0x", "is not an alert code"),
    (None, "is not an alert code"),
    (1.5, "is not an alert code"),
    (b"8F3F", "is not an alert code"),
])
def test_parse_code_rejects(given: object, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as info:
        parse_code(given)
    assert str(info.value).startswith("alert_code: ")
    with pytest.raises(ConfigError) as info:
        parse_code(given, "never_throttle")
    assert str(info.value).startswith("never_throttle: ")


def test_format_code_is_what_parse_code_reads() -> None:
    assert format_code(0x8F3F) == "0x8F3F"
    assert format_code(0) == "0x0000"
    for code in (0, 0x1234, 0x8F3F, 0xFFFF):
        assert parse_code(format_code(code)) == code


def test_config_files_use_the_rule() -> None:
    config = PolicyConfig.from_dict({"never_throttle": ["36671", "0x8F1C", "1234", 0x8F1D]})
    assert config.never_throttle == (0x8F3F, 0x8F1C, 0x1234, 0x8F1D)
    assert config.to_dict()["never_throttle"] == ["0x8F3F", "0x8F1C", "0x1234", "0x8F1D"]
    with pytest.raises(ConfigError, match="^never_throttle: 'zz' is not an alert code$"):
        PolicyConfig.from_dict({"never_throttle": ["zz"]})


def test_every_exported_name_resolves_to_its_home() -> None:
    homes = hil.frames._HOME
    assert sorted(homes) == hil.frames.__all__
    for name in hil.frames.__all__:
        value = getattr(hil.frames, name)
        if hasattr(value, "__module__") and callable(value):
            assert value.__module__ == homes[name], name
    with pytest.raises(AttributeError):
        hil.frames.no_such_name  # noqa: B018


def test_typed_imports_match_the_lazy_table() -> None:
    """The TYPE_CHECKING imports (what mypy sees) and _EXPORTS (what runs) list the same names
    from the same modules."""
    tree = ast.parse(Path(hil.frames.__file__).read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names:
                    assert alias.asname == alias.name  # explicit re-export
                    typed[alias.name] = imp.module
    assert typed == hil.frames._HOME


def test_catalogue_and_policy_do_not_import_the_codec() -> None:
    code = ("import sys, hil.frames, hil.frames.catalogue, hil.model.policy; "
            "print(sorted(m for m in sys.modules if m == 'construct' or m.startswith('hil.frames.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['hil.frames.catalogue']"
