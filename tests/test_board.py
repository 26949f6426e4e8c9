"""firmware_model/board.py driven through the cpython engine in-process (no pty): decisions,
summaries, placement, resets and torn flash writes mid-storm, a storm across the ticks wrap,
and the protocol's error handling. tests/test_emulator.py does the same over a real pty."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.boardfile import load
from emulator.clock import VirtualClock
from emulator.engine import create_engine
from emulator.flash import FlashFs
from firmware_model import board as fw_board
from firmware_model import wire

ROOT = Path(__file__).resolve().parent.parent
WRAP = 1 << 30


class Rig:
    """One emulated board and a host that speaks the protocol to it."""

    def __init__(self, tmp: Path, board: str = "emulated-chub", ticks: int = 0,
                 **override: object) -> None:
        spec = load(ROOT / "boards" / f"{board}.toml")
        if override:
            from dataclasses import replace

            spec = replace(spec, **override)  # type: ignore[arg-type]
        self.raw: list[bytes] = []
        self.clock = VirtualClock(ticks)
        self.flash = FlashFs(tmp / "flash")
        self.engine = create_engine("cpython", spec, self.raw.append, self.flash, self.clock)
        self.engine.start()
        self.hseq = 0
        self.lines: list[tuple[int, str, list[str]]] = []
        self._take()

    def _take(self) -> list[tuple[int, str, list[str]]]:
        got = [wire.decode(b, wire.DEVICE_MARK)[:3] for b in self.raw]
        self.raw.clear()
        self.lines += got
        return got

    def send_raw(self, data: bytes) -> list[tuple[int, str, list[str]]]:
        self.engine.feed(data)
        return self._take()

    def cmd(self, verb: str, *args: str) -> list[tuple[int, str, list[str]]]:
        self.hseq += 1
        out = self.send_raw(wire.encode(wire.HOST_MARK, self.hseq, verb, " ".join(args) or None))
        # the reply ends with ACK/NAK for this seq, or with a boot after a reset/power cut
        assert out and (out[-1][1] == "EVENT" or out[-1][1] in ("ACK", "NAK")), out
        return out

    def reply(self, out: list[tuple[int, str, list[str]]]) -> tuple[int, str, list[str]]:
        (r,) = [x for x in out if x[1] in ("ACK", "NAK") and x[2][0] == str(self.hseq)]
        return r

    def ack(self, verb: str, *args: str) -> list[str]:
        r = self.reply(self.cmd(verb, *args))
        assert r[1] == "ACK", r
        return r[2]

    def alert(self, code: int, src: str = "esme") -> dict[str, str]:
        out = self.cmd("ALERT", f"{code:04X}", src)
        assert out[-1][1] == "ACK", out
        return dict(a.split("=", 1) for a in out[-1][2][1:])

    def stats(self) -> dict[str, int]:
        out = self.cmd("STATS")
        (line,) = [x for x in out if x[1] == "STATS"]
        return {k: int(v) for k, v in (a.split("=", 1) for a in line[2])}

    def frames(self) -> list[bytes]:
        return [bytes.fromhex(x[2][1]) for x in self.lines if x[1] == "FRAME"]


def storm(rig: Rig, n: int, code: int = 0x8F0C, src: str = "esme", gap_ms: int = 100,
          dev: str = "hub") -> list[str]:
    decisions = []
    for _ in range(n):
        decisions.append(rig.alert(code, src).get(dev, "-"))
        if gap_ms:
            rig.ack("ADVANCE", str(gap_ms))
    return decisions


def test_boot_line_and_hello(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    assert rig.lines[0][:2] == (0, "EVENT")
    assert rig.lines[0][2][:4] == ["BOOT", "n=1", "cause=power", "restore=none"]
    out = rig.cmd("HELLO")
    hello = dict(a.split("=", 1) for a in out[0][2])
    assert out[0][1] == "HELLO"
    fw_dir = str(Path(fw_board.__file__).parent)
    assert hello["proto"] == "1" and hello["fw"] == wire.firmware_hash(fw_dir)
    assert (hello["board"], hello["role"], hello["limiter"]) == ("emulated-chub", "chub", "hub")
    assert hello["clock"] == "virtual" and hello["boot"] == "1"


def test_healthy_device_is_never_filtered(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    d = storm(rig, 40, gap_ms=60000)
    assert d == ["F"] * 40
    assert len(rig.frames()) == 40
    st = rig.stats()
    assert st["hub.offered"] == 40 and st["hub.suppressed"] == 0


def test_storm_is_thinned_and_every_suppression_is_reported(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    d = storm(rig, 400)
    assert "T" in d and d.count("S") > 200
    st = rig.stats()
    assert st["hub.suppressed"] == d.count("S")
    assert st["hub.forwarded"] == 400 - d.count("S")
    # one frame per forwarded alert, plus summaries (STARTED now; ONGOING/CLOSED later)
    before = len(rig.frames())
    assert before >= 400 - d.count("S") + 1
    rig.ack("ADVANCE", str(3 * 3600 * 1000 // 4))  # well past summary interval and windows
    rig.ack("ADVANCE", str(3 * 3600 * 1000 // 4))
    assert len(rig.frames()) > before  # the summaries arrived while the line was quiet


def test_never_throttle_code_is_never_suppressed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    storm(rig, 150)  # device is red now
    assert storm(rig, 100, code=0x8F3F) == ["F"] * 100


@pytest.mark.parametrize("kind", ["soft", "hard", "watchdog", "brownout"])
def test_reset_mid_storm_restores_the_limiter(tmp_path: Path, kind: str) -> None:
    rig = Rig(tmp_path)
    d1 = storm(rig, 300)
    rig.ack("SAVE")
    out = rig.cmd("RESET", kind)
    assert [x[1] for x in out] == ["ACK", "EVENT"]
    ev = out[-1]
    assert ev[0] == 0 and ev[2][:4] == ["BOOT", "n=2", f"cause={kind}", "restore=ok"]
    st = rig.stats()
    assert st["hub.suppressed"] == d1.count("S") and st["hub.offered"] == 300
    d2 = storm(rig, 50)
    assert "T" not in d2 and "S" in d2  # the episode carried on: no restart of suppression


def test_hard_reset_loses_only_what_was_not_yet_persisted(tmp_path: Path) -> None:
    rig = Rig(tmp_path, persist_ms=3_600_000)
    storm(rig, 200)
    rig.ack("SAVE")
    storm(rig, 50)
    rig.ack("RESET", "hard")
    assert rig.stats()["hub.offered"] == 200


@pytest.mark.parametrize("kind", ["soft", "hard"])
def test_clear_starts_the_limiter_afresh_and_a_reset_cannot_undo_it(tmp_path: Path,
                                                                    kind: str) -> None:
    rig = Rig(tmp_path, persist_ms=1000)
    storm(rig, 300)  # red, an episode open, its snapshot written
    assert "S" in storm(rig, 10)
    assert int(rig.ack("CLEAR")[1].split("=")[1]) > 0  # the empty state, written
    st = rig.stats()
    assert st["hub.offered"] == st["hub.suppressed"] == 0 and st["hub.level"] == 0
    rig.ack("RESET", kind)
    assert rig.stats()["hub.offered"] == 0
    # a fresh device: the same storm is forwarded until it turns red again, and opens a new
    # episode (STARTED) rather than carrying on the old one
    d = storm(rig, 300)
    assert d[:99] == ["F"] * 99 and "T" in d


@pytest.mark.parametrize("cut", [0, 1, 5, 40, 100])
def test_power_cut_tearing_the_snapshot_keeps_the_previous_one(tmp_path: Path, cut: int) -> None:
    rig = Rig(tmp_path, persist_ms=3_600_000)
    d = storm(rig, 200)
    rig.ack("SAVE")
    storm(rig, 20)
    rig.ack("POWERCUT", str(cut))
    out = rig.cmd("SAVE")  # power fails inside this write: no ACK, a brownout boot instead
    assert out[-1][1] == "EVENT", out
    assert out[-1][2][:4] == ["BOOT", "n=2", "cause=brownout", "restore=ok"]
    st = rig.stats()
    assert st["hub.offered"] == 200 and st["hub.suppressed"] == d.count("S")


def test_storm_across_the_ticks_wrap_decides_like_one_without(tmp_path: Path) -> None:
    a = Rig(tmp_path / "a", ticks=0)
    b = Rig(tmp_path / "b", ticks=WRAP - 15_000)  # wraps 150 alerts into the storm
    da, db = storm(a, 400), storm(b, 400)
    assert db == da
    assert b.clock.ticks_ms() < 15_000 + 400 * 100  # it did wrap
    assert a.stats()["hub.suppressed"] == b.stats()["hub.suppressed"] > 0


def test_meter_placement_decides_in_the_meter(tmp_path: Path) -> None:
    rig = Rig(tmp_path, limiter="meter")
    d = storm(rig, 300, dev="esme")
    assert "S" in d
    st = rig.stats()
    assert st["esme.suppressed"] == d.count("S") and st["gsme.offered"] == 0
    assert "hub.offered" not in st


def test_both_placements_hub_sees_only_what_the_meter_forwards(tmp_path: Path) -> None:
    rig = Rig(tmp_path, limiter="both")
    d = storm(rig, 300, dev="esme")
    st = rig.stats()
    assert st["hub.offered"] == 300 - d.count("S")


@pytest.mark.parametrize("name,src", [("emulated-esme", "esme"), ("emulated-gsme", "gsme")])
def test_meter_boards(tmp_path: Path, name: str, src: str) -> None:
    rig = Rig(tmp_path, board=name)
    d = storm(rig, 300, src=src, dev=src)
    assert "S" in d
    out = rig.cmd("ALERT", "8F0C", "hub")
    assert out[-1][1:] == ("NAK", [str(rig.hseq), wire.E_ARG, "source", "hub"])


def test_garbled_partial_and_noisy_lines_resync_and_lose_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    good = wire.encode(wire.HOST_MARK, 50, "ALERT", "8F0C esme")
    bad_crc = good[:-5] + b"0000\n"
    out = rig.send_raw(b"\x00\xffjunk\n")
    assert out[-1][1:] == ("NAK", ["-", wire.E_NOISE, "6"])
    assert rig.send_raw(bad_crc)[-1][1:] == ("NAK", ["-", wire.E_CRC])
    assert rig.send_raw(b"x" * 2000 + b"\n")[-1][1:] == ("NAK", ["-", wire.E_TOOLONG])
    out = rig.send_raw(b"!49 ALE" + good)  # a cut-off line glued to a good one
    assert [x[1] for x in out] == ["NAK", "FRAME", "ACK"]
    assert out[0][2] == ["-", wire.E_NOISE, "7"] and out[-1][2][0] == "50"
    out = rig.send_raw(good[:10])  # half a line: nothing yet ...
    assert out == []
    out = rig.send_raw(good[10:])  # ... the rest: it is the same seq again: not re-executed
    assert out[-1][1] == "ACK" and out[-1][2][:2] == ["50", "dup"]
    seqs = [s for s, _, _ in rig.lines]
    assert seqs == list(range(len(seqs)))  # every device line numbered, none skipped
    assert rig.stats()["hub.offered"] == 1


def test_resend_returns_identical_lines(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.alert(0x8F0C)
    rig.alert(0x8F0C)
    first = rig.lines[1][0]
    n = len(rig.lines)
    rig.raw.clear()
    rig.engine.feed(wire.encode(wire.HOST_MARK, 99, "RESEND", str(first)))
    again = rig.raw[:-1]
    assert [wire.decode(b, wire.DEVICE_MARK)[:3] for b in again] == rig.lines[1:n]
    rig.raw.clear()
    rig.engine.feed(wire.encode(wire.HOST_MARK, 100, "RESEND", "999999"))
    assert wire.decode(rig.raw[-1], wire.DEVICE_MARK)[1:3] == ("NAK", ["100", wire.E_ARG,
                                                                        "seq", "999999", "not",
                                                                        "emitted", "yet"])


@pytest.mark.parametrize("line,code", [
    ("FOO", wire.E_VERB), ("ALERT 8F0C", wire.E_ARG), ("ALERT XYZW esme", wire.E_ARG),
    ("ALERT 8F0C moon", wire.E_ARG), ("ALERT 8FFE hub", wire.E_ARG), ("ADVANCE -5", wire.E_ARG),
    ("ADVANCE 86400001", wire.E_ARG), ("RESET sideways", wire.E_ARG), ("CLOCK x", wire.E_ARG),
])
def test_bad_commands_get_typed_naks(tmp_path: Path, line: str, code: str) -> None:
    rig = Rig(tmp_path)
    verb, *args = line.split(" ")
    out = rig.cmd(verb, *args)
    assert out[-1][1] == "NAK" and out[-1][2][1] == code
    assert rig.ack("HELLO")  # and the board carries on


def test_real_time_clock_refuses_advance(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    from emulator.clock import RealClock

    rig.engine.clock = rig.clock = RealClock(0)
    rig.engine.start()
    out = rig.cmd("ADVANCE", "10")
    assert out[-1][2][1] == wire.E_UNSUPPORTED


def test_config_update_applies_is_authenticated_and_survives_reset(tmp_path: Path) -> None:
    from firmware_model import config_update
    from firmware_model.limiter import Config

    rig = Rig(tmp_path)
    cfg = Config.from_dict({"red_threshold": 20, "amber_threshold": 10, "code_limit": 2})
    msg = config_update.build(cfg, 1, config_update.TEST_KEY)
    assert rig.ack("CONFIG", msg.hex().upper())[1:] == ["applied"]
    d = storm(rig, 40)
    assert d.index("T") < 30  # red at 20 and overloaded after 2 more: the new values rule
    forged = config_update.build(cfg, 2, b"not the device key, 32 bytes!!!!")
    out = rig.cmd("CONFIG", forged.hex())
    assert out[-1][1] == "NAK" and out[-1][2][1] == wire.E_AUTH
    out = rig.cmd("CONFIG", config_update.build(Config(), 1, config_update.TEST_KEY).hex())
    assert out[-1][1] == "NAK" and out[-1][2][1] == wire.E_AUTH  # replayed counter
    bad = Config()
    bad.red_threshold = 0
    out = rig.cmd("CONFIG", config_update.build(bad, 3, config_update.TEST_KEY).hex())
    assert out[-1][1] == "NAK" and out[-1][2][1] == wire.E_CONFIG
    assert rig.cmd("CONFIG", "ABC")[-1][2][1] == wire.E_ARG
    rig.cmd("RESET", "hard")
    rig2 = Rig(tmp_path)  # same flash, power cycle: the applied config is still in force
    d2 = storm(rig2, 40)
    assert d2 == d


def test_suppression_before_a_reset_is_still_reported_after_it(tmp_path: Path) -> None:
    from hil.frames import decode

    rig = Rig(tmp_path)
    before = storm(rig, 300)
    rig.ack("SAVE")
    rig.cmd("RESET", "watchdog")
    after = storm(rig, 100)
    rig.ack("ADVANCE", "86400000")
    rig.ack("ADVANCE", "86400000")
    sums = [d for d in (decode(f) for f in rig.frames()) if d.is_summary]
    closed = [d for d in sums if d.summary_kind == 2]
    assert len(closed) == 1  # one episode, across the reset
    total = before.count("S") + after.count("S")
    assert closed[0].episode_total == total
    assert sum(d.suppressed_count for d in sums) == total  # nothing double-counted or lost


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80),
                          st.sampled_from([b"!1 HELLO*81BB\n", b"!2 ALERT 8F0C esme*",
                                           b"\n", b"!", b"*", b"@0 ACK 1*4839\n"])),
                max_size=30))
def test_any_byte_stream_gets_answers_never_a_crash(chunks: list[bytes]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        rig = Rig(Path(d))
        for c in chunks:
            rig.send_raw(c)
        rig.send_raw(b"\n")
        rig.hseq = 1000  # a seq the noise did not use
        out = rig.cmd("HELLO")  # still in sync afterwards
        assert any(x[1] == "HELLO" for x in out)
        assert all(x[2][1] != wire.E_INTERNAL for x in rig.lines if x[1] == "NAK")
        seqs = [s for s, _, _ in rig.lines]
        assert seqs == list(range(len(seqs)))
