/* config_update.c -- parse and authenticate a config update message; the board records the
 * accepted counter (ports/c/src/store.c) before it configures its limiters. */
#include "config_update.h"

#include <string.h>

#include "sha256.h"

const uint8_t cu_test_key[32] = "alertstorm-test-device-key-0001!";

static const char *const reasons[] = { "ok", "bad_format", "bad_mac", "replay", "out_of_range",
                                       "bad_version" };

const char *cu_reason(int r) { return r >= 0 && r <= 5 ? reasons[r] : "?"; }

static uint32_t be(const uint8_t *p, unsigned n)
{
    uint32_t v = 0;
    while (n--)
        v = v << 8 | *p++;
    return v;
}

/* constant time: how long the comparison takes says nothing about where a forged MAC differs */
static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    unsigned d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned)(a[i] ^ b[i]);
    return d == 0;
}

int cu_check(const cu_state_t *st, const uint8_t *key, size_t klen, const uint8_t *msg,
             size_t n, lim_config_t *cfg, int *fresh, const char **detail)
{
    *detail = "";
    if (n < 4 || msg[0] != 'C' || msg[1] != 'U') {
        *detail = "not_a_config_update";
        return CU_BAD_FORMAT;
    }
    unsigned nt = msg[3];
    size_t body = CU_HEADER + 2u * nt;
    if (n != body + CU_MAC_LEN) {
        *detail = "length";
        return CU_BAD_FORMAT;
    }
    uint8_t mac[32];
    hmac_sha256(key, klen, msg, body, mac);
    if (!same(mac, msg + body, CU_MAC_LEN)) {
        *detail = "MAC_does_not_verify";
        return CU_BAD_MAC;
    }
    if (msg[2] != 1) {
        *detail = "version";
        return CU_BAD_VERSION;
    }
    if (nt > LIM_MAX_NT) {
        *detail = "never_throttle";
        return CU_OUT_OF_RANGE;
    }
    if (msg[23] != 0) {
        *detail = "reserved_byte";
        return CU_BAD_FORMAT;
    }
    lim_raw_config_t raw;
    lim_raw_default(&raw);
    raw.v[K_DEVICE_WINDOW] = be(msg + 8, 4);
    raw.v[K_AMBER] = be(msg + 12, 2);
    raw.v[K_RED] = be(msg + 14, 2);
    raw.v[K_CODE_WINDOW] = be(msg + 16, 4);
    raw.v[K_CODE_LIMIT] = be(msg + 20, 2);
    raw.v[K_MODE] = msg[22];
    raw.v[K_THROTTLE_N] = be(msg + 24, 2);
    raw.v[K_PERIOD] = be(msg + 26, 4);
    raw.v[K_SUMMARY_INTERVAL] = be(msg + 30, 4);
    raw.n_nt = nt;
    for (unsigned i = 0; i < nt; i++)
        raw.nt[i] = be(msg + CU_HEADER + 2u * i, 2);
    const char *bad = lim_config_make(cfg, &raw);
    if (bad) {
        *detail = bad;
        return CU_OUT_OF_RANGE;
    }
    uint32_t counter = be(msg + 4, 4);
    if (counter == st->counter && st->counter && same(msg + body, st->mac, CU_MAC_LEN)) {
        *fresh = 0;   /* the ACK was lost: the same message again, acknowledged again */
        return CU_OK;
    }
    if (counter <= st->counter) {
        *detail = "counter";
        return CU_REPLAY;
    }
    *fresh = 1;
    return CU_OK;
}

void cu_accept(cu_state_t *st, const uint8_t *msg, size_t n)
{
    st->counter = be(msg + 4, 4);
    memcpy(st->mac, msg + n - CU_MAC_LEN, CU_MAC_LEN);
}
