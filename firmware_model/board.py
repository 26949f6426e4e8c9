# ruff: noqa: UP031  (%-formatting on purpose: MicroPython 1.9.2 has no f-strings)
# The board's main-loop logic: one comms hub (or one meter) driven line by line over the wire
# protocol (docs/wire-protocol.md). It owns the limiter(s), the frame builder (gbcs), the
# persistence snapshot and config updates. It knows nothing about where bytes come from: an
# engine (emulator/engine_cpython.py, a MicroPython VM, firmware_model/main.py on a real board)
# feeds it lines and gives it a clock, a filesystem and a `host` for what only the platform can
# do (advance virtual time, restart, cut power).
#
# Placement: role "chub" carries an electricity meter (esme) and a gas meter (gsme) on its HAN.
# limiter "meter" puts one limiter in each meter (it decides before the HAN), "hub" one in the
# hub (it decides on everything it would send north), "both" all three. A meter's frame crosses
# the HAN and the hub parses it (gbcs) to learn the code, as a real hub must.

try:
    from firmware_model import gbcs, limiter, persist, security, wire
    from firmware_model.gbcs import SUMMARY_CODE
    from firmware_model.ticks import ticks_diff
except ImportError:  # flat layout (micro:bit, a board's root directory)
    import gbcs
    import limiter
    import persist
    import security
    import wire
    from gbcs import SUMMARY_CODE
    from ticks import ticks_diff

try:
    from firmware_model import config_update
except ImportError:
    try:
        import config_update
    except ImportError:  # a board too small for it answers CONFIG with E_UNSUPPORTED
        config_update = None  # type: ignore[assignment]

try:
    from firmware_model import lut
except ImportError:
    try:
        import lut
    except ImportError:  # a board built without it answers the L verbs with E_UNSUPPORTED
        lut = None  # type: ignore[assignment]

SOURCES = ("esme", "gsme", "hub")
# the kinds of RESET <kind> (docs/wire-protocol.md); each comes back as a BOOT event's cause,
# as machine.reset_cause() would report it after such a restart
RESET_KINDS = ("soft", "hard", "watchdog", "brownout")
# the limiter-under-test verbs (firmware_model/lut.py): optional, announced by HELLO caps=lut
LUT_VERBS = ("LNEW", "LOFFER", "LPOLL", "LPOP", "LLEVEL", "LCONF", "LCLEAR", "LSTATS", "LSNAP",
             "LPUT", "LRESTORE", "LFAULT")
_DEC = {limiter.SUPPRESS: "S", limiter.FORWARD: "F", limiter.FORWARD | limiter.STARTED: "T"}
_STAT_ORDER = ("offered", "forwarded", "suppressed", "amber_events", "red_events",
               "overflow_uses", "episodes", "pending_summaries")
UNIX_2000 = 946684800  # 2000-01-01T00:00:00Z: GBZ/DLMS frame times count from here
FRAME_MAX = 256  # largest frame the board builds (a signed alert is ~130 bytes)
BOOT_FILE = "boot"
CONFIG_FILE = "config"


def limiter_devices(role, placement):
    """Which devices of a board run a limiter."""
    if role == "chub":
        if placement == "hub":
            return ("hub",)
        if placement == "meter":
            return ("esme", "gsme")
        if placement == "both":
            return ("esme", "gsme", "hub")
    elif role in ("esme", "gsme"):
        if placement == "meter":
            return (role,)
    if placement == "none":
        return ()
    raise ValueError("placement %r is not valid for role %r" % (placement, role))


def sources_of(role):
    return SOURCES if role == "chub" else (role,)


class Board:
    """One board. `write(bytes)` sends a line to the host; `clock` has ticks_ms(), wall_s(),
    set_wall(s) and, when virtual, advance(ms); `fs` is the flash filesystem persist.py uses;
    `host` (optional) has reset(kind) and powercut(nbytes) for the platform-only commands;
    `crypto` (optional) is the security module the frames' MACs and signatures come from
    (firmware_model/security.py): without one they carry zero placeholders."""

    def __init__(self, write, clock, fs, host=None, name="board", role="chub",
                 placement="hub", engine="", slots=16, poll_ms=1000, persist_ms=60000,
                 ring=64, fw="", titles=None, critical=None, config=None, crypto=None):
        self.name = name
        self.crypto = crypto
        self.role = role
        self.placement = placement
        self.engine = engine
        self.clock = clock
        self.fs = fs
        self.host = host
        self.poll_ms = poll_ms
        self.persist_ms = persist_ms
        self.fw = fw
        self.titles = titles or {}
        self.critical = tuple(critical) if critical is not None else tuple(
            limiter.Config().never_throttle)
        self.out = wire.Emitter(write, ring)
        self.reader = wire.LineReader()
        self.sources = sources_of(role)
        self.devices = limiter_devices(role, placement)
        cfg = self._load_config(config)
        self.limiters = {}
        for d in self.devices:
            self.limiters[d] = limiter.Limiter(cfg, slots)
        self.boot_n = 0
        self._fa = bytearray(FRAME_MAX)  # alert frame
        self._fs = bytearray(FRAME_MAX)  # summary frame
        self._pf = [0] * gbcs.N_FIELDS  # the hub's parse of a relayed frame
        self.counter = {}  # per-device GBCS originator counter
        self.rx = 0
        self.rxerr = 0
        self.frames = 0
        self._last_hseq = -1
        self._last_first = 0
        self._dirty = False
        self._saved_at = 0
        self._polled_at = -1
        self._lut = None  # the limiter under test's state: made by the first L verb

    # -- boot and persistence -----------------------------------------------------------------

    def boot(self, cause="power"):
        """Restore from flash and say so: always the first line of a boot (seq 0)."""
        now = self.clock.ticks_ms()
        self.boot_n = self._read_int(BOOT_FILE) + 1
        persist.save(self.fs, BOOT_FILE, str(self.boot_n).encode())
        for d in self.devices:
            self.counter[d] = 0
        restore = "none"
        for d in self.devices:
            try:
                blob = persist.load(self.fs, "lim_" + d)
            except persist.PersistError:
                restore = "corrupt"
                continue
            if blob is None:
                continue
            try:
                self.limiters[d].restore(blob, now)
                if restore == "none":
                    restore = "ok"
            except limiter.SnapshotError:
                restore = "corrupt"
        self._saved_at = now
        self.out.emit("EVENT", "BOOT n=%d cause=%s restore=%s t=%d"
                      % (self.boot_n, cause, restore, now))

    def _read_int(self, name):
        try:
            b = persist.load(self.fs, name)
        except persist.PersistError:
            return 0
        if not b:
            return 0
        try:
            return int(b)
        except ValueError:
            return 0

    def _load_config(self, default):
        """An applied config update (in flash) wins over the board's built-in config."""
        try:
            b = persist.load(self.fs, CONFIG_FILE)
        except persist.PersistError:
            b = None
        if b:
            try:
                return limiter.Config.from_dict(_parse_kv(b.decode()))
            except ValueError:
                pass
        return default if default is not None else limiter.Config()

    def save(self):
        """Write every limiter's snapshot now. Returns bytes written."""
        now = self.clock.ticks_ms()
        n = 0
        for d in self.devices:
            blob = self.limiters[d].snapshot(now)
            persist.save(self.fs, "lim_" + d, blob)
            n += len(blob)
        self._dirty = False
        self._saved_at = now
        return n

    def housekeeping(self):
        """What the main loop does between messages: summaries that fell due, and the
        snapshot at bounded frequency (at most every persist_ms, only after a change)."""
        now = self.clock.ticks_ms()
        # poll() scans every slot; when time has not moved since the last poll only what
        # offer() queued can be pending (a burst of alerts at one instant costs no scans)
        fresh = now != self._polled_at
        self._polled_at = now
        for d in self.devices:
            lim = self.limiters[d]
            if lim.poll(now) if fresh else lim.pending():
                self._dirty = True
                self._send_summaries(d, lim)
        if self._dirty and ticks_diff(now, self._saved_at) >= self.persist_ms:
            self.save()

    # -- frames ---------------------------------------------------------------------------------
    # Frames are built into two preallocated buffers (an alert, and a summary that may follow
    # it) and go out as hex straight from them: nothing per alert but the output line itself.

    def _next_counter(self, dev):
        c = self.counter.get(dev, 0) + 1
        self.counter[dev] = c
        return (self.boot_n << 32) | c  # monotonic across boots while the boot count persists

    def _send(self, buf, n):
        security.seal(buf, n, self.crypto)  # after any parse of it: nothing reads the MAC
        self.frames += 1
        self.out.emit_hex("FRAME", self.clock.ticks_ms(), buf, n)

    def _t2000(self, ticks=None):
        s = self.clock.wall_s()
        if ticks is not None:
            s -= ticks_diff(self.clock.ticks_ms(), ticks) // 1000
        s -= UNIX_2000
        return s if s > 0 else 0

    def _title(self, dev):
        return self.titles.get(dev) or _DEFAULT_TITLES[dev]

    def _send_summary(self, dev, kind, code, count, total, first, last):
        n = gbcs.build_summary(self._fs, self._next_counter(dev), self._title(dev),
                               self._title("dcc"), self._t2000(), code, count, total,
                               self._t2000(first), self._t2000(last), kind)
        self._send(self._fs, n)

    def _send_summaries(self, dev, lim):
        while True:
            rec = lim.pop_summary()
            if rec is None:
                return
            kind, code, count, total, first, last = rec
            self._send_summary(dev, kind, code, count, total, first, last)

    def alert(self, code, src):
        """Raise `code` at device `src`; returns the decisions text of the ACK."""
        now = self.clock.ticks_ms()
        dec = "t=%d" % now
        lim = self.limiters.get(src) if src != "hub" else None
        r = 0
        if lim is not None:  # meter placement: the meter decides before the HAN
            r = lim.offer(code, now)
            self._dirty = True
            dec += " %s=%s" % (src, _DEC[r])
            if r == limiter.SUPPRESS:
                return dec
        critical = code in self.critical
        n = gbcs.build_alert(self._fa, not critical, self._next_counter(src), self._title(src),
                             self._title("dcc"),
                             gbcs.MSG_CRITICAL if critical else gbcs.MSG_NON_CRITICAL, code,
                             gbcs.ENC_GBZ if src == "gsme" else gbcs.ENC_DLMS, self._t2000())
        r2 = limiter.FORWARD
        hub = self.limiters.get("hub")
        if hub is not None:
            # a meter's frame crossed the HAN: the hub learns the code by parsing it
            seen = code if src == "hub" else gbcs.parse(self._fa, n, self._pf)[gbcs.F_ALERT_CODE]
            if seen != SUMMARY_CODE:
                r2 = hub.offer(seen, now)
                self._dirty = True
                dec += " hub=%s" % _DEC[r2]
        if r2 != limiter.SUPPRESS:
            self._send(self._fa, n)
        if r & limiter.STARTED:  # a meter's summary is never throttled by the hub
            self._send_summary(src, gbcs.KIND_STARTED, code, 0, 0, now, now)
        if r2 & limiter.STARTED:
            self._send_summary("hub", gbcs.KIND_STARTED, seen, 0, 0, now, now)
        return dec

    # -- the protocol -----------------------------------------------------------------------------

    def feed(self, data):
        """Bytes from the serial line (any chunking)."""
        self.reader.feed(data, self._line)

    def _line(self, line):
        if line is None:
            self.rxerr += 1
            self.out.emit("NAK", "- " + wire.E_TOOLONG)
            return
        self.handle_line(line)

    def handle_line(self, line):
        """One received line (bytes, with or without its newline)."""
        if not line.strip():
            return
        self.rx += 1
        try:
            seq, verb, args, noise = wire.decode(line, wire.HOST_MARK)
        except wire.WireError as e:
            self.rxerr += 1
            self.out.emit("NAK", "- %s %s" % (e.code, e.detail) if e.detail else "- " + e.code)
            return
        if noise:
            self.rxerr += 1
            self.out.emit("NAK", "- %s %d" % (wire.E_NOISE, noise))
        if seq == self._last_hseq:
            self.out.emit("ACK", "%d dup first=%d" % (seq, self._last_first))
            return
        self._last_hseq = seq
        self._last_first = self.out.seq
        try:
            text = self._run(verb, args, seq)
        except wire.WireError as e:
            self.rxerr += 1
            self.out.emit("NAK", "%d %s %s" % (seq, e.code, e.detail) if e.detail
                          else "%d %s" % (seq, e.code))
            return
        except Exception as e:  # the loop must survive anything a command raises
            self.out.emit("NAK", "%d %s %s %s" % (seq, wire.E_INTERNAL, type(e).__name__,
                                                  _word(e)))
            return
        self.out.emit("ACK", "%d %s" % (seq, text) if text else "%d" % seq)
        if verb == "RESET" and self.host is not None:
            kind = args[0]
            if kind == "soft":
                self.save()  # an orderly restart: the firmware gets to flush first
            self.host.reset(kind)

    def _run(self, verb, args, seq):
        if verb == "HELLO":
            self.out.emit("HELLO", self.hello())
            return ""
        if verb == "ALERT":
            wire.nargs(args, 2)
            code = _hex16(args[0])
            if code == SUMMARY_CODE:  # project-defined; only the board itself sends it
                raise wire.WireError(wire.E_ARG, "code 8FFE reserved")
            if args[1] not in self.sources:
                raise wire.WireError(wire.E_ARG, "source " + args[1])
            text = self.alert(code, args[1])
            self.housekeeping()
            return text
        if verb == "ADVANCE":
            wire.nargs(args, 1)
            ms = wire.uint_arg(args[0], 86400000)
            if not getattr(self.clock, "virtual", False):
                raise wire.WireError(wire.E_UNSUPPORTED, "real-time clock")
            while ms > 0:
                step = ms if ms < self.poll_ms else self.poll_ms
                self.clock.advance(step)
                ms -= step
                self.housekeeping()
            return "t=%d" % self.clock.ticks_ms()
        if verb == "CLOCK":
            wire.nargs(args, 1)
            self.clock.set_wall(wire.uint_arg(args[0], 0xFFFFFFFF))
            return ""
        if verb == "STATS":
            self.out.emit("STATS", self.stats_text())
            return ""
        if verb == "RESEND":
            wire.nargs(args, 1)
            return "resent=%d" % self.out.resend(wire.uint_arg(args[0], wire.SEQ_MOD - 1))
        if verb == "SAVE":
            return "bytes=%d" % self.save()
        if verb == "CLEAR":
            # a known starting state for a test rig: empty limiters, and an empty snapshot so
            # that a reset cannot bring the old state back
            for d in self.devices:
                self.limiters[d].clear()
            return "bytes=%d" % self.save()
        if verb == "CONFIG":
            wire.nargs(args, 1)
            return self.apply_config(args[0])
        if verb == "RESET":
            wire.nargs(args, 1)
            if args[0] not in RESET_KINDS:
                raise wire.WireError(wire.E_ARG, "kind " + args[0])
            if self.host is None or not self.host.can_reset(args[0]):
                raise wire.WireError(wire.E_UNSUPPORTED, args[0])
            return ""
        if verb == "POWERCUT":
            wire.nargs(args, 1)
            n = wire.uint_arg(args[0], 1 << 24)
            if self.host is None or not hasattr(self.host, "powercut"):
                raise wire.WireError(wire.E_UNSUPPORTED, "powercut")
            self.host.powercut(n)
            return ""
        if verb in LUT_VERBS:
            if lut is None:
                raise wire.WireError(wire.E_UNSUPPORTED, "lut")
            if self._lut is None:
                self._lut = lut.UnderTest()
            return self._lut.run(verb, args, self.out)
        raise wire.WireError(wire.E_VERB, verb[:16])

    def apply_config(self, hexmsg):
        if config_update is None:
            raise wire.WireError(wire.E_UNSUPPORTED, "config")
        try:
            msg = wire.unhexlify(hexmsg)
        except ValueError:
            raise wire.WireError(wire.E_ARG, "hex") from None
        try:
            cfg = config_update.apply(self.fs, msg)
        except config_update.AuthError as e:
            raise wire.WireError(wire.E_AUTH, _word(e)) from None
        except ValueError as e:
            raise wire.WireError(wire.E_CONFIG, _word(e)) from None
        for d in self.devices:
            self.limiters[d].configure(cfg)
        persist.save(self.fs, CONFIG_FILE, _kv(cfg.to_dict()).encode())
        self._dirty = True
        return "applied"

    def hello(self):
        return ("proto=%d fw=%s board=%s engine=%s role=%s limiter=%s clock=%s boot=%d "
                "ring=%d max=%d caps=%s auth=%s" % (wire.PROTOCOL_VERSION, self.fw or "unknown",
                                            self.name, self.engine or "unknown", self.role,
                                            self.placement,
                                            "virtual" if getattr(self.clock, "virtual", False)
                                            else "real", self.boot_n, self.out.size,
                                            wire.MAX_LINE, "none" if lut is None else "lut",
                                            security.auth_name(self.crypto)))

    def stats_text(self):
        now = self.clock.ticks_ms()
        parts = ["t=%d boot=%d rx=%d rxerr=%d frames=%d flash_writes=%d"
                 % (now, self.boot_n, self.rx, self.rxerr, self.frames,
                    getattr(self.fs, "writes", 0))]
        for d in self.devices:
            lim = self.limiters[d]
            st = lim.stats()
            for k in _STAT_ORDER:
                if k in st:
                    parts.append("%s.%s=%d" % (d, k, st[k]))
            parts.append("%s.level=%d" % (d, lim.level(now)))
        return " ".join(parts)


_DEFAULT_TITLES = {
    "hub": b"\x00\xdb\x12\x34\x56\x78\x90\xa0",
    "esme": b"\x00\xdb\x12\x34\x56\x78\x90\xa1",
    "gsme": b"\x00\xdb\x12\x34\x56\x78\x90\xa2",
    "dcc": b"\x90\xb3\xd5\x1f\x30\x01\x00\x00",
}


def _hex16(s):
    if len(s) != 4:
        raise wire.WireError(wire.E_ARG, "code " + s[:8])
    try:
        return int(s, 16)
    except ValueError:
        raise wire.WireError(wire.E_ARG, "code " + s[:8]) from None


def _word(e):
    s = str(e)
    out = []
    for c in s:
        out.append(c if 33 <= ord(c) <= 126 and c not in "!@*" else "_")
    return "".join(out)[:48]


def _kv(d):
    parts = []
    for k in sorted(d):
        v = d[k]
        if isinstance(v, (tuple, list)):
            v = ",".join("%d" % x for x in v)
        parts.append("%s=%s" % (k, v))
    return " ".join(parts)


def _parse_kv(s):
    d = {}  # type: dict
    for p in s.split(" "):
        if "=" in p:
            k, v = p.split("=", 1)
            if k == "never_throttle":
                d[k] = [int(x) for x in v.split(",") if x]
            elif k == "throttle_mode":
                d[k] = int(v) if v.isdigit() else v
            else:
                d[k] = int(v)
    return d
