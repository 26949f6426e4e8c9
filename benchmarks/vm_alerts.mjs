// The MicroPython engine's compute floor: firmware_model's Board inside the VM, as the engine
// loads it (emulator/mpvm_wasm.mjs), fed one ALERT line per call from JavaScript as the
// engine's main loop does, no pty. Driven by benchmarks/bench_engines.py.
//
//   node benchmarks/vm_alerts.mjs '{"mjs": ..., "files": {...}, "lines": [...], "glue": false}'
//
// Prints one JSON object: {"us_per_alert": x}.
import { readFileSync } from "fs";
import { loadBoardVM } from "../emulator/mpvm_wasm.mjs";

const job = JSON.parse(readFileSync(0, "utf8"));
const board = await loadBoardVM(job.mjs, 256 * 1024, { read: () => 0, write: () => {} },
    { glueTrampolines: job.glue });
const { mp } = board;
for (const [p, text] of Object.entries(job.files)) {
    mp.FS.mkdirTree(p.slice(0, p.lastIndexOf("/")));
    mp.FS.writeFile(p, text);
}
mp.runPython(`
from firmware_model import board
class Clock:
    virtual = True
    def ticks_ms(self):
        return 0
    def wall_s(self):
        return 1767225600
class NoFlash:
    def open(self, *a):
        raise OSError(2)
out = [0]
def write(b):
    out[0] += len(b)
b = board.Board(write, Clock(), NoFlash(), name="bench", role="chub", placement="hub",
                engine="micropython", fw="bench")
def step(s):
    b.feed(s.encode())
`);
const step = mp.globals.get("step");
for (const ln of job.lines.slice(0, 200)) step(ln);  // warm-up (wasm tier-up, caches)
const t0 = performance.now();
for (const ln of job.lines) step(ln);
const us = (performance.now() - t0) * 1000 / job.lines.length;
process.stdout.write(JSON.stringify({ us_per_alert: us }) + "\n");
