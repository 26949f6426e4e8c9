"""A real micro:bit (v1, nRF51822) running real MicroPython 1.9.2, emulated by QEMU.

    with QemuMicrobit() as mb:                 # qemu-system-arm -M microbit, UART on a pty
        repl = RawRepl(mb.path)                 # MicroPython's raw REPL, as mpremote speaks it
        out, err = repl.exec("print(1+1)")      # b"2\\r\\n", b""
        repl.write_file("ticks.py", data)       # the micro:bit has one flat directory
        repl.soft_reset()

The firmware is Debian's firmware-microbit-micropython (an Intel HEX image); QEMU's `-kernel`
takes ELF or a raw image loaded at address 0, not HEX, so the HEX is turned into the 256 KiB
flash image first (records outside the flash, e.g. UICR, are dropped). QEMU prints "char device
redirected to /dev/pts/N" on stdout; that pty is the micro:bit's UART.

`launcher_for(spec)` (a `Qemu`) is what the harness's QemuAdapter (hil/board/) starts: copy the
firmware files flat, import them and report what did not fit (MemoryError on a board with ~10 kB of
heap is a finding, reported as such, never a pass). docs/engines.md has the numbers."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
import tty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.uart import UartRelay

FIRMWARE_HEX = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
FLASH_SIZE = 256 * 1024
PTY_RE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"


def await_pty(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The pty QEMU says it redirected the serial port to (`-serial pty`), read from its
    stdout within `timeout` s; MicrobitError with what it printed if it says none (the caller
    stops the child)."""
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                # its stdout closed: it is exiting; let it, so its stderr can be told
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=1)
                break
            seen += chunk
            m = PTY_RE.search(seen)
            if m:
                return m.group(1).decode()
        elif proc.poll() is not None:
            break
    err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None \
        and proc.stderr else ""
    raise MicrobitError(f"QEMU gave no pty (stdout {seen!r}, stderr {err.strip()!r})")


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a QEMU child for good: SIGTERM, then SIGKILL after 5 s; reaped, its pipes closed."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for s in (proc.stdout, proc.stderr):
        if s is not None:
            s.close()

class MicrobitError(RuntimeError):
    """QEMU or the micro:bit did not do what was expected (message says what was seen)."""


class QemuUnavailable(MicrobitError):
    """qemu-system-arm or the firmware package is not installed."""


class RemoteError(MicrobitError):
    """Code run on the micro:bit raised; `traceback` is MicroPython's own text."""

    def __init__(self, traceback: str, stdout: str = "") -> None:
        lines = traceback.strip().splitlines()
        super().__init__(lines[-1] if lines else "error")
        self.traceback = traceback
        self.stdout = stdout

    @property
    def memory_error(self) -> bool:
        return "MemoryError" in self.traceback


def unavailable_reason() -> str | None:
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm not installed (apt: qemu-system-arm)"
    if not FIRMWARE_HEX.is_file():
        return f"{FIRMWARE_HEX} missing (apt: firmware-microbit-micropython)"
    return None


def hex_to_image(text: str, size: int = FLASH_SIZE) -> bytes:
    """Intel HEX -> flash image (0xFF where nothing is programmed). Checksums are verified."""
    img = bytearray(b"\xff" * size)
    base = 0
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith(":"):
            raise ValueError(f"line {n}: not an Intel HEX record")
        rec = bytes.fromhex(line[1:])
        if len(rec) < 5 or len(rec) != rec[0] + 5 or sum(rec) & 0xFF:
            raise ValueError(f"line {n}: bad length or checksum")
        count, addr, kind, data = rec[0], (rec[1] << 8) | rec[2], rec[3], rec[4:4 + rec[0]]
        if kind == 0:
            a = base + addr
            if a + count <= size:
                img[a:a + count] = data
        elif kind == 1:
            break
        elif kind == 2:
            base = int.from_bytes(data, "big") << 4
        elif kind == 4:
            base = int.from_bytes(data, "big") << 16
    return bytes(img)


def firmware_image(hex_path: Path = FIRMWARE_HEX) -> Path:
    """The raw flash image QEMU loads, cached by the HEX file's hash."""
    text = hex_path.read_text()
    tag = hashlib.sha256(text.encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"alertstorm-microbit-{tag}.bin"
    if not out.is_file():
        tmp = out.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(hex_to_image(text))
        tmp.replace(out)
    return out


class QemuMicrobit:
    """qemu-system-arm -M microbit with the MicroPython image; `path` is its UART's pty.

    QEMU's nRF51 UART takes bytes as fast as the emulated CPU drains them, with no notion of a
    baud rate; the firmware's interrupt-fed receive ring then overflows while the VM is busy
    and bytes vanish, which a real micro:bit at 115200 baud does not do. With `baud` (the board
    file's, 115200) the host gets a paced relay's pty instead of QEMU's (emulator/uart.py):
    bytes reach the micro:bit at the rate its real UART would deliver them."""

    def __init__(self, hex_path: Path = FIRMWARE_HEX, boot_timeout: float = 20.0,
                 baud: int = 0) -> None:
        self.hex_path = hex_path
        self.boot_timeout = boot_timeout
        self.baud = baud
        self.proc: subprocess.Popen[bytes] | None = None
        self.path: str | None = None
        self.qemu_path: str | None = None  # QEMU's own pty (path is the relay's when paced)
        self._relay: UartRelay | None = None

    def start(self) -> str:
        why = unavailable_reason()
        if why:
            raise QemuUnavailable(why)
        image = firmware_image(self.hex_path)
        self.proc = subprocess.Popen(
            ["qemu-system-arm", "-M", "microbit", "-kernel", str(image), "-serial", "pty",
             "-display", "none", "-monitor", "none"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.boot_timeout
        try:
            self.path = await_pty(self.proc, self.boot_timeout)
        except MicrobitError:
            self.stop()
            raise
        self.qemu_path = self.path
        if self.baud:
            self._relay = UartRelay(self.qemu_path, self.baud)
            self.path = self._relay.path
        # wait for MicroPython's REPL, so the caller gets a board that answers
        with RawRepl(self.path) as repl:
            repl.wait_prompt(max(1.0, deadline - time.monotonic()))
        return self.path

    def stop(self) -> None:
        if self._relay is not None:
            self._relay.close()
            self._relay = None
        if self.proc is not None:
            end_process(self.proc)
            self.proc = None

    def __enter__(self) -> QemuMicrobit:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RawRepl:
    """MicroPython's raw REPL over a pty: Ctrl-A enters it, code + Ctrl-D runs it, the board
    answers "OK", stdout, Ctrl-D, the traceback (if any), Ctrl-D, ">". MicroPython 1.9.2
    predates raw-paste mode, so code goes in standard raw mode, paced like mpremote does."""

    CHUNK = 32  # bytes written at once, then a short pause (see write)

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.in_raw = False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> RawRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes ----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        # The firmware's UART receive ring is small and filled by an interrupt: while the VM is
        # busy a burst can overflow it and bytes vanish (seen as a SyntaxError). Pace like
        # mpremote does for real boards.
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view[: self.CHUNK])
            view = view[n:]
            if view:
                time.sleep(0.004)

    def read_until(self, ending: bytes, timeout: float) -> bytes:
        """Bytes up to and including `ending`; MicrobitError with what came if it does not."""
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(ending):
            left = deadline - time.monotonic()
            if left <= 0:
                raise MicrobitError(f"timeout waiting for {ending!r}; got {buf[-200:]!r}")
            r, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if r:
                buf += os.read(self.fd, 1)
        return buf

    def drain(self, quiet: float = 0.2) -> bytes:
        buf = b""
        while True:
            r, _, _ = select.select([self.fd], [], [], quiet)
            if not r:
                return buf
            buf += os.read(self.fd, 4096)

    # -- REPL -----------------------------------------------------------------------------
    def wait_prompt(self, timeout: float = 20.0) -> None:
        """Interrupt whatever runs and wait for the friendly prompt (boot takes a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            self.write(b"\r\x03\x02")  # Ctrl-C: stop a program; Ctrl-B: leave the raw REPL
            try:
                self.read_until(b">>> ", 1.0)
                # \r, Ctrl-C and Ctrl-B each give a prompt; under load the later ones come
                # well after the first, and a stale one must not answer the next read
                self.drain(0.3)
                self.in_raw = False
                return
            except MicrobitError:
                if time.monotonic() > deadline:
                    raise MicrobitError("no MicroPython prompt from the micro:bit") from None

    def enter(self) -> None:
        self.write(b"\r\x03\x03")
        self.drain(0.1)
        self.write(b"\r\x01")
        self.read_until(RAW_BANNER, 5.0)
        self.in_raw = True

    def exit(self) -> None:
        self.write(b"\r\x02")
        self.in_raw = False

    def exec(self, code: str | bytes, timeout: float = 20.0) -> tuple[bytes, bytes]:
        """Run code; (stdout, traceback) as the board printed them."""
        if not self.in_raw:
            self.enter()
        data = code.encode() if isinstance(code, str) else code
        self.write(data + b"\x04")
        ok = self.read_until(b"OK", timeout)
        if not ok.endswith(b"OK"):
            raise MicrobitError(f"raw REPL did not accept the code: {ok!r}")
        out = self.read_until(b"\x04", timeout)[:-1]
        err = self.read_until(b"\x04", timeout)[:-1]
        self.read_until(b">", timeout)
        return out, err

    def exec_ok(self, code: str | bytes, timeout: float = 20.0) -> str:
        out, err = self.exec(code, timeout)
        if err:
            raise RemoteError(err.decode(errors="replace"), out.decode(errors="replace"))
        return out.decode(errors="replace")

    def soft_reset(self) -> None:
        """Ctrl-D at the raw prompt: the board reboots its VM (RAM gone, files kept)."""
        if not self.in_raw:
            self.enter()
        self.write(b"\x04")
        self.read_until(b"soft reboot\r\n", 10.0)
        self.in_raw = False
        self.drain(0.3)
        self.enter()

    # -- the flat filesystem -----------------------------------------------------------------
    def write_file(self, name: str, data: bytes, chunk: int = 128) -> None:
        if "/" in name:
            raise ValueError(f"{name}: the micro:bit filesystem is flat (no directories)")
        self.exec_ok(f"f=open({name!r},'wb')\nw=f.write")
        for i in range(0, len(data), chunk):
            self.exec_ok(f"w({data[i:i + chunk]!r})")
        self.exec_ok("f.close()\ndel f,w")
        size = int(self.exec_ok(f"import os\nprint(os.size({name!r}))").strip())
        if size != len(data):
            raise MicrobitError(f"{name}: wrote {len(data)} bytes, the micro:bit has {size}")

    def listdir(self) -> list[str]:
        return list(ast.literal_eval(self.exec_ok("import os\nprint(os.listdir())").strip()))

    def remove(self, name: str) -> None:
        self.exec_ok(f"import os\nos.remove({name!r})")

    def mem(self) -> tuple[int, int]:
        """(free, allocated) bytes of the GC heap after a collection."""
        out = self.exec_ok("import gc\ngc.collect()\nprint(gc.mem_free(), gc.mem_alloc())")
        free, alloc = out.split()
        return int(free), int(alloc)


@dataclass
class ImportReport:
    """What happened importing firmware modules on the micro:bit, with heap figures."""

    fits: bool
    heap_free_before: int
    heap_free_after: int | None
    heap_total: int
    module: str
    error: str = ""
    copied: dict[str, int] = field(default_factory=dict)
    not_copied: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        if self.fits:
            return (f"{self.module}: fits; heap free {self.heap_free_before} -> "
                    f"{self.heap_free_after} of {self.heap_total} bytes")
        return (f"{self.module}: too large for the micro:bit ({self.error}); heap free "
                f"{self.heap_free_before} of {self.heap_total} bytes before import")


def strip_source(src: str) -> str:
    """The same program without comments, docstrings and 4-space indents: what mpy-cross would
    drop anyway. The micro:bit has ~15 kB of file space and ~10 kB of heap, and 1.9.2 cannot
    load .mpy files, so this is the densest form of unchanged code it can import. The result
    parses to the same AST as the original minus its docstrings (tests check that)."""
    tree = ast.parse(src)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            body.pop(0)
            if not body:
                body.append(ast.Pass())
    lines = ast.unparse(tree).splitlines()
    return "\n".join(re.sub(r"^((?:    )+)", lambda m: " " * (len(m.group(1)) // 4), ln)
                     for ln in lines) + "\n"


def flat_files(names: list[str], root: Path | None = None, strip: bool = True) -> dict[str, bytes]:
    """firmware_model modules for a flat filesystem (board.py already falls back to flat
    imports: `import limiter` when `from firmware_model import ...` fails)."""
    base = root or Path(__file__).resolve().parent.parent / "firmware_model"
    out = {}
    for n in names:
        text = (base / n).read_text()
        out[n] = (strip_source(text) if strip else text).encode()
    return out


def copy_files(repl: RawRepl, files: dict[str, bytes]) -> tuple[dict[str, int], dict[str, str]]:
    """Copy what fits; a full filesystem (OSError 28) is reported per file, not raised."""
    copied: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for name, data in files.items():
        try:
            repl.write_file(name, data)
            copied[name] = len(data)
        except RemoteError as e:
            skipped[name] = str(e)
            with contextlib.suppress(MicrobitError):
                repl.exec("try:\n f.close()\nexcept Exception:\n pass\nimport os\n"
                          f"os.remove({name!r})")
    return copied, skipped


def try_import(repl: RawRepl, module: str) -> ImportReport:
    """Soft reset (clean heap), measure, import, measure. MemoryError -> fits=False."""
    repl.soft_reset()
    free, alloc = repl.mem()
    try:
        repl.exec_ok(f"import {module}", timeout=60)
    except RemoteError as e:
        if not e.memory_error:
            raise  # a SyntaxError or ImportError is a fault, never "too large"
        return ImportReport(False, free, None, free + alloc, module,
                            error=e.traceback.strip().splitlines()[-1])
    after, _ = repl.mem()
    return ImportReport(True, free, after, free + alloc, module)


class Qemu:
    """The harness's launcher (hil/board/ calls `launcher_for(spec)`): start() boots the
    micro:bit, deploys the board's firmware files flat and returns the pty path once the board
    runs main; if the firmware does not fit it raises MicrobitError saying so with numbers."""

    def __init__(self, spec: Any = None) -> None:
        self.spec = spec
        self.mb = QemuMicrobit(baud=int(getattr(spec, "baud", 0) or 0))
        self.report: ImportReport | None = None

    def start(self) -> str:
        path = self.mb.start()
        fw = dict(getattr(self.spec, "firmware", {}) or {})
        names = list(fw.get("names", ["ticks.py", "crc.py", "limiter.py"]))
        entry = str(fw.get("entry", "limiter"))
        with RawRepl(path) as repl:
            _, skipped = copy_files(repl, flat_files(names))
            if skipped:
                self.stop()
                raise MicrobitError(f"micro:bit filesystem too small: {skipped}")
            self.report = try_import(repl, entry)
            if not self.report.fits:
                self.stop()
                raise MicrobitError(self.report.summary())
            main = fw.get("main")
            if main:
                repl.write(f"import {main}\r".encode())
            repl.exit()
        return path

    def stop(self) -> None:
        self.mb.stop()


def launcher_for(spec: Any) -> Qemu:
    return Qemu(spec)


def fit_report(modules: tuple[tuple[str, ...], ...] = (
        ("ticks.py",), ("ticks.py", "crc.py", "wire.py"),
        ("ticks.py", "crc.py", "limiter.py"))) -> list[str]:
    """Boot a micro:bit and, for each group of files (the last one is imported), report file
    space and heap: what docs/engines.md quotes. Each group starts from an empty flash."""
    lines = []
    with QemuMicrobit() as mb, RawRepl(mb.path or "") as repl:
        free, alloc = repl.mem()
        lines.append(f"heap after boot: {free} free, {alloc} allocated ({free + alloc} total)")
        for group in modules:
            repl.exec_ok("import os\nfor n in os.listdir():\n os.remove(n)")
            files = flat_files(list(group))
            copied, skipped = copy_files(repl, files)
            sizes = ", ".join(f"{n} {len(b)} B" for n, b in files.items())
            if skipped:
                lines.append(f"{group[-1]}: too large: file space full ({sizes}; {skipped})")
                continue
            rep = try_import(repl, group[-1][:-3])
            lines.append(f"{rep.summary()} [{sizes}]")
    return lines


if __name__ == "__main__":
    import sys as _sys

    why = unavailable_reason()
    if why:
        print(f"qemu_microbit: {why}", file=_sys.stderr)
        _sys.exit(2)
    for line in fit_report():
        print(line)
