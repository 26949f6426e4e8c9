"""Alert-stream and DSP-results readers (hil/model/streams.py): typed bad rows with line numbers,
reading goes on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hil.errors import InputError
from hil.frames import build_alert, build_summary
from hil.model import row_files
from hil.model.streams import (
    BadRow,
    DspResult,
    check_alerts_file,
    check_results_file,
    read_alerts,
    read_dsp_results,
    write_dsp_results_csv,
)

DATA = Path(__file__).parent / "data" / "rtds-sample"


def test_jsonl_alerts_and_bad_rows(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join([
        json.dumps({"device_id": "D1", "t_ms": 10, "alert_code": "0x8F01"}),
        "",
        "{broken",
        json.dumps({"device_id": "D1", "t_ms": -1, "alert_code": 1}),
        json.dumps({"device_id": "D1", "t_ms": 20, "alert_code": "0x1FFFF"}),
        json.dumps({"t_ms": 20, "alert_code": 1}),
        json.dumps([1, 2]),
        json.dumps({"device_id": "D2", "t_ms": 30, "alert_code": 36609, "arrival_ms": 35}),
    ]) + "\n")
    errors: list[BadRow] = []
    alerts = list(read_alerts(p, errors))
    assert [(a.device, a.t_ms, a.code, a.arrival_ms, a.line, a.seq) for a in alerts] == [
        ("D1", 10, 0x8F01, None, 1, 0), ("D2", 30, 0x8F01, 35, 8, 1)]
    assert [e.line for e in errors] == [3, 4, 5, 6, 7]
    reasons = [e.reason for e in errors]
    assert "not JSON" in reasons[0] and "negative" in reasons[1]
    assert "alert_code" in reasons[2] and "device_id" in reasons[3]
    assert str(errors[0]).startswith(f"{p}:3: ")


def test_csv_alerts(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("device_id,t_ms,alert_code\nD1,5,8F01\nD1,x,8F01\nD1,6,8F02,extra\nD1,7,0x8F02\n")
    errors: list[BadRow] = []
    alerts = list(read_alerts(p, errors))
    assert [(a.t_ms, a.code, a.line) for a in alerts] == [(5, 0x8F01, 2), (7, 0x8F02, 5)]
    assert [(e.line, "t_ms" in e.reason or "more fields" in e.reason) for e in errors] == [
        (3, True), (4, True)]


def test_frame_field_in_jsonl_is_decoded_and_checked(tmp_path: Path) -> None:
    frame = build_alert(0x8F30, 0, originator_title="00DB1234567890A1").hex()
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join([
        json.dumps({"t_ms": 1, "frame": frame}),
        json.dumps({"t_ms": 2, "frame": frame, "device_id": "00DB1234567890A1",
                    "alert_code": "0x8F30"}),
        json.dumps({"t_ms": 3, "frame": frame, "alert_code": "0x8F31"}),
        json.dumps({"t_ms": 4, "frame": "DF00"}),
        json.dumps({"t_ms": 5, "frame": "zz"}),
    ]) + "\n")
    errors: list[BadRow] = []
    alerts = list(read_alerts(p, errors))
    assert [(a.device, a.code) for a in alerts] == [("00DB1234567890A1", 0x8F30)] * 2
    assert [e.line for e in errors] == [3, 4, 5]
    assert "row says" in errors[0].reason and "frame:" in errors[1].reason


def test_frame_file_with_and_without_times(tmp_path: Path) -> None:
    a = build_alert(0x8F30, 86_400, originator_title="00DB1234567890A1").hex()
    s = build_summary(summary_time=0, suppressed_code=0x8F01, suppressed_count=3,
                      episode_total=3, first_time=0, last_time=1, kind=1).hex()
    p = tmp_path / "f.hex"
    p.write_text(f"# capture\n{a}\n1234 {s}\nnothex\n1 2 3\n")
    errors: list[BadRow] = []
    alerts = list(read_alerts(p, errors))
    assert [(x.device, x.code, x.t_ms, x.line) for x in alerts] == [
        ("00DB1234567890A1", 0x8F30, 86_400_000, 2), ("00DB1234567890A0", 0x8FFE, 1234, 3)]
    assert [e.line for e in errors] == [4, 5]


def test_rtds_sample_frames_read(tmp_path: Path) -> None:
    p = tmp_path / "rtds.hex"
    p.write_text("".join((f.read_text().strip() + "\n") for f in sorted(DATA.glob("*.HEX"))))
    errors: list[BadRow] = []
    alerts = list(read_alerts(p, errors))
    expected = [json.loads(x) for x in (DATA / "expected.jsonl").read_text().splitlines()]
    by_file = {e["file"]: e for e in expected}
    want = [int(by_file[f.name]["alert_code"], 16) for f in sorted(DATA.glob("*.HEX"))
            if by_file[f.name].get("alert_code")]
    assert [a.code for a in alerts] == want
    assert [a.device for a in alerts] == [by_file[f.name]["originator_title"]
                                          for f in sorted(DATA.glob("*.HEX"))
                                          if by_file[f.name].get("alert_code")]


def test_dsp_results_csv_and_jsonl(tmp_path: Path) -> None:
    rows = [DspResult("D1", 0x8F01, 10, True, 0, 500, 12, 0),
            DspResult("D1", 0x8F01, 11, False, None, None, None, 0)]
    buf = io.StringIO()
    write_dsp_results_csv(rows, buf)
    p = tmp_path / "r.csv"
    p.write_text(buf.getvalue() + "D1,0x8F01,12,,maybe,,\nD1,0x8F01,13,,discarded,4,\n"
                 "D1,0x8F01,,,forwarded,1,1\n")
    errors: list[BadRow] = []
    got = list(read_dsp_results(p, errors))
    assert [(r.device, r.code, r.t_ms, r.forwarded, r.throttled_count, r.sequence_id,
             r.arrival_ms, r.line) for r in got] == [
        ("D1", 0x8F01, 10, True, 0, 500, 12, 2), ("D1", 0x8F01, 11, False, None, None, None, 3)]
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [
        (4, "decision"), (5, "throttled_count on a discarded alert"), (6, "missing t_ms")]
    j = tmp_path / "r.jsonl"
    j.write_text(json.dumps({"device_id": "D1", "alert_code": "0x8F01", "t_ms": 1,
                             "decision": "forwarded", "throttled_count": 3,
                             "sequence_id": 0}) + "\n[]\n")
    errors = []
    assert [r.throttled_count for r in read_dsp_results(j, errors)] == [3]
    assert [e.line for e in errors] == [2]


def test_missing_file_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        list(read_alerts(tmp_path / "nope.jsonl", []))


def test_readers_stream(tmp_path: Path) -> None:
    p = tmp_path / "big.jsonl"
    with p.open("w") as f:
        for i in range(50_000):
            f.write(json.dumps({"device_id": "D", "t_ms": i, "alert_code": 1}) + "\n")
    it = read_alerts(p, [])
    assert next(it).t_ms == 0  # a generator: nothing read ahead beyond a buffer
    assert sum(1 for _ in it) == 49_999


def test_parquet_alerts_and_results(tmp_path: Path) -> None:
    p = tmp_path / "a.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"device_id": "D1", "t_ms": 5, "alert_code": "0x8F01"},
        {"device_id": "D1", "t_ms": None, "alert_code": "0x8F01"},
        {"device_id": "D2", "t_ms": 7, "alert_code": "8F02"}]), p)
    errors: list[BadRow] = []
    assert [(a.device, a.t_ms, a.code, a.line) for a in read_alerts(p, errors)] == [
        ("D1", 5, 0x8F01, 1), ("D2", 7, 0x8F02, 3)]
    assert [(e.line, e.reason) for e in errors] == [(2, "missing t_ms")]
    r = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist([
        {"device_id": "D1", "alert_code": "0x8F01", "t_ms": 5, "decision": "forwarded",
         "throttled_count": 2, "sequence_id": 9}]), r)
    assert [(x.forwarded, x.throttled_count, x.line) for x in read_dsp_results(r, [])] == [
        (True, 2, 1)]


def test_file_checks_name_file_line_and_problem(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("device_id,t_ms,alert_code\n" + "D1,5,8F01\n" * 10)
    check_alerts_file(p)                                        # a good file passes
    p.write_text(" device_id,t_ms,alert_code\nD1,5,8F01\n")
    with pytest.raises(InputError, match=r"a\.csv:1: CSV header has no device_id or frame "
                                         r"column \(check spaces and case\)"):
        check_alerts_file(p)
    # a bad byte right at a scan-chunk boundary still names its line
    q = tmp_path / "r.jsonl"
    line = b'{"device_id": "D1"}\n'
    q.write_bytes(line * ((row_files._SCAN_CHUNK // len(line)) + 3) + b"\xe2\x82\n")
    n = q.read_bytes().count(b"\n")
    with pytest.raises(InputError, match=rf"r\.jsonl:{n}: byte 0xe2 is not UTF-8"):
        check_results_file(q)
