/* limiter.c -- policy.md's decision on the device: device window, code slots, episodes and
 * the bounded summary queue (docs/limiter.md, "State machine", "Slots", "Summaries").
 *
 * Windows are advanced lazily: an alert advances the device window and its own slot only,
 * which decides the same as advancing everything (advance is idempotent under splitting);
 * slot availability, the one decision that reads other codes, rescans the table when it looks
 * full. Every count saturates at SAT_MAX; every time difference goes through ticks_diff.
 */
#include "limiter.h"

#include <string.h>

#include "ticks.h"

/* static assertions, C99 style (a negative array size fails the build): the docs' C layout */
typedef char assert_slot_t_is_52_bytes[sizeof(slot_t) == 52 ? 1 : -1];
typedef char assert_limiter_t_is_1000_bytes[sizeof(limiter_t) == 1000 ? 1 : -1];

/* slot_t.flags */
#define SL_FREE   0x01u   /* a code slot holding no code */
#define SL_COPEN  0x02u   /* code window open */
#define SL_EOPEN  0x04u   /* episode open */
#define SL_KSHIFT 3u      /* two bits: the unpopped report's kind, 0 none */
#define SL_KMASK  (3u << SL_KSHIFT)
#define SL_CBIG   0x20u   /* c_count is 65536 (above 65535) */
#define SL_PBIG   0x40u   /* c_prev likewise */
/* lim_hdr_t.bits */
#define HB_LIVE   0x01u   /* a code window or episode may be open */
#define HB_RESCAN 0x02u   /* a slot may have freed since the table was found full */

#define NARROW 65536u

static const char *const key_names[LIM_NKEYS] = {
    "device_window_ms", "amber_threshold", "red_threshold", "code_window_ms", "code_limit",
    "throttle_mode", "throttle_n", "throttle_period_ms", "never_throttle", "summary_interval_ms",
};

/* -- config ------------------------------------------------------------------------------ */

const char *lim_key_name(unsigned key) { return key < LIM_NKEYS ? key_names[key] : "?"; }

int lim_key_index(const char *name, size_t n)
{
    for (unsigned k = 0; k < LIM_NKEYS; k++)
        if (strlen(key_names[k]) == n && memcmp(key_names[k], name, n) == 0)
            return (int)k;
    return -1;
}

static const uint16_t default_nt[] = { 0x8F3F, 0x8F1C, 0x8F1D, 0x8F35, 0x8F36, 0x8F74, 0x8F76 };

void lim_raw_default(lim_raw_config_t *raw)
{
    memset(raw, 0, sizeof *raw);
    raw->v[K_DEVICE_WINDOW] = 3600000;
    raw->v[K_AMBER] = 50;
    raw->v[K_RED] = 100;
    raw->v[K_CODE_WINDOW] = 3600000;
    raw->v[K_CODE_LIMIT] = 10;
    raw->v[K_MODE] = LIM_ONE_IN_N;
    raw->v[K_THROTTLE_N] = 10;
    raw->v[K_PERIOD] = 3600000;
    raw->v[K_SUMMARY_INTERVAL] = 900000;
    raw->n_nt = sizeof default_nt / sizeof default_nt[0];
    for (unsigned i = 0; i < raw->n_nt; i++)
        raw->nt[i] = default_nt[i];
}

void lim_config_default(lim_config_t *cfg)
{
    lim_raw_config_t raw;
    lim_raw_default(&raw);
    (void)lim_config_make(cfg, &raw);
}

/* the ranges of policy.md's vocabulary, checked in this order */
static const struct { uint8_t key; int32_t lo, hi; } ranges[] = {
    { K_DEVICE_WINDOW, 1000, 86400000 }, { K_AMBER, 1, 65535 }, { K_RED, 1, 65535 },
    { K_CODE_WINDOW, 1000, 86400000 }, { K_CODE_LIMIT, 0, 65535 },
    { K_MODE, LIM_ONE_IN_N, LIM_ONE_PER_PERIOD }, { K_THROTTLE_N, 1, 65535 },
    { K_PERIOD, 1000, 86400000 }, { K_SUMMARY_INTERVAL, 1000, 86400000 },
};

const char *lim_config_make(lim_config_t *out, const lim_raw_config_t *raw)
{
    for (unsigned r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        int64_t v = raw->v[ranges[r].key];
        if (v < ranges[r].lo || v > ranges[r].hi)
            return key_names[ranges[r].key];
    }
    if (raw->v[K_AMBER] > raw->v[K_RED])
        return key_names[K_AMBER];
    if (raw->n_nt > LIM_MAX_NT)
        return key_names[K_NEVER_THROTTLE];
    for (unsigned i = 0; i < raw->n_nt; i++)
        if (raw->nt[i] < 0 || raw->nt[i] > 0xFFFF)
            return key_names[K_NEVER_THROTTLE];
    memset(out, 0, sizeof *out);
    out->device_window_ms = (uint32_t)raw->v[K_DEVICE_WINDOW];
    out->amber_threshold = (uint16_t)raw->v[K_AMBER];
    out->red_threshold = (uint16_t)raw->v[K_RED];
    out->code_window_ms = (uint32_t)raw->v[K_CODE_WINDOW];
    out->code_limit = (uint16_t)raw->v[K_CODE_LIMIT];
    out->throttle_mode = (uint8_t)raw->v[K_MODE];
    out->throttle_n = (uint16_t)raw->v[K_THROTTLE_N];
    out->throttle_period_ms = (uint32_t)raw->v[K_PERIOD];
    out->summary_interval_ms = (uint32_t)raw->v[K_SUMMARY_INTERVAL];
    out->n_never = (uint8_t)raw->n_nt;
    for (unsigned i = 0; i < raw->n_nt; i++)
        out->never_throttle[i] = (uint16_t)raw->nt[i];
    return NULL;
}

/* -- slot field helpers ------------------------------------------------------------------ */

static inline unsigned kind_of(const slot_t *s) { return (s->flags & SL_KMASK) >> SL_KSHIFT; }
static inline void set_kind(slot_t *s, unsigned k)
{
    s->flags = (uint8_t)((s->flags & ~SL_KMASK) | ((k & 3u) << SL_KSHIFT));
}
static inline uint32_t ccount(const slot_t *s) { return (s->flags & SL_CBIG) ? NARROW : s->c_count; }
static inline uint32_t cprev(const slot_t *s) { return (s->flags & SL_PBIG) ? NARROW : s->c_prev; }
static inline void set_ccount(slot_t *s, uint32_t x)
{
    if (x >= NARROW) { s->flags |= SL_CBIG; s->c_count = 0xFFFF; }
    else { s->flags = (uint8_t)(s->flags & ~SL_CBIG); s->c_count = (uint16_t)x; }
}
static inline void set_cprev(slot_t *s, uint32_t x)
{
    if (x >= NARROW) { s->flags |= SL_PBIG; s->c_prev = 0xFFFF; }
    else { s->flags = (uint8_t)(s->flags & ~SL_PBIG); s->c_prev = (uint16_t)x; }
}
static inline void flag(slot_t *s, unsigned f, int on)
{
    s->flags = (uint8_t)(on ? (s->flags | f) : (s->flags & ~f));
}
static inline void stat_inc(lim_hdr_t *h, unsigned k) { h->stats[k] = sat_inc(h->stats[k]); }

/* -- windows (policy.md "Windows") ------------------------------------------------------- */

static void dev_advance(lim_hdr_t *h, uint32_t t)
{
    if (!h->d_open)
        return;
    int32_t d = ticks_diff(t, h->d_start);
    int32_t w = (int32_t)h->cfg.device_window_ms;
    if (d < w)
        return;
    if (d < w + w && h->d_count > 0) {
        h->d_prev = h->d_count;
        h->d_count = 0;
        h->d_start = ticks_add(h->d_start, w);
    } else {
        h->d_open = 0;
        h->d_prev = 0;
        h->d_count = 0;
    }
}

static void c_advance(const lim_hdr_t *h, slot_t *s, uint32_t t)
{
    if (!(s->flags & SL_COPEN))
        return;
    int32_t d = ticks_diff(t, s->c_start);
    int32_t w = (int32_t)h->cfg.code_window_ms;
    if (d < w)
        return;
    if (d < w + w && ccount(s) > 0) {
        set_cprev(s, ccount(s));
        set_ccount(s, 0);
        s->c_start = ticks_add(s->c_start, w);
    } else {
        flag(s, SL_COPEN, 0);
        set_cprev(s, 0);
        set_ccount(s, 0);
    }
}

/* -- reports ------------------------------------------------------------------------------ */

static void new_report(lim_hdr_t *h, slot_t *s, unsigned kind, uint32_t count, uint32_t first)
{
    set_kind(s, kind);
    s->r_count = count;
    s->r_total = s->e_total;
    s->r_first = first;
    s->r_last = s->e_last;
    s->r_seq = (uint8_t)(h->seq & 0xFFu);
    h->seq = (h->seq + 1u) & SAT_MAX;
    h->pending++;
}

static void ongoing_due(lim_hdr_t *h, slot_t *s, uint32_t t)
{
    if (!s->e_unrep || ticks_diff(t, s->e_sum) < (int32_t)h->cfg.summary_interval_ms)
        return;
    unsigned kind = kind_of(s);
    if (kind == LIM_KIND_CLOSED)
        return;   /* the previous episode's CLOSED is unpopped: report this one later */
    if (kind == 0) {
        new_report(h, s, LIM_KIND_ONGOING, s->e_unrep, s->e_first);
    } else {
        s->r_count = sat_add(s->r_count, s->e_unrep);
        s->r_total = s->e_total;
        s->r_last = s->e_last;
        stat_inc(h, ST_MERGED);
    }
    s->e_unrep = 0;
    s->e_sum = t;
}

static void end_episode(lim_hdr_t *h, slot_t *s)
{
    flag(s, SL_EOPEN, 0);
    uint32_t total = s->e_total;
    if (total) {
        uint32_t unrep = s->e_unrep;
        unsigned kind = kind_of(s);
        if (kind == 0) {
            new_report(h, s, LIM_KIND_CLOSED, unrep, unrep ? s->e_first : s->e_last);
        } else {
            s->r_count = sat_add(s->r_count, unrep);
            if (kind == LIM_KIND_CLOSED)   /* an earlier episode of this slot: totals add */
                total = sat_add(s->r_total, total);
            set_kind(s, LIM_KIND_CLOSED);
            s->r_total = total;
            s->r_last = s->e_last;
            stat_inc(h, ST_MERGED);
        }
    }
    s->e_total = 0;
    s->e_unrep = 0;
}

/* Bring slot s to t: its episode ends once the code window no longer overloads. */
static void touch(lim_hdr_t *h, slot_t *s, uint32_t t)
{
    c_advance(h, s, t);
    if ((s->flags & SL_EOPEN) && ccount(s) <= h->cfg.code_limit && cprev(s) <= h->cfg.code_limit)
        end_episode(h, s);
}

static void clear_slot(slot_t *s)
{
    s->flags = (uint8_t)(s->flags & ~(SL_COPEN | SL_EOPEN | SL_CBIG | SL_PBIG));
    s->c_count = 0;
    s->c_prev = 0;
    s->e_total = 0;
    s->e_unrep = 0;
}

static void free_if_idle(lim_hdr_t *h, slot_t *s, unsigned i)
{
    if (i < h->nslots && !(s->flags & (SL_COPEN | SL_EOPEN | SL_KMASK | SL_FREE))) {
        s->flags |= SL_FREE;
        h->bits |= HB_RESCAN;
    }
}

static void clear_codes(lim_ref L)
{
    for (unsigned i = 0; i <= L.h->nslots; i++) {
        slot_t *s = &L.s[i];
        if (s->flags & SL_EOPEN)
            end_episode(L.h, s);
        clear_slot(s);
        free_if_idle(L.h, s, i);
    }
    L.h->bits = (uint8_t)(L.h->bits & ~HB_LIVE);
}

static int first_free(lim_ref L)
{
    for (unsigned i = 0; i < L.h->nslots; i++)
        if (L.s[i].flags & SL_FREE)
            return (int)i;
    return -1;
}

/* The slot for a red alert's code that holds no slot: a free one, or after a rescan of a
 * full table, or the overflow slot. After a rescan that frees nothing no slot can free before
 * the earliest window close it saw (hits only postpone it), a poll or a pop: rescan then. */
static unsigned slot_for(lim_ref L, uint16_t code, uint32_t t)
{
    lim_hdr_t *h = L.h;
    int i = first_free(L);
    if (i < 0 && ((h->bits & HB_RESCAN) || ticks_diff(t, h->full_until) >= 0)) {
        int32_t cw = (int32_t)h->cfg.code_window_ms;
        int32_t soon = cw + cw;
        for (unsigned j = 0; j < h->nslots; j++) {
            slot_t *s = &L.s[j];
            touch(h, s, t);
            free_if_idle(h, s, j);
            if (s->flags & SL_COPEN) {
                int32_t left = (ccount(s) == 0 ? cw : cw + cw) - ticks_diff(t, s->c_start);
                if (left < soon)
                    soon = left;
            }
        }
        h->full_until = ticks_add(t, soon > 0 ? soon : 0);
        h->bits = (uint8_t)(h->bits & ~HB_RESCAN);
        i = first_free(L);
    }
    if (i >= 0) {
        L.s[i].flags = (uint8_t)(L.s[i].flags & ~SL_FREE);
        L.s[i].code = code;
        return (unsigned)i;
    }
    stat_inc(h, ST_OVERFLOW);
    return h->nslots;
}

/* -- the API ------------------------------------------------------------------------------ */

static void reset_state(lim_ref L)
{
    lim_hdr_t *h = L.h;
    h->d_open = 0;
    h->d_start = h->d_count = h->d_prev = 0;
    h->bits = HB_RESCAN;
    h->full_until = 0;
    h->pending = 0;
    h->seq = 0;
    for (unsigned i = 0; i <= h->nslots; i++) {
        clear_slot(&L.s[i]);
        set_kind(&L.s[i], 0);
        if (i < h->nslots)
            L.s[i].flags |= SL_FREE;
    }
    memset(h->stats, 0, sizeof h->stats);
}

int lim_init(lim_ref L, const lim_config_t *cfg, unsigned slots, unsigned table)
{
    if (slots < 1 || slots > table)
        return -1;
    memset(L.h, 0, sizeof *L.h);
    memset(L.s, 0, sizeof(slot_t) * (slots + 1u));
    L.h->nslots = (uint8_t)slots;
    L.h->cfg = *cfg;
    reset_state(L);
    return 0;
}

void lim_configure(lim_ref L, const lim_config_t *cfg)
{
    lim_hdr_t *h = L.h;
    uint8_t old_mode = h->cfg.throttle_mode;
    h->cfg = *cfg;
    h->bits |= HB_RESCAN;   /* window lengths may have changed */
    if (old_mode != cfg->throttle_mode) {
        /* a skip count means nothing in the other mode: forward each episode's next alert */
        for (unsigned i = 0; i <= h->nslots; i++) {
            slot_t *s = &L.s[i];
            s->e_aux = 0;
            if ((s->flags & SL_EOPEN) && cfg->throttle_mode == LIM_ONE_PER_PERIOD)
                s->e_aux = ticks_add(s->e_sum, -(int32_t)cfg->throttle_period_ms);
        }
    }
}

void lim_clear(lim_ref L) { reset_state(L); }

static int never_throttled(const lim_config_t *cfg, uint16_t code)
{
    for (unsigned i = 0; i < cfg->n_never; i++)
        if (cfg->never_throttle[i] == code)
            return 1;
    return 0;
}

int lim_offer(lim_ref L, int32_t code32, uint32_t t)
{
    lim_hdr_t *h = L.h;
    if (code32 < 0 || code32 > 0xFFFF)
        return -1;
    uint16_t code = (uint16_t)code32;
    stat_inc(h, ST_OFFERED);
    /* step 1: the device counter */
    dev_advance(h, t);
    if (!h->d_open) {
        h->d_open = 1;
        h->d_start = t;
    }
    uint32_t c = h->d_count;
    if (c < SAT_MAX) {
        h->d_count = ++c;
        if (c == h->cfg.amber_threshold)
            stat_inc(h, ST_AMBER);
        if (c == h->cfg.red_threshold)
            stat_inc(h, ST_RED);
    }
    uint32_t red = h->cfg.red_threshold;
    if (c < red && h->d_prev < red) {
        if (h->bits & HB_LIVE)
            clear_codes(L);
        stat_inc(h, ST_FORWARDED);
        return LIM_FORWARD;   /* step 3: a healthy device is never filtered */
    }
    if (never_throttled(&h->cfg, code)) {
        stat_inc(h, ST_FORWARDED);
        return LIM_FORWARD;   /* step 2 */
    }
    /* step 4: red; count the code in its slot */
    unsigned i = h->nslots;
    for (unsigned j = 0; j < h->nslots; j++)
        if (!(L.s[j].flags & SL_FREE) && L.s[j].code == code) {
            i = j;
            break;
        }
    if (i == h->nslots)
        i = slot_for(L, code, t);
    slot_t *s = &L.s[i];
    if (s->flags & SL_COPEN) {
        /* inside its window (and not behind it) there is nothing to advance */
        int32_t d = ticks_diff(t, s->c_start);
        if (d < 0 || d >= (int32_t)h->cfg.code_window_ms)
            touch(h, s, t);
    } else {
        touch(h, s, t);
    }
    h->bits |= HB_LIVE;
    if (!(s->flags & SL_COPEN)) {
        s->flags |= SL_COPEN;
        s->c_start = t;
    }
    uint32_t cc = ccount(s);
    if (cc < SAT_MAX)
        set_ccount(s, ++cc);
    uint32_t lim = h->cfg.code_limit;
    if (cc <= lim && cprev(s) <= lim) {
        stat_inc(h, ST_FORWARDED);
        return LIM_FORWARD;
    }
    /* step 5: overloaded */
    if (!(s->flags & SL_EOPEN)) {
        s->flags |= SL_EOPEN;
        s->e_total = 0;
        s->e_unrep = 0;
        s->e_sum = t;
        s->e_aux = h->cfg.throttle_mode == LIM_ONE_IN_N ? h->cfg.throttle_n - 1u : t;
        stat_inc(h, ST_EPISODES);
        stat_inc(h, ST_FORWARDED);
        return LIM_FORWARD | LIM_STARTED;
    }
    /* step 6 */
    int r;
    if (h->cfg.throttle_mode == LIM_ONE_IN_N) {
        if (s->e_aux == 0) {
            s->e_aux = h->cfg.throttle_n - 1u;
            r = LIM_FORWARD;
        } else {
            s->e_aux--;
            r = LIM_SUPPRESS;
        }
    } else {
        int32_t d = ticks_diff(t, s->e_aux);
        if (d >= 0 && d >= (int32_t)h->cfg.throttle_period_ms) {
            s->e_aux = t;
            r = LIM_FORWARD;
        } else {
            r = LIM_SUPPRESS;
        }
    }
    if (r == LIM_FORWARD) {
        stat_inc(h, ST_FORWARDED);
    } else {
        stat_inc(h, ST_SUPPRESSED);
        s->e_total = sat_inc(s->e_total);
        if (s->e_unrep == 0)
            s->e_first = t;
        s->e_unrep = sat_inc(s->e_unrep);
        s->e_last = t;
    }
    if (s->e_unrep) {
        int32_t d = ticks_diff(t, s->e_sum);
        if (d >= 0 && d >= (int32_t)h->cfg.summary_interval_ms)
            ongoing_due(h, s, t);
    }
    return r;
}

unsigned lim_poll(lim_ref L, uint32_t t)
{
    lim_hdr_t *h = L.h;
    dev_advance(h, t);
    h->bits |= HB_RESCAN;   /* poll frees what it can: the next full-table offer looks again */
    uint32_t red = h->cfg.red_threshold;
    /* even the next alert cannot make the device red: the red spell has ended */
    if ((h->bits & HB_LIVE) && red > 1 && h->d_count + 1u < red && h->d_prev < red)
        clear_codes(L);
    int32_t si = (int32_t)h->cfg.summary_interval_ms;
    int32_t period = (int32_t)h->cfg.throttle_period_ms;
    for (unsigned i = 0; i <= h->nslots; i++) {
        slot_t *s = &L.s[i];
        if (i < h->nslots && (s->flags & SL_FREE))
            continue;
        touch(h, s, t);
        if (s->flags & SL_EOPEN) {
            ongoing_due(h, s, t);
            /* keep stored times within ticks_diff range without changing what is due */
            if (ticks_diff(t, s->e_sum) > si)
                s->e_sum = ticks_add(t, -si);
            if (h->cfg.throttle_mode == LIM_ONE_PER_PERIOD && ticks_diff(t, s->e_aux) > period)
                s->e_aux = ticks_add(t, -period);
        }
        free_if_idle(h, s, i);
    }
    return h->pending;
}

unsigned lim_pending(lim_ref L) { return L.h->pending; }

int lim_pop(lim_ref L, lim_summary_t *out)
{
    lim_hdr_t *h = L.h;
    if (!h->pending)
        return 0;
    /* reports pending together lie within 17 consecutive sequence numbers (docs/limiter.md,
     * proof 2), so 8 bits order them */
    unsigned best = 0;
    int age = -1;
    for (unsigned i = 0; i <= h->nslots; i++) {
        const slot_t *s = &L.s[i];
        int a = (int)(((h->seq & 0xFFu) - s->r_seq) & 0xFFu);
        if (kind_of(s) && a > age) {
            age = a;
            best = i;
        }
    }
    if (age < 0)
        return 0;
    slot_t *s = &L.s[best];
    out->kind = (uint8_t)kind_of(s);
    out->code = best < h->nslots ? s->code : LIM_OVERFLOW_CODE;
    out->count = s->r_count;
    out->total = s->r_total;
    out->first = s->r_first;
    out->last = s->r_last;
    set_kind(s, 0);
    h->pending--;
    free_if_idle(h, s, best);
    return 1;
}

int lim_level(lim_ref L, uint32_t t)
{
    lim_hdr_t *h = L.h;
    dev_advance(h, t);
    if (h->d_count >= h->cfg.red_threshold || h->d_prev >= h->cfg.red_threshold)
        return LIM_RED;
    if (h->d_count >= h->cfg.amber_threshold || h->d_prev >= h->cfg.amber_threshold)
        return LIM_AMBER;
    return LIM_NORMAL;
}
