"""GBCS security with the project's test PKI (docs/frames.md section 11): `hil keys generate`,
the device's MACs and signatures (firmware_model/security.py behind the emulator's provider)
verified on the host (hil.frames.security), a flipped bit and a forged summary rejected,
`hil decode --keys`, and `hil run --keys` on an emulated comms hub. Every key is made here, in
a temporary directory: none is kept in the repository."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from link_wrap import AdapterWrapper

from emulator.boardfile import load
from emulator.clock import VirtualClock
from emulator.flash import FlashFs
from emulator.keystore import KeyStore, KeyStoreError, generate
from emulator.security import KeyStoreProvider
from firmware_model import wire
from firmware_model.board import Board
from hil.board.adapters import BoardAdapter
from hil.board.registry import load_board
from hil.frames import authenticate, build_alert, build_summary, decode_fast, verify
from hil.harness.options import RunOptions
from hil.harness.results import FAIL, PASS, RunFolder
from hil.harness.runner import run_matrix
from hil.harness.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
HIL = str(ROOT / ".venv" / "bin" / "hil")
DATA = ROOT / "tests" / "data" / "rtds-sample"
CHUB = load(ROOT / "boards" / "emulated-chub.toml")
SUMMARY = dict(summary_time="2026-01-01T00:00:00Z", suppressed_code=0x8F75, suppressed_count=5,
               episode_total=9, first_time="2026-01-01T00:00:00Z",
               last_time="2026-01-01T00:01:00Z", kind=1, originator_counter=7)


def _keys(path: Path) -> KeyStore:
    proc = subprocess.run([HIL, "keys", "generate", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return KeyStore(path)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return _keys(tmp_path_factory.mktemp("keys") / "set")


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """Another set for the same titles: a forger's, right layout and wrong keys."""
    return _keys(tmp_path_factory.mktemp("keys") / "forged")


def _board_frames(crypto: Any) -> tuple[str, list[bytes]]:
    """HELLO and the frames of an in-process comms hub through a storm, a tamper alert and a
    gas alert: signed and MAC'd, DLMS and GBZ, alerts and summaries."""
    out: list[bytes] = []
    with tempfile.TemporaryDirectory() as d:
        b = Board(lambda x: out.append(bytes(x)), VirtualClock(0), FlashFs(d), role="chub",
                  placement="hub", titles=CHUB.titles, crypto=crypto)
        b.boot()
        for i, (code, src) in enumerate([(0x8F75, "esme")] * 200 + [(0x8F3F, "gsme"),
                                         (0x8F1D, "hub"), (0x8F35, "gsme")]):
            b.clock.advance(300 if i < 200 else 70_000)
            b.alert(code, src)
            b.housekeeping()
        hello = b.hello()
    frames = []
    for raw in out:
        _, verb, args, _ = wire.decode(raw.rstrip(b"\n"), wire.DEVICE_MARK)
        if verb == "FRAME":
            frames.append(bytes.fromhex(args[1]))
    return hello, frames


def test_generate_makes_both_key_pairs_per_title_and_never_overwrites(tmp_path: Path,
                                                                      keys: KeyStore) -> None:
    for dev, title in CHUB.titles.items():
        for use in ("ds", "ka"):
            assert keys.private_key(title, use) is not None, (dev, use)
            assert keys.public_key(title, use) is not None
    assert "emulated-chub dcc" in keys.owners["90B3D51F30010000"]
    generate(tmp_path / "k", {CHUB.titles["hub"]: ["x"]})
    with pytest.raises(KeyStoreError, match="already there"):
        generate(tmp_path / "k", {CHUB.titles["hub"]: ["x"]})
    proc = subprocess.run([HIL, "keys", "generate", str(tmp_path / "k")], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "already there" in proc.stderr


def test_board_frames_verify_with_the_generated_keys(keys: KeyStore) -> None:
    hello, frames = _board_frames(KeyStoreProvider(keys, CHUB.titles))
    assert "auth=cryptography" in hello
    kinds = {(f[0], decode_fast(f).is_summary, decode_fast(f).encoding) for f in frames}
    assert {(0xDD, True, "dlms"), (0xDD, False, "dlms"), (0xDF, False, "gbz"),
            (0xDF, False, "dlms")} <= kinds
    for f in frames:
        auth = verify(f, keys)
        assert auth.valid is True, f.hex()
        assert auth.kind == ("mac" if f[0] == 0xDD else "signature")


def test_device_and_host_make_the_same_mac(keys: KeyStore) -> None:
    """Two implementations of what the MAC covers: the device's seal and the host's
    authenticate agree byte for byte (a MAC has no randomness; a signature has)."""
    _, sealed = _board_frames(KeyStoreProvider(keys, CHUB.titles))
    _, plain = _board_frames(None)
    assert len(sealed) == len(plain)
    for s, p in zip(sealed, plain, strict=True):
        if s[0] == 0xDD:
            assert authenticate(p, keys) == s
        else:
            assert s[:-64] == p[:-64] and verify(authenticate(p, keys), keys).valid


def test_board_without_a_provider_says_so_and_is_never_valid(keys: KeyStore) -> None:
    hello, frames = _board_frames(None)
    assert hello.endswith("auth=none")
    assert all(verify(f, keys).valid is False for f in frames)


def test_one_flipped_bit_fails_verification(keys: KeyStore) -> None:
    _, frames = _board_frames(KeyStoreProvider(keys, CHUB.titles))
    for f in (frames[0], next(f for f in frames if f[0] == 0xDF)):
        for byte in range(len(f)):
            for bit in (0, 7):
                g = bytearray(f)
                g[byte] ^= 1 << bit
                try:
                    auth = verify(bytes(g), keys)
                except Exception as e:  # noqa: BLE001 - only FrameError may escape
                    assert type(e).__name__ == "FrameError", e
                    continue
                # a flip in a title names a party the set has no key for: null, never true
                assert auth.valid is not True, (byte, bit)


def test_forged_summary_is_reported_invalid(keys: KeyStore, other_keys: KeyStore) -> None:
    """A summary with the real layout, MAC'd with keys that are not the device's, tells the
    Service User nothing it can trust: invalid."""
    real = authenticate(build_summary(**SUMMARY), keys)
    forged = authenticate(build_summary(**{**SUMMARY, "suppressed_count": 0}), other_keys)
    assert decode_fast(forged).is_summary and len(forged) == len(real) == 128
    assert verify(real, keys).valid is True
    assert verify(forged, keys).valid is False
    signed = authenticate(build_alert(0x8F3F, "2026-01-01T00:00:00Z"), other_keys)
    assert verify(signed, keys).valid is False


def test_decode_keys_on_built_frames(tmp_path: Path, keys: KeyStore,
                                     other_keys: KeyStore) -> None:
    frames = [authenticate(build_summary(**SUMMARY), keys),
              authenticate(build_alert(0x8F3F, "2026-01-01T00:00:00Z"), keys),
              authenticate(build_alert(0x8F35, "2026-01-01T00:00:00Z", encoding="gbz",
                                       originator_title="00DB1234567890A2"), keys),
              authenticate(build_summary(**SUMMARY), other_keys),
              build_alert(0x8F75, "2026-01-01T00:00:00Z", originator_title="0102030405060708")]
    text = "\n".join(f.hex().upper() for f in frames) + "\n"
    proc = subprocess.run([HIL, "decode", "--keys", str(keys.path)], input=text,
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["auth"] for o in out] == [
        {"kind": "mac", "valid": True}, {"kind": "signature", "valid": True},
        {"kind": "signature", "valid": True}, {"kind": "mac", "valid": False},
        {"kind": "signature", "valid": None}]  # no key for that originator
    plain = subprocess.run([HIL, "decode"], input=text, capture_output=True, text=True,
                           timeout=60, cwd=ROOT)
    assert [json.loads(line) for line in plain.stdout.splitlines()] == [
        {k: v for k, v in o.items() if k != "auth"} for o in out]
    bad = subprocess.run([HIL, "decode", "--keys", str(tmp_path)], input=text,
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode == 2 and "not a key set" in bad.stderr


def test_rtds_samples_still_decode_with_keys(keys: KeyStore) -> None:
    """The real samples were MAC'd and signed with keys the project does not hold: they decode
    as before, and their auth says no key (null) for their parties."""
    files = sorted(DATA.glob("*.HEX"))
    proc = subprocess.run([HIL, "decode", "--keys", str(keys.path), *map(str, files)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(files) and all("error" not in o for o in out)
    assert {o["auth"]["valid"] for o in out} <= {None, False}


class FlipLastBit(AdapterWrapper):
    """The link delivers the Nth frame with the last bit of its MAC or signature flipped, under
    a valid line CRC: what a forger on the WAN would send."""

    def read_line(self, timeout: float) -> bytes | None:
        line = self.inner.read_line(timeout)
        if line is not None and b" FRAME " in line:
            self.__dict__["n"] = self.__dict__.get("n", 0) + 1
            if self.n == 3:
                seq, verb, args, _ = wire.decode(line, wire.DEVICE_MARK)
                f = bytearray(bytes.fromhex(args[1]))
                f[-1] ^= 1
                line = wire.encode(wire.DEVICE_MARK, seq, verb,
                                   f"{args[0]} {f.hex().upper()}").rstrip(b"\n")
        return line


@pytest.mark.timeout(120)
def test_emulated_chub_run_with_keys(tmp_path: Path, keys: KeyStore) -> None:
    """hil run --keys: the emulated hub gets the keys, every frame it sends verifies; a frame
    that fails verification fails its scenario."""
    board, scen = load_board("emulated-chub"), [SCENARIOS["tamper_burst"]]

    def run(name: str, **opts: Any) -> Any:
        folder = RunFolder(tmp_path / name)
        folder.path.mkdir(parents=True)
        return run_matrix([board], scen, folder, RunOptions(keys=str(keys.path), **opts))[0]

    good = run("good")
    assert good.verdict == PASS, good.reasons
    assert good.metrics["frames_auth_valid"] == good.metrics["wan_frames"] > 0
    assert good.metrics["frames_auth_invalid"] == 0

    def flip(a: BoardAdapter, board: str, scenario: str) -> Any:
        return FlipLastBit(a)

    bad = run("bad", adapter_wrapper=flip)
    assert bad.verdict == FAIL
    assert bad.metrics["frames_auth_invalid"] == 1
    assert any("fail verification" in r for r in bad.reasons)
