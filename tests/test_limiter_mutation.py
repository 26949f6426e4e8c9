"""The mutation tool (vectors/mutation.py) on a handful of mutants, not the whole run (that is a
report: `python -m vectors.mutation`): the code as it is survives every vector, known porting
mistakes are killed, crc.py's mutants also meet the nibble table a port runs, crashes and hangs
count as killed, the equivalents list names real mutants, and --min-score turns the report into
a gate."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from vectors import mutation  # noqa: E402


@pytest.fixture(scope="module")
def session() -> mutation.Session:
    return mutation.Session()


def find(session: mutation.Session, file: str, function: str, original: str, mutated: str,
         occurrence: int = 1) -> mutation.Mutant:
    (m,) = [m for m in session.mutants(file)
            if m.key() == (file, function, original, mutated) and m.occurrence == occurrence]
    return m


def test_the_identity_mutant_survives(session: mutation.Session) -> None:
    assert session.run(None).status == "survived"


@pytest.mark.parametrize("file,function,original,mutated", [
    # a comparison off by one: a code overloaded one alert late
    ("limiter.py", "Limiter.offer", "if cc <= lim and self._c_prev[i] <= lim:",
     "if cc < lim and self._c_prev[i] <= lim:"),
    # a sign slip in the ticks arithmetic near the wrap
    ("ticks.py", "ticks_diff", "r = (r - TICKS_MAX) - 1", "r = (r + TICKS_MAX) - 1"),
    # a wrong offset when restoring a snapshot
    ("limiter.py", "Limiter.restore", "self._c_count[i] = _r32(blob, q + 4)",
     "self._c_count[i] = _r32(blob, q + 3)"),
    # saturation one too early
    ("limiter.py", "Limiter.offer", "if cc < SAT_MAX:", "if cc <= SAT_MAX:"),
])
def test_porting_mistakes_are_killed(session: mutation.Session, file: str, function: str,
                                     original: str, mutated: str) -> None:
    m = find(session, file, function, original, mutated)
    assert session.run(m).status in mutation.KILLED


def test_mutants_are_keyed_by_text_not_line(session: mutation.Session) -> None:
    m = find(session, "crc.py", "crc16", "crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b >> 4)]",
             "crc = ((crc << 4) & 0xFFFF) ^ t[(crc >> 12) ^ (b >> 5)]")
    assert m.operator == "const" and m.occurrence == 1
    assert m.describe().startswith("firmware_model/crc.py:")
    ops = {x.operator for x in session.mutants()}
    assert ops == set(mutation.OPERATORS)


def test_crc_mutants_also_run_on_the_path_a_port_implements(session: mutation.Session) -> None:
    # a wrong nibble-table entry: CPython's binascii.crc_hqx never reads the table, a port does
    m = find(session, "crc.py", "<module>",
             "0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,",
             "0x0000, 0x1022, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,")
    code = session.mutators["crc.py"].compile(m.index)
    limiter = session.mutators["limiter.py"].compile(None)
    assert mutation.run_module(limiter, code, session.vectors, session.limit_s).status == "survived"
    out = session.run(m)
    assert out.status in mutation.KILLED and "without binascii" in out.detail


def test_a_crash_and_a_hang_count_as_killed(session: mutation.Session) -> None:
    src = session.mutators["limiter.py"].source
    broken = compile(src.replace("SUPPRESS = 0", "SUPPRESS = 0 // 0", 1), "limiter.py", "exec")
    assert mutation.run_module(broken, None, session.vectors, 5.0).status == "import"
    # pop_summary() that never runs dry: the runner's pop loop would spin forever
    endless = src.replace("        if not self._pending:\n            return None\n", "", 1)
    assert endless != src
    out = mutation.run_module(compile(endless, "limiter.py", "exec"), None, session.vectors, 5.0)
    assert out.status == "timeout"


def test_every_equivalent_entry_names_a_surviving_mutant(session: mutation.Session) -> None:
    entries = mutation.load_equivalents()
    found, stale = mutation.match_equivalents(session.mutants(), entries)
    assert not stale, stale
    assert all(e["reason"] for e in entries) and len(set(map(id, found.values()))) == len(entries)
    # a sample of them (the whole list is the report's job)
    for m in sorted(found, key=lambda m: (m.file, m.index))[::25]:
        assert session.run(m).status == "survived", m.describe()


def test_min_score_makes_it_a_gate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mutation.main(["--file", "ticks.py", "--operator", "stmt", "--min-score", "100"]) == 0
    assert "score          100.0%" in capsys.readouterr().out
    few = tmp_path / "few"
    few.mkdir()
    shutil.copy(ROOT / "vectors" / "limiter" / "hand_config_ranges.json", few)
    assert mutation.main(["--file", "ticks.py", "--vectors", str(few), "--min-score", "95"]) == 1
    assert "survivors" in capsys.readouterr().out
    bad = json.loads((few / "hand_config_ranges.json").read_text())
    bad["expect"]["errors"] = []
    (few / "hand_config_ranges.json").write_text(json.dumps(bad))
    assert mutation.main(["--vectors", str(few)]) == 2  # the code fails its own vectors
