"""emulator/mpvm.py: run source in real MicroPython 1.27 with files under /lib."""

from __future__ import annotations

import pytest

from emulator import mpvm

pytestmark = pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")


def test_runs_real_micropython_and_returns_stdout() -> None:
    out = mpvm.run("import sys\nprint(sys.implementation.name, sys.implementation.version[:2])")
    assert out.strip() == "micropython (1, 27)"


def test_files_are_importable_from_lib() -> None:
    files = {"pkg/__init__.py": "", "pkg/mod.py": "X = 41\n", "flat.py": "Y = 1\n"}
    assert mpvm.run("from pkg.mod import X\nimport flat\nprint(X + flat.Y)", files).strip() == "42"


def test_integers_cross_exactly_as_json_text() -> None:
    # beyond 32 bits: printed text keeps them exact
    assert mpvm.run_json("import json\nprint(json.dumps([2**40 + 1, -3]))") == [2**40 + 1, -3]


def test_exception_is_typed_with_micropython_traceback() -> None:
    with pytest.raises(mpvm.MicroPythonError) as ei:
        mpvm.run("print('before')\ndef f():\n    raise KeyError('k')\nf()")
    e = ei.value
    assert "KeyError" in str(e) and 'line 3, in f' in e.traceback
    assert e.stdout.strip() == "before"


def test_syntax_error_is_typed() -> None:
    with pytest.raises(mpvm.MicroPythonError, match="SyntaxError"):
        mpvm.run("def (:")


def test_missing_runtime_is_typed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(mpvm, "MJS", tmp_path / "nope.mjs")
    with pytest.raises(mpvm.MPVMUnavailable):
        mpvm.run("print(1)")


def test_package_files_maps_a_project_package() -> None:
    files = mpvm.package_files("firmware_model", ["ticks.py"])
    assert list(files) == ["firmware_model/ticks.py"]
    out = mpvm.run("from firmware_model.ticks import ticks_add\nprint(ticks_add(2**30 - 1, 2))", files)
    assert out.strip() == "1"
