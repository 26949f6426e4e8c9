"""The layout's rules (docs/architecture.md), read from the source with `ast`: which wing of hil/
may import which, no import cycles, the two policy implementations independent, function-local
imports only where they are there for a reason, and one home for each shared name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hil", "emulator", "firmware_model")

# Each wing of hil/ and the hil wings it may import (its own always). The order is the
# layering: codec -> models -> comparison -> boards / harness -> reports -> CLI.
BASE = {"hil", "hil.errors", "hil.paths"}
WINGS: dict[str, set[str]] = {
    "hil.frames": set(),
    "hil.model": {"hil.frames"},
    "hil.compare": {"hil.frames", "hil.model"},
    "hil.board": set(),
    "hil.harness": {"hil.frames", "hil.model", "hil.compare", "hil.board"},
    "hil.conformance": {"hil.frames", "hil.board"},
    "hil.report": {"hil.frames", "hil.model", "hil.compare", "hil.board", "hil.harness"},
    "hil.commands": {"*"},
    "hil.cli": {"*"},
    "hil.pytest_plugin": {"*"},
}

# Function-local imports kept on purpose: (importing module, imported module) -> why.
# Anything else is imported at the top, where a reader sees the module's real dependencies.
LOCAL_IMPORTS_ALLOWED_IN = ("hil.commands", "hil.cli", "hil.pytest_plugin")  # CLI start-up
OPTIONAL_HEAVY = ("matplotlib", "mpremote", "serial.tools", "pyarrow", "duckdb")  # slow or
# optional: only when used (pyarrow and DuckDB: only for Parquet, the real-DSP check, --html)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, ast.Module]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            out[_module_name(p)] = ast.parse(p.read_text(), str(p))
    return out


SOURCES = _sources()


def _resolve(name: str) -> str:
    """The project module an import names (`hil.frames.decode` -> `hil.frames` if the latter
    is the module)."""
    while name and name not in SOURCES:
        name = name.rpartition(".")[0]
    return name


def _imports(tree: ast.Module) -> list[tuple[str, bool, int]]:
    """(imported name, at function level?, line) for every import in a module, names of the
    form pkg.mod.attr for `from pkg.mod import attr` so that submodules are seen."""
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, local, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.extend((f"{child.module}.{a.name}", local, child.lineno)
                             for a in child.names)
            visit(child, inner)

    visit(tree, False)
    return found


def _wing(module: str) -> str | None:
    for w in sorted(WINGS, key=len, reverse=True):
        if module == w or module.startswith(w + "."):
            return w
    return None


def _project_import_graph(local_too: bool = True) -> dict[str, set[str]]:
    g: dict[str, set[str]] = defaultdict(set)
    for mod, tree in SOURCES.items():
        for name, local, _ in _imports(tree):
            if name.split(".")[0] in PACKAGES and (local_too or not local):
                target = _resolve(name)
                if target and target != mod:
                    g[mod].add(target)
    return g


def test_every_hil_module_is_in_a_wing() -> None:
    loose = [m for m in SOURCES if m.startswith("hil") and m not in BASE and _wing(m) is None]
    assert not loose, f"modules outside every wing of hil/ (docs/architecture.md): {loose}"


def test_wings_import_only_downward() -> None:
    bad = []
    for mod, targets in _project_import_graph().items():
        w = _wing(mod)
        if w is None or "*" in WINGS[w]:
            continue
        for t in targets:
            tw = _wing(t)
            if t.startswith("hil") and t not in BASE and tw != w and tw not in WINGS[w]:
                bad.append(f"{mod} imports {t}")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(bad))


def test_lower_packages_never_import_hil() -> None:
    bad = [f"{m} imports {t}" for m, ts in _project_import_graph().items()
           for t in ts if m.split(".")[0] in ("emulator", "firmware_model") and t.startswith("hil")]
    bad += [f"{m} imports {t}" for m, ts in _project_import_graph().items()
            for t in ts if m.startswith("firmware_model") and t.startswith("emulator")]
    assert not bad, "\n".join(bad)


def test_device_limiter_and_dsp_model_are_independent() -> None:
    g = _project_import_graph()
    bad = [f"{m} imports {t}" for m, ts in g.items() if m.startswith("hil.model")
           for t in ts if t.startswith("firmware_model") or t.startswith("hil.compare")]
    bad += [f"{m} imports {t}" for m, ts in g.items() if m.startswith("firmware_model")
            for t in ts if t.startswith("hil")]
    assert not bad, "the DSP model and the device limiter must not import each other:\n" + \
        "\n".join(bad)


def _cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(SOURCES):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    # a package __init__ re-exporting its own modules is not a cycle of concepts
    g = {m: {t for t in ts if not (m.startswith(t + ".") and SOURCES.get(t) is not None)}
         for m, ts in _project_import_graph().items()}
    assert _cycles(g) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"hil.a": {"hil.b"}, "hil.b": {"hil.a"}}) == []  # not modules of SOURCES
    mods = sorted(m for m in SOURCES if m.startswith("hil.frames."))[:2]
    assert _cycles({mods[0]: {mods[1]}, mods[1]: {mods[0]}}) == [mods]


def test_function_local_imports_have_a_reason() -> None:
    bad = []
    for mod, tree in SOURCES.items():
        if not mod.startswith("hil") or mod.startswith(LOCAL_IMPORTS_ALLOWED_IN):
            continue
        for name, local, line in _imports(tree):
            if local and not name.startswith(OPTIONAL_HEAVY):
                bad.append(f"{mod}:{line}: {name}")
    assert not bad, "function-local imports (move them to the top):\n" + "\n".join(bad)


# -- one home for each shared name --------------------------------------------------------------

HOMES = {
    "TICKS_PERIOD": {"firmware_model.ticks"},
    "RESET_KINDS": {"firmware_model.board"},
    # the device's frame codec and the host's catalogue are two implementations (the firmware
    # cannot import hil); test_device_and_host_agree_on_codes holds them together
    "SUMMARY_CODE": {"firmware_model.gbcs", "hil.frames.catalogue"},
    "OVERFLOW_CODE": {"firmware_model.limiter", "hil.frames.catalogue"},
    "Event": {"emulator.faults"},
}
HELPERS = {"crc16", "format_code", "parse_code"}


def _top_level_definitions() -> dict[str, list[str]]:
    defs: dict[str, list[str]] = defaultdict(list)
    for mod, tree in SOURCES.items():
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
            else:
                continue
            for n in names:
                defs[n].append(mod)
    return defs


@pytest.mark.parametrize("name", sorted(HOMES))
def test_shared_constant_has_one_home(name: str) -> None:
    assert set(_top_level_definitions()[name]) == HOMES[name]


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_shared_helper_is_defined_once(name: str) -> None:
    homes = _top_level_definitions()[name]
    assert len(homes) == 1, f"{name} defined in {homes}"


def test_hil_class_names_are_unique() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for mod, tree in SOURCES.items():
        if mod.startswith("hil"):
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    seen[node.name].append(mod)
    dup = {k: v for k, v in seen.items() if len(v) > 1}
    assert not dup, f"one concept, one name: {dup}"


def test_device_and_host_agree_on_codes() -> None:
    from firmware_model import gbcs, limiter
    from hil.frames import catalogue

    assert catalogue.SUMMARY_CODE == gbcs.SUMMARY_CODE == 0x8FFE
    assert catalogue.OVERFLOW_CODE == limiter.OVERFLOW_CODE == 0x0000


def test_docs_cite_only_files_that_exist() -> None:
    import re

    missing = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in re.finditer(r"`((?:hil|emulator|firmware_model|ports|vectors|boards|benchmarks|"
                             r"scripts|tests|docs)/[\w./-]*\.(?:py|md|toml|json|c|h|mjs|sh))`",
                             doc.read_text()):
            if "*" not in m.group(1) and not (ROOT / m.group(1)).exists():
                missing.append(f"{doc.name}: {m.group(1)}")
    for p in [*ROOT.glob("hil/**/*.py"), *ROOT.glob("firmware_model/*.py"),
              *ROOT.glob("emulator/*.py")]:
        if "CONTRACTS.md" in p.read_text():
            missing.append(f"{p.relative_to(ROOT)}: CONTRACTS.md")
    assert not missing, "references to files that do not exist:\n" + "\n".join(missing)
