/* limiter.h -- the device-side alert-storm limiter (docs/policy.md, docs/limiter.md).
 *
 * One limiter is a table of code slots plus one overflow slot (slot_t, 52 bytes each) and a
 * header (lim_hdr_t: device window, stats, config). limiter_t is the docs' C layout, 16 slots,
 * 1000 bytes; lim_big_t holds the 255 slots the vocabulary allows (the lut verbs and the host
 * tests use it). Every function takes a lim_ref, the pair of pointers, so one implementation
 * serves both table sizes.
 *
 * Narrowings (docs/limiter.md, "Memory, speed and the C port"): a code window's count and
 * previous count are min(x, 65536) in 16 bits plus a flag; the report sequence is kept in 8
 * bits per slot. Both are proven decision-identical there.
 */
#ifndef ALERTSTORM_LIMITER_H
#define ALERTSTORM_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#define LIM_MAX_SLOTS 16u     /* the board's table (limiter_t) */
#define LIM_BIG_SLOTS 255u    /* the vocabulary's limit (lim_big_t) */
#define LIM_MAX_NT 16u        /* never_throttle codes */
#define LIM_OVERFLOW_CODE 0x0000u

enum { LIM_SUPPRESS = 0, LIM_FORWARD = 1, LIM_STARTED = 2 };     /* offer(): 0, 1 or 3 */
enum { LIM_KIND_STARTED = 0, LIM_KIND_ONGOING = 1, LIM_KIND_CLOSED = 2 };
enum { LIM_ONE_IN_N = 1, LIM_ONE_PER_PERIOD = 2 };
enum { LIM_NORMAL = 0, LIM_AMBER = 1, LIM_RED = 2 };
enum { ST_OFFERED, ST_FORWARDED, ST_SUPPRESSED, ST_AMBER, ST_RED, ST_OVERFLOW, ST_EPISODES,
       ST_MERGED, LIM_NSTATS };

/* The vocabulary's keys in policy.md's order; lim_key_name() spells them. */
enum { K_DEVICE_WINDOW, K_AMBER, K_RED, K_CODE_WINDOW, K_CODE_LIMIT, K_MODE, K_THROTTLE_N,
       K_PERIOD, K_NEVER_THROTTLE, K_SUMMARY_INTERVAL, LIM_NKEYS };

typedef struct {                      /* 60 bytes: the docs' 28 + never_throttle[16] */
    uint32_t device_window_ms;
    uint16_t amber_threshold, red_threshold;
    uint32_t code_window_ms;
    uint16_t code_limit;
    uint8_t  throttle_mode, n_never;
    uint16_t throttle_n;
    uint16_t never_throttle[LIM_MAX_NT];
    uint32_t throttle_period_ms, summary_interval_ms;
} lim_config_t;

typedef struct {            /* 52 bytes */
    uint16_t code;
    uint8_t  flags;         /* SL_* below */
    uint8_t  r_seq;         /* low 8 bits of the report's sequence number */
    uint32_t c_start;
    uint16_t c_count, c_prev;   /* min(x, 65535); SL_CBIG / SL_PBIG say "65536" */
    uint32_t e_aux;         /* one_in_n: alerts still to skip; one_per_period: last forward */
    uint32_t e_total, e_unrep, e_first, e_last, e_sum;
    uint32_t r_count, r_total, r_first, r_last;
} slot_t;

typedef struct {            /* 116 bytes */
    uint32_t d_start, d_count, d_prev;
    uint32_t full_until, seq;
    uint8_t  d_open, nslots, pending, bits;   /* bits: HB_LIVE, HB_RESCAN */
    uint32_t stats[LIM_NSTATS];
    lim_config_t cfg;
} lim_hdr_t;

typedef struct { slot_t slot[LIM_MAX_SLOTS + 1]; lim_hdr_t h; } limiter_t;
typedef struct { slot_t slot[LIM_BIG_SLOTS + 1]; lim_hdr_t h; } lim_big_t;

typedef struct { lim_hdr_t *h; slot_t *s; } lim_ref;
#define LIM_REF(x) ((lim_ref){ &(x)->h, (x)->slot })

/* A config as parsed from words or JSON, before its range checks: wide signed values so that
 * out-of-range input reaches lim_config_make's checks. */
typedef struct {
    int64_t v[LIM_NKEYS];     /* K_NEVER_THROTTLE unused */
    int64_t nt[LIM_MAX_NT];
    unsigned n_nt;            /* may exceed LIM_MAX_NT (refused) */
} lim_raw_config_t;

typedef struct { uint8_t kind; uint16_t code; uint32_t count, total, first, last; } lim_summary_t;

const char *lim_key_name(unsigned key);
int lim_key_index(const char *name, size_t n);         /* -1 if unknown */
void lim_config_default(lim_config_t *cfg);
void lim_raw_default(lim_raw_config_t *raw);
/* Checks in policy.md's order; NULL and *out filled, or the name of the first bad key. */
const char *lim_config_make(lim_config_t *out, const lim_raw_config_t *raw);

/* slots 1..table size (LIM_MAX_SLOTS or LIM_BIG_SLOTS): 0, or -1 ("slots"). */
int lim_init(lim_ref L, const lim_config_t *cfg, unsigned slots, unsigned table);
void lim_configure(lim_ref L, const lim_config_t *cfg);
void lim_clear(lim_ref L);
int lim_offer(lim_ref L, int32_t code, uint32_t now);  /* 0, 1, 3; -1: code out of range */
unsigned lim_poll(lim_ref L, uint32_t now);             /* pending summaries */
unsigned lim_pending(lim_ref L);
int lim_pop(lim_ref L, lim_summary_t *out);              /* 1 popped, 0 none */
int lim_level(lim_ref L, uint32_t now);

/* Snapshot (docs/limiter.md "Persistence"): at most LIM_SNAP_MAX(slots) bytes. */
#define LIM_SNAP_MAX(slots) (61u + 62u * ((slots) + 1u) + 2u)
size_t lim_snapshot(lim_ref L, uint32_t now, uint8_t *buf, size_t cap);
/* 0 restored; -1 refused (the limiter is left clean). */
int lim_restore(lim_ref L, const uint8_t *blob, size_t n, uint32_t now);

#endif
