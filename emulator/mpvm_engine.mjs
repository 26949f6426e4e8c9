// The micropython engine's board: real MicroPython 1.27 (the WebAssembly build from npm) kept
// alive in this node process, its console bridged to the emulator's pty by
// emulator/engine_micropython.py. Two threads, as on a microcontroller:
//
//   this thread (the UART)  takes what the host sends, puts it in the receive ring
//                           (emulator/mpvm_uart.mjs) and, like a UART interrupt handler, turns
//                           the interrupt character into a KeyboardInterrupt in the running VM
//                           while a program runs (busy loops included);
//   the CPU (a worker)      runs the port: emulator/mpvm_port.mjs. Its console output goes
//                           straight to stdout as the VM writes it.
//
// When the ring is full the bytes wait here (and node stops reading its stdin): the host is
// held back as by a flow-controlled serial line, nothing is lost.
//
// The serial line: with `uartFd` (an unpaced line) the pty itself, read here and written by the
// CPU; else through the Python side (emulator/engine_micropython.py), which paces it.
// Channel to the Python side. stdin: frames of [type:1][len:4 BE][payload]; types
//   "D" bytes the host wrote to the pty, "Q" quit (others are ignored).
// stdout: exactly the bytes the board sends to the pty (written by the CPU), unless uartFd.
// stderr: diagnostics, and "READY <boots>" once the board has booted.
// The one argument is a JSON job:
//   {mjs, flash, ticks, virtual, wall, heap, portPy, machinePy, uartFd}.
import tty from "tty";
import { Worker } from "worker_threads";
import { Ring } from "./mpvm_uart.mjs";

const job = JSON.parse(process.argv[2]);
const rx = new Ring();
let vm = null;          // the current VM's {memory, intr: {intrAddr, writes}}
let held = [];          // received bytes waiting for room in the ring
let draining = false;

const cpu = new Worker(new URL("./mpvm_port.mjs", import.meta.url),
    { workerData: { job, sab: rx.sab }, stdout: false, stderr: false });
cpu.on("message", (m) => {
    if (m.memory) vm = m;
    if (m.ready) process.stderr.write(`READY ${m.ready}\n`);
});
cpu.on("error", (e) => {
    process.stderr.write(`engine error: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
});
cpu.on("exit", (code) => process.exit(code));

// The UART interrupt: mp_interrupt_char is set while a program runs (and -1 otherwise, when
// Ctrl-C is an ordinary byte the REPL reads).
function interruptChar() {
    if (!vm || !vm.intr) return -1;
    return new Int32Array(vm.memory.buffer)[vm.intr.intrAddr >> 2];
}
function raiseInterrupt() {
    const u8 = new Uint8Array(vm.memory.buffer);
    for (const [a, v] of vm.intr.writes) Atomics.store(u8, a, v);
    rx.wake();
}

function receive(bytes) {
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] === interruptChar()) {
            if (i > start) held.push(bytes.subarray(start, i));
            raiseInterrupt();
            start = i + 1;
        }
    }
    if (start < bytes.length) held.push(bytes.subarray(start));
    feedRing();
}

function feedRing() {
    while (held.length) {
        const n = rx.put(held[0]);
        if (n === held[0].length) held.shift();
        else { held[0] = held[0].subarray(n); break; }
    }
    if (held.length && !draining) {
        draining = true;
        line.pause();
        rx.drained().then(() => { draining = false; feedRing(); });
    } else if (!held.length) {
        line.resume();
    }
}

// the host's bytes: straight from the pty, or framed from the Python side
const line = job.uartFd != null ? new tty.ReadStream(job.uartFd) : process.stdin;
if (job.uartFd != null) line.on("data", receive);

let inbuf = Buffer.alloc(0);
process.stdin.on("data", (chunk) => {
    inbuf = inbuf.length ? Buffer.concat([inbuf, chunk]) : chunk;
    while (inbuf.length >= 5) {
        const n = inbuf.readUInt32BE(1);
        if (inbuf.length < 5 + n) break;
        const type = inbuf[0];
        const payload = inbuf.subarray(5, 5 + n);
        inbuf = inbuf.subarray(5 + n);
        if (type === 0x51) process.exit(0);        // "Q"
        if (type === 0x44) receive(payload);       // "D" (a paced line)
    }
});
process.stdin.on("end", () => process.exit(0));
