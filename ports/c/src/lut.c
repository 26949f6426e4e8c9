/* lut.c -- the limiter under test (docs/wire-protocol.md section 10, caps=lut): one limiter of
 * the board's own code, apart from the ALERT path, driven at ticks the host names, so that
 * `hil conformance` holds this build's limiter to every limiter vector over the serial link.
 * Its table holds LUT_TABLE slots (the vocabulary's 255 by default; a small board may build
 * fewer and answers a larger LNEW `E_INTERNAL MemoryError`, as MicroPython out of RAM). */
#include "lut.h"

#include <string.h>

#include "limiter.h"

#ifndef LUT_TABLE
#define LUT_TABLE LIM_BIG_SLOTS
#endif
#define LUT_BLOB_MAX LIM_SNAP_MAX(LUT_TABLE)
#define BLOB_CHUNK 256u

typedef struct { slot_t slot[LUT_TABLE + 1]; lim_hdr_t h; } lut_lim_t;

static struct {
    lut_lim_t lim;
    int exists;
    lim_config_t cfg;
    unsigned slots;
    uint8_t blob[LUT_BLOB_MAX];
    size_t blob_n;
} U;

static const char *const stat_names[LIM_NSTATS] = {
    "offered", "forwarded", "suppressed", "amber_events", "red_events", "overflow_uses",
    "episodes", "summaries_merged",
};

void lut_reset(void) { U.exists = 0; U.blob_n = 0; }

/* A decimal integer, optionally negative, at most 11 digits: only the form is checked here, so
 * that out-of-range values reach the limiter's own checks. */
static int int_word(const char *p, size_t n, int64_t *out)
{
    int neg = n && p[0] == '-';
    if (neg) {
        p++;
        n--;
    }
    if (n == 0 || n > 11)
        return -1;
    int64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (p[k] < '0' || p[k] > '9')
            return -1;
        v = v * 10 + (p[k] - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* the key a refusal names: what a "<key>: ..." message would start with */
static int fail_key(reply_t *r, const char *code, const char *p, size_t n)
{
    if (n > 24)
        n = 24;
    const char *colon = memchr(p, ':', n);
    return reply_failn(r, code, p, colon ? (size_t)(colon - p) : n);
}

/* key=value words -> a config (policy.md defaults for keys not given). */
static int parse_config(const word_t *w, unsigned nw, lim_config_t *cfg, reply_t *r)
{
    lim_raw_config_t raw;
    lim_raw_default(&raw);
    int unknown = -1;   /* the first word whose key is not in the vocabulary */
    for (unsigned i = 0; i < nw; i++) {
        const char *eq = memchr(w[i].p, '=', w[i].n);
        if (!eq || eq == w[i].p)
            return fail_key(r, "E_CONFIG", w[i].p, w[i].n);
        size_t kn = (size_t)(eq - w[i].p);
        const char *v = eq + 1;
        size_t vn = w[i].n - kn - 1u;
        int k = lim_key_index(w[i].p, kn);
        if (k == K_NEVER_THROTTLE) {
            raw.n_nt = 0;
            for (size_t s = 0; vn && s <= vn;) {
                size_t e = s;
                while (e < vn && v[e] != ',')
                    e++;
                int64_t c;
                if (int_word(v + s, e - s, &c))
                    return fail_key(r, "E_CONFIG", w[i].p, kn);
                if (raw.n_nt < LIM_MAX_NT)
                    raw.nt[raw.n_nt] = c;
                if (raw.n_nt < 255)
                    raw.n_nt++;
                s = e + 1;
            }
        } else if (k == K_MODE && !(vn && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))) {
            word_t name = { v, vn };
            if (word_is(name, "one_in_n"))
                raw.v[K_MODE] = LIM_ONE_IN_N;
            else if (word_is(name, "one_per_period"))
                raw.v[K_MODE] = LIM_ONE_PER_PERIOD;
            else
                raw.v[K_MODE] = -1;   /* refused below, by name */
        } else {
            int64_t x;
            if (int_word(v, vn, &x))
                return fail_key(r, "E_CONFIG", w[i].p, kn);
            if (k >= 0)
                raw.v[k] = x;
            else if (unknown < 0)
                unknown = (int)i;
        }
        if (k < 0 && unknown < 0)
            unknown = (int)i;
    }
    if (unknown >= 0) {
        const word_t *u = &w[unknown];
        const char *eq = memchr(u->p, '=', u->n);
        return fail_key(r, "E_CONFIG", u->p, (size_t)(eq - u->p));
    }
    const char *bad = lim_config_make(cfg, &raw);
    if (bad)
        return reply_fail(r, "E_CONFIG", bad);
    return 0;
}

static int nargs(const wire_cmd_t *c, unsigned n, reply_t *r)
{
    return c->nargs == n ? 0 : reply_fail(r, "E_ARG", "want_args");
}

static int ticks_arg(const wire_cmd_t *c, unsigned i, uint32_t *t, reply_t *r)
{
    return word_uint(c->arg[i], WIRE_SEQ_MOD - 1u, t) ? reply_fail(r, "E_ARG", "ticks") : 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int lut_run(const wire_cmd_t *c, wire_out_t *out, reply_t *r)
{
    word_t v = c->verb;
    lim_ref L = LIM_REF(&U.lim);
    unsigned na = c->nargs < WIRE_MAX_ARGS ? c->nargs : WIRE_MAX_ARGS;
    if (word_is(v, "LNEW")) {
        if (c->nargs == 0)
            return reply_fail(r, "E_ARG", "want_slots");
        U.exists = 0;   /* a refused LNEW leaves no limiter under test */
        int64_t slots;
        if (int_word(c->arg[0].p, c->arg[0].n, &slots))
            return reply_fail(r, "E_ARG", "slots");
        lim_config_t cfg;
        if (parse_config(c->arg + 1, na - 1u, &cfg, r))
            return -1;
        /* a table built smaller than the vocabulary's (a small board) is out of memory, as a
         * MicroPython board would be: `hil conformance` counts that vector not applicable */
        if (slots > LUT_TABLE && slots <= LIM_BIG_SLOTS)
            return reply_fail(r, "E_INTERNAL", "MemoryError lut_table");
        if (slots < 1 || slots > LUT_TABLE || lim_init(L, &cfg, (unsigned)slots, LUT_TABLE))
            return reply_fail(r, "E_ARG", "slots");
        U.exists = 1;
        U.cfg = cfg;
        U.slots = (unsigned)slots;
        return 0;
    }
    if (word_is(v, "LPUT")) {
        uint32_t off;
        if (c->nargs != 1 && c->nargs != 2)
            return reply_fail(r, "E_ARG", "want_offset_[hex]");
        if (word_uint(c->arg[0], 0xFFFF, &off))
            return reply_fail(r, "E_ARG", "offset");
        if (off == 0)
            U.blob_n = 0;
        if (off != U.blob_n)
            return reply_fail(r, "E_ARG", "offset_not_the_length_so_far");
        if (c->nargs == 2) {
            word_t h = c->arg[1];
            if (h.n & 1u)
                return reply_fail(r, "E_ARG", "hex");
            for (size_t k = 0; k < h.n; k++)
                if (hexval(h.p[k]) < 0)
                    return reply_fail(r, "E_ARG", "hex");
            if (U.blob_n + h.n / 2u > sizeof U.blob)
                return reply_fail(r, "E_ARG", "too_long");
            for (size_t k = 0; k < h.n; k += 2)
                U.blob[U.blob_n++] = (uint8_t)(hexval(h.p[k]) << 4 | hexval(h.p[k + 1]));
        }
        reply_addu(r, "bytes", (uint32_t)U.blob_n);
        return 0;
    }
    if (word_is(v, "LFAULT"))
        return reply_fail(r, "E_INTERNAL", "Fault deliberate");
    if (!U.exists)
        return reply_fail(r, "E_ARG", "no_limiter_(LNEW_first)");
    uint32_t t;
    if (word_is(v, "LOFFER")) {
        int64_t code;
        if (nargs(c, 2, r) || ticks_arg(c, 0, &t, r))
            return -1;
        if (int_word(c->arg[1].p, c->arg[1].n, &code) || code < 0 || code > 0xFFFF)
            return reply_fail(r, "E_ARG", "code");
        reply_addu(r, "d", (uint32_t)lim_offer(L, (int32_t)code, t));
        return 0;
    }
    if (word_is(v, "LPOLL")) {
        if (nargs(c, 1, r) || ticks_arg(c, 0, &t, r))
            return -1;
        reply_addu(r, "pending", lim_poll(L, t));
        return 0;
    }
    if (word_is(v, "LLEVEL")) {
        if (nargs(c, 1, r) || ticks_arg(c, 0, &t, r))
            return -1;
        reply_addu(r, "level", (uint32_t)lim_level(L, t));
        return 0;
    }
    if (word_is(v, "LPOP")) {
        if (nargs(c, 0, r))
            return -1;
        lim_summary_t s;
        uint32_t n = 0;
        while (lim_pop(L, &s)) {
            wire_begin(out, "LSUM");
            wire_putu(out, s.kind);
            wire_putu(out, s.code);
            wire_putu(out, s.count);
            wire_putu(out, s.total);
            wire_putu(out, s.first);
            wire_putu(out, s.last);
            wire_end(out);
            n++;
        }
        reply_addu(r, "n", n);
        return 0;
    }
    if (word_is(v, "LCONF")) {
        lim_config_t cfg;
        if (parse_config(c->arg, na, &cfg, r))
            return -1;
        lim_configure(L, &cfg);
        return 0;
    }
    if (word_is(v, "LCLEAR")) {
        if (nargs(c, 0, r))
            return -1;
        lim_clear(L);
        return 0;
    }
    if (word_is(v, "LSTATS")) {
        if (nargs(c, 0, r))
            return -1;
        for (unsigned k = 0; k < LIM_NSTATS; k++)
            reply_addu(r, stat_names[k], L.h->stats[k]);
        reply_addu(r, "pending_summaries", L.h->pending);
        return 0;
    }
    if (word_is(v, "LSNAP")) {
        if (nargs(c, 1, r) || ticks_arg(c, 0, &t, r))
            return -1;
        size_t n = lim_snapshot(L, t, U.blob, sizeof U.blob);
        U.blob_n = 0;   /* the buffer is shared with LPUT: a snapshot read out ends a write-back */
        for (size_t off = 0; off < n; off += BLOB_CHUNK) {
            wire_begin(out, "LBLOB");
            wire_putu(out, (uint32_t)off);
            wire_puthex(out, U.blob + off, n - off < BLOB_CHUNK ? n - off : BLOB_CHUNK);
            wire_end(out);
        }
        reply_addu(r, "bytes", (uint32_t)n);
        return 0;
    }
    if (word_is(v, "LRESTORE")) {
        if (nargs(c, 1, r) || ticks_arg(c, 0, &t, r))
            return -1;
        /* a new limiter from LNEW's config and size, as after a reboot */
        (void)lim_init(L, &U.cfg, U.slots, LUT_TABLE);
        if (lim_restore(L, U.blob, U.blob_n, t))
            return reply_fail(r, "E_ARG", "snapshot");
        return 0;
    }
    return reply_failn(r, "E_VERB", v.p, v.n < 16 ? v.n : 16);
}

int lut_is_verb(word_t v)
{
    static const char *const verbs[] = { "LNEW", "LOFFER", "LPOLL", "LPOP", "LLEVEL", "LCONF",
                                         "LCLEAR", "LSTATS", "LSNAP", "LPUT", "LRESTORE", "LFAULT" };
    for (unsigned i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (word_is(v, verbs[i]))
            return 1;
    return 0;
}
