"""firmware_model/ imports only what MicroPython 1.27 has (asked of the real VM), and every
module of firmware_model/ type-checks with mypy against the MicroPython stubs
(firmware_model/mypy.ini)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator import mpvm

ROOT = Path(__file__).resolve().parent.parent
FW = ROOT / "firmware_model"
SIBLINGS = {p.stem for p in FW.glob("*.py")} | {"firmware_model"}
# Present on every hardware port but not in the WebAssembly build we can ask; only the board
# entry point may use it.
HARDWARE_ONLY = {"machine": {"main.py"}}


def _guarded(tree: ast.AST) -> set[int]:
    """ids of imports inside `try:` bodies whose handlers catch ImportError: optional imports
    with a fallback (a CPython speed-up, the flat micro:bit layout), allowed to be missing."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
            h.type is None or "ImportError" in ast.unparse(h.type) for h in node.handlers
        ):
            for stmt in node.body:
                for sub in ast.walk(stmt):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        ids.add(id(sub))
    return ids


def external_imports() -> dict[tuple[str, str], list[str]]:
    """(module, name or "") -> files importing it, for every unguarded non-sibling import."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(FW.glob("*.py")):
        tree = ast.parse(path.read_text())
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                pairs = [(a.name, "") for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                pairs = [(node.module, a.name) for a in node.names]
            else:
                continue
            for mod, name in pairs:
                if mod.split(".")[0] in HARDWARE_ONLY and path.name in HARDWARE_ONLY[mod]:
                    continue
                if mod.split(".")[0] not in SIBLINGS:
                    found.setdefault((mod, name), []).append(path.name)
    return found


@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_every_import_exists_in_micropython_1_27() -> None:
    wanted = external_imports()
    assert ("hashlib", "") in wanted  # the scan works
    pairs = sorted(wanted)
    code = "import json\nmissing = []\n"
    code += f"for mod, name in {pairs!r}:\n"
    code += (
        "    try:\n"
        "        m = __import__(mod)\n"
        "        if name and not hasattr(m, name):\n"
        "            missing.append(mod + '.' + name)\n"
        "    except ImportError:\n"
        "        missing.append(mod)\n"
        "print(json.dumps(missing))\n"
    )
    missing = mpvm.run_json(code)
    assert isinstance(missing, list)
    detail = {m: wanted[(m.split(".")[0], m.split(".")[1] if "." in m else "")] for m in missing
              if (m.split(".")[0], m.split(".")[1] if "." in m else "") in wanted}
    assert missing == [], f"not in MicroPython 1.27: {missing} (imported by {detail})"


def _stub_dir(tmp: Path) -> Path:
    """The MicroPython-only stubs (micropython-rp2-stubs' files + _mpy_shed), linked into a
    directory of their own: site-packages also holds CPython packages mypy must not read."""
    import site

    sp = Path(next(p for p in site.getsitepackages() if Path(p, "_mpy_shed").exists()))
    out = tmp / "mpstubs"
    out.mkdir()
    names = {"_mpy_shed"}
    for rec in sp.glob("micropython_rp2_stubs-*.dist-info/RECORD"):
        for line in rec.read_text().splitlines():
            first = line.split(",")[0].split("/")[0]
            if first and ".dist-info" not in first and first != "__pycache__":
                names.add(first)
    for n in names:
        if (sp / n).exists():
            os.symlink(sp / n, out / n)
    return out


def test_all_firmware_modules_type_check_against_micropython_stubs(tmp_path: Path) -> None:
    modules = sorted(str(p) for p in FW.glob("*.py"))
    assert {Path(m).name for m in modules} >= {"limiter.py", "wire.py", "board.py", "gbcs.py",
                                                 "main.py", "ticks.py"}
    stubs = _stub_dir(tmp_path)
    env = dict(os.environ, MYPYPATH=str(stubs))
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(FW / "mypy.ini"),
         "--cache-dir", str(tmp_path / "cache"), *modules],
        capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Success: no issues found in {len(modules)} source files" in out.stdout, out.stdout
