// The emulated MicroPython board's silicon: the npm build of MicroPython 1.27 (WebAssembly),
// instantiated so that it behaves like the C library of a real port. Used by the board's CPU
// thread (emulator/mpvm_port.mjs); the VM's own code is not changed.
//
// Three things differ from a plain `loadMicroPython()`:
//
//   shared memory  The module's linear memory is made an imported, shared WebAssembly.Memory,
//                  so the UART thread (emulator/mpvm_engine.mjs) can raise KeyboardInterrupt in a
//                  busy VM exactly as a UART interrupt handler does on a board: it writes the
//                  bytes mp_sched_keyboard_interrupt() writes (found once by `discoverInterrupt`).
//   errno          Emscripten numbers errors its own way (ENOENT = 44); MicroPython, its errno
//                  module and every host tool use Linux's (ENOENT = 2). A real port's VFS returns
//                  MicroPython's numbers, so the system calls' results are translated here, at
//                  the C library boundary: OSError(2) comes out of the VM's own VFS code.
//   console        fd 0/1/2 are the board's UART, not node's stdio: reads come from the receive
//                  ring, writes go to `console.write` (cooked: LF -> CRLF, as a UART REPL does)
//                  and writes to a file opened on /dev/stdout go out raw (the port's
//                  sys.stdout.buffer).
//
//   trampolines    The build emulates setjmp/longjmp (MicroPython's nlr) in JavaScript: inside a
//                  function that sets a jump buffer, every call goes through an `invoke_*`
//                  import. The glue's versions check the function table on every call (an
//                  assertion build: `wasmTable.get` per call) and reach the stack pointer through
//                  checked export wrappers; about 8 such calls per bytecode loop iteration made
//                  them most of the VM's time. Same semantics here, without the checks: the
//                  table is never changed at run time (the build has no addFunction).
//
// The compiled module is kept, so a soft reset (a fresh instance) costs no recompilation.

// Emscripten's errno numbers (musl/arch/emscripten) -> MicroPython's (py/mperrno.h, Linux's).
export const ERRNO_MAP = {
    63: 1, 44: 2, 71: 3, 27: 4, 29: 5, 60: 6, 1: 7, 45: 8, 8: 9, 12: 10, 6: 11, 48: 12,
    2: 13, 21: 14, 10: 16, 20: 17, 75: 18, 43: 19, 54: 20, 31: 21, 28: 22, 41: 23, 33: 24,
    59: 25, 74: 26, 22: 27, 51: 28, 70: 29, 69: 30, 34: 31, 64: 32, 18: 33, 68: 34,
    55: 39, 37: 36, 138: 95,
};
export const EINTR_C = 27;   // what the VM's C code compares errno with (MP_HAL_RETRY_SYSCALL)
export const EAGAIN_MP = 11; // what MicroPython's streams treat as "would block"
const MAX_PAGES = 8192;      // 512 MiB: a shared memory must declare its maximum

// -- the binary: memory section -> imported shared memory -------------------------------------
function leb(b, p) {
    let r = 0, s = 0, x;
    do { x = b[p++]; r |= (x & 0x7f) << s; s += 7; } while (x & 0x80);
    return [r >>> 0, p];
}
function uleb(n) {
    const o = [];
    do { let x = n & 0x7f; n >>>= 7; if (n) x |= 0x80; o.push(x); } while (n);
    return o;
}
function shareMemory(bin) {
    const b = new Uint8Array(bin);
    const secs = [];
    for (let p = 8; p < b.length;) {
        const [size, body] = leb(b, p + 1);
        secs.push({ id: b[p], start: p, body, end: body + size });
        p = body + size;
    }
    const mem = secs.find((s) => s.id === 5), imp = secs.find((s) => s.id === 2);
    let [count, q] = leb(b, mem.body);
    if (count !== 1 || !imp) throw new Error(`unexpected wasm layout (${count} memories)`);
    const flags = b[q++];
    let min, max = MAX_PAGES;
    [min, q] = leb(b, q);
    if (flags & 1) [max, q] = leb(b, q);
    max = Math.max(min, Math.min(max, MAX_PAGES));
    const name = (s) => [...uleb(s.length), ...Buffer.from(s)];
    const [n, rest] = leb(b, imp.body);
    const body = [...uleb(n + 1), ...b.subarray(rest, imp.end),
        ...name("env"), ...name("memory"), 0x02, 0x03, ...uleb(min), ...uleb(max)];
    const parts = [b.subarray(0, 8)];
    for (const s of secs) {
        if (s === mem) continue;
        parts.push(s === imp ? Uint8Array.from([2, ...uleb(body.length), ...body])
            : b.subarray(s.start, s.end));
    }
    return { binary: Buffer.concat(parts), min, max };
}

// -- instantiation ------------------------------------------------------------------------------
let compiled = null;   // {module, min, max}

function iovecs(memory, iov, n) {
    const dv = new DataView(memory.buffer);
    const out = [];
    for (let i = 0; i < n; i++) {
        out.push([dv.getUint32(iov + 8 * i, true), dv.getUint32(iov + 8 * i + 4, true)]);
    }
    return out;
}

// console: {read(dst: Uint8Array) -> n | -errno, write(bytes, cooked: bool)}
// glueTrampolines: keep the build's own invoke_* (benchmarks/vm_alerts.mjs's baseline)
export async function loadBoardVM(mjs, heapsize, console, { glueTrampolines = false } = {}) {
    const board = { memory: null, rawFds: new Set() };
    const orig = WebAssembly.instantiate;
    WebAssembly.instantiate = async (bin, imports) => {
        WebAssembly.instantiate = orig;
        if (!compiled) {
            const { binary, min, max } = shareMemory(bin);
            compiled = { module: await WebAssembly.compile(binary), min, max };
        }
        const memory = new WebAssembly.Memory({
            initial: compiled.min, maximum: compiled.max, shared: true });
        board.memory = memory;
        hook(imports, memory, board, console);
        const tramp = glueTrampolines ? null : trampolines(imports);
        const instance = await orig(compiled.module, { ...imports, env: { ...imports.env, memory } });
        if (tramp) tramp.bind(instance.exports);
        return { instance, module: compiled.module };
    };
    const { loadMicroPython } = await import(mjs);
    try {
        board.mp = await loadMicroPython({ heapsize, linebuffer: false,
            stdout: () => {}, stderr: () => {} });
    } finally {
        WebAssembly.instantiate = orig;
    }
    return board;
}

function hook(imports, memory, board, console) {
    // env and wasi_snapshot_preview1 are the same object in Emscripten's glue
    const sys = imports.wasi_snapshot_preview1;
    const mapNeg = (r) => (r < 0 && ERRNO_MAP[-r] ? -ERRNO_MAP[-r] : r);
    const mapPos = (r) => (r > 0 && ERRNO_MAP[r] ? ERRNO_MAP[r] : r);
    for (const name of Object.keys(sys)) {
        const f = sys[name];
        if (typeof f !== "function") continue;
        if (name.startsWith("__syscall_")) sys[name] = (...a) => mapNeg(f(...a));
        else if (name.startsWith("fd_")) sys[name] = (...a) => mapPos(f(...a));
    }
    const openat = sys.__syscall_openat;
    sys.__syscall_openat = (dirfd, path, flags, varargs) => {
        const fd = openat(dirfd, path, flags, varargs);
        // a file opened on the console device is the raw UART (sys.stdout.buffer on a board)
        if (fd >= 0) {
            if (readCString(memory, path) === "/dev/stdout") board.rawFds.add(fd);
            else board.rawFds.delete(fd);
        }
        return fd;
    };
    const close = sys.fd_close;
    sys.fd_close = (fd) => { board.rawFds.delete(fd); return close(fd); };
    const write = sys.fd_write;
    sys.fd_write = (fd, iov, n, pnum) => {
        const cooked = fd === 1 || fd === 2;
        if (!cooked && !board.rawFds.has(fd)) return write(fd, iov, n, pnum);
        let total = 0;
        for (const [p, len] of iovecs(memory, iov, n)) {
            if (len) console.write(new Uint8Array(memory.buffer, p, len), cooked);
            total += len;
        }
        new DataView(memory.buffer).setUint32(pnum, total, true);
        return 0;
    };
    const read = sys.fd_read;
    sys.fd_read = (fd, iov, n, pnum) => {
        if (fd !== 0) return read(fd, iov, n, pnum);
        const [p, len] = iovecs(memory, iov, n)[0] || [0, 0];
        const r = len ? console.read(new Uint8Array(memory.buffer, p, len)) : 0;
        if (r < 0) return -r;
        new DataView(memory.buffer).setUint32(pnum, r, true);
        return 0;
    };
}

// invoke_<ret><args>(index, ...args): call table[index]; a longjmp (a thrown number) is caught
// and reported to the wasm side with setThrew, as Emscripten's own trampolines do.
function trampolines(imports) {
    let ex = null;
    const table = [];
    const fn = (i) => table[i] || (table[i] = ex.__indirect_function_table.get(i));
    const save = () => ex.emscripten_stack_get_current();
    const caught = (sp, e) => {
        ex._emscripten_stack_restore(sp);
        if (e !== e + 0) throw e;
        ex.setThrew(1, 0);
    };
    const byArity = [
        (i) => { const sp = save(); try { return fn(i)(); } catch (e) { caught(sp, e); } },
        (i, a) => { const sp = save(); try { return fn(i)(a); } catch (e) { caught(sp, e); } },
        (i, a, b) => { const sp = save(); try { return fn(i)(a, b); } catch (e) { caught(sp, e); } },
        (i, a, b, c) => {
            const sp = save(); try { return fn(i)(a, b, c); } catch (e) { caught(sp, e); } },
        (i, a, b, c, d) => {
            const sp = save(); try { return fn(i)(a, b, c, d); } catch (e) { caught(sp, e); } },
        (i, a, b, c, d, f) => {
            const sp = save(); try { return fn(i)(a, b, c, d, f); } catch (e) { caught(sp, e); } },
        (i, a, b, c, d, f, g) => {
            const sp = save(); try { return fn(i)(a, b, c, d, f, g); } catch (e) { caught(sp, e); } },
    ];
    const env = imports.env;
    for (const name of Object.keys(env)) {
        const m = /^invoke_[a-z]([a-z]*)$/.exec(name);
        if (m && byArity[m[1].length]) env[name] = byArity[m[1].length];
    }
    return { bind(exports) { ex = exports; } };
}

function readCString(memory, p) {
    const u8 = new Uint8Array(memory.buffer);
    let e = p;
    while (u8[e]) e++;
    return Buffer.from(u8.subarray(p, e)).toString("latin1");
}

// Where a UART interrupt handler writes: the address of mp_interrupt_char and the bytes
// mp_sched_keyboard_interrupt() changes (pending exception, traceback reset, scheduler state).
// Found by watching the VM's memory while the VM itself does both, once per process: they are
// static data of the binary, the same in every instance.
export function discoverInterrupt(board) {
    const { mp, memory } = board;
    const words = () => new Int32Array(memory.buffer);
    const find = (v, among) => {
        const w = words();
        if (among) return among.filter((i) => w[i] === v);
        const hits = [];
        for (let i = 0; i < w.length; i++) if (w[i] === v) hits.push(i);
        return hits;
    };
    mp.runPython("import micropython\nmicropython.kbd_intr(0x5A5A5A)");
    let at = find(0x5A5A5A);
    mp.runPython("micropython.kbd_intr(0x3C3C3C)\nx = [i * i for i in range(50)]\ndel x");
    at = find(0x3C3C3C, at);
    mp.runPython("micropython.kbd_intr(0x1E1E1E)\ny = {str(i): i for i in range(50)}\ndel y");
    at = find(0x1E1E1E, at);
    mp.runPython("micropython.kbd_intr(-1)");
    // raise the VM's own KeyboardInterrupt once, so its traceback reset shows in the diff
    const consume = "_i = 0\ntry:\n for _i in range(100):\n  pass\nexcept KeyboardInterrupt:\n pass\n";
    mp._module._mp_sched_keyboard_interrupt();
    mp.runPython(consume);
    const before = new Uint8Array(memory.buffer).slice();
    mp._module._mp_sched_keyboard_interrupt();
    const after = new Uint8Array(memory.buffer);
    const writes = [];
    for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) writes.push([i, after[i]]);
    mp.runPython(consume + "del _i, micropython\n");
    if (at.length !== 1 || writes.length === 0 || writes.length > 16) {
        return null;  // not the binary this was written for: no Ctrl-C while busy
    }
    // ascending order = the C code's order: the pending exception (thread state) before the
    // scheduler flag (VM state), so the VM never sees the flag without the exception
    return { intrAddr: at[0] * 4, writes };
}
