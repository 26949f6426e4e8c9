"""What the C port costs a device (issue 12, Q2): footprint on the micro:bit and instructions
per alert, beside the Python limiter's cost in MicroPython.

    .venv/bin/python -m benchmarks.bench_c_port [--json] [--no-micropython]

- flash and RAM of the micro:bit image (`arm-none-eabi-size`: text, data, bss; flash = text +
  data, static RAM = data + bss), and the limiter's own share compiled for the Cortex-M0;
- the stack's high-water mark under QEMU after a storm through the wire (every ALERT, ADVANCE,
  STATS, SAVE, the `lut` verbs and a soft reset), read from the painted stack through QEMU's
  monitor (emulator/qemu_c.py `stack_used`);
- `sizeof(limiter_t)` for 16 slots;
- instructions per alert on the host build of the limiter (x86-64, gcc -O2), counted by
  valgrind's cachegrind: two runs of benchmarks/c/offer_driver.c that differ only in the number
  of alerts, so start-up and warm-up cancel out. The streams are bench_limiter.py's (healthy,
  storm, overflow = a full table), and both limiters suppress the same number of alerts;
- MicroPython 1.27's cost of the Python limiter on the same streams (bench_limiter.micropython).

Goals (issue 12): firmware <= 32 KB flash, <= 8 KB RAM including the stack, limiter_t <= 1 KB,
<= 500 instructions per alert in a storm. It prints figures and asserts nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_limiter import CFG, SCENARIOS, micropython  # noqa: E402
from emulator import mpvm, qemu_c  # noqa: E402
from firmware_model.limiter import Config, Limiter  # noqa: E402
from hil.board.adapters.qemu import QemuAdapter  # noqa: E402
from hil.board.client import ProtocolClient  # noqa: E402
from hil.board.registry import load_board  # noqa: E402

PORT = ROOT / "ports" / "c"
DRIVER = ROOT / "benchmarks" / "c" / "offer_driver.c"
LIMITER_SRC = [PORT / "src" / n for n in ("limiter.c", "crc.c", "snapshot.c")]
GOALS = {"flash_bytes": 32 * 1024, "ram_bytes": 8 * 1024, "limiter_t_bytes": 1024,
         "storm_instructions_per_alert": 500}
N1, N2 = 2000, 12000


def _size(path: Path) -> dict[str, int]:
    out = subprocess.run(["arm-none-eabi-size", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[1].split()
    return {"text": int(out[0]), "data": int(out[1]), "bss": int(out[2])}


def image_footprint() -> dict[str, Any]:
    """arm-none-eabi-size of the firmware image, and of the limiter alone for the M0."""
    if shutil.which(qemu_c.CC) is None:
        return {"skipped": f"{qemu_c.CC} not installed"}
    try:
        image = qemu_c.build()
    except RuntimeError as e:
        return {"skipped": str(e)[:300]}
    res: dict[str, Any] = _size(image)
    res["flash_bytes"] = res["text"] + res["data"]
    res["static_ram_bytes"] = res["data"] + res["bss"]
    with tempfile.TemporaryDirectory() as d:
        obj = Path(d) / "limiter.o"
        subprocess.run([qemu_c.CC, "-mcpu=cortex-m0", "-mthumb", "-Os", "-std=c99",
                        "-ffunction-sections", "-I", str(PORT / "include"), "-I",
                        str(PORT / "src"), "-c", str(PORT / "src" / "limiter.c"), "-o",
                        str(obj)], check=True)
        res["limiter_o_m0"] = _size(obj)
    return res


def stack_high_water(storm: int = 600) -> dict[str, Any]:
    """Boot the image under QEMU, drive it through a storm and every verb family, read back
    how deep the stack went."""
    why = qemu_c.unavailable_reason()
    if why:
        return {"skipped": why}
    board = load_board("qemu-microbit-c")
    launcher = qemu_c.QemuC(board.spec, ticks_start=(1 << 30) - 1000)
    adapter = QemuAdapter(board.name, lambda: launcher)  # as the registry builds it
    try:
        adapter.open()
        client = ProtocolClient(adapter, step_timeout=10.0)
        client.hello()
        client.command("CLOCK", "1767225600")
        for k in range(storm):
            client.command("ALERT", f"{(0x8F0C, 0x8F0D, 0x8F3F)[k % 3]:04X} "
                                    f"{('esme', 'gsme', 'hub')[k % 3]}")
            client.command("ADVANCE", "3")
        client.command("ADVANCE", "120000")
        client.command("STATS")
        client.command("SAVE")
        client.command("LNEW", "16 red_threshold=2 amber_threshold=1")
        for k in range(40):
            client.command("LOFFER", f"{1000 + k} {0x200 + k}")
        client.command("LSNAP", "2000")
        client.command("RESET", "soft")
        client.drain(0.5)
        client.hello()
        used = launcher.stack_used()
        static = image_footprint()
        out: dict[str, Any] = {"stack_bytes": used, "alerts": storm}
        if "static_ram_bytes" in static:
            out["ram_bytes_with_stack"] = static["static_ram_bytes"] + used
        return out
    except Exception as e:  # a benchmark reports what went wrong and goes on
        return {"error": f"{type(e).__name__}: {e}"[:300]}
    finally:
        adapter.shutdown()


def _ir(exe: Path, case: str, n: int) -> int:
    r = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no",
                        "--cachegrind-out-file=/dev/null", str(exe), case, str(n)],
                       capture_output=True, text=True, check=True)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if m is None:
        raise RuntimeError(f"cachegrind printed no I refs: {r.stderr[-300:]}")
    return int(m.group(1).replace(",", ""))


def python_suppressed(case: str, n: int) -> int:
    """The Python limiter on offer_driver.c's exact stream: the two must agree."""
    codes, step = SCENARIOS[case]
    lim = Limiter(Config.from_dict(CFG), 16)
    t = ((1 << 30) - 1 - (n + 2000) * step) & ((1 << 30) - 1)
    for k in range(2000 + n):
        lim.offer(codes[k % len(codes)], t)
        t = (t + step) & ((1 << 30) - 1)
    return int(lim.stats()["suppressed"])


def instructions_per_alert() -> dict[str, Any]:
    if shutil.which("valgrind") is None or shutil.which("gcc") is None:
        return {"skipped": "valgrind or gcc not installed"}
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        exe = Path(d) / "offer_driver"
        subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I",
                        str(PORT / "include"), "-I", str(PORT / "src"), "-o", str(exe),
                        str(DRIVER), *map(str, LIMITER_SRC)], check=True)
        for case in SCENARIOS:
            line = subprocess.run([str(exe), case, str(N2)], capture_output=True, text=True,
                                  check=True).stdout.split()
            kv = dict(w.split("=") for w in line)
            out["sizeof_limiter_t"] = int(kv["sizeof"])
            per = (_ir(exe, case, N2) - _ir(exe, case, N1)) / (N2 - N1)
            out[case] = {"instructions_per_alert": round(per, 1),
                         "suppressed": int(kv["suppressed"]),
                         "python_suppressed": python_suppressed(case, N2)}
    return out


def main(argv: list[str]) -> int:
    res: dict[str, Any] = {"goals": GOALS, "image": image_footprint(),
                           "stack": stack_high_water(), "cpu": instructions_per_alert()}
    if "--no-micropython" not in argv and mpvm.available():
        res["micropython_1_27"] = micropython()
    if "--json" in argv:
        print(json.dumps(res, indent=1))
        return 0
    print("C port: what a device pays")
    img, st, cpu = res["image"], res["stack"], res["cpu"]
    if "flash_bytes" in img:
        print(f"  micro:bit image: text {img['text']} data {img['data']} bss {img['bss']} -> "
              f"flash {img['flash_bytes']} B (goal <= {GOALS['flash_bytes']}), static RAM "
              f"{img['static_ram_bytes']} B; limiter.o for the M0: text "
              f"{img['limiter_o_m0']['text']} B")
    else:
        print(f"  micro:bit image: {img}")
    if "stack_bytes" in st:
        print(f"  stack high-water after a {st['alerts']}-alert storm under QEMU: "
              f"{st['stack_bytes']} B; RAM with the stack {st.get('ram_bytes_with_stack')} B "
              f"(goal <= {GOALS['ram_bytes']})")
    else:
        print(f"  stack: {st}")
    if "sizeof_limiter_t" in cpu:
        print(f"  sizeof(limiter_t), 16 slots: {cpu['sizeof_limiter_t']} B "
              f"(goal <= {GOALS['limiter_t_bytes']})")
        mp = res.get("micropython_1_27", {})
        for case in SCENARIOS:
            c = cpu[case]
            line = (f"  {case:8}: {c['instructions_per_alert']:7.1f} instructions/alert "
                    f"(x86-64 -O2, cachegrind), suppressed {c['suppressed']} "
                    f"(Python limiter: {c['python_suppressed']})")
            if case in mp:
                line += (f"; MicroPython 1.27: {mp[case]['us_per_alert']:.2f} us/alert = "
                         f"{mp[case]['ratio']:.1f}x a dict increment")
            print(line)
        print(f"  goal: <= {GOALS['storm_instructions_per_alert']} instructions/alert in a storm")
    else:
        print(f"  instructions: {cpu}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
