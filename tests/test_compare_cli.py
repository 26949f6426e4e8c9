"""`hil compare` end to end through a subprocess: exit statuses, bad rows with line numbers,
the JSON output and the check against real DSP results."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

CFG = {"device_window_ms": 10_000, "amber_threshold": 5, "red_threshold": 10,
       "code_window_ms": 10_000, "code_limit": 3, "throttle_n": 4}


def hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", "compare", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(7)
    lines, t = [], 1_000_000
    for _ in range(1200):
        t += rng.choice((5, 50, 300, 2000))
        lines.append(json.dumps({"device_id": rng.choice(("A", "B")), "t_ms": t,
                                 "alert_code": rng.choice(("0x8F01", "0x8F02", "0x8F3F"))}))
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CFG))
    return {"alerts": alerts, "cfg": cfg, "dir": tmp_path}


def test_help() -> None:
    out = hil("--help")
    assert out.returncode == 0 and "--dsp-results" in out.stdout and "--latency-ms" in out.stdout


def test_clean_run(files: dict[str, Path]) -> None:
    out_json = files["dir"] / "out.json"
    out = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
              "--json", str(out_json))
    assert out.returncode == 0, out.stderr
    assert "agreement_rate" in out.stdout and "lost_at_device" in out.stdout
    doc = json.loads(out_json.read_text())
    assert doc["metrics"]["alerts"] == 1200 and doc["metrics"]["agreement_rate"] == 1.0
    assert doc["metrics"]["critical_alerts_lost"] == 0 and doc["bad_rows"] == []


def test_perturbed_run_names_causes(files: dict[str, Path]) -> None:
    out = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
              "--latency-ms", "0-3000", "--skew-ppm", "20000", "--reset", "A@1100000",
              "--json", "-")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert sum(doc["divergences"].values()) > 0
    named = {c for d in doc["causes"].values() for c in d}
    assert named and "unknown" not in named
    assert named <= {"wan_latency", "clock_skew", "device_reset",
                     "wan_latency+clock_skew+device_reset", "wan_latency+clock_skew",
                     "clock_skew+device_reset", "wan_latency+device_reset"}


def test_bad_rows_are_reported_with_line_numbers_after_the_comparison(
        files: dict[str, Path]) -> None:
    text = files["alerts"].read_text().splitlines()
    text.insert(9, "{not json")                                  # line 10
    text.insert(19, json.dumps({"device_id": "A", "t_ms": 1}))   # line 20: no alert_code
    files["alerts"].write_text("\n".join(text) + "\n")
    out_json = files["dir"] / "out.json"
    out = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
              "--json", str(out_json))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "alerts.jsonl:10:" in out.stderr
    doc = json.loads(out_json.read_text())
    assert [b["line"] for b in doc["bad_rows"]] == [10, 20]
    assert doc["metrics"]["alerts"] == 1200       # every good row was still compared


def test_critical_alert_lost_is_a_hard_failure(files: dict[str, Path]) -> None:
    dev = files["dir"] / "dev.json"
    dev.write_text(json.dumps(CFG | {"never_throttle": []}))
    out = hil("--alerts", str(files["alerts"]), "--config", str(dev),
              "--dsp-config", str(files["cfg"]), "--json", "-")
    assert out.returncode == 1
    assert "critical" in out.stderr
    doc = json.loads(out.stdout)
    assert doc["divergences"]["critical_lost_at_device"] > 0
    assert doc["causes"]["critical_lost_at_device"] == {
        "config_difference": doc["divergences"]["critical_lost_at_device"]}


def test_against_real_dsp_results(files: dict[str, Path]) -> None:
    fates = files["dir"] / "fates.jsonl"
    out = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
              "--fates", str(fates))
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in fates.read_text().splitlines()]
    assert len(rows) == 1200
    rows.sort(key=lambda r: r["seq"])
    # the "real" DSP: the model's own results, with one decision flipped and two bad rows
    csv_lines = ["device_id,alert_code,t_ms,decision,throttled_count,sequence_id"]
    flipped = next(i for i, r in enumerate(rows) if r["dsp"] == "discarded")
    for i, r in enumerate(rows):
        dec = r["dsp"] if i != flipped else "forwarded"
        tc = "" if r["throttled_count"] is None or dec == "discarded" else r["throttled_count"]
        sid = "" if r["sequence_id"] is None else r["sequence_id"]
        csv_lines.append(f"{r['device_id']},{r['alert_code']},{r['t_ms']},{dec},{tc},{sid}")
    csv_lines.insert(5, "A,0x8F01,notanumber,forwarded,,")
    csv_lines.insert(8, "A,0x8F01,5,sideways,,")
    results = files["dir"] / "real.csv"
    results.write_text("\n".join(csv_lines) + "\n")
    out = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
              "--dsp-results", str(results), "--json", "-")
    assert out.returncode == 1                                  # the bad rows
    doc = json.loads(out.stdout)
    assert [b["line"] for b in doc["bad_rows"]] == [6, 9]
    real = doc["real_dsp"]
    assert real["counters"]["model_disagrees"] == 1
    assert real["counters"]["model_agrees"] == 1199
    line_of_flipped = flipped + 2 + (1 if flipped + 1 >= 5 else 0) + (1 if flipped + 2 >= 8 else 0)
    assert [e["result_line"] for e in real["examples"]] == [line_of_flipped]


def test_bad_config_and_missing_file(files: dict[str, Path]) -> None:
    bad = files["dir"] / "bad.json"
    bad.write_text(json.dumps({"red_threshold": 0}))
    out = hil("--alerts", str(files["alerts"]), "--config", str(bad))
    assert out.returncode == 2 and "red_threshold" in out.stderr
    assert "Traceback" not in out.stderr
    out = hil("--alerts", str(files["dir"] / "none.jsonl"))
    assert out.returncode == 2 and "none.jsonl" in out.stderr
    out = hil("--alerts", str(files["alerts"]), "--latency-ms", "soon")
    assert out.returncode == 2 and "--latency-ms" in out.stderr
