# Runs one limiter conformance vector (vectors/limiter/*.json; format in docs/limiter.md)
# against a limiter module and returns what it observed, in the vector's "expect" shape.
# Runs on CPython and MicroPython (tests load it flat into the VM), so: no typing, no f-strings.

try:
    from firmware_model.crc import crc16
except ImportError:  # flat layout (tests/test_limiter_mp.py)
    from crc import crc16


def _key(e):
    # ValueError messages of Config name the key first: "<key>: ..."
    return str(e).split(":")[0]


def run_vector(v, lm):
    out = {}
    if "config_errors" in v:
        errs = []
        for d in v["config_errors"]:
            try:
                lm.Config.from_dict(d)
                errs.append(None)
            except ValueError as e:
                errs.append(_key(e))
        out["config_errors"] = errs
    if "slot_errors" in v:
        errs = []
        for n in v["slot_errors"]:
            try:
                lm.Limiter(lm.Config(), slots=n)
                errs.append(None)
            except ValueError as e:
                errs.append(_key(e))
        out["slot_errors"] = errs
    if "events" not in v:
        return out
    cfg = lm.Config.from_dict(v.get("config", {}))
    if not lm.Config.from_dict(cfg.to_dict()) == cfg or cfg == 0:
        raise AssertionError("Config.to_dict does not round-trip")
    slots = v.get("slots", 16)
    lim = lm.Limiter(cfg, slots)
    decisions = []
    polls = []
    levels = []
    summaries = []
    errors = []
    for idx, ev in enumerate(v["events"]):
        op = ev[0]
        if op == "offer":
            try:
                decisions.append(lim.offer(ev[2], ev[1]))
            except ValueError as e:
                errors.append([idx, _key(e)])
        elif op == "poll":
            polls.append(lim.poll(ev[1]))
        elif op == "pop":
            while True:
                s = lim.pop_summary()
                if s is None:
                    break
                summaries.append([idx] + list(s))
        elif op == "level":
            levels.append(lim.level(ev[1]))
        elif op == "clear":
            lim.clear()
        elif op == "configure":
            try:
                lim.configure(lm.Config.from_dict(ev[1]))
            except ValueError as e:
                errors.append([idx, _key(e)])
        elif op == "reset":
            # ["reset", t_snapshot, t_boot, patches, fix_crc, truncate_to]
            blob = bytearray(lim.snapshot(ev[1]))
            patches = ev[3] if len(ev) > 3 else []
            for p in patches:
                blob[p[0]] = p[1]
            if len(ev) > 4 and ev[4]:
                crc = crc16(blob, len(blob) - 2)
                blob[-2] = crc >> 8
                blob[-1] = crc & 0xFF
            if len(ev) > 5 and ev[5] is not None:
                blob = blob[: ev[5]]
            lim = lm.Limiter(cfg, slots)
            try:
                lim.restore(bytes(blob), ev[2])
            except lm.SnapshotError:
                errors.append([idx, "SnapshotError"])
            if errors and errors[-1][0] == idx and (lim.stats()["offered"] or lim.pending()):
                raise AssertionError("rejected snapshot left state behind")
        else:
            raise ValueError("unknown event " + str(op))
    out["decisions"] = decisions
    out["polls"] = polls
    out["levels"] = levels
    out["summaries"] = summaries
    out["errors"] = errors
    st = lim.stats()
    out["stats"] = dict([(k, st[k]) for k in sorted(st)])
    return out
