// The emulated MicroPython board's UART receive buffer: a ring in shared memory between the
// UART thread (emulator/mpvm_engine.mjs puts what the host sends) and the CPU thread
// (emulator/mpvm_port.mjs takes it), plus the event counter the CPU sleeps on while the line
// is quiet. Head and tail are free-running byte counters (int32, wrapping).

export const RX_SIZE = 1024;    // bytes: a board's stdin ring is of this order (rp2: 260+)
const HEAD = 0, TAIL = 1, EVENTS = 2;

export class Ring {
    constructor(sab) {
        this.sab = sab || new SharedArrayBuffer(16 + RX_SIZE);
        this.ctl = new Int32Array(this.sab, 0, 4);
        this.buf = new Uint8Array(this.sab, 16, RX_SIZE);
    }
    count() { return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) | 0; }

    // UART side: as many of `bytes` as fit; returns how many
    put(bytes) {
        const n = Math.min(bytes.length, RX_SIZE - this.count());
        const h = Atomics.load(this.ctl, HEAD);
        for (let i = 0; i < n; i++) this.buf[((h + i) >>> 0) % RX_SIZE] = bytes[i];
        if (n) {
            Atomics.store(this.ctl, HEAD, (h + n) | 0);
            this.wake();
        }
        return n;
    }
    wake() {
        Atomics.add(this.ctl, EVENTS, 1);
        Atomics.notify(this.ctl, EVENTS);
    }
    // resolves when there is room again. The tail is read before the room is checked: the
    // CPU may have emptied the ring since put() filled it, and then waits for input; waiting
    // for the tail to move again would hold both threads for ever.
    drained() {
        const t = Atomics.load(this.ctl, TAIL);
        if (this.count() < RX_SIZE) return Promise.resolve();
        const w = Atomics.waitAsync(this.ctl, TAIL, t);
        return w.async ? w.value : Promise.resolve();
    }

    // CPU side: up to dst.length bytes waiting; returns how many
    take(dst) {
        const n = Math.min(this.count(), dst.length);
        const t = Atomics.load(this.ctl, TAIL);
        for (let i = 0; i < n; i++) dst[i] = this.buf[((t + i) >>> 0) % RX_SIZE];
        if (n) {
            Atomics.store(this.ctl, TAIL, (t + n) | 0);
            Atomics.notify(this.ctl, TAIL);
        }
        return n;
    }
    // Sleep until something arrives or the UART thread raises an interrupt (ms; -1: forever),
    // unless `ready()` already holds. The event count is read first, so an event between the
    // check and the sleep ends the sleep at once instead of being lost.
    wait(ms, ready) {
        const seen = Atomics.load(this.ctl, EVENTS);
        if (this.count() > 0 || (ready && ready())) return;
        Atomics.wait(this.ctl, EVENTS, seen, ms < 0 ? Infinity : ms);
    }
}
