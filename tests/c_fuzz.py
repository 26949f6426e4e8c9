"""Fuzzed wire lines for the C port's host build: a deterministic stream of lines that are
mostly well-formed (right CRC) with hostile contents -- every verb with random, missing, huge,
negative and non-numeric arguments, L verbs, config updates with random bytes, noise, control
bytes, over-long lines -- fed straight into the binary's stdin. The firmware must answer every
line and survive: the stream ends with a HELLO whose ACK must come, and the process must exit
cleanly with nothing on stderr (a sanitizer finding aborts it with a report there).
`python -m tests.c_fuzz [N] [SEED]` runs N lines (default 1,000,000) against the ASan + UBSan
build."""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from firmware_model import config_update, wire
from firmware_model.crc import crc16
from firmware_model.limiter import Config

VERBS = ["HELLO", "ALERT", "ADVANCE", "CLOCK", "CONFIG", "STATS", "RESET", "RESEND", "CLEAR",
         "SAVE", "POWERCUT", "LNEW", "LOFFER", "LPOLL", "LPOP", "LLEVEL", "LCONF", "LCLEAR",
         "LSTATS", "LSNAP", "LPUT", "LRESTORE", "LFAULT", "FOO"]
KEYS = ["device_window_ms", "amber_threshold", "red_threshold", "code_window_ms", "code_limit",
        "throttle_mode", "throttle_n", "throttle_period_ms", "never_throttle",
        "summary_interval_ms", "bogus", ""]


def _num(rng: random.Random) -> str:
    return rng.choice([str(rng.randrange(10)), str(rng.randrange(2**31)), str(rng.randrange(2**40)),
                       "-" + str(rng.randrange(100)), "", "x", "0x10", "99999999999",
                       str(rng.randrange(1000, 90000)), "1" * rng.randrange(1, 20)])


def _arg(rng: random.Random, verb: str) -> list[str]:
    if verb == "ALERT":
        return [rng.choice(["8F0C", "8f0c", "8FFE", "0000", "ZZZZ", "8F0", f"{rng.randrange(65536):04X}"]),
                rng.choice(["esme", "gsme", "hub", "mars", ""])][: rng.randrange(3)]
    if verb == "ADVANCE":
        return [rng.choice([str(rng.randrange(5000)), "0", "86400001", "x", str(rng.randrange(200000))])]
    if verb == "RESET":
        return [rng.choice(["soft", "hard", "watchdog", "brownout", "bogus"])]
    if verb == "CONFIG":
        if rng.random() < 0.5:
            cfg = Config()
            cfg.red_threshold = rng.choice([1, 5, 100, 0, 70000])
            key = config_update.TEST_KEY if rng.random() < 0.7 else b"x"
            msg = bytearray(config_update.build(cfg, rng.randrange(1, 50), key))
            if rng.random() < 0.3:
                msg[rng.randrange(len(msg))] ^= 1 << rng.randrange(8)
            return [msg.hex().upper()]
        return [bytes(rng.randrange(256) for _ in range(rng.randrange(120))).hex()]
    if verb in ("LNEW", "LCONF"):
        words = [_num(rng)] if verb == "LNEW" else []
        for _ in range(rng.randrange(5)):
            k = rng.choice(KEYS)
            v = rng.choice([_num(rng), "one_in_n", "one_per_period", "1,2,3", ",", ""])
            words.append(f"{k}={v}" if rng.random() < 0.9 else k)
        return words
    if verb == "LPUT":
        return [rng.choice(["0", "63", "30", _num(rng)]),
                bytes(rng.randrange(256) for _ in range(rng.randrange(80))).hex()][: rng.randrange(3)]
    if verb == "LOFFER":
        return [_num(rng), rng.choice([_num(rng), "36620", "65535", "65536"])][: rng.randrange(3)]
    return [_num(rng) for _ in range(rng.randrange(3))]


def lines(n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        r = rng.random()
        seq = rng.choice([i % wire.SEQ_MOD, i % wire.SEQ_MOD, 0, rng.randrange(2**31)])
        verb = rng.choice(VERBS)
        if verb == "POWERCUT" and rng.random() < 0.9:
            verb = "STATS"  # a few power cuts, not a reboot every other line
        args = " ".join(_arg(rng, verb))
        body = f"!{seq} {verb}" + (f" {args}" if args else "")
        good = body.encode() + b"*%04X" % crc16(body.encode())
        if r < 0.80:
            yield good + b"\n"
        elif r < 0.88:
            b = bytearray(good)
            b[rng.randrange(len(b))] = rng.randrange(256)
            yield bytes(b) + b"\n"
        elif r < 0.93:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(40))) + b"\n"
        elif r < 0.96:
            yield b"!" + b"A" * rng.choice([1023, 1024, 1025, 3000]) + b"\n"
        else:
            yield bytes(rng.randrange(256) for _ in range(rng.randrange(8))) + good + b"\r\n"


def run(binary: Path, n: int, seed: int = 1) -> tuple[int, str]:
    """(exit status, stderr) after n fuzzed lines and a final HELLO."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([str(binary), "--flash", str(Path(tmp) / "flash.bin")],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdin and proc.stdout and proc.stderr
        tail = bytearray()

        def drain() -> None:
            assert proc.stdout
            while data := proc.stdout.read1(65536):
                tail[:] = (tail + data)[-4096:]

        t = threading.Thread(target=drain, daemon=True)
        t.start()
        try:
            batch = bytearray()
            for ln in lines(n, seed):
                batch += ln
                if len(batch) > 65536:
                    proc.stdin.write(batch)
                    batch.clear()
            proc.stdin.write(batch + wire.encode(wire.HOST_MARK, 12345, "HELLO"))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        status = proc.wait(timeout=3600)
        t.join(timeout=10)
        err = proc.stderr.read().decode(errors="replace")
        if b" ACK 12345*" not in tail:
            err += "\n(no ACK to the final HELLO)"
        return status, err


if __name__ == "__main__":
    from tests import c_port

    path = c_port.build("all", san=True)
    if isinstance(path, str):
        sys.exit(f"cannot build: {path}")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    status, err = run(path, n, int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    print(f"{n} fuzzed lines: exit {status}" + (f"\n{err}" if err else ", no finding"))
    sys.exit(1 if status or err else 0)
