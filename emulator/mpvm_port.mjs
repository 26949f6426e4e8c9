// The emulated MicroPython board's CPU: a worker thread that plays the part of a MicroPython
// port's main.c around real MicroPython 1.27 (emulator/mpvm_wasm.mjs loads it). Started by
// emulator/mpvm_engine.mjs, which owns the UART side (receive ring, Ctrl-C interrupt).
//
//   power on / reset:  a fresh VM; files come back from the emulated flash directory;
//                      boot.py runs if present, then main.py (friendly-REPL resets only). The
//                      board object main.py makes is run by `mainLoop`, one `_port.step` per
//                      wake-up, until the firmware asks for a reset or the host interrupts it;
//                      then the friendly REPL.
//   REPL:              every received byte goes to MicroPython's own event-driven REPL (friendly
//                      and raw). Raw-paste (Ctrl-E A Ctrl-A) is answered here, because this port's
//                      event-driven REPL lacks it: R\x01, the window, \x01 per window consumed,
//                      \x04 at the end of the data, then execution as the raw REPL's own.
//   Ctrl-D:            soft reset at an empty prompt, as on hardware: "MPY: soft reboot", a fresh
//                      VM, back in the REPL mode it was in.
//
// The thread blocks (Atomics.wait) while the UART is quiet, like a board in WFI; output leaves
// as the VM writes it (cooked console writes at once, raw protocol writes when the board idles),
// so a long program's output streams and the host sees every acknowledgement when it is sent.
import fs from "fs";
import path from "path";
import { workerData, parentPort } from "worker_threads";
import { loadBoardVM, discoverInterrupt, EINTR_C } from "./mpvm_wasm.mjs";
import { Ring } from "./mpvm_uart.mjs";

const { job, sab } = workerData;
const rx = new Ring(sab);
const FLASH_VM = "/flash";          // the VM's flash (its working directory, like a pyboard)
const FLASH_HOST = job.flash;       // the emulated flash directory on the host
const PASTE_WINDOW = 128;           // raw-paste flow-control window (bytes)
const IDLE_MS = 50;                 // real-clock board: housekeeping after this much quiet
const PORT_FILES = { "/lib/_port.py": job.portPy, "/lib/machine.py": job.machinePy };
const BANNER_RAW = "raw REPL; CTRL-B to exit\r\n>";
const TX_FD = job.uartFd != null ? job.uartFd : 1;  // the pty itself, or the Python side

class Reset extends Error {
    constructor(kind) { super(`reset ${kind}`); this.kind = kind; }
}

let board = null;           // {mp, memory, rawFds}
let intr = null;            // what the UART thread needs to raise KeyboardInterrupt
let clockState = null;      // "elapsed wall wall_at" carried across resets
let boots = 0;
let mute = false;           // drop console output (REPL set-up a real board does not print)
let dropOK = false;         // raw-paste: the raw REPL's "OK" is not part of this protocol
let readySent = false;
let rawMode = false;        // the REPL is in raw mode (a soft reset keeps it)

// -- output: the UART transmitter -------------------------------------------------------------
let txq = [];
let txn = 0;
function txFlush() {
    if (!txn) return;
    const data = txq.length === 1 ? txq[0] : Buffer.concat(txq, txn);
    txq = [];
    txn = 0;
    for (let off = 0; off < data.length;) {
        try {
            off += fs.writeSync(TX_FD, data, off);
        } catch (e) {
            if (e.code !== "EAGAIN") throw e;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);  // host not reading
        }
    }
}
function tx(bytes, now) {
    txq.push(Buffer.from(bytes));  // a copy: the VM's memory is reused
    txn += bytes.length;
    if (now || txn > 4096) txFlush();
}
function say(s) { tx(Buffer.from(s, "latin1"), true); }

function consoleWrite(bytes, cooked) {
    if (mute) return;
    if (cooked) {
        if (dropOK && bytes.length === 2 && bytes[0] === 0x4f && bytes[1] === 0x4b) {
            dropOK = false;
            return;
        }
        // stdout_helpers.c sends CR LF for every LF of a text write; the VM's own REPL output
        // already has its CRs, and only text written with print()/sys.stdout has bare LFs
        let lone = false;
        for (let i = 0; i < bytes.length; i++) {
            if (bytes[i] === 10 && (i === 0 || bytes[i - 1] !== 13)) { lone = true; break; }
        }
        if (lone) bytes = Buffer.from(Buffer.from(bytes).toString("latin1").replace(/\n/g, "\r\n"), "latin1");
    }
    tx(bytes, cooked);
}

// -- input: the UART receive ring (filled by the UART thread) --------------------------------
// Wait for input, an interrupt or the timeout (ms, -1 forever): the board's WFI.
function waitEvent(ms, ready = interrupted) {
    txFlush();
    if (!readySent) {
        readySent = true;  // the first idle moment: booted
        parentPort.postMessage({ ready: boots });
    }
    rx.wait(ms, ready);
}
// A KeyboardInterrupt is pending in the VM (the UART thread wrote it, or the VM scheduled it)
function interrupted() {
    if (!intr) return false;
    const [a, v] = intr.writes[0];
    return new Uint8Array(board.memory.buffer)[a] === v;
}
function getByte() {
    while (rx.count() === 0) waitEvent(-1, null);  // a REPL byte: no program to interrupt
    const b = new Uint8Array(1);
    rx.take(b);
    return b[0];
}
function consoleRead(dst) {
    // a blocking read of the console (sys.stdin): at least one byte, or EINTR on Ctrl-C so the
    // VM's retry loop runs its pending KeyboardInterrupt
    while (rx.count() === 0) {
        if (interrupted()) return -EINTR_C;
        waitEvent(-1);
    }
    return rx.take(dst);
}

// What the port layer (emulator/mpvm_port.py) calls: the board's idle and reset lines.
const hw = {
    sleep_ms(ms) {           // time.sleep_ms: idle until the deadline or Ctrl-C
        const end = Date.now() + ms;
        for (let left = ms; left > 0 && !interrupted(); left = end - Date.now()) waitEvent(left);
    },
    reset(kind) { throw new Reset(kind); },   // machine.reset(): nothing after it runs
};

// -- flash: host directory <-> VM /flash, write-through -------------------------------------
function hostPath(vmPath) {
    const p = path.posix.normalize(vmPath);
    if (p !== FLASH_VM && !p.startsWith(FLASH_VM + "/")) return null;
    return path.join(FLASH_HOST, p.slice(FLASH_VM.length));
}
function vmAbs(FS, p) {
    return path.posix.isAbsolute(p) ? p : path.posix.join(FS.cwd(), p);
}
function loadFlash(FS) {
    FS.mkdirTree(FLASH_VM);
    const walk = (host, vm) => {
        for (const ent of fs.readdirSync(host, { withFileTypes: true })) {
            const h = path.join(host, ent.name), v = vm + "/" + ent.name;
            if (ent.isDirectory()) { FS.mkdirTree(v); walk(h, v); }
            else if (ent.isFile()) FS.writeFile(v, fs.readFileSync(h));
        }
    };
    walk(FLASH_HOST, FLASH_VM);
}
function mirror(FS) {
    // Every change under /flash reaches the host directory when it is committed: a file
    // when it is closed (littlefs commits on close/sync), renames/removes/mkdirs at once.
    const dirty = new Set();
    const wrap = (name, after) => {
        const orig = FS[name];
        FS[name] = function (...a) {
            const r = orig.apply(this, a);
            try { after(...a); } catch (e) { fs.writeSync(2, `flash mirror: ${e}\n`); }
            return r;
        };
    };
    wrap("write", (stream) => { if (stream.path) dirty.add(stream.path); });
    wrap("close", (stream) => {
        if (stream.path && dirty.has(stream.path)) {
            dirty.delete(stream.path);
            const h = hostPath(stream.path);
            if (h) fs.writeFileSync(h, FS.readFile(stream.path));
        }
    });
    wrap("rename", (a, b) => {
        const ha = hostPath(vmAbs(FS, a)), hb = hostPath(vmAbs(FS, b));
        if (ha && hb) fs.renameSync(ha, hb);
    });
    wrap("unlink", (p) => { const h = hostPath(vmAbs(FS, p)); if (h) fs.rmSync(h, { force: true }); });
    wrap("rmdir", (p) => { const h = hostPath(vmAbs(FS, p)); if (h) fs.rmdirSync(h); });
    wrap("mkdir", (p) => { const h = hostPath(vmAbs(FS, p)); if (h) fs.mkdirSync(h, { recursive: true }); });
    // an empty file created and closed without a write (open(p, "w").close()) exists too
    wrap("open", (p, flags) => {
        if (typeof p === "string" && typeof flags === "number" && (flags & 64)) {
            const h = hostPath(vmAbs(FS, p));
            if (h && !fs.existsSync(h)) fs.writeFileSync(h, "");
        }
    });
}

// -- VM lifecycle -----------------------------------------------------------------------------
async function powerOn() {
    board = await loadBoardVM(job.mjs, job.heap, { read: consoleRead, write: consoleWrite });
    const { mp } = board;
    if (boots === 0) {
        intr = discoverInterrupt(board);
        if (!intr) fs.writeSync(2, "no interrupt map for this build: Ctrl-C cannot stop a busy VM\n");
    }
    parentPort.postMessage({ memory: board.memory, intr });
    mp.registerJsModule("_hw", hw);
    loadFlash(mp.FS);
    mirror(mp.FS);
    mp.FS.mkdirTree("/lib");
    for (const [p, text] of Object.entries(PORT_FILES)) mp.FS.writeFile(p, text);
    boots += 1;
}

function setupPort(cause) {
    const cs = clockState ? clockState.split(" ").map(Number) : [0, job.wall, 0];
    board.mp.runPython(`import os\nos.chdir("${FLASH_VM}")\ndel os\nimport _port\n` +
        `_port.init(${job.ticks}, ${cs[0]}, ${job.virtual ? "True" : "False"}, ${cs[1]}, ` +
        `${cs[2]}, "${cause}", ${IDLE_MS})\n`);
}

function saveClock() {
    try {
        const st = board.mp.pyimport("_port").clock.state();
        if (typeof st === "string") clockState = st;
    } catch (e) { /* a VM that never got its clock keeps the previous state */ }
}

function runPy(code) {
    // Python's own exceptions are printed by the code itself (_port.run_file); this only sees
    // a machine.reset() or an error of the port's own
    try {
        board.mp.runPython(code);
    } catch (e) {
        if (e instanceof Reset) throw e;
        say(String(e && e.message ? e.message : e).replace(/\r?\n/g, "\r\n"));
    }
}

// One life of the VM, from reset to the next reset; returns the next reset's cause.
async function life(cause, friendly) {
    await powerOn();
    setupPort(cause);
    runPy("_port.run_file('boot.py')");
    if (friendly) {
        runPy("_port.run_main()");
        const port = board.mp.pyimport("_port");
        let kind = port.host.pending;
        if (typeof kind !== "string" && port._app) kind = mainLoop(port.step);
        if (typeof kind === "string" && kind !== "repl") { saveClock(); return { kind, friendly: true }; }
    }
    return repl(friendly);
}

// main.py's loop: one step per wake-up (input, Ctrl-C, or a quiet line on a real clock)
function mainLoop(step) {
    const idle = job.virtual ? -1 : IDLE_MS;
    for (;;) {
        waitEvent(idle);
        const kind = step(rx.count());
        if (typeof kind === "string") return kind;
    }
}

// -- the REPL -----------------------------------------------------------------------------------
function replChar(c) { return board.mp.replProcessChar(c); }

function repl(friendly) {
    const mp = board.mp;
    let raw = !friendly;
    let lineEmpty = true;       // nothing typed on the current raw-REPL entry yet
    if (friendly) {
        mp.replInit();          // banner + ">>> "
    } else {
        // back in the raw REPL after a soft reset from it, without the friendly banner
        mute = true;
        mp.replInit();
        replChar(1);
        mute = false;
        say(BANNER_RAW);
    }
    for (;;) {
        const c = getByte();
        if (raw && lineEmpty && c === 5) {
            const a = getByte(), b = getByte();
            if (a === 0x41 && b === 1) paste(mp);
            else say("R\x00");  // understood, not this variant: stay in the raw REPL
            continue;
        }
        const wasRaw = raw;
        rawMode = raw;
        const r = replChar(c);
        if (c === 1) { raw = true; lineEmpty = true; }
        else if (c === 2) raw = false;
        else if (raw && (c === 4 || c === 3)) lineEmpty = true;
        else if (raw) lineEmpty = false;
        if (r) {
            // Ctrl-D at an empty prompt: soft reset; a port keeps the REPL mode it was in
            saveClock();
            say("MPY: soft reboot\r\n");
            return { kind: "soft", friendly: !wasRaw };
        }
    }
}

function paste(mp) {
    // Raw-paste mode: the host may send PASTE_WINDOW bytes; each time the board has taken a
    // window's worth out of its buffer it grants another (\x01). Ctrl-D ends the data.
    say("R\x01" + String.fromCharCode(PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8));
    const code = [];
    let used = 0;
    for (;;) {
        const c = getByte();
        if (c === 4) break;
        if (c === 3) {
            // Ctrl-C while the code arrives: the reader ends and raises KeyboardInterrupt
            say("\x04\x04KeyboardInterrupt: \r\n\x04>");
            return;
        }
        code.push(c);
        if (++used === PASTE_WINDOW) { used = 0; say("\x01"); }
    }
    say("\x04");  // end of data acknowledged before compilation, as the reader does
    for (const ch of code) replChar(ch);
    dropOK = true;
    replChar(4);
    dropOK = false;
}

// -- the board's life ---------------------------------------------------------------------------
let next = { kind: "power", friendly: true };
for (;;) {
    try {
        next = await life(next.kind, next.friendly);
    } catch (e) {
        if (!(e instanceof Reset)) {
            fs.writeSync(2, `engine error: ${e && e.stack ? e.stack : e}\n`);
            txFlush();
            throw e;
        }
        saveClock();
        if (e.kind === "soft") say("MPY: soft reboot\r\n");
        next = { kind: e.kind, friendly: e.kind !== "soft" || !rawMode };
    }
    txFlush();
}
