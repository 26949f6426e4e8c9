/* config_update.h -- the authenticated config update (docs/limiter.md, "Config update"):
 * "CU" version n counter fields never_throttle[n] HMAC-SHA256, big-endian, checked in the
 * documented order, with a replay counter and the last accepted MAC (an identical retry of
 * the last accepted message is acknowledged again). */
#ifndef ALERTSTORM_CONFIG_UPDATE_H
#define ALERTSTORM_CONFIG_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "limiter.h"

#define CU_HEADER 34u
#define CU_MAC_LEN 32u
#define CU_MAX_LEN (CU_HEADER + 2u * 255u + CU_MAC_LEN)

enum { CU_OK = 0, CU_BAD_FORMAT = 1, CU_BAD_MAC = 2, CU_REPLAY = 3, CU_OUT_OF_RANGE = 4,
       CU_BAD_VERSION = 5 };

/* The replay state of the device: the last accepted counter (0: none yet) and its MAC. */
typedef struct {
    uint32_t counter;
    uint8_t mac[CU_MAC_LEN];
} cu_state_t;

/* The unprovisioned board's key (firmware_model/config_update.py TEST_KEY). */
extern const uint8_t cu_test_key[32];

/* Check msg; CU_OK with *cfg and *fresh (0: an identical retry), or a CU_* reason with
 * *detail (for out_of_range: the key) -- *st is not changed (cu_accept records). */
int cu_check(const cu_state_t *st, const uint8_t *key, size_t klen, const uint8_t *msg,
             size_t n, lim_config_t *cfg, int *fresh, const char **detail);
void cu_accept(cu_state_t *st, const uint8_t *msg, size_t n);
const char *cu_reason(int r);

#endif
