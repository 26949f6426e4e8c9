"""MicroPython's own test runner against the emulated board, as far as it can be had here.

The outside judge is upstream's tests/run-tests.py in serial-port mode (`-t port:/dev/pts/N`),
unmodified. It cannot be run here: it is not published on any package registry this project
installs from (PyPI's "pyboard" is an unrelated Arduino tool; mpremote ships a transport derived
from tools/pyboard.py but neither run-tests.py nor its test_utils.py nor the tests/ tree), and
the project must not copy it in. So this test does to the board what it does, byte for byte, as
read from its source (tests/run-tests.py, tests/test_utils.py, tools/pyboard.py):

- `pyboard.Pyboard(port, 115200)` opens the port (exclusive, inter-character timeout 1 s) and
  `enter_raw_repl()`: `\\r\\x03`, drain, `\\r\\x01`, until `raw REPL; CTRL-B to exit\\r\\n>`, then
  `\\x04` (soft reset), until `soft reboot\\r\\n`, until `raw REPL; CTRL-B to exit\\r\\n`;
- per test `run_script_on_remote_target`: the script gets `print('START TEST')` in front, the
  board is soft-reset into the raw REPL again (5 s budget), the script goes in by raw-paste
  (`\\x05A\\x01`, `R\\x01`, the 2-byte window, data within the window, `\\x04`, the board's `\\x04`)
  and `follow()` reads stdout up to `\\x04` and stderr up to `\\x04`; non-empty stderr is a
  crash; the output must start with `START TEST\\r\\n`, which is removed;
- "special" feature checks (target_info.py and the like) go without the START TEST line;
- `normalize_newlines` (`\\r\\r\\n`, `\\r\\n` -> `\\n`), then the result: `SKIP\\n` skips, equal to
  CPython's output passes, anything else fails.

"The same VM run directly" is run-tests' webassembly target: `node micropython.mjs test.py`
(the npm package's own command line). Every script below must get the same result both ways,
except where the board's port layer provides what the WebAssembly port lacks (errno numbers:
run-tests skips extmod/vfs_posix*.py on webassembly for this reason)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial
from emu_client import Emu

from emulator import engine_micropython
from emulator.mpvm import MJS

pytestmark = [
    pytest.mark.skipif(not engine_micropython.available(),
                       reason="node or the MicroPython npm package missing (scripts/setup.sh)"),
    pytest.mark.timeout(180),
]

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"


class ExchangeError(Exception):
    pass


class Pyboard:
    """tools/pyboard.py's Pyboard over a serial port: the bytes it sends and what it waits for."""

    def __init__(self, device: str) -> None:
        self.serial = serial.Serial(device, baudrate=115200, inter_byte_timeout=1,
                                    exclusive=True)

    def close(self) -> None:
        self.serial.close()

    def read_until(self, min_num_bytes: int, ending: bytes, timeout: float = 10) -> bytes:
        data = self.serial.read(min_num_bytes)
        timeout_count = 0
        while not data.endswith(ending):
            if self.serial.in_waiting > 0:
                data += self.serial.read(1)
                timeout_count = 0
            else:
                timeout_count += 1
                if timeout_count >= 100 * timeout:
                    break
                time.sleep(0.01)
        return data

    def enter_raw_repl(self, soft_reset: bool = True, timeout_overall: float = 10) -> None:
        self.serial.write(b"\r\x03")
        n = self.serial.in_waiting
        while n > 0:
            self.serial.read(n)
            n = self.serial.in_waiting
        self.serial.write(b"\r\x01")
        if soft_reset:
            if not self.read_until(1, RAW_BANNER + b">", timeout_overall).endswith(
                    RAW_BANNER + b">"):
                raise ExchangeError("could not enter raw repl")
            self.serial.write(b"\x04")
            if not self.read_until(1, b"soft reboot\r\n", timeout_overall).endswith(
                    b"soft reboot\r\n"):
                raise ExchangeError("could not enter raw repl")
        if not self.read_until(1, RAW_BANNER, timeout_overall).endswith(RAW_BANNER):
            raise ExchangeError("could not enter raw repl")

    def raw_paste_write(self, command: bytes) -> None:
        data = self.serial.read(2)
        window = window_remain = data[0] | data[1] << 8
        i = 0
        while i < len(command):
            while window_remain == 0 or self.serial.in_waiting:
                data = self.serial.read(1)
                if data == b"\x01":
                    window_remain += window
                elif data == b"\x04":
                    self.serial.write(b"\x04")
                    return
                else:
                    raise ExchangeError(f"unexpected read during raw paste: {data!r}")
            b = command[i:min(i + window_remain, len(command))]
            self.serial.write(b)
            window_remain -= len(b)
            i += len(b)
        self.serial.write(b"\x04")
        if not self.read_until(1, b"\x04").endswith(b"\x04"):
            raise ExchangeError("could not complete raw paste")

    def exec_(self, command: bytes, timeout: float) -> bytes:
        if not self.read_until(1, b">").endswith(b">"):
            raise ExchangeError("could not enter raw repl")
        self.serial.write(b"\x05A\x01")
        if self.serial.read(2) != b"R\x01":
            raise ExchangeError("the board does not offer raw-paste")
        self.raw_paste_write(command)
        out = self.read_until(1, b"\x04", timeout)
        err = self.read_until(1, b"\x04", timeout)
        if not (out.endswith(b"\x04") and err.endswith(b"\x04")):
            raise ExchangeError("timeout waiting for EOF reception")
        if err[:-1]:
            raise ExchangeError("exception", out[:-1], err[:-1])
        return out[:-1]


def normalize_newlines(data: bytes) -> bytes:
    return data.replace(b"\r\r\n", b"\n").replace(b"\r\n", b"\n")


def on_board(pyb: Pyboard, script: bytes, special: bool = False) -> tuple[bool, bytes]:
    """test_utils.run_script_on_remote_target: (crashed, output)."""
    if not special:
        script = (b"print('START TEST')" if script.startswith(b"#")
                  else b"print('START TEST')\n") + script
    crashed = False
    try:
        pyb.enter_raw_repl(timeout_overall=5)
        out = pyb.exec_(script, timeout=30)
    except ExchangeError as e:
        crashed = True
        out = (e.args[1] + e.args[2] + b"CRASH" if len(e.args) == 3
               else e.args[0].encode() + b"\nCRASH")
    if not special:
        if out.startswith(b"START TEST\r\n"):
            out = out.removeprefix(b"START TEST\r\n")
        else:
            crashed = True
    return crashed, normalize_newlines(out)


def directly(path: Path) -> tuple[bool, bytes]:
    """run-tests' webassembly target: `node micropython.mjs test.py`."""
    # the package runs as a command only under its own (real) path
    r = subprocess.run(["node", str(MJS.resolve()), str(path)], cwd=path.parent, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    out = r.stdout + r.stderr
    return r.returncode != 0, normalize_newlines(out + (b"CRASH" if r.returncode else b""))


def verdict(crashed: bool, out: bytes, expected: bytes) -> str:
    if out == b"SKIP\n":
        return "skip"
    return "pass" if not crashed and out == expected else "fail"


# Tests in run-tests' style: plain scripts whose CPython output is the expected output.
SCRIPTS = {
    "basics_arith.py": "print(2 ** 100, 7 // -2, -7 % 3, divmod(17, 5), 0x7F & 0b1010)\n"
                       "print([i * i for i in range(8) if i % 2], sorted({3: 1, 1: 2}))\n",
    "basics_strings.py": "s = 'alert storm'\nprint(s.upper(), s.split(), '-'.join('abc'))\n"
                         "print('%05d|%-4s|%x' % (42, 'ab', 255), '{:>6}'.format('r'))\n"
                         "print(repr('q\"\\n'), 'x\\ny')\n",
    "exceptions.py": "class E(Exception):\n    pass\n"
                     "def f(n):\n    try:\n        if n:\n            raise E('deep', n)\n"
                     "        return 0\n    finally:\n        print('finally', n)\n"
                     "try:\n    f(3)\nexcept E as e:\n    print('caught', e.args)\n"
                     "try:\n    {}['k']\nexcept KeyError as e:\n    print('KeyError', e.args)\n",
    "generators.py": "def gen(n):\n    for i in range(n):\n        x = yield i\n"
                     "        if x:\n            print('sent', x)\n"
                     "g = gen(4)\nprint(next(g), g.send('a'), list(g))\n"
                     "def counter():\n    c = 0\n    def inc():\n        nonlocal c\n"
                     "        c += 1\n        return c\n    return inc\n"
                     "i = counter()\nprint(i(), i(), i())\n",
    "print_end.py": "import sys\nprint('a', 'b', sep='+', end='|')\nprint()\n"
                    "sys.stdout.write('w1\\nw2\\n')\nprint('\\n'.join(['l1', 'l2']))\n",
    "big_source.py": "# a source of several raw-paste windows\n"
                     + "".join(f"v{i} = {i} * {i}\n" for i in range(150))
                     + "print(sum(v for k, v in globals().items() if k.startswith('v')))\n",
    "asyncio_run.py": "import asyncio\n"
                      "async def tick(name, n):\n    for i in range(n):\n"
                      "        print(name, i)\n        await asyncio.sleep(0.01)\n"
                      "    return name * n\n"
                      "async def main():\n"
                      "    print(await asyncio.gather(tick('a', 2), tick('b', 3)))\n"
                      "asyncio.run(main())\n",
    "skip.py": "import sys\nif sys.implementation.name == 'micropython':\n"
               "    print('SKIP')\n    raise SystemExit\nprint('cpython')\n",
}
# What the board's port layer provides that the WebAssembly port lacks: passes on the board
PORT_SCRIPTS = {
    "errno_numbers.py": "import errno\ntry:\n    open('no_such_file')\nexcept OSError as e:\n"
                        "    print(e.errno, e.errno == errno.ENOENT)\n",
}
# A feature check (special: no START TEST line), like tests/feature_check/target_info.py
TARGET_INFO = ("import sys\nprint(sys.platform, sys.implementation.name, "
               "getattr(sys.implementation, '_build', 'unknown'))\n")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bytes]]:
    d = tmp_path_factory.mktemp("mp_tests")
    out = {}
    for name, text in {**SCRIPTS, **PORT_SCRIPTS}.items():
        p = d / name
        p.write_text(text)
        exp = subprocess.run([sys.executable, "-BS", str(p)], cwd=d, capture_output=True,
                             timeout=30).stdout
        out[name] = (p, normalize_newlines(exp))
    return out


@pytest.fixture(scope="module")
def pyb(tmp_path_factory: pytest.TempPathFactory):
    emu = Emu("mpvm-chub.toml", "--flash", str(tmp_path_factory.mktemp("flash")))
    emu.port.close()
    board = Pyboard(emu.path)
    board.enter_raw_repl()  # get_test_instance()
    yield board
    board.close()
    emu.stop()


def test_target_info_feature_check(pyb: Pyboard, tmp_path: Path) -> None:
    crashed, out = on_board(pyb, TARGET_INFO.encode(), special=True)
    (tmp_path / "target_info.py").write_text(TARGET_INFO)
    assert not crashed and out == directly(tmp_path / "target_info.py")[1]
    assert out == b"webassembly micropython pyscript\n"


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_board_gives_the_result_the_vm_gives_directly(
        pyb: Pyboard, scripts: dict[str, tuple[Path, bytes]], name: str) -> None:
    path, expected = scripts[name]
    board = verdict(*on_board(pyb, path.read_bytes()), expected)
    direct = verdict(*directly(path), expected)
    assert board == direct, (board, direct)
    assert board == ("skip" if name == "skip.py" else "pass")


@pytest.mark.parametrize("name", sorted(PORT_SCRIPTS))
def test_board_port_layer_passes_where_the_webassembly_port_differs(
        pyb: Pyboard, scripts: dict[str, tuple[Path, bytes]], name: str) -> None:
    path, expected = scripts[name]
    assert verdict(*on_board(pyb, path.read_bytes()), expected) == "pass"
    assert verdict(*directly(path), expected) == "fail"  # OSError 44: Emscripten's ENOENT


def test_a_test_that_raises_is_a_crash_with_its_traceback(pyb: Pyboard) -> None:
    crashed, out = on_board(pyb, b"print('partial')\nraise ValueError('x')\n")
    assert crashed and out.startswith(b"partial\nTraceback (most recent call last):\n")
    assert out.endswith(b"ValueError: x\nCRASH")
