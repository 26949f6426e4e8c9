"""`hil conformance --board`: the limiter vectors over the wire and the wire transcripts pass on
the emulated comms hub (CPython and MicroPython 1.27), the micro:bit under QEMU says what it
cannot hold, a deliberately broken board fails naming the vector and the event or step, and a
malformed vector file is bad input (exit 2) naming the file and the field."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from link_wrap import AdapterWrapper

from emulator import mpvm
from emulator.qemu_microbit import unavailable_reason
from firmware_model import wire
from hil.board.adapters import BoardAdapter
from hil.board.registry import BoardDef, load_board
from hil.cli import main
from hil.conformance import FAIL, PASS, ConformanceSession, load_suite, load_vector
from hil.conformance.transcripts import match_device, parse_pattern, render_host
from hil.conformance.vectors import SUITE_DIRS
from hil.paths import ROOT

pytestmark = pytest.mark.timeout(240)

VECTORS = ROOT / "vectors"


def _conformance(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    rc = main(["conformance", *args])
    out, err = capsys.readouterr()
    return rc, out.strip().splitlines(), err


def _subset(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "vectors"
    d.mkdir()
    for n in names:
        shutil.copy(VECTORS / f"{n}.json", d / f"{Path(n).name}.json")
    return d


def _counts(lines: list[str]) -> tuple[int, int]:
    n, m = lines[-1].removesuffix(" vectors pass").split("/")
    return int(n), int(m)


# -- real boards of the checkout ---------------------------------------------------------------

def test_emulated_chub_passes_every_applicable_vector(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    junit = tmp_path / "c.xml"
    rc, lines, err = _conformance(capsys, "--board", "emulated-chub", "--junit", str(junit))
    n, m = _counts(lines)
    assert rc == 0 and n == m, "\n".join(lines) + err
    every = len(load_suite(VECTORS, SUITE_DIRS))
    assert m >= every - 1  # only the real-clock transcript does not apply to a virtual clock
    assert any(ln.startswith("n/a   wire/advance_real_clock: needs clock=real") for ln in lines)
    suites = ET.parse(junit).getroot()
    assert {s.get("name") for s in suites} == {"emulated-chub.limiter", "emulated-chub.wire"}
    assert sum(int(s.get("tests", 0)) for s in suites) == every
    assert sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites) == 0
    assert sum(int(s.get("skipped", 0)) for s in suites) == every - m


@pytest.mark.slow  # about 40 s: every transcript boots a MicroPython VM
@pytest.mark.skipif(not mpvm.available(), reason="node/MicroPython npm package missing")
def test_mpvm_chub_passes_every_applicable_vector(capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, err = _conformance(capsys, "--board", "mpvm-chub")
    n, m = _counts(lines)
    assert rc == 0 and n == m, "\n".join(lines) + err
    # the MicroPython engine has no power-cut injection: honestly not applicable
    assert any("wire/powercut" in ln and "E_UNSUPPORTED" in ln for ln in lines if
               ln.startswith("n/a"))
    assert m >= len(load_suite(VECTORS, SUITE_DIRS)) - 2


def test_real_clock_board_refuses_advance(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    d = _subset(tmp_path, "wire/advance_real_clock", "wire/advance", "wire/verbs")
    rc, lines, _ = _conformance(capsys, "--board", "emulated-chub-realtime", "--vectors", str(d))
    assert rc == 0 and lines[-1] == "2/2 vectors pass", lines
    assert any("wire/advance: needs clock=virtual" in ln for ln in lines)


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_qemu_microbit_says_what_it_cannot_hold(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    d = _subset(tmp_path, "limiter/hand_one_per_period", "wire/hello")
    rc, lines, _ = _conformance(capsys, "--board", "qemu-microbit", "--vectors", str(d))
    assert lines[-1] == "0/0 vectors pass" and rc == 1, lines  # nothing applicable: not a pass
    na = [ln for ln in lines if ln.startswith("n/a")]
    assert len(na) == 1 and "qemu-microbit cannot hold the firmware" in na[0], lines
    assert "limiter/hand_one_per_period" in na[0] and "wire/hello" in na[0]


# -- deliberately broken boards ----------------------------------------------------------------

class FlipDecision(AdapterWrapper):
    """A board whose limiter forwards where it should suppress, once: the `nth` LOFFER answer
    d=0 becomes d=1 (with a correct CRC, so only the decision is wrong)."""

    def __init__(self, inner: BoardAdapter, nth: int) -> None:
        super().__init__(inner, nth=nth, seen=0)

    def read_line(self, timeout: float) -> bytes | None:
        line = self.inner.read_line(timeout)
        if line is not None and b" ACK " in line and line.split(b"*")[0].endswith(b" d=0"):
            self.seen += 1
            if self.seen == self.nth:
                seq, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
                line = wire.encode(wire.DEVICE_MARK, seq, verb,
                                   " ".join(args[:-1] + ["d=1"])).rstrip(b"\n")
        return line


class ExecutesRepeats(AdapterWrapper):
    """A board that executes a repeated seq again instead of answering `dup`: a line whose seq
    is the previous line's goes in under a fresh seq, and the answers are given the seq back."""

    FRESH = 900_000

    def __init__(self, inner: BoardAdapter) -> None:
        super().__init__(inner, last=None, renamed={})

    def write(self, data: bytes) -> None:
        try:
            seq, verb, args, _ = wire.decode(data, wire.HOST_MARK)
        except wire.WireError:
            return self.inner.write(data)
        if seq == self.last:
            fresh = self.FRESH + len(self.renamed)
            self.renamed[fresh] = seq
            data = wire.encode(wire.HOST_MARK, fresh, verb, " ".join(args) or None)
        self.last = seq
        self.inner.write(data)

    def read_line(self, timeout: float) -> bytes | None:
        line = self.inner.read_line(timeout)
        if line is not None and self.renamed:
            seq, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
            if verb in ("ACK", "NAK") and args and args[0].isdigit() \
                    and int(args[0]) in self.renamed:
                args[0] = str(self.renamed[int(args[0])])
                line = wire.encode(wire.DEVICE_MARK, seq, verb, " ".join(args)).rstrip(b"\n")
        return line


def _wrapped(monkeypatch: pytest.MonkeyPatch, wrap: Any) -> None:
    # the CLI builds its adapters through BoardDef.make_adapter: hand it the broken board
    make = BoardDef.make_adapter
    monkeypatch.setattr(BoardDef, "make_adapter",
                        lambda self, ticks_start=None: wrap(make(self, ticks_start)))


def test_a_flipped_decision_fails_naming_the_vector_and_the_event(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    d = _subset(tmp_path, "limiter/hand_one_per_period", "limiter/hand_healthy_never_filtered")
    _wrapped(monkeypatch, lambda a: FlipDecision(a, nth=2))
    rc, lines, _ = _conformance(capsys, "--board", "emulated-chub", "--vectors", str(d))
    assert rc == 1 and lines[-1] == "1/2 vectors pass", lines
    events = json.loads((d / "hand_one_per_period.json").read_text())["events"]
    suppressed = [i for i, ev in enumerate(events) if ev[0] == "offer"]
    fails = [ln for ln in lines if ln.startswith("FAIL")]
    assert len(fails) == 1
    msg = fails[0]
    assert msg.startswith("FAIL  limiter/hand_one_per_period: event ")
    i = int(msg.split("event ")[1].split(" ")[0])
    assert i in suppressed and json.dumps(events[i]) in msg
    assert "expected decision 0 (SUPPRESS), got decision 1 (FORWARD)" in msg


def test_a_repeated_seq_answered_twice_fails_naming_the_step(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    d = _subset(tmp_path, "wire/exactly_once", "wire/hello")
    _wrapped(monkeypatch, ExecutesRepeats)
    rc, lines, _ = _conformance(capsys, "--board", "emulated-chub", "--vectors", str(d))
    assert rc == 1 and lines[-1] == "1/2 vectors pass", lines
    fails = [ln for ln in lines if ln.startswith("FAIL")]
    assert len(fails) == 1 and fails[0].startswith("FAIL  wire/exactly_once: step 1 "), lines
    assert " dup first=" in fails[0] and "got '@" in fails[0] and " HELLO proto=1" in fails[0]


def test_an_optional_verb_answered_unsupported_is_not_applicable_never_passed(
        tmp_path: Path) -> None:
    class NoLut(AdapterWrapper):
        # a board built without firmware_model/lut.py, as far as the host can tell
        def read_line(self, timeout: float) -> bytes | None:
            line = self.inner.read_line(timeout)
            if line is not None and b" HELLO " in line:
                seq, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
                args = [a for a in args if not a.startswith("caps=")] + ["caps=none"]
                line = wire.encode(wire.DEVICE_MARK, seq, verb, " ".join(args)).rstrip(b"\n")
            return line

    d = _subset(tmp_path, "limiter/gen_clear", "wire/lut", "wire/hello")
    out = ConformanceSession(load_board("emulated-chub"), wrapper=NoLut).run(load_suite(d))
    status = {o.name: (o.status, o.message) for o in out}
    assert status["wire/hello"][0] == PASS
    assert status["limiter/gen_clear"] == ("n/a", "the board has no limiter-under-test verbs "
                                                  "(HELLO caps=none)")
    assert status["wire/lut"] == ("n/a", "needs caps lut (HELLO caps=none)")


def test_a_silent_board_errs_and_is_given_up_after_three(tmp_path: Path) -> None:
    class Silent(AdapterWrapper):
        def read_line(self, timeout: float) -> bytes | None:
            self.inner.read_line(min(timeout, 0.05))
            return None

    d = _subset(tmp_path, "limiter/gen_clear", "limiter/gen_bad_codes", "wire/hello",
                "wire/noise")
    out = ConformanceSession(load_board("emulated-chub"), wrapper=Silent,
                             step_timeout=0.2).run(load_suite(d))
    assert [o.status for o in out] == ["error"] * 4
    assert "no hello" in out[0].message and out[2].message.startswith("no hello")
    assert out[3].message.startswith("board unhealthy (3 errors in a row")
    assert out[3].wall_s < 0.1  # not tried


# -- bad input ---------------------------------------------------------------------------------

def _limiter(**over: Any) -> dict[str, Any]:
    v = json.loads((VECTORS / "limiter" / "hand_one_per_period.json").read_text())
    v.update(over)
    return v


BAD: list[tuple[str, Any, str]] = [
    ("not_json.json", "{\"events\": [", "not JSON"),
    ("neither.json", {"name": "x"}, "steps: missing"),
    ("bad_event.json", _limiter(events=[["offer", "soon", 3]]), "events[0][1]: 'soon' is not int"),
    ("bad_time.json", _limiter(events=[["poll", 1 << 30]]), "events[0][1]: time 1073741824"),
    ("short.json", _limiter(events=[["offer", 1, 2]], expect={"decisions": [1, 1]}),
     "expect.decisions: 1 more values than events"),
    ("bad_stats.json", _limiter(expect={"stats": 3}), "expect.stats: not an object"),
    ("bad_step.json", {"steps": [{"send": "!{h+1} HELLO*{crc}", "expect": ["@{seq} ACK {q}"]}]},
     "steps[0].expect[0]: {q} names 'q'"),
    ("bad_key.json", {"steps": [{"sned": "!1 HELLO*{crc}"}]}, "steps[0].sned: unknown key"),
    ("bad_na.json", {"steps": [{"send": "x", "na_if": ["E_NOPE"]}]}, "steps[0].na_if"),
]


@pytest.mark.parametrize("name,content,field", BAD, ids=[b[0] for b in BAD])
def test_a_malformed_vector_file_is_bad_input_naming_file_and_field(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: Any,
        field: str) -> None:
    d = tmp_path / "vectors"
    d.mkdir()
    shutil.copy(VECTORS / "wire" / "hello.json", d / "good.json")
    (d / name).write_text(content if isinstance(content, str) else json.dumps(content))
    rc, lines, err = _conformance(capsys, "--board", "emulated-chub", "--vectors", str(d))
    assert rc == 2 and not lines, lines  # nothing ran
    assert err.startswith("hil conformance: error: ") and str(d / name) in err
    assert field in err, err


def test_unknown_or_absent_board_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _conformance(capsys, "--board", "no-such-board")
    assert rc == 2 and "no-such-board" in err
    rc, lines, err = _conformance(capsys, "--board", "pico")  # no Pico on this machine
    assert rc == 2 and not lines and err.startswith("hil conformance: error: pico: ")


# -- the checkout's vectors and the transcript language ----------------------------------------

def test_every_checkout_vector_loads_and_the_wire_set_covers_the_protocol() -> None:
    vs = load_suite(VECTORS, SUITE_DIRS)
    wire_text = " ".join(json.dumps(v.data) for v in vs if v.kind == "wire")
    for code in (wire.E_NOISE, wire.E_FORMAT, wire.E_CRC, wire.E_TOOLONG, wire.E_VERB,
                 wire.E_ARG, wire.E_AUTH, wire.E_CONFIG, wire.E_UNSUPPORTED, wire.E_GONE,
                 wire.E_INTERNAL):
        assert code in wire_text, code
    for verb in ("HELLO", "ALERT", "ADVANCE", "CLOCK", "CONFIG", "STATS", "RESET", "RESEND",
                 "CLEAR", "SAVE", "POWERCUT", "LNEW", "LOFFER", "LPOLL", "LPOP", "LLEVEL",
                 "LCONF", "LCLEAR", "LSTATS", "LSNAP", "LPUT", "LRESTORE", "LFAULT"):
        assert f" {verb}" in wire_text, verb
    for kind in ("soft", "hard", "watchdog", "brownout"):
        assert f"cause={kind}" in wire_text


def test_the_config_messages_of_the_transcript_are_what_their_description_says() -> None:
    from firmware_model import config_update as cu
    from firmware_model.limiter import Config

    text = (VECTORS / "wire" / "config_update.json").read_text()
    key = cu.TEST_KEY
    red90 = Config()
    red90.red_threshold = 90
    dw999 = Config()
    dw999.device_window_ms = 999
    bad_mac = bytearray(cu.build(Config(), 2, key))
    bad_mac[-1] ^= 1
    for msg in (cu.build(Config(), 1, key), cu.build(red90, 1, key), bytes(bad_mac),
                cu.build(dw999, 2, key)):
        assert msg.hex().upper() in text


def test_host_placeholders() -> None:
    env = {"h": 7, "max": 40}
    line = render_host(parse_pattern("!{h+1} PAD {pad:max}*{crc}", device=False), env)
    assert len(line) == 40 and line.startswith(b"!8 PAD AAA")
    assert wire.decode(line, wire.HOST_MARK)[:2] == (8, "PAD")
    bad = render_host(parse_pattern("xx!{h} HELLO*{badcrc}", device=False), env)
    with pytest.raises(wire.WireError) as e:
        wire.decode(bad, wire.HOST_MARK)
    assert e.value.code == wire.E_CRC


def test_device_placeholders() -> None:
    segs = parse_pattern("@{seq} ACK {h+1} t={int:t}{...}*{crc}", device=True)
    good = wire.encode(wire.DEVICE_MARK, 5, "ACK", "8 t=100 hub=F").rstrip(b"\n").decode()
    assert match_device(segs, good, {"h": 7}, 5) == {"t": 100}
    assert match_device(segs, good, {"h": 7}, 6) is None  # not the next seq
    assert match_device(segs, good[:-1] + "0", {"h": 7}, 5) is None  # wrong CRC
    with pytest.raises(ValueError, match="must follow"):
        parse_pattern("@{seq} ACK {crc}", device=True)


def test_a_vector_kind_without_a_wire_form_is_not_applicable(tmp_path: Path) -> None:
    p = tmp_path / "future.json"
    p.write_text(json.dumps(_limiter(events=[["teleport", 5]], expect={})))
    v = load_vector(p)
    out = ConformanceSession(load_board("emulated-chub")).run([v])
    assert out[0].status == "n/a" and "'teleport' has no wire form" in out[0].message
    assert out[0].status != FAIL
