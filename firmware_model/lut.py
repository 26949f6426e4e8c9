# ruff: noqa: UP031  (%-formatting on purpose: MicroPython 1.9.2 has no f-strings)
# The limiter under test: the optional L verbs of the wire protocol (docs/wire-protocol.md,
# "Limiter under test"), with which a host runs the limiter conformance vectors
# (vectors/limiter/*.json) against this board's limiter over its serial link.
#
# One Limiter of its own, apart from the board's: the host makes it (LNEW: a config and a table
# size), offers, polls and asks the level at ticks it names, configures and clears it, reads its
# snapshot out as hex and writes bytes back for a restore. Nothing here is on the ALERT path;
# the limiter exists only once the host asks for one, so a board that never runs conformance
# pays only for this module's bytecode. A board built without this module answers every L verb
# E_UNSUPPORTED (firmware_model/board.py) and says so in HELLO (no `lut` in caps=).

try:
    from firmware_model import limiter, wire
except ImportError:  # flat layout (a board's root directory)
    import limiter
    import wire

BLOB_CHUNK = 256  # snapshot bytes per LBLOB line: 512 hex digits, well inside MAX_LINE
_STATS = ("offered", "forwarded", "suppressed", "amber_events", "red_events", "overflow_uses",
          "episodes", "summaries_merged", "pending_summaries")


def _key(e):
    # the limiter's ValueErrors name the key first: "<key>: ..."
    return str(e).split(":")[0][:32]


def _int_word(key, s):
    # A decimal integer, optionally negative: out-of-range values must reach the limiter's own
    # checks (that is what the config vectors test), so only the form is checked here.
    d = s[1:] if s[:1] == "-" else s
    if not d or not d.isdigit() or len(d) > 11:
        raise ValueError("%s: not an integer" % key)
    return int(s)


def parse_config(words):
    """Config vocabulary from `key=value` words: decimal integers, throttle_mode also by name,
    never_throttle a comma-separated list (empty for none). Raises ValueError "<key>: ..."."""
    d = {}
    if not words:
        return limiter.Config()
    for w in words:
        kv = w.split("=", 1)
        if len(kv) != 2 or not kv[0]:
            raise ValueError("%s: not key=value" % w[:24])
        k, v = kv
        if k == "never_throttle":
            d[k] = [_int_word(k, c) for c in v.split(",")] if v else []
        elif k == "throttle_mode" and not (v[:1] == "-" or v.isdigit()):
            d[k] = v  # a mode's name: Config.from_dict knows them
        else:
            d[k] = _int_word(k, v)
    return limiter.Config.from_dict(d)


class UnderTest:
    """The L verbs' state: the limiter under test, the config and table size it was made with
    (a restore builds a new limiter from them, as a reboot would), and the bytes of a snapshot
    being written back."""

    def __init__(self):
        self.lim = None
        self.cfg = None
        self.slots = 0
        self.blob = bytearray()

    def run(self, verb, args, out):
        """Execute L verb `verb`; returns the ACK's text or raises wire.WireError. `out` is the
        board's wire.Emitter, for the lines some verbs emit before their ACK."""
        if verb == "LNEW":
            if not args:
                raise wire.WireError(wire.E_ARG, "want slots")
            self.lim = None  # a refused LNEW leaves no limiter under test
            try:
                slots = _int_word("slots", args[0])
            except ValueError:
                raise wire.WireError(wire.E_ARG, "slots") from None
            if len(args) > 1 and not hasattr(limiter.Config, "from_dict"):
                # the derived build for small boards drops the config feature (docs/limiter.md)
                raise wire.WireError(wire.E_UNSUPPORTED, "config")
            try:
                cfg = parse_config(args[1:])
            except ValueError as e:
                raise wire.WireError(wire.E_CONFIG, _key(e)) from None
            try:
                self.lim = limiter.Limiter(cfg, slots)
            except ValueError as e:
                raise wire.WireError(wire.E_ARG, _key(e)) from None
            self.cfg = cfg
            self.slots = slots
            return ""
        if verb == "LPUT":
            # the snapshot to restore, in order: offset 0 starts a new one (no hex: empty)
            if len(args) not in (1, 2):
                raise wire.WireError(wire.E_ARG, "want offset [hex]")
            off = wire.uint_arg(args[0], 0xFFFF)
            if off == 0:
                self.blob = bytearray()
            if off != len(self.blob):
                raise wire.WireError(wire.E_ARG, "offset %d, have %d" % (off, len(self.blob)))
            try:
                self.blob.extend(wire.unhexlify(args[1] if len(args) > 1 else ""))
            except ValueError:
                raise wire.WireError(wire.E_ARG, "hex") from None
            return "bytes=%d" % len(self.blob)
        if verb == "LFAULT":
            # a deliberate exception: the host checks that it comes back as E_INTERNAL and
            # that the main loop carries on
            raise RuntimeError("deliberate")
        lim = self.lim
        if lim is None:
            raise wire.WireError(wire.E_ARG, "no limiter (LNEW first)")
        if verb == "LOFFER":
            wire.nargs(args, 2)
            t = wire.uint_arg(args[0], wire.SEQ_MOD - 1)
            try:
                return "d=%d" % lim.offer(_int_word("code", args[1]), t)
            except ValueError as e:
                raise wire.WireError(wire.E_ARG, _key(e)) from None
        if verb == "LPOLL":
            wire.nargs(args, 1)
            return "pending=%d" % lim.poll(wire.uint_arg(args[0], wire.SEQ_MOD - 1))
        if verb == "LLEVEL":
            wire.nargs(args, 1)
            return "level=%d" % lim.level(wire.uint_arg(args[0], wire.SEQ_MOD - 1))
        if verb == "LPOP":
            wire.nargs(args, 0)
            n = 0
            while True:
                rec = lim.pop_summary()
                if rec is None:
                    return "n=%d" % n
                out.emit("LSUM", "%d %d %d %d %d %d" % rec)
                n += 1
        if verb == "LCONF":
            if not hasattr(limiter.Config, "from_dict"):
                raise wire.WireError(wire.E_UNSUPPORTED, "config")
            try:
                cfg = parse_config(args)
                lim.configure(cfg)
            except ValueError as e:
                raise wire.WireError(wire.E_CONFIG, _key(e)) from None
            return ""
        if verb == "LCLEAR":
            wire.nargs(args, 0)
            lim.clear()
            return ""
        if verb == "LSTATS":
            wire.nargs(args, 0)
            st = lim.stats()
            return " ".join(["%s=%d" % (k, st[k]) for k in _STATS])
        if verb in ("LSNAP", "LRESTORE") and not hasattr(lim, "snapshot"):
            raise wire.WireError(wire.E_UNSUPPORTED, "snapshot")  # the small-board build
        if verb == "LSNAP":
            wire.nargs(args, 1)
            blob = lim.snapshot(wire.uint_arg(args[0], wire.SEQ_MOD - 1))
            for off in range(0, len(blob), BLOB_CHUNK):
                part = blob[off:off + BLOB_CHUNK]
                out.emit_hex("LBLOB", off, part, len(part))
            return "bytes=%d" % len(blob)
        if verb == "LRESTORE":
            # a new limiter from LNEW's config and size, as after a reboot, restored from the
            # bytes LPUT gave; a refused snapshot leaves it empty, and it stays the one under test
            wire.nargs(args, 1)
            t = wire.uint_arg(args[0], wire.SEQ_MOD - 1)
            self.lim = limiter.Limiter(self.cfg, self.slots)
            try:
                self.lim.restore(bytes(self.blob), t)
            except limiter.SnapshotError:
                raise wire.WireError(wire.E_ARG, "snapshot") from None
            return ""
        raise wire.WireError(wire.E_VERB, verb[:16])
