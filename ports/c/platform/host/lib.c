/* lib.c -- a flat C API over the portable modules for the host tests (ctypes; tests/test_c_*.py):
 * limiters in a small static pool addressed by handle, plain integer arguments, no structs
 * across the boundary. Not part of any firmware image. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crc.h"
#include "limiter.h"

#define POOL 4
static lim_big_t pool[POOL];
static lim_config_t current;   /* the config as_config made, for as_new / as_configure */

static lim_ref ref(int h) { return LIM_REF(&pool[(unsigned)h % POOL]); }

/* v: the ten keys in policy.md's order (never_throttle's entry unused). NULL or the bad key. */
const char *as_config(const int64_t *v, const int64_t *nt, unsigned n_nt)
{
    lim_raw_config_t raw;
    lim_raw_default(&raw);
    for (unsigned k = 0; k < LIM_NKEYS; k++)
        raw.v[k] = v[k];
    raw.n_nt = n_nt;
    for (unsigned i = 0; i < n_nt && i < LIM_MAX_NT; i++)
        raw.nt[i] = nt[i];
    return lim_config_make(&current, &raw);
}

int as_new(int h, unsigned slots) { return lim_init(ref(h), &current, slots, LIM_BIG_SLOTS); }
void as_configure(int h) { lim_configure(ref(h), &current); }
void as_clear(int h) { lim_clear(ref(h)); }
int as_offer(int h, int32_t code, uint32_t t) { return lim_offer(ref(h), code, t); }
unsigned as_poll(int h, uint32_t t) { return lim_poll(ref(h), t); }
unsigned as_pending(int h) { return lim_pending(ref(h)); }
int as_level(int h, uint32_t t) { return lim_level(ref(h), t); }

int as_pop(int h, uint32_t *out)
{
    lim_summary_t s;
    if (!lim_pop(ref(h), &s))
        return 0;
    out[0] = s.kind;
    out[1] = s.code;
    out[2] = s.count;
    out[3] = s.total;
    out[4] = s.first;
    out[5] = s.last;
    return 1;
}

/* offered forwarded suppressed amber red overflow episodes merged pending */
void as_stats(int h, uint32_t *out)
{
    lim_ref L = ref(h);
    for (unsigned k = 0; k < LIM_NSTATS; k++)
        out[k] = L.h->stats[k];
    out[LIM_NSTATS] = L.h->pending;
}

size_t as_snapshot(int h, uint32_t t, uint8_t *buf, size_t cap) { return lim_snapshot(ref(h), t, buf, cap); }
int as_restore(int h, const uint8_t *b, size_t n, uint32_t t) { return lim_restore(ref(h), b, n, t); }

uint16_t as_crc16(const uint8_t *p, size_t n) { return crc16(p, n); }
size_t as_sizeof_limiter(void) { return sizeof(limiter_t); }
size_t as_sizeof_slot(void) { return sizeof(slot_t); }

/* -- codecs and crypto ------------------------------------------------------------------- */

#include "config_update.h"
#include "gbcs.h"
#include "sha256.h"

void as_sha256(const uint8_t *p, size_t n, uint8_t *out)
{
    sha256_t s;
    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_final(&s, out);
}

void as_hmac(const uint8_t *k, size_t kn, const uint8_t *p, size_t n, uint8_t *out)
{
    hmac_sha256(k, kn, p, n, out);
}

size_t as_build_alert(uint8_t *buf, int ciphered, uint64_t counter, const uint8_t *orig,
                      const uint8_t *recip, unsigned msg_code, unsigned code, int enc, uint32_t t)
{
    return gbcs_build_alert(buf, ciphered, counter, orig, recip, (uint16_t)msg_code,
                            (uint16_t)code, enc, t);
}

size_t as_build_summary(uint8_t *buf, uint64_t counter, const uint8_t *orig, const uint8_t *recip,
                        uint32_t t, unsigned code, uint32_t count, uint32_t total, uint32_t first,
                        uint32_t last, unsigned kind)
{
    return gbcs_build_summary(buf, counter, orig, recip, t, (uint16_t)code, count, total, first,
                              last, (uint8_t)kind);
}

int32_t as_alert_code(const uint8_t *f, size_t n) { return gbcs_alert_code(f, n); }

/* a config update against replay state (counter, mac): CU_* reason; *fresh */
int as_cu_check(uint32_t counter, const uint8_t *mac, const uint8_t *msg, size_t n, int *fresh)
{
    cu_state_t st;
    lim_config_t cfg;
    const char *detail;
    st.counter = counter;
    memcpy(st.mac, mac, CU_MAC_LEN);
    *fresh = -1;
    return cu_check(&st, cu_test_key, sizeof cu_test_key, msg, n, &cfg, fresh, &detail);
}
