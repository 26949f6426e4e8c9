/* firmware.h -- how a platform starts the portable firmware, and what it tells it.
 *
 * A platform's startup code fills one board_cfg_t (the host build from its command line, the
 * micro:bit build from constants) and calls fw_main(), which never returns: it boots (restore
 * from flash, EVENT BOOT) and serves docs/wire-protocol.md until plat_reset() restarts it.
 */
#ifndef ALERTSTORM_FIRMWARE_H
#define ALERTSTORM_FIRMWARE_H

#include <stdint.h>

#include "limiter.h"

enum { ROLE_CHUB = 0, ROLE_ESME = 1, ROLE_GSME = 2 };
enum { PLACE_NONE = 0, PLACE_HUB = 1, PLACE_METER = 2, PLACE_BOTH = 3 };
enum { DEV_ESME = 0, DEV_GSME = 1, DEV_HUB = 2, DEV_DCC = 3, N_DEVICES = 4 };

typedef struct {
    const char *name;              /* HELLO board= */
    uint8_t role, placement;       /* ROLE_*, PLACE_* */
    uint8_t slots;                 /* code slots per limiter, 1..LIM_MAX_SLOTS */
    uint32_t poll_ms;              /* housekeeping period of ADVANCE, >= 1 */
    uint32_t persist_ms;           /* at most one snapshot write per this, after a change */
    uint32_t ring;                 /* RESEND ring lines, 4..WIRE_RING_MAX */
    uint8_t titles[N_DEVICES][8];  /* EUI-64s in frames */
    uint8_t n_critical;            /* alerts sent General-Signing (critical) */
    uint16_t critical[LIM_MAX_NT];
    lim_config_t config;           /* the built-in limiter config (a config update wins) */
} board_cfg_t;

/* Defaults of docs/boards.md: comms hub, limiter in the hub, 16 slots, ... */
void board_cfg_default(board_cfg_t *cfg);

void fw_main(const board_cfg_t *cfg);

#endif
