"""The derived small-board build (emulator/flatbuild.py) of firmware_model/limiter.py: feature
markers are well formed, the derived module is the same code minus whole features, and it
decides every conformance vector that needs no dropped feature exactly as recorded."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import firmware_model.limiter as full
from emulator import flatbuild, mpvm

ROOT = Path(__file__).resolve().parent.parent
VEC = ROOT / "vectors" / "limiter"
sys.path.insert(0, str(ROOT / "vectors"))
from limiter_runner import run_vector  # noqa: E402

FILES = sorted(VEC.glob("*.json"))


def _load(tmp: Path, name: str, data: bytes) -> types.ModuleType:
    path = tmp / name
    path.write_bytes(data)
    spec = importlib.util.spec_from_file_location(f"derived_{name[:-3]}_{id(tmp)}", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> types.ModuleType:
    tmp = tmp_path_factory.mktemp("flat")
    files = flatbuild.derive_all()
    assert set(files) == {"ticks.py", "limiter.py"}
    return _load(tmp, "limiter.py", files["limiter.py"])


def test_dropped_features_are_gone_and_the_core_is_there(derived: types.ModuleType) -> None:
    for name in ("SnapshotError", "crc16", "KEYS", "_RANGES"):
        assert not hasattr(derived, name), name
    for name in ("snapshot", "restore"):
        assert not hasattr(derived.Limiter, name), name
    for name in ("from_dict", "validate", "to_dict"):
        assert not hasattr(derived.Config, name), name
    for name in ("offer", "poll", "pop_summary", "level", "stats", "configure", "_slot_for"):
        assert hasattr(derived.Limiter, name), name
    src = flatbuild.derive("limiter.py").decode()
    assert "#" not in src and '"""' not in src
    assert len(src) < len((ROOT / "firmware_model" / "limiter.py").read_text()) // 2


def test_keeping_every_feature_gives_the_whole_module(tmp_path: Path) -> None:
    mod = _load(tmp_path, "limiter.py", flatbuild.derive("limiter.py", drop=()))
    for name in ("SnapshotError", "crc16", "KEYS"):
        assert hasattr(mod, name)
    assert mod.Config.from_dict({"throttle_n": 3}).throttle_n == 3


@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_a_build_keeping_the_snapshot_ships_the_crc_it_imports() -> None:
    files = flatbuild.derive_all(keep=("snapshot",))
    assert set(files) == {"ticks.py", "limiter.py", "crc.py"}
    # flat, as on a board without directories: MicroPython with only these files
    code = """
import json
import crc
import limiter
a = limiter.Limiter(limiter.Config(), 4)
for t in range(0, 20000, 50):
    a.offer(0x8F0C, t)
b = limiter.Limiter(limiter.Config(), 4)
b.restore(a.snapshot(20000), 7)
print(json.dumps([a.stats() == b.stats(), crc.crc16(b"123456789")]))
"""
    got = mpvm.run_json(code, {n: v.decode() for n, v in files.items()})
    assert got == [True, 0x29B1]


class _Shim:
    """The derived module under run_vector: Configs come from the full module's parser (a
    small board gets its Config built by the host), everything else is the derived code."""

    def __init__(self, mod: types.ModuleType) -> None:
        base = mod.Config

        class Config(base):  # type: ignore[misc,valid-type]
            @classmethod
            def from_dict(cls, d: dict[str, Any]) -> Any:
                c = cls()
                c.__dict__.update(full.Config.from_dict(d).__dict__)
                return c

            def to_dict(self) -> dict[str, Any]:
                return full.Config.to_dict(self)  # type: ignore[arg-type]

            def __eq__(self, other: object) -> bool:
                return isinstance(other, Config) and self.to_dict() == other.to_dict()

        self.Config = Config
        self.Limiter = mod.Limiter


def _needs_only_the_core(v: dict[str, Any]) -> bool:
    return "events" in v and "config_errors" not in v and not any(
        e[0] == "reset" for e in v["events"])


CORE = [p for p in FILES if _needs_only_the_core(json.loads(p.read_text()))]


def test_most_vectors_need_only_the_core() -> None:
    assert len(CORE) >= len(FILES) - 5 and len(CORE) >= 15


@pytest.mark.parametrize("path", CORE, ids=[p.stem for p in CORE])
def test_derived_build_matches_every_core_vector(path: Path, derived: types.ModuleType) -> None:
    v = json.loads(path.read_text())
    got = run_vector(v, _Shim(derived))
    for key, want in v["expect"].items():
        assert got[key] == want, f"{path.name}: {key}"


@pytest.mark.parametrize("src,err", [
    ("a = 1\n# [feature:snapshot]\nb = 2\n", "never closed"),
    ("# [/feature]\n", "without an open feature"),
    ("# [feature:snapshot]\n# [feature:config]\n# [/feature]\n", "opened inside snapshot"),
    ("# [feature:bogus]\n# [/feature]\n", "unknown feature bogus"),
])
def test_bad_markers_are_typed_errors(src: str, err: str) -> None:
    with pytest.raises(flatbuild.BuildError, match=err):
        flatbuild.drop_features(src, flatbuild.FEATURES, "x.py")


def test_drop_features_keeps_what_is_not_dropped() -> None:
    src = "a = 1\n# [feature:snapshot]\nb = 2\n# [/feature]\n# [feature:config]\nc = 3\n# [/feature]\n"
    assert flatbuild.drop_features(src, ("snapshot",)) == "a = 1\nc = 3\n"
    assert flatbuild.drop_features(src, ()) == "a = 1\nb = 2\nc = 3\n"


def test_cli_writes_flat_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flatbuild.main(["--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["limiter.py", "ticks.py"]
    assert "limiter.py" in capsys.readouterr().out
    assert flatbuild.main(["--out", str(tmp_path), "nonexistent.py"]) == 2
