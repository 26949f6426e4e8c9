"""`hil compare`'s inputs and outputs at scale (issue 15 parts 4-6): Parquet in and out, the
real-DSP check out of core, progress on a terminal and off it, the analyst's HTML report, and
input/option/output errors refused early with one clear line."""

from __future__ import annotations

import io
import json
import os
import pty
import random
import select
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hil.report.progress import ProgressLine

CFG = {"device_window_ms": 10_000, "amber_threshold": 5, "red_threshold": 10,
       "code_window_ms": 10_000, "code_limit": 3, "throttle_n": 4}


def hil(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", "compare", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(11)
    rows, t = [], 1_000_000
    for _ in range(1500):
        t += rng.choice((5, 50, 300, 2000))
        rows.append({"device_id": rng.choice(("A", "B", "C")), "t_ms": t,
                     "alert_code": rng.choice(("0x8F01", "0x8F02", "0x8F3F"))})
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(CFG))
    return {"alerts": alerts, "cfg": cfg, "dir": tmp_path}


def _fates(files: dict[str, Path], *extra: str) -> list[dict]:
    out = files["dir"] / "fates.jsonl"
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
            "--latency-ms", "0-2000", "--fates", str(out), *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(x) for x in out.read_text().splitlines()]


def _real_rows(fates: list[dict]) -> tuple[list[dict], int]:
    """The model's own results as a "real" DSP's, one decision flipped, one row missing."""
    rows = sorted(fates, key=lambda r: r["seq"])
    flipped = next(i for i, r in enumerate(rows) if r["dsp"] == "discarded")
    out = []
    for i, r in enumerate(rows):
        if i == 3:
            continue
        dec = r["dsp"] if i != flipped else "forwarded"
        out.append({"device_id": r["device_id"], "alert_code": r["alert_code"],
                    "t_ms": r["t_ms"], "decision": dec,
                    "throttled_count": r["throttled_count"] if dec == "forwarded" else None,
                    "sequence_id": r["sequence_id"]})
    return out, flipped


# -- Parquet in and out, the real-DSP check out of core -----------------------------------------


def test_parquet_fates_are_the_jsonl_fates(files: dict[str, Path]) -> None:
    rows = _fates(files)
    pq_out = files["dir"] / "fates.parquet"
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
            "--latency-ms", "0-2000", "--fates", str(pq_out))
    assert r.returncode == 0, r.stderr
    assert pq.read_table(pq_out).to_pylist() == rows


def test_parquet_alerts_give_the_same_result(files: dict[str, Path]) -> None:
    rows = [json.loads(x) for x in files["alerts"].read_text().splitlines()]
    p = files["dir"] / "alerts.parquet"
    pq.write_table(pa.Table.from_pylist(rows), p)
    docs = []
    for path in (files["alerts"], p):
        r = hil("--alerts", str(path), "--config", str(files["cfg"]), "--latency-ms", "0-2000",
                "--json", "-")
        assert r.returncode == 0, r.stderr
        docs.append(json.loads(r.stdout))
    for k in ("metrics", "counters", "causes", "examples"):
        assert docs[0][k] == docs[1][k]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_real_dsp_results_in_every_format(files: dict[str, Path], fmt: str) -> None:
    real, flipped = _real_rows(_fates(files))
    p = files["dir"] / f"real.{fmt}"
    cols = ("device_id", "alert_code", "t_ms", "decision", "throttled_count", "sequence_id")
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(real), p)
    elif fmt == "jsonl":
        p.write_text("".join(json.dumps(r) + "\n" for r in real))
    else:
        p.write_text(",".join(cols) + "\n" + "".join(
            ",".join("" if r[c] is None else str(r[c]) for c in cols) + "\n" for r in real))
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
            "--latency-ms", "0-2000", "--dsp-results", str(p), "--json", "-")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["real_dsp"]["counters"]
    assert c["rows_matched"] == 1499 and c["alerts_without_result"] == 1
    assert c["results_without_alert"] == 0
    assert c["model_disagrees"] == 1 and c["model_agrees"] == 1498
    assert c["throttled_count_differs"] == 0 and c["sequence_id_differs"] == 0


# -- input errors: one line, exit 2, before any work --------------------------------------------


def _one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_csv_with_a_wrong_header_is_one_error(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("device,t_ms,alert_code\n" + "D1,5,8F01\n" * 5000)
    r = hil("--alerts", str(p), "--json", "-")
    _one_line_error(r, f"{p}:1:", "device_id")
    assert r.stdout == ""                       # nothing compared, nothing reported


def test_a_bom_is_one_error(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_bytes(b"\xef\xbb\xbfdevice_id,t_ms,alert_code\nD1,5,8F01\n")
    _one_line_error(hil("--alerts", str(p)), f"{p}:1:", "byte-order mark")


def test_a_non_utf8_byte_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    good = json.dumps({"device_id": "D1", "t_ms": 1, "alert_code": 1}) + "\n"
    p.write_bytes(good.encode() * 700 + b'{"device_id": "D\xff"}\n' + good.encode())
    _one_line_error(hil("--alerts", str(p)), f"{p}:701:", "0xff", "not UTF-8")


def test_dsp_results_header_is_checked_before_the_comparison(files: dict[str, Path]) -> None:
    p = files["dir"] / "real.csv"
    p.write_text("device_id,code,t_ms,decision\nA,0x8F01,1,forwarded\n")
    _one_line_error(hil("--alerts", str(files["alerts"]), "--dsp-results", str(p)),
                    f"{p}:1:", "alert_code")


def test_parquet_schema_is_checked(tmp_path: Path) -> None:
    p = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([{"device_id": "D", "time": 1, "alert_code": 1}]), p)
    _one_line_error(hil("--alerts", str(p)), str(p), "t_ms")


@pytest.mark.parametrize("opt", ["--json", "--fates", "--html"])
def test_unwritable_outputs_fail_before_the_comparison(files: dict[str, Path], opt: str) -> None:
    out = files["dir"] / "no-such-dir" / "out"
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]), opt, str(out))
    _one_line_error(r, opt, "cannot write")
    assert r.stdout == ""                       # the comparison never ran


def test_an_output_over_an_input_is_refused(files: dict[str, Path]) -> None:
    r = hil("--alerts", str(files["alerts"]), "--fates", str(files["alerts"]))
    _one_line_error(r, "--fates", "input")
    assert files["alerts"].read_text().count("\n") == 1500


@pytest.mark.parametrize("args", [
    ["--jobs", "0"], ["--jobs", "-2"], ["--slots", "0"],
    ["--reset", f"A@{2**53 + 1}"], ["--snapshot-interval-ms", str(2**53 + 1)],
    ["--latency-ms", str(2**60)], ["--latency-ms", f"0-{2**54}"],
])
def test_nonsensical_options_are_usage_errors(files: dict[str, Path], args: list[str]) -> None:
    r = hil("--alerts", str(files["alerts"]), *args)
    assert r.returncode == 2 and "usage:" in r.stderr and "Traceback" not in r.stderr
    assert args[0] in r.stderr


def test_bad_rows_keep_their_line_numbers_and_the_rest_of_the_stream(
        files: dict[str, Path]) -> None:
    text = files["alerts"].read_text().splitlines()
    text.insert(4, json.dumps({"device_id": "A", "t_ms": 2**53 + 1, "alert_code": 1}))
    text.insert(99, json.dumps({"device_id": "A", "t_ms": "soon", "alert_code": 1}))
    files["alerts"].write_text("\n".join(text) + "\n")
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]), "--json", "-")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert [(b["line"], b["reason"].split(":")[0]) for b in doc["bad_rows"]] == [
        (5, "t_ms"), (100, "t_ms")]
    assert "2**53" in doc["bad_rows"][0]["reason"]
    assert doc["metrics"]["alerts"] == 1500


# -- progress -----------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_on_a_terminal_is_redrawn_in_place_a_few_times_a_second() -> None:
    out, clock = io.StringIO(), _Clock()
    p = ProgressLine(out=out, tty=True, clock=clock, fraction=lambda: 0.5)
    for _ in p.track(range(100_000)):
        clock.t += 1e-4                         # 100,000 items over 10 s
    p.close()
    text = out.getvalue()
    assert 20 <= p.updates <= 10 * 4 + 1        # at most 4 a second
    assert text.count("\r") == p.updates + 1 and text.count("\n") == 1
    assert "alerts/s" not in text and "/s" in text and "left" in text
    assert text.rstrip().endswith("/s") and "100,000 alerts in 0:00:10" in text


def test_progress_off_a_terminal_is_line_based_and_sparse() -> None:
    out, clock = io.StringIO(), _Clock()
    p = ProgressLine(out=out, tty=False, clock=clock, fraction=lambda: 0.25)
    for _ in p.track(range(100_000)):
        clock.t += 1e-3                         # 100 s
    p.close()
    text = out.getvalue()
    assert "\r" not in text
    assert text.count("\n") == p.updates == 3   # every 30 s
    assert all(x.startswith("progress: ") for x in text.splitlines())


def test_a_short_run_not_on_a_terminal_prints_no_progress(files: dict[str, Path]) -> None:
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]))
    assert r.returncode == 0 and "\r" not in r.stderr and "progress" not in r.stderr


def test_progress_on_a_pty(files: dict[str, Path]) -> None:
    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hil.cli", "compare", "--alerts",
                             str(files["alerts"]), "--config", str(files["cfg"])],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=sub)
    os.close(sub)
    got = b""
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    os.close(main)
    assert proc.wait(timeout=60) == 0
    text = got.decode()
    assert "\r" in text and "1,500 alerts in " in text


# -- the analyst's HTML report ------------------------------------------------------------------


def test_html_report(files: dict[str, Path]) -> None:
    real, _ = _real_rows(_fates(files))
    p = files["dir"] / "real.parquet"
    pq.write_table(pa.Table.from_pylist(real), p)
    page = files["dir"] / "report.html"
    r = hil("--alerts", str(files["alerts"]), "--config", str(files["cfg"]),
            "--latency-ms", "0-2000", "--dsp-results", str(p), "--html", str(page))
    assert r.returncode == 0, r.stderr
    text = page.read_text()
    for section in ("wan", "divergences", "devices", "real-dsp", "spread"):
        assert f"id='{section}'" in text
    assert text.count("data:image/png;base64,") >= 3
    assert "data-metric='wan_frames_saved'" in text
    assert "table class='top-devices'" in text and "<td class=''>A</td>" in text
    assert "1 result rows matched" not in text and "1,499 result rows matched" in text
    assert "<td class=''>engine</td><td class=''>local</td>" in text
    assert "<td class=''>partitions</td><td class=''>1</td>" in text
