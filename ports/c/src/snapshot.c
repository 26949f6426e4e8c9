/* snapshot.c -- the limiter's state as bytes and back (docs/limiter.md, "Persistence").
 *
 * Little-endian, times as ages ticks_diff(now, t) >= 0, so a restore under a new boot's ticks
 * rebuilds them as now - age. Narrowed fields (limiter.h) are widened on the way out: c_count
 * and c_prev as min(x, 65536), the report sequence rebuilt from its low 8 bits and the 32-bit
 * counter (exact for every pending report). A restore refuses anything the Python limiter
 * refuses, and leaves the limiter clean when it does.
 */
#include <string.h>

#include "crc.h"
#include "limiter.h"
#include "ticks.h"

#define SNAP_VERSION 1u
#define SNAP_HEAD 61u
#define SNAP_SLOT 62u

/* the flags byte of slot_t, as limiter.c keeps it */
#define SL_FREE   0x01u
#define SL_COPEN  0x02u
#define SL_EOPEN  0x04u
#define SL_KSHIFT 3u
#define SL_CBIG   0x20u
#define SL_PBIG   0x40u
#define HB_LIVE   0x01u

static uint32_t age(uint32_t now, uint32_t t)
{
    int32_t a = ticks_diff(now, t);
    return a > 0 ? (uint32_t)a : 0u;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
    return p + 4;
}

static int used(const lim_hdr_t *h, const slot_t *s, unsigned i)
{
    if (i < h->nslots)
        return !(s->flags & SL_FREE);
    return (s->flags & (SL_COPEN | SL_EOPEN | (3u << SL_KSHIFT))) != 0;
}

size_t lim_snapshot(lim_ref L, uint32_t now, uint8_t *buf, size_t cap)
{
    const lim_hdr_t *h = L.h;
    unsigned u = 0;
    for (unsigned i = 0; i <= h->nslots; i++)
        u += (unsigned)used(h, &L.s[i], i);
    size_t n = SNAP_HEAD + SNAP_SLOT * u + 2u;
    if (n > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = 'A';
    *p++ = 'S';
    *p++ = SNAP_VERSION;
    *p++ = h->nslots;
    *p++ = h->cfg.throttle_mode;
    *p++ = (uint8_t)u;
    *p++ = 0;
    *p++ = 0;
    p = put32(p, h->seq);
    p = put32(p, h->pending);
    *p++ = h->d_open;
    p = put32(p, age(now, h->d_start));
    p = put32(p, h->d_count);
    p = put32(p, h->d_prev);
    for (unsigned k = 0; k < LIM_NSTATS; k++)
        p = put32(p, h->stats[k]);
    int per_period = h->cfg.throttle_mode == LIM_ONE_PER_PERIOD;
    for (unsigned i = 0; i <= h->nslots; i++) {
        const slot_t *s = &L.s[i];
        if (!used(h, s, i))
            continue;
        unsigned kind = (s->flags >> SL_KSHIFT) & 3u;
        *p++ = (uint8_t)i;
        p = put32(p, i < h->nslots ? s->code + 1u : 0u);
        *p++ = (uint8_t)(((s->flags & SL_COPEN) ? 1u : 0u) | ((s->flags & SL_EOPEN) ? 2u : 0u)
                         | (kind << 2));
        p = put32(p, age(now, s->c_start));
        p = put32(p, (s->flags & SL_CBIG) ? 65536u : s->c_count);
        p = put32(p, (s->flags & SL_PBIG) ? 65536u : s->c_prev);
        p = put32(p, per_period ? age(now, s->e_aux) : s->e_aux);
        p = put32(p, s->e_total);
        p = put32(p, s->e_unrep);
        p = put32(p, age(now, s->e_first));
        p = put32(p, age(now, s->e_last));
        p = put32(p, age(now, s->e_sum));
        p = put32(p, s->r_count);
        p = put32(p, s->r_total);
        p = put32(p, age(now, s->r_first));
        p = put32(p, age(now, s->r_last));
        p = put32(p, (h->seq - (((h->seq & 0xFFu) - s->r_seq) & 0xFFu)) & SAT_MAX);
    }
    uint16_t crc = crc16(buf, (size_t)(p - buf));
    *p++ = (uint8_t)(crc >> 8);
    *p++ = (uint8_t)crc;
    return n;
}

/* -- restore ------------------------------------------------------------------------------ */

typedef struct { const uint8_t *b; int bad; } reader_t;

/* a u32 field: above 2**30 - 1 is a defect */
static uint32_t r32(reader_t *r, size_t off)
{
    const uint8_t *p = r->b + off;
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (v > SAT_MAX)
        r->bad = 1;
    return v;
}

/* a time stored as an age: beyond ticks_add's range (2**29) is a defect */
static uint32_t rtime(reader_t *r, size_t off, uint32_t now)
{
    uint32_t a = r32(r, off);
    if (a > TICKS_HALF) {
        r->bad = 1;
        return 0;
    }
    return ticks_add(now, -(int32_t)a);
}

int lim_restore(lim_ref L, const uint8_t *blob, size_t n, uint32_t now)
{
    lim_hdr_t *h = L.h;
    lim_config_t cfg = h->cfg;
    unsigned slots = h->nslots;
    /* a clean limiter first: what a refusal leaves, and what a restore fills in */
    lim_clear(L);
    if (n < 2 || crc16(blob, n - 2) != (uint16_t)(blob[n - 2] << 8 | blob[n - 1]))
        return -1;
    if (n < 6 || blob[0] != 'A' || blob[1] != 'S' || blob[2] != SNAP_VERSION)
        return -1;
    unsigned u = blob[5];
    if (blob[3] != slots || n != SNAP_HEAD + SNAP_SLOT * u + 2u)
        return -1;
    reader_t r = { blob, 0 };
    int same_mode = blob[4] == cfg.throttle_mode;
    int per_period = cfg.throttle_mode == LIM_ONE_PER_PERIOD;
    h->seq = r32(&r, 8);
    uint32_t want_pending = r32(&r, 12);
    h->d_open = blob[16];
    h->d_start = rtime(&r, 17, now);
    h->d_count = r32(&r, 21);
    h->d_prev = r32(&r, 25);
    for (unsigned k = 0; k < LIM_NSTATS; k++)
        h->stats[k] = r32(&r, 29 + 4 * k);
    uint32_t pending = 0;
    size_t p = SNAP_HEAD;
    for (unsigned e = 0; e < u && !r.bad; e++, p += SNAP_SLOT) {
        unsigned i = blob[p];
        if (i > slots) {
            r.bad = 1;
            break;
        }
        slot_t *s = &L.s[i];
        if (i < slots) {
            uint32_t c1 = r32(&r, p + 1);
            if (c1 < 1 || c1 > 0x10000u) {
                r.bad = 1;
                break;
            }
            s->code = (uint16_t)(c1 - 1u);
            s->flags = (uint8_t)(s->flags & ~SL_FREE);
        }
        unsigned fl = blob[p + 5];
        unsigned kind = (fl >> 2) & 3u;
        s->flags = (uint8_t)((s->flags & SL_FREE) | ((fl & 1u) ? SL_COPEN : 0u)
                             | ((fl & 2u) ? SL_EOPEN : 0u) | (kind << SL_KSHIFT));
        if (kind)
            pending++;
        size_t q = p + 6;
        s->c_start = rtime(&r, q, now);
        uint32_t cc = r32(&r, q + 4), cp = r32(&r, q + 8);
        s->c_count = (uint16_t)(cc > 65535u ? 0xFFFFu : cc);
        s->c_prev = (uint16_t)(cp > 65535u ? 0xFFFFu : cp);
        s->flags = (uint8_t)(s->flags | (cc > 65535u ? SL_CBIG : 0u) | (cp > 65535u ? SL_PBIG : 0u));
        uint32_t aux;
        if (per_period)
            aux = same_mode ? rtime(&r, q + 12, now)
                            : (r32(&r, q + 12), ticks_add(now, -(int32_t)cfg.throttle_period_ms));
        else
            aux = same_mode ? r32(&r, q + 12) : (r32(&r, q + 12), 0u);
        s->e_aux = aux;
        s->e_total = r32(&r, q + 16);
        s->e_unrep = r32(&r, q + 20);
        s->e_first = rtime(&r, q + 24, now);
        s->e_last = rtime(&r, q + 28, now);
        s->e_sum = rtime(&r, q + 32, now);
        s->r_count = r32(&r, q + 36);
        s->r_total = r32(&r, q + 40);
        s->r_first = rtime(&r, q + 44, now);
        s->r_last = rtime(&r, q + 48, now);
        s->r_seq = (uint8_t)(r32(&r, q + 52) & 0xFFu);
        if (s->flags & (SL_COPEN | SL_EOPEN))
            h->bits |= HB_LIVE;
    }
    if (r.bad || pending != want_pending) {
        lim_clear(L);
        return -1;
    }
    h->pending = (uint8_t)pending;
    return 0;
}
