"""Limiter conformance vectors (vectors/limiter/*.json) on CPython: every vector matches the
implementation, the hand-derived ones exist, the recorded ones are current, and the vectors
alone cover every branch of firmware_model/limiter.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import firmware_model.limiter as lm

ROOT = Path(__file__).resolve().parent.parent
VEC = ROOT / "vectors" / "limiter"
sys.path.insert(0, str(ROOT / "vectors"))
from limiter_runner import run_vector  # noqa: E402

FILES = sorted(VEC.glob("*.json"))
MASK = (1 << 30) - 1


def load(name: str) -> dict[str, Any]:
    return json.loads((VEC / f"{name}.json").read_text())


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_vector_matches_implementation(path: Path) -> None:
    v = json.loads(path.read_text())
    got = run_vector(v, lm)
    for key, want in v["expect"].items():
        assert got[key] == want, f"{path.name}: {key}"


def test_hand_derived_vectors_cover_the_named_cases() -> None:
    hand = [json.loads(p.read_text()) for p in FILES if p.stem.startswith("hand_")]
    assert len(hand) >= 6
    for v in hand:
        assert v["derivation"] == "hand" and "by hand from docs/policy.md" in v["description"]
    names = " ".join(v["name"] for v in hand)
    for case in ("healthy", "red_entry_exit", "one_per_period", "code_limit_0", "throttle_n_1",
                 "never_throttle_during_red", "overflow"):
        assert case in names


def test_recorded_vectors_are_current() -> None:
    import generate_limiter_vectors as gen

    assert gen.main(["--check"]) == 0, "run vectors/generate_limiter_vectors.py and review the diff"


def test_storm_across_wrap_decides_like_without_wrap() -> None:
    a, b = load("gen_storm_no_wrap"), load("gen_storm_across_wrap")
    ta = [e[1] for e in a["events"] if e[0] == "offer"]
    tb = [e[1] for e in b["events"] if e[0] == "offer"]
    assert any(x > y for x, y in zip(tb, tb[1:], strict=False)), "the twin must actually wrap"
    shift = (tb[0] - ta[0]) & MASK
    assert a["expect"]["decisions"] == b["expect"]["decisions"]
    assert a["expect"]["stats"] == b["expect"]["stats"]
    sa = a["expect"]["summaries"]
    sb = [s[:5] + [(s[5] - shift) & MASK, (s[6] - shift) & MASK] for s in b["expect"]["summaries"]]
    assert sa == sb and sa


def test_vectors_alone_cover_every_branch_of_limiter() -> None:
    # A subprocess, so that this measurement is independent of any coverage pytest runs under.
    script = textwrap.dedent(f"""
        import glob, json, sys
        sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'vectors')!r}]
        import coverage
        cov = coverage.Coverage(branch=True, data_file=None,
                                include=[{str(ROOT / 'firmware_model' / 'limiter.py')!r}])
        cov.start()
        import firmware_model.limiter as lm
        from limiter_runner import run_vector
        for f in sorted(glob.glob({str(VEC / '*.json')!r})):
            run_vector(json.load(open(f)), lm)
        cov.stop()
        pct = cov.report(show_missing=True)
        print("PCT", pct)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "PCT 100.0" in out.stdout, out.stdout
