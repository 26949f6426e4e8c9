// The micropython engine's board: real MicroPython 1.27 (the WebAssembly build from npm) kept
// alive in this node process, with its console bridged to the emulator's pty by
// emulator/engine_micropython.py. It plays the part of a MicroPython port's main.c:
//
//   power on / soft reset: a fresh VM; files come back from the emulated flash directory;
//                          /flash/main.py runs if present (application mode), else the REPL.
//   application mode:      what the host sends goes to `app.feed(bytes)` (the Board object
//                          main.py made: firmware_model/board.py, unchanged); Ctrl-C interrupts
//                          into the friendly REPL, as it interrupts main.py on a real board.
//   REPL mode:             every byte goes to MicroPython's own event-driven REPL (friendly and
//                          raw); raw-paste (Ctrl-E A Ctrl-A) is answered here because the
//                          event-driven REPL of this port does not implement it; Ctrl-D (soft
//                          reset) reloads the VM with its files kept.
//
// Channel to the Python side. stdin: frames of [type:1][len:4 BE][payload]; types
//   "D" bytes the host wrote to the pty, "I" idle (line quiet), "Q" quit.
// stdout: exactly the bytes the board sends to the pty. stderr: diagnostics only.
// The one argument is a JSON job: {mjs, flash, ticks, virtual, wall, heap, banner}.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

const job = JSON.parse(process.argv[2]);
const { loadMicroPython } = await import(pathToFileURL(job.mjs).href);
const FLASH_VM = "/flash";          // where the VM sees its flash (cwd, like a pyboard)
const FLASH_HOST = job.flash;       // the emulated flash directory on the host
const PASTE_WINDOW = 128;           // raw-paste flow-control window (bytes)

// Emscripten's errno numbers (musl/arch/emscripten) -> MicroPython's (py/mperrno.h, which
// are Linux's). Without this, a missing file is "OSError: 44" and mpremote cannot tell
// ENOENT from anything else.
const ERRNO_MAP = {
    63: 1, 44: 2, 71: 3, 27: 4, 29: 5, 60: 6, 1: 7, 45: 8, 8: 9, 12: 10, 6: 11, 48: 12,
    2: 13, 21: 14, 10: 16, 20: 17, 75: 18, 43: 19, 54: 20, 31: 21, 28: 22, 41: 23, 33: 24,
    59: 25, 74: 26, 22: 27, 51: 28, 70: 29, 69: 30, 34: 31, 64: 32, 18: 33, 68: 34,
    55: 39, 37: 36, 138: 95,
};

// The port layer: what a real port provides in C (machine.reset_cause, the board clock, the
// errno numbering of its VFS). Runs before main.py in every fresh VM, as module `_port`.
const PORT_PY = `
import sys, os, builtins
_EMAP = ${JSON.stringify(ERRNO_MAP).replace(/"/g, "")}
def _mapped(f):
    def call(*a):
        try:
            return f(*a)
        except OSError as e:
            n = e.args[0] if e.args else 0
            if n in _EMAP:
                raise OSError(_EMAP[n]) from None
            raise
    return call
_open = builtins.open
builtins.open = _mapped(_open)
class _Os:
    pass
_os = _Os()
for _n in dir(os):
    _f = getattr(os, _n)
    setattr(_os, _n, _mapped(_f) if _n in ("stat", "listdir", "ilistdir", "mkdir", "rmdir",
            "remove", "rename", "chdir", "statvfs", "unlink") else _f)
def _ilistdir(d=""):
    # 4-tuples with the size, as littlefs/FAT ports give (VfsPosix here gives 3-tuples)
    it = _mapped(os.ilistdir)(d) if d else _mapped(os.ilistdir)()
    base = d.rstrip("/") + "/" if d else ""
    for e in it:
        if e[1] == 0x8000:
            try:
                e = (e[0], e[1], e[2], os.stat(base + e[0])[6])
            except OSError:
                pass
        yield e
_os.ilistdir = _ilistdir
sys.modules["os"] = _os

class Clock:
    """ticks_ms on the 2**30 circle; virtual: moves only with advance() (the host's ADVANCE)."""
    def __init__(self, start, elapsed, virtual, wall, wall_at):
        self.virtual = virtual
        self._start = start
        self.elapsed_ms = elapsed
        self._wall = wall
        self._wall_at = wall_at
        if not virtual:
            import time
            self._t0 = time.ticks_ms() - elapsed
    def _sync(self):
        if not self.virtual:
            import time
            self.elapsed_ms = time.ticks_diff(time.ticks_ms(), self._t0)
    def ticks_ms(self):
        self._sync()
        return (self._start + self.elapsed_ms) & 0x3FFFFFFF
    def advance(self, ms):
        if not self.virtual:
            raise RuntimeError("real-time clock")
        self.elapsed_ms += ms
    def wall_s(self):
        self._sync()
        return self._wall + (self.elapsed_ms - self._wall_at) // 1000
    def set_wall(self, s):
        self._sync()
        self._wall = s
        self._wall_at = self.elapsed_ms
    def state(self):
        self._sync()
        return "%d %d %d" % (self.elapsed_ms, self._wall, self._wall_at)

class Host:
    """Resets the board can ask for; the engine performs them after the current line."""
    def __init__(self):
        self.pending = None
    def can_reset(self, kind):
        return kind in ("soft", "hard", "watchdog", "brownout")
    def reset(self, kind):
        self.pending = kind

def write(b):
    sys.stdout.write(b)

host = Host()
`;

let mp = null;              // the current VM
let out = [];               // bytes the VM printed, not yet sent
let mode = "repl";          // "app" | "repl"
let raw = false;            // REPL is in raw mode (tracked from the bytes we feed it)
let rawLineEmpty = true;    // nothing typed on the current raw-REPL entry yet
let paste = null;           // raw-paste state: {code: [], esc: 0, credit: n}
let pend = [];              // raw REPL: bytes seen after Ctrl-E, waiting for "A\\x01"
let clockState = null;      // "elapsed wall wall_at" carried across resets
let boots = 0;
let pump = null;            // main.py's app.feed, wrapped to take a latin1 JS string

function flushOut() {
    if (out.length) {
        process.stdout.write(Buffer.from(out));
        out = [];
    }
}
function say(s) { for (const c of Buffer.from(s, "latin1")) out.push(c); }

// -- flash: host directory <-> VM /flash, write-through -------------------------------------
function hostPath(vmPath) {
    const p = path.posix.normalize(vmPath);
    if (p !== FLASH_VM && !p.startsWith(FLASH_VM + "/")) return null;
    return path.join(FLASH_HOST, p.slice(FLASH_VM.length));
}
function vmAbs(p) {
    return path.posix.isAbsolute(p) ? p : path.posix.join(mp.FS.cwd(), p);
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
            try { after(...a); } catch (e) { process.stderr.write(`flash mirror: ${e}\n`); }
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
        const ha = hostPath(vmAbs(a)), hb = hostPath(vmAbs(b));
        if (ha && hb) fs.renameSync(ha, hb);
    });
    wrap("unlink", (p) => { const h = hostPath(vmAbs(p)); if (h) fs.rmSync(h, { force: true }); });
    wrap("rmdir", (p) => { const h = hostPath(vmAbs(p)); if (h) fs.rmdirSync(h); });
    wrap("mkdir", (p) => { const h = hostPath(vmAbs(p)); if (h) fs.mkdirSync(h, { recursive: true }); });
    // an empty file created and closed without a write (open(p, "w").close()) exists too
    wrap("open", (p, flags) => {
        if (typeof p === "string" && typeof flags === "number" && (flags & 64)) {
            const h = hostPath(vmAbs(p));
            if (h && !fs.existsSync(h)) fs.writeFileSync(h, "");
        }
    });
}

// -- VM lifecycle -----------------------------------------------------------------------------
async function boot(cause, runMain = true) {
    boots += 1;
    mp = await loadMicroPython({
        heapsize: job.heap,
        stdout: (b) => { for (const c of b) out.push(c); },
        stderr: (b) => { for (const c of b) out.push(c); },
        linebuffer: false,
    });
    loadFlash(mp.FS);
    mirror(mp.FS);
    mp.FS.mkdirTree("/lib");
    mp.FS.writeFile("/lib/_port.py", PORT_PY);
    const cs = clockState ? clockState.split(" ").map(Number) : [0, job.wall, 0];
    mp.runPython(`import os\nos.chdir("${FLASH_VM}")\nimport _port\n` +
        `_port.clock = _port.Clock(${job.ticks}, ${cs[0]}, ${job.virtual ? "True" : "False"}, ${cs[1]}, ${cs[2]})\n` +
        `_port.cause = "${cause}"\n` +
        `del os\n`);
    raw = false;
    paste = null;
    pend = [];
    let hasMain = false;
    try { hasMain = runMain && mp.FS.stat(FLASH_VM + "/main.py") && true; } catch (e) { hasMain = false; }
    if (hasMain) {
        try {
            mp.runPython(`exec(open("main.py").read(), globals())`);
        } catch (e) {
            say(String(e && e.message ? e.message : e).replace(/\r?\n/g, "\r\n"));
        }
        const app = mp.globals.get("app");
        if (app && typeof app === "object") {
            mp.runPython("def _pump(s):\n app.feed(s.encode() if max(s) < '\\x80' else bytes(ord(c) for c in s))\n");
            pump = mp.globals.get("_pump");
            mode = "app";
            return;
        }
    }
    enterRepl();
}

function enterRepl() {
    mode = "repl";
    raw = false;
    mp.replInit();   // banner + ">>> "
}

async function softReset(banner, runMain) {
    saveClock();
    say(banner);
    flushOut();
    await boot("soft", runMain);
}

function saveClock() {
    try {
        const st = mp.pyimport("_port").clock.state();
        if (typeof st === "string") clockState = st;
    } catch (e) { /* a VM that never got its clock keeps the previous state */ }
}

function pendingReset() {
    try {
        const h = mp.pyimport("_port").host;
        const k = h.pending;
        return typeof k === "string" ? k : null;
    } catch (e) { return null; }
}

// -- application mode -----------------------------------------------------------------------
async function appFeed(bytes) {
    let i = bytes.indexOf(3);  // Ctrl-C: KeyboardInterrupt in main.py's loop
    const part = i < 0 ? bytes : bytes.subarray(0, i);
    if (part.length) {
        try {
            // A JS string crosses as str; latin1 keeps every byte value, encoded back exactly.
            pump(Buffer.from(part).toString("latin1"));
        } catch (e) {
            say(String(e && e.message ? e.message : e).replace(/\r?\n/g, "\r\n"));
            enterRepl();
            return i < 0 ? null : bytes.subarray(i);
        }
        const kind = pendingReset();
        if (kind) {
            saveClock();
            flushOut();
            await boot(kind);
            return i < 0 ? null : bytes.subarray(i);
        }
    }
    if (i >= 0) {
        say("Traceback (most recent call last):\r\n  File \"main.py\", in <module>\r\nKeyboardInterrupt: \r\n");
        enterRepl();
        return bytes.subarray(i + 1);
    }
    return null;
}

// -- REPL mode ------------------------------------------------------------------------------
async function replChar(c) {
    const wasRaw = raw;
    const r = await mp.replProcessCharWithAsyncify(c);
    if (c === 1) { raw = true; rawLineEmpty = true; }
    else if (c === 2) raw = false;
    else if (raw && (c === 4 || c === 3)) rawLineEmpty = true;
    else if (raw) rawLineEmpty = false;
    if (r) {
        // Ctrl-D at an empty prompt: soft reset. A real port prints "MPY: soft reboot", runs
        // boot.py, and runs main.py only when it was in the friendly REPL; from the raw REPL
        // it comes back in the raw REPL (pyexec_mode_kind is kept).
        await softReset("MPY: soft reboot\r\n", !wasRaw);
        if (wasRaw) {
            out = [];  // replInit's friendly banner: a raw-mode board does not print it
            await mp.replProcessCharWithAsyncify(1);
            raw = true;
            rawLineEmpty = true;
        }
    }
}

async function pasteByte(c) {
    // Raw-paste mode (docs: "raw mode and raw-paste mode"): the host may send `credit` bytes;
    // we grant another window each time one has been consumed; Ctrl-D ends the code.
    if (c === 4) {
        say("\x04");            // acknowledge end of data
        const code = paste.code;
        paste = null;
        // Execute through the raw REPL exactly as standard raw mode would; drop its "OK"
        // (raw-paste has no OK: output starts straight away).
        for (const ch of code) await mp.replProcessCharWithAsyncify(ch);
        const mark = out.length;
        await mp.replProcessCharWithAsyncify(4);
        if (out[mark] === 0x4f && out[mark + 1] === 0x4b) out.splice(mark, 2);
        rawLineEmpty = true;
        return;
    }
    paste.code.push(c);
    paste.used += 1;
    if (paste.used >= PASTE_WINDOW) {
        paste.used -= PASTE_WINDOW;
        say("\x01");
    }
}

async function replFeed(bytes) {
    for (let k = 0; k < bytes.length; k++) {
        const c = bytes[k];
        if (paste) { await pasteByte(c); continue; }
        if (raw && pend.length) {
            pend.push(c);
            if (pend.length === 3) {
                if (pend[1] === 0x41 && pend[2] === 1) {
                    paste = { code: [], used: 0 };
                    say("R\x01");
                    say(String.fromCharCode(PASTE_WINDOW & 0xff, PASTE_WINDOW >> 8));
                } else {
                    say("R\x00");  // understood, not this variant: stay in raw REPL
                }
                pend = [];
            }
            continue;
        }
        if (raw && rawLineEmpty && c === 5) { pend = [5]; continue; }
        await replChar(c);
        if (mode === "app") {
            // a soft reset from the friendly REPL ran main.py: the rest goes to the app
            const rest = bytes.subarray(k + 1);
            return rest.length ? rest : null;
        }
    }
    return null;
}

// -- the pump ---------------------------------------------------------------------------------
async function onData(bytes) {
    let rest = bytes;
    while (rest && rest.length) {
        rest = mode === "app" ? await appFeed(rest) : await replFeed(rest);
    }
    flushOut();
}

async function onIdle() {
    if (mode === "app" && !job.virtual) {
        try { mp.runPython("app.housekeeping()"); } catch (e) { /* reported on next line */ }
        const kind = pendingReset();
        if (kind) { saveClock(); flushOut(); await boot(kind); }
        flushOut();
    }
}

let inbuf = Buffer.alloc(0);
let busy = Promise.resolve();
await boot("power");
flushOut();
process.stderr.write(`READY ${boots}\n`);
process.stdin.on("data", (chunk) => {
    inbuf = Buffer.concat([inbuf, chunk]);
    while (inbuf.length >= 5) {
        const type = String.fromCharCode(inbuf[0]);
        const n = inbuf.readUInt32BE(1);
        if (inbuf.length < 5 + n) break;
        const payload = Buffer.from(inbuf.subarray(5, 5 + n));
        inbuf = inbuf.subarray(5 + n);
        if (type === "Q") { busy.then(() => { flushOut(); process.exit(0); }); return; }
        busy = busy.then(() => (type === "D" ? onData(payload) : onIdle())).catch((e) => {
            process.stderr.write(`engine error: ${e && e.stack ? e.stack : e}\n`);
            flushOut();
        });
    }
});
process.stdin.on("end", () => busy.then(() => process.exit(0)));
