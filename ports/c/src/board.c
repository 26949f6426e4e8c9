/* board.c -- the board: boot and restore, the wire protocol's commands (docs/wire-protocol.md
 * section 4), the ALERT path through the limiter(s) to GBCS frames, housekeeping (summaries
 * that fell due, the snapshot at bounded frequency), and the main loop fw_main().
 *
 * Placement (section 6): role chub carries an electricity meter (esme) and a gas meter (gsme)
 * on its HAN; limiter "meter" puts one limiter in each meter, "hub" one in the hub, "both" all
 * three. A meter's frame crosses the HAN and the hub reads its alert code from it.
 *
 * All state is in one static struct, cleared at every boot: a reset (plat_reset) loses RAM and
 * keeps flash, as on hardware.
 */
#include <string.h>

#include "config_update.h"
#include "firmware.h"
#include "gbcs.h"
#include "limiter.h"
#include "lut.h"
#include "platform.h"
#include "reply.h"
#include "store.h"
#include "ticks.h"
#include "wire.h"

#ifndef FW_ID
#define FW_ID "sha256:0000000000000000"
#endif
#define UNIX_2000 946684800u
#define N_LIMS 3u                 /* esme, gsme, hub */
#define CFG_BYTES 58u
#define FIXED_BYTES (4u + 1u + CFG_BYTES + 4u + CU_MAC_LEN + 1u)
#define ENTRY_NONE 0u
#define ENTRY_CORRUPT 0xFFFFu
#define IMG_HAS_CONFIG 0x01u
#define IMG_CU_UNREADABLE 0x02u

static const char *const dev_names[N_DEVICES] = { "esme", "gsme", "hub", "dcc" };
static const char *const role_names[] = { "chub", "esme", "gsme" };
static const char *const place_names[] = { "none", "hub", "meter", "both" };
static const char *const cause_names[] = { "power", "soft", "hard", "watchdog", "brownout" };
static const char *const restore_names[] = { "ok", "none", "corrupt" };
static const char *const stat_order[] = { "offered", "forwarded", "suppressed", "amber_events",
                                          "red_events", "overflow_uses", "episodes" };

static struct {
    const board_cfg_t *cfg;
    limiter_t lim[N_LIMS];     /* indexed by DEV_ESME, DEV_GSME, DEV_HUB */
    uint8_t has_lim[N_LIMS];
    uint8_t entry[N_LIMS];     /* ENTRY_* of a limiter whose snapshot the image lacks */
    lim_config_t config;
    uint8_t has_config;        /* an applied config update is in force */
    cu_state_t cu;
    uint8_t cu_unreadable;
    store_t store;
    uint32_t boot_n;
    uint32_t counter[N_DEVICES];
    uint32_t rx, rxerr, frames;
    int64_t last_hseq;
    uint32_t last_first;
    int dirty;
    uint32_t saved_at;
    int64_t polled_at;
    wire_reader_t reader;
    wire_out_t out;
    wire_cmd_t cmd;
    reply_t reply;
    uint8_t frame[GBCS_FRAME_MAX];
    uint8_t sframe[GBCS_FRAME_MAX];
    uint8_t snap[LIM_SNAP_MAX(LIM_MAX_SLOTS)];
    uint8_t msg[CU_MAX_LEN];
} B;

static lim_ref lim(unsigned d) { return LIM_REF(&B.lim[d]); }

void board_cfg_default(board_cfg_t *c)
{
    static const uint8_t titles[N_DEVICES][8] = {
        { 0x00, 0xDB, 0x12, 0x34, 0x56, 0x78, 0x90, 0xA1 },
        { 0x00, 0xDB, 0x12, 0x34, 0x56, 0x78, 0x90, 0xA2 },
        { 0x00, 0xDB, 0x12, 0x34, 0x56, 0x78, 0x90, 0xA0 },
        { 0x90, 0xB3, 0xD5, 0x1F, 0x30, 0x01, 0x00, 0x00 },
    };
    memset(c, 0, sizeof *c);
    c->name = "native";
    c->role = ROLE_CHUB;
    c->placement = PLACE_HUB;
    c->slots = 16;
    c->poll_ms = 1000;
    c->persist_ms = 60000;
    c->ring = 64;
    memcpy(c->titles, titles, sizeof titles);
    lim_config_default(&c->config);
    c->n_critical = c->config.n_never;
    memcpy(c->critical, c->config.never_throttle, sizeof c->critical);
}

/* -- the image: fixed part, then one entry (u16 length + snapshot) per limiter --------------- */

static uint8_t *be(uint8_t *p, uint32_t v, unsigned n)
{
    while (n--)
        *p++ = (uint8_t)(v >> (8u * n));
    return p;
}

static uint32_t rd(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    while (n--)
        v = v << 8 | *p++;
    return v;
}

static void put_config(uint8_t *p, const lim_config_t *c)
{
    p = be(p, c->device_window_ms, 4);
    p = be(p, c->amber_threshold, 2);
    p = be(p, c->red_threshold, 2);
    p = be(p, c->code_window_ms, 4);
    p = be(p, c->code_limit, 2);
    *p++ = c->throttle_mode;
    *p++ = c->n_never;
    p = be(p, c->throttle_n, 2);
    p = be(p, c->throttle_period_ms, 4);
    p = be(p, c->summary_interval_ms, 4);
    for (unsigned i = 0; i < LIM_MAX_NT; i++)
        p = be(p, c->never_throttle[i], 2);
}

/* a config read back from flash is checked like any other */
static int get_config(const uint8_t *p, lim_config_t *c)
{
    lim_raw_config_t raw;
    lim_raw_default(&raw);
    raw.v[K_DEVICE_WINDOW] = rd(p, 4);
    raw.v[K_AMBER] = rd(p + 4, 2);
    raw.v[K_RED] = rd(p + 6, 2);
    raw.v[K_CODE_WINDOW] = rd(p + 8, 4);
    raw.v[K_CODE_LIMIT] = rd(p + 12, 2);
    raw.v[K_MODE] = p[14];
    raw.n_nt = p[15];
    raw.v[K_THROTTLE_N] = rd(p + 16, 2);
    raw.v[K_PERIOD] = rd(p + 18, 4);
    raw.v[K_SUMMARY_INTERVAL] = rd(p + 22, 4);
    for (unsigned i = 0; i < LIM_MAX_NT; i++)
        raw.nt[i] = rd(p + 26 + 2 * i, 2);
    return lim_config_make(c, &raw) ? -1 : 0;
}

/* Offset and length of limiter d's entry in the current image; -1 if it has none. */
static int entry_of(unsigned d, uint32_t *off, uint32_t *len)
{
    uint8_t h[2];
    uint32_t p = FIXED_BYTES;
    for (unsigned i = 0; i < N_LIMS; i++) {
        if (store_read(&B.store, p, h, 2))
            return -1;
        uint32_t n = rd(h, 2);
        if (i == d) {
            *off = p;
            *len = n;
            return 0;
        }
        p += 2u + (n == ENTRY_CORRUPT ? 0u : n);
    }
    return -1;
}

/* Write a new image. fresh: every limiter's snapshot now; else each limiter's entry as the
 * current image has it (a boot count or a config counter must not move the snapshot on).
 * Returns the snapshot bytes written. */
static uint32_t write_image(int fresh)
{
    uint32_t now = plat_ticks_ms(), total = 0;
    uint8_t fixed[FIXED_BYTES];
    memset(fixed, 0, sizeof fixed);
    be(fixed, B.boot_n, 4);
    fixed[4] = (uint8_t)((B.has_config ? IMG_HAS_CONFIG : 0u) | (B.cu_unreadable ? IMG_CU_UNREADABLE : 0u));
    if (B.has_config)
        put_config(fixed + 5, &B.config);
    be(fixed + 5 + CFG_BYTES, B.cu.counter, 4);
    memcpy(fixed + 9 + CFG_BYTES, B.cu.mac, CU_MAC_LEN);
    fixed[FIXED_BYTES - 1u] = N_LIMS;
    /* where the old entries are, before the new image replaces the current one */
    uint32_t off[N_LIMS], len[N_LIMS];
    int have[N_LIMS];
    for (unsigned d = 0; d < N_LIMS; d++)
        have[d] = !fresh && entry_of(d, &off[d], &len[d]) == 0;
    store_begin(&B.store);
    store_put(&B.store, fixed, sizeof fixed);
    for (unsigned d = 0; d < N_LIMS; d++) {
        uint8_t h[2];
        if (fresh && B.has_lim[d]) {
            size_t n = lim_snapshot(lim(d), now, B.snap, sizeof B.snap);
            be(h, (uint32_t)n, 2);
            store_put(&B.store, h, 2);
            store_put(&B.store, B.snap, n);
            total += (uint32_t)n;
            B.entry[d] = ENTRY_NONE;
        } else if (have[d]) {
            be(h, len[d], 2);
            store_put(&B.store, h, 2);
            if (len[d] != ENTRY_CORRUPT)
                store_copy(&B.store, off[d] + 2u, len[d]);
        } else {
            be(h, B.entry[d] ? ENTRY_CORRUPT : ENTRY_NONE, 2);
            store_put(&B.store, h, 2);
        }
    }
    (void)store_commit(&B.store);
    return total;
}

static uint32_t save(void)
{
    uint32_t n = write_image(1);
    B.dirty = 0;
    B.saved_at = plat_ticks_ms();
    return n;
}

/* -- boot ---------------------------------------------------------------------------------- */

static void boot(const board_cfg_t *cfg)
{
    uint32_t now = plat_ticks_ms();
    int st = store_open(&B.store);
    uint8_t fixed[FIXED_BYTES];
    int image = st == STORE_OK && store_read(&B.store, 0, fixed, sizeof fixed) == 0
                && fixed[FIXED_BYTES - 1u] == N_LIMS;
    B.config = cfg->config;
    if (image) {
        B.boot_n = rd(fixed, 4);
        if ((fixed[4] & IMG_HAS_CONFIG) && get_config(fixed + 5, &B.config) == 0)
            B.has_config = 1;
        B.cu.counter = rd(fixed + 5 + CFG_BYTES, 4);
        memcpy(B.cu.mac, fixed + 9 + CFG_BYTES, CU_MAC_LEN);
        B.cu_unreadable = (fixed[4] & IMG_CU_UNREADABLE) != 0;
    } else if (st != STORE_NONE) {
        B.cu_unreadable = 1;   /* it must not reopen old counters */
    }
    B.boot_n++;
    int restore = 1;   /* none */
    if (!image && st != STORE_NONE)
        restore = 2;
    for (unsigned d = 0; d < N_LIMS; d++) {
        if (!B.has_lim[d])
            continue;
        (void)lim_init(lim(d), &B.config, cfg->slots, LIM_MAX_SLOTS);
        if (!image) {
            B.entry[d] = restore == 2;
            continue;
        }
        uint32_t off, len;
        if (entry_of(d, &off, &len) || len == ENTRY_CORRUPT || len > sizeof B.snap
            || (len && store_read(&B.store, off + 2u, B.snap, len))) {
            restore = 2;
            B.entry[d] = 1;
            continue;
        }
        if (len == 0)
            continue;
        if (lim_restore(lim(d), B.snap, len, now) == 0) {
            if (restore == 1)
                restore = 0;
        } else {
            restore = 2;
        }
    }
    write_image(0);
    B.saved_at = now;
    wire_begin(&B.out, "EVENT");
    wire_put(&B.out, "BOOT");
    wire_putraw(&B.out, " n=");
    wire_puturaw(&B.out, B.boot_n);
    wire_putraw(&B.out, " cause=");
    int cause = plat_reset_cause();
    wire_putraw(&B.out, cause_names[cause >= 0 && cause <= 4 ? cause : 0]);
    wire_putraw(&B.out, " restore=");
    wire_putraw(&B.out, restore_names[restore]);
    wire_putraw(&B.out, " t=");
    wire_puturaw(&B.out, now);
    wire_end(&B.out);
}

/* -- frames -------------------------------------------------------------------------------- */

static uint64_t next_counter(unsigned dev)
{
    B.counter[dev]++;
    return (uint64_t)B.boot_n << 32 | B.counter[dev];   /* monotonic while the boot count is */
}

/* wall-clock seconds since 2000 of ticks value t (now if t is NOW) */
#define NOW 0xFFFFFFFFu
static uint32_t t2000(uint32_t t)
{
    int64_t s = plat_wall_s();
    if (t != NOW) {
        int64_t d = ticks_diff(plat_ticks_ms(), t);
        s -= d >= 0 ? d / 1000 : -((-d + 999) / 1000);   /* floor, as Python's // */
    }
    s -= UNIX_2000;
    return s > 0 ? (uint32_t)s : 0u;
}

static void send_frame(const uint8_t *f, size_t n)
{
    B.frames++;
    wire_begin(&B.out, "FRAME");
    wire_putu(&B.out, plat_ticks_ms());
    wire_puthex(&B.out, f, n);
    wire_end(&B.out);
}

static void send_summary(unsigned dev, uint8_t kind, uint16_t code, uint32_t count, uint32_t total,
                         uint32_t first, uint32_t last)
{
    size_t n = gbcs_build_summary(B.sframe, next_counter(dev), B.cfg->titles[dev],
                                  B.cfg->titles[DEV_DCC], t2000(NOW), code, count, total,
                                  t2000(first), t2000(last), kind);
    send_frame(B.sframe, n);
}

static void send_summaries(unsigned d)
{
    lim_summary_t s;
    while (lim_pop(lim(d), &s))
        send_summary(d, s.kind, s.code, s.count, s.total, s.first, s.last);
}

static void housekeeping(void)
{
    uint32_t now = plat_ticks_ms();
    /* when time has not moved since the last poll only what offer() queued can be pending */
    int fresh = (int64_t)now != B.polled_at;
    B.polled_at = now;
    for (unsigned d = 0; d < N_LIMS; d++) {
        if (!B.has_lim[d])
            continue;
        if (fresh ? lim_poll(lim(d), now) : lim_pending(lim(d))) {
            B.dirty = 1;
            send_summaries(d);
        }
    }
    if (B.dirty && ticks_diff(now, B.saved_at) >= (int32_t)B.cfg->persist_ms)
        save();
}

static int critical(uint16_t code)
{
    for (unsigned i = 0; i < B.cfg->n_critical; i++)
        if (B.cfg->critical[i] == code)
            return 1;
    return 0;
}

static const char dec_letter[4] = { 'S', 'F', '?', 'T' };

static void add_decision(reply_t *r, unsigned dev, int d)
{
    char w[8];
    size_t k = strlen(dev_names[dev]);
    memcpy(w, dev_names[dev], k);
    w[k] = '=';
    w[k + 1] = dec_letter[d & 3];
    w[k + 2] = 0;
    reply_add(r, w);
}

static void alert(uint16_t code, unsigned src, reply_t *r)
{
    uint32_t now = plat_ticks_ms();
    reply_addu(r, "t", now);
    int d1 = LIM_FORWARD, d2 = LIM_FORWARD;
    if (src != DEV_HUB && B.has_lim[src]) {   /* meter placement: the meter decides first */
        d1 = lim_offer(lim(src), code, now);
        B.dirty = 1;
        add_decision(r, src, d1);
        if (d1 == LIM_SUPPRESS)
            return;
    }
    int crit = critical(code);
    size_t n = gbcs_build_alert(B.frame, !crit, next_counter(src), B.cfg->titles[src],
                                B.cfg->titles[DEV_DCC],
                                crit ? GBCS_MSG_CRITICAL : GBCS_MSG_NON_CRITICAL, code,
                                src == DEV_GSME ? GBCS_ENC_GBZ : GBCS_ENC_DLMS, t2000(NOW));
    int32_t seen = code;
    if (B.has_lim[DEV_HUB]) {
        /* a meter's frame crossed the HAN: the hub learns the code from its bytes */
        if (src != DEV_HUB)
            seen = gbcs_alert_code(B.frame, n);
        if (seen >= 0 && (uint32_t)seen != GBCS_SUMMARY_CODE) {
            d2 = lim_offer(lim(DEV_HUB), seen, now);
            B.dirty = 1;
            add_decision(r, DEV_HUB, d2);
        }
    }
    if (d2 != LIM_SUPPRESS)
        send_frame(B.frame, n);
    if (d1 & LIM_STARTED)   /* a meter's summary is never throttled by the hub */
        send_summary(src, LIM_KIND_STARTED, code, 0, 0, now, now);
    if (d2 & LIM_STARTED)
        send_summary(DEV_HUB, LIM_KIND_STARTED, (uint16_t)seen, 0, 0, now, now);
}

/* -- commands ------------------------------------------------------------------------------ */

static int nargs(unsigned n, reply_t *r)
{
    return B.cmd.nargs == n ? 0 : reply_fail(r, "E_ARG", "want_args");
}

static int hexdig(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int apply_config(word_t hex, reply_t *r)
{
    if ((hex.n & 1u) || hex.n / 2u > sizeof B.msg)
        return reply_fail(r, "E_ARG", "hex");
    size_t n = hex.n / 2u;
    for (size_t k = 0; k < n; k++) {
        int a = hexdig(hex.p[2 * k]), b = hexdig(hex.p[2 * k + 1]);
        if (a < 0 || b < 0)
            return reply_fail(r, "E_ARG", "hex");
        B.msg[k] = (uint8_t)(a << 4 | b);
    }
    if (B.cu_unreadable)
        return reply_fail(r, "E_AUTH", "replay:_replay_state_unreadable");
    lim_config_t cfg;
    int fresh = 0;
    const char *detail;
    int why = cu_check(&B.cu, cu_test_key, sizeof cu_test_key, B.msg, n, &cfg, &fresh, &detail);
    if (why != CU_OK) {
        char text[64];
        size_t k = strlen(cu_reason(why));
        memcpy(text, cu_reason(why), k);
        text[k++] = ':';
        text[k++] = '_';
        size_t dn = strlen(detail);
        if (dn > sizeof text - k - 1u)
            dn = sizeof text - k - 1u;
        memcpy(text + k, detail, dn);
        text[k + dn] = 0;
        return reply_fail(r, why == CU_BAD_MAC || why == CU_REPLAY ? "E_AUTH" : "E_CONFIG", text);
    }
    if (fresh)
        cu_accept(&B.cu, B.msg, n);
    B.config = cfg;
    B.has_config = 1;
    write_image(0);   /* the counter (and the config) recorded before the limiters change */
    for (unsigned d = 0; d < N_LIMS; d++)
        if (B.has_lim[d])
            lim_configure(lim(d), &cfg);
    B.dirty = 1;
    reply_add(r, "applied");
    return 0;
}

static void hello(void)
{
    wire_out_t *o = &B.out;
    wire_begin(o, "HELLO");
    wire_put(o, "proto=1 fw=" FW_ID " board=");
    wire_putraw(o, B.cfg->name);
    wire_putraw(o, " engine=");
    wire_putraw(o, plat_engine());
    wire_putraw(o, " role=");
    wire_putraw(o, role_names[B.cfg->role]);
    wire_putraw(o, " limiter=");
    wire_putraw(o, place_names[B.cfg->placement]);
    wire_putraw(o, plat_advance(0) ? " clock=virtual boot=" : " clock=real boot=");
    wire_puturaw(o, B.boot_n);
    wire_putraw(o, " ring=");
    wire_puturaw(o, o->size);
    wire_putraw(o, " max=");
    wire_puturaw(o, WIRE_MAX_LINE);
    wire_putraw(o, " caps=lut");
    wire_end(o);
}

static void stats(void)
{
    uint32_t now = plat_ticks_ms();
    wire_out_t *o = &B.out;
    wire_begin(o, "STATS");
    wire_putraw(o, " t=");
    wire_puturaw(o, now);
    wire_putraw(o, " boot=");
    wire_puturaw(o, B.boot_n);
    wire_putraw(o, " rx=");
    wire_puturaw(o, B.rx);
    wire_putraw(o, " rxerr=");
    wire_puturaw(o, B.rxerr);
    wire_putraw(o, " frames=");
    wire_puturaw(o, B.frames);
    wire_putraw(o, " flash_writes=");
    wire_puturaw(o, B.store.writes);
    for (unsigned d = 0; d < N_LIMS; d++) {
        if (!B.has_lim[d])
            continue;
        static const unsigned idx[] = { ST_OFFERED, ST_FORWARDED, ST_SUPPRESSED, ST_AMBER,
                                        ST_RED, ST_OVERFLOW, ST_EPISODES };
        for (unsigned k = 0; k < sizeof idx / sizeof idx[0]; k++) {
            wire_put(o, dev_names[d]);
            wire_putraw(o, ".");
            wire_putraw(o, stat_order[k]);
            wire_putraw(o, "=");
            wire_puturaw(o, B.lim[d].h.stats[idx[k]]);
        }
        wire_put(o, dev_names[d]);
        wire_putraw(o, ".pending_summaries=");
        wire_puturaw(o, B.lim[d].h.pending);
        wire_put(o, dev_names[d]);
        wire_putraw(o, ".level=");
        wire_puturaw(o, (uint32_t)lim_level(lim(d), now));
    }
    wire_end(o);
}

static int source_of(word_t w)
{
    if (B.cfg->role == ROLE_CHUB) {
        for (unsigned d = 0; d < 3; d++)
            if (word_is(w, dev_names[d]))
                return (int)d;
        return -1;
    }
    unsigned own = B.cfg->role == ROLE_ESME ? DEV_ESME : DEV_GSME;
    return word_is(w, dev_names[own]) ? (int)own : -1;
}

static int reset_kind(word_t w)
{
    for (int k = PLAT_RESET_SOFT; k <= PLAT_RESET_BROWNOUT; k++)
        if (word_is(w, cause_names[k]))
            return k;
    return -1;
}

static int run(reply_t *r, int *reset)
{
    word_t v = B.cmd.verb;
    const word_t *a = B.cmd.arg;
    uint32_t x;
    if (word_is(v, "HELLO")) {
        hello();
        return 0;
    }
    if (word_is(v, "ALERT")) {
        if (nargs(2, r))
            return -1;
        int c0 = a[0].n == 4 ? hexdig(a[0].p[0]) : -1;
        int c1 = c0 >= 0 ? hexdig(a[0].p[1]) : -1, c2 = c1 >= 0 ? hexdig(a[0].p[2]) : -1;
        int c3 = c2 >= 0 ? hexdig(a[0].p[3]) : -1;
        if (c3 < 0)
            return reply_failn(r, "E_ARG", a[0].p, a[0].n < 8 ? a[0].n : 8);
        uint16_t code = (uint16_t)(c0 << 12 | c1 << 8 | c2 << 4 | c3);
        if (code == GBCS_SUMMARY_CODE)
            return reply_fail(r, "E_ARG", "code 8FFE reserved");
        int src = source_of(a[1]);
        if (src < 0)
            return reply_fail(r, "E_ARG", "source");
        alert(code, (unsigned)src, r);
        housekeeping();
        return 0;
    }
    if (word_is(v, "ADVANCE")) {
        if (nargs(1, r))
            return -1;
        if (word_uint(a[0], 86400000u, &x))
            return reply_fail(r, "E_ARG", "value");
        if (!plat_advance(0))
            return reply_fail(r, "E_UNSUPPORTED", "real-time clock");
        while (x > 0) {
            uint32_t step = x < B.cfg->poll_ms ? x : B.cfg->poll_ms;
            plat_advance(step);
            x -= step;
            housekeeping();
        }
        reply_addu(r, "t", plat_ticks_ms());
        return 0;
    }
    if (word_is(v, "CLOCK")) {
        if (nargs(1, r))
            return -1;
        if (word_uint(a[0], 0xFFFFFFFFu, &x))
            return reply_fail(r, "E_ARG", "value");
        plat_set_wall(x);
        return 0;
    }
    if (word_is(v, "STATS")) {
        stats();
        return 0;
    }
    if (word_is(v, "RESEND")) {
        if (nargs(1, r))
            return -1;
        if (word_uint(a[0], WIRE_SEQ_MOD - 1u, &x))
            return reply_fail(r, "E_ARG", "value");
        uint32_t oldest;
        int32_t k = wire_resend(&B.out, x, &oldest);
        if (k == -1)
            return reply_fail(r, "E_ARG", "seq not emitted yet");
        if (k == -2) {
            char d[24] = "oldest=";
            u32_text(d + 7, oldest);
            return reply_fail(r, "E_GONE", d);
        }
        reply_addu(r, "resent", (uint32_t)k);
        return 0;
    }
    if (word_is(v, "SAVE")) {
        reply_addu(r, "bytes", save());
        return 0;
    }
    if (word_is(v, "CLEAR")) {
        /* a known starting state for a test rig, and an empty snapshot so that a reset
         * cannot bring the old state back */
        for (unsigned d = 0; d < N_LIMS; d++)
            if (B.has_lim[d])
                lim_clear(lim(d));
        reply_addu(r, "bytes", save());
        return 0;
    }
    if (word_is(v, "CONFIG")) {
        if (nargs(1, r))
            return -1;
        return apply_config(a[0], r);
    }
    if (word_is(v, "RESET")) {
        if (nargs(1, r))
            return -1;
        int k = reset_kind(a[0]);
        if (k < 0)
            return reply_fail(r, "E_ARG", "kind");
        if (!plat_can_reset(k))
            return reply_failn(r, "E_UNSUPPORTED", a[0].p, a[0].n);
        *reset = k;
        return 0;
    }
    if (word_is(v, "POWERCUT")) {
        if (nargs(1, r))
            return -1;
        if (word_uint(a[0], 1u << 24, &x))
            return reply_fail(r, "E_ARG", "value");
        if (!plat_powercut(x))
            return reply_fail(r, "E_UNSUPPORTED", "powercut");
        return 0;
    }
    if (lut_is_verb(v))
        return lut_run(&B.cmd, &B.out, r);
    return reply_failn(r, "E_VERB", v.p, v.n < 16 ? v.n : 16);
}

static void nak_dash(const char *code, size_t num, int with_num)
{
    wire_begin(&B.out, "NAK");
    wire_put(&B.out, "-");
    wire_put(&B.out, code);
    if (with_num)
        wire_putu(&B.out, (uint32_t)num);
    wire_end(&B.out);
}

static int blank_line(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(p[i] == ' ' || (p[i] >= 9 && p[i] <= 13)))
            return 0;
    return 1;
}

static void handle_line(const uint8_t *line, size_t n)
{
    if (blank_line(line, n))
        return;   /* keep-alive */
    B.rx++;
    size_t noise = 0;
    const char *err = wire_decode(line, n, &B.cmd, &noise);
    if (err) {
        B.rxerr++;
        nak_dash(err, noise, err[2] == 'N');   /* E_NOISE carries its byte count */
        return;
    }
    if (B.cmd.noise) {
        B.rxerr++;
        nak_dash("E_NOISE", B.cmd.noise, 1);
    }
    uint32_t seq = B.cmd.seq;
    if ((int64_t)seq == B.last_hseq) {
        wire_begin(&B.out, "ACK");
        wire_putu(&B.out, seq);
        wire_put(&B.out, "dup first=");
        wire_puturaw(&B.out, B.last_first);
        wire_end(&B.out);
        return;
    }
    B.last_hseq = seq;
    B.last_first = B.out.seq;
    reply_t *r = &B.reply;
    memset(r, 0, sizeof *r);
    int reset = 0;
    if (run(r, &reset)) {
        if (strcmp(r->err, "E_INTERNAL") != 0)
            B.rxerr++;
        wire_begin(&B.out, "NAK");
        wire_putu(&B.out, seq);
        wire_put(&B.out, r->err);
        if (r->detail[0])
            wire_put(&B.out, r->detail);
        wire_end(&B.out);
        return;
    }
    wire_begin(&B.out, "ACK");
    wire_putu(&B.out, seq);
    if (r->n)
        wire_put(&B.out, r->text);
    wire_end(&B.out);
    if (reset) {
        if (reset == PLAT_RESET_SOFT)
            save();   /* an orderly restart: the firmware gets to flush first */
        plat_reset(reset);
    }
}

/* -- the main loop ------------------------------------------------------------------------- */

void fw_main(const board_cfg_t *cfg)
{
    memset(&B, 0, sizeof B);
    B.cfg = cfg;
    B.last_hseq = -1;
    B.polled_at = -1;
    wire_out_init(&B.out, cfg->ring);
    lut_reset();
    if (cfg->role == ROLE_CHUB) {
        B.has_lim[DEV_HUB] = cfg->placement == PLACE_HUB || cfg->placement == PLACE_BOTH;
        B.has_lim[DEV_ESME] = B.has_lim[DEV_GSME] =
            cfg->placement == PLACE_METER || cfg->placement == PLACE_BOTH;
    } else if (cfg->placement == PLACE_METER) {
        B.has_lim[cfg->role == ROLE_ESME ? DEV_ESME : DEV_GSME] = 1;
    }
    boot(cfg);
    int real = !plat_advance(0);
    for (;;) {
        int c = plat_getc();
        if (c < 0) {
            if (real)
                housekeeping();
            plat_idle();
            continue;
        }
        int got = wire_reader_byte(&B.reader, (uint8_t)c);
        if (got == 1) {
            handle_line(B.reader.buf, B.reader.n);
            wire_reader_next(&B.reader);
        } else if (got == 2) {
            B.rxerr++;
            nak_dash("E_TOOLONG", 0, 0);
            wire_reader_next(&B.reader);
        }
    }
}
