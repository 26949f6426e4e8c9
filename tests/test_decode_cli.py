"""`hil decode` end to end through the installed console script: files, stdin, good and bad
frames mixed, wrapped frames, exit status, and never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HIL = str(ROOT / ".venv" / "bin" / "hil")
DATA = ROOT / "tests" / "data" / "rtds-sample"
EXPECTED = [json.loads(line) for line in (DATA / "expected.jsonl").read_text().splitlines()]


def hil_decode(*args: str, stdin: str | None = None) -> tuple[int, list[dict], str]:
    proc = subprocess.run([HIL, "decode", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_rtds_files_decode_to_expected_fields() -> None:
    files = [str(DATA / e["file"]) for e in EXPECTED]
    rc, out, err = hil_decode(*files)
    assert rc == 0 and err == ""
    assert len(out) == len(EXPECTED)
    for obj, exp in zip(out, EXPECTED, strict=True):
        assert obj["source"] == f"{DATA / exp['file']}:1"
        assert {k: obj[k] for k in exp if k != "file"} == {k: v for k, v in exp.items()
                                                           if k != "file"}
    names = {o["alert_code"]: o["alert_name"] for o in out}
    assert names["0x8F30"] == "source does not have authority for command"


def test_deviations_are_printed_and_are_not_failures() -> None:
    """A real form against the rules (a length written 82 00nn) decodes, exit 0, and says
    where it deviates; an exact frame says "deviations": []."""
    gca = (DATA / "GCA-DLMS_NA_8F30_ALERT_GBCS.HEX").read_text().strip()
    assert gca[66:68] == "19"  # the content length at byte 33
    lenient = gca[:66] + "820019" + gca[68:]
    for args in ((), ("--reference",)):
        rc, out, err = hil_decode(*args, stdin=f"{gca}\n{lenient}\n")
        assert rc == 0 and err == ""
        assert out[0]["deviations"] == []
        assert out[1]["deviations"] == ["non-minimal DER length 82 0019 at byte 33"]
        assert {k: v for k, v in out[1].items() if k not in ("source", "deviations")} == {
            k: v for k, v in out[0].items() if k not in ("source", "deviations")}


def test_stdin_mixes_good_and_bad_frames(tmp_path: Path) -> None:
    good = (DATA / "GNCA-ZigBee_NA_810E_ALERT_GBCS.HEX").read_text().strip()
    gca = (DATA / "GCA-DLMS_NA_8F30_ALERT_GBCS.HEX").read_text().strip()
    text = "\n".join([
        "# a comment line",
        good,
        "DF0903",                       # truncated frame
        "",
        "  " + " ".join(good[i:i + 2] for i in range(0, len(good), 2)) + "  ",  # spaced hex
        "XYZ",                          # not hex
        good + "0",                     # odd digit count
        "0x" + gca.lower(),
    ]) + "\n"
    rc, out, _ = hil_decode(stdin=text)
    assert rc == 1
    assert [o["source"] for o in out] == [f"<stdin>:{n}" for n in (2, 3, 5, 6, 7, 8)]
    assert out[0]["alert_code"] == "0x810E" and "error" not in out[0]
    assert out[1]["error"] == "originator_counter needs 8 bytes, only 0 left at byte 3"
    assert out[2]["alert_code"] == "0x810E"
    assert out[3]["error"] == "not hex: 'X' at byte 0"
    assert "half a byte at byte" in out[4]["error"]
    assert out[5]["alert_code"] == "0x8F30" and out[5]["envelope"] == "signed"


def test_dash_and_no_args_read_stdin_and_wrapped_frames_join(tmp_path: Path) -> None:
    good = (DATA / "MIIWA-DLMS_NA_81A0_ALERT_GBCS.HEX").read_text().strip()
    wrapped = "\n".join(good[i:i + 32] for i in range(0, len(good), 32)) + "\n"
    for args in ((), ("-",)):
        rc, out, _ = hil_decode(*args, stdin=wrapped)
        assert rc == 0 and len(out) == 1 and out[0]["alert_code"] == "0x81A0"
    f = tmp_path / "wrapped.hex"
    f.write_text(wrapped)
    rc, out, _ = hil_decode(str(f), "--reference")
    assert rc == 0 and out[0]["source"] == f"{f}:1" and out[0]["message_code"] == "0x00F0"


def test_unreadable_file_is_reported_and_others_still_decode(tmp_path: Path) -> None:
    rc, out, err = hil_decode(str(tmp_path / "missing.hex"), str(DATA / EXPECTED[0]["file"]))
    assert rc == 2 and len(out) == 1 and "cannot read" in err and "missing.hex" in err


def test_help_documents_the_input_and_exit_status() -> None:
    proc = subprocess.run([HIL, "decode", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "JSON" in proc.stdout and "exit status" in proc.stdout


def test_binary_garbage_is_a_per_line_error() -> None:
    proc = subprocess.run([HIL, "decode"], input=b"DD\xff\xfe00\n\x00\x01\n", capture_output=True,
                          timeout=60)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["source"] for o in out] == ["<stdin>:1", "<stdin>:2"]
    assert all("not hex" in o["error"] for o in out)


def test_live_pipe_gets_each_frame_before_eof() -> None:
    good = (DATA / "GNCA-DLMS_NA_810E_ALERT_GBCS.HEX").read_text().strip()
    proc = subprocess.Popen([HIL, "decode"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(good + "\n\n")  # the blank line ends the frame
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # stdin still open: no EOF yet
        assert first["alert_code"] == "0x810E"
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
