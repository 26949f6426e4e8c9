/* offer_driver.c -- the C limiter alone, fed one of bench_limiter.py's streams, for
 * instruction counting under valgrind (benchmarks/bench_c_port.py). Deterministic: the same
 * arguments execute the same instructions, so two runs that differ only in N give the cost
 * of an alert as (Ir(N2) - Ir(N1)) / (N2 - N1), free of start-up and warm-up.
 *
 *   offer_driver healthy|storm|overflow N    prints "sizeof=<limiter_t> suppressed=<n>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limiter.h"

static limiter_t lim;

int main(int argc, char **argv)
{
    static const int32_t healthy[] = {0x100, 0x101}, storm[] = {0x100, 0x101, 0x8F3F};
    int32_t overflow[32];
    const int32_t *codes;
    unsigned nc, k, step;
    unsigned long n;
    uint32_t t;
    lim_raw_config_t raw;
    lim_config_t cfg;

    if (argc != 3)
        return 2;
    for (k = 0; k < 32u; k++)
        overflow[k] = (int32_t)(0x200u + k);
    if (strcmp(argv[1], "healthy") == 0) {
        codes = healthy; nc = 2; step = 1000;
    } else if (strcmp(argv[1], "storm") == 0) {
        codes = storm; nc = 3; step = 3;
    } else if (strcmp(argv[1], "overflow") == 0) {
        codes = overflow; nc = 32; step = 2;
    } else {
        return 2;
    }
    n = strtoul(argv[2], NULL, 10);
    /* bench_limiter.py's CFG */
    lim_raw_default(&raw);
    raw.v[K_RED] = 20;
    raw.v[K_AMBER] = 10;
    raw.v[K_CODE_LIMIT] = 3;
    raw.v[K_THROTTLE_N] = 4;
    raw.v[K_DEVICE_WINDOW] = 10000;
    raw.v[K_CODE_WINDOW] = 10000;
    raw.v[K_SUMMARY_INTERVAL] = 1000;
    raw.nt[0] = 0x8F3F;
    raw.n_nt = 1;
    if (lim_config_make(&cfg, &raw) != NULL)
        return 3;
    lim_init(LIM_REF(&lim), &cfg, LIM_MAX_SLOTS, LIM_MAX_SLOTS);
    /* 2000 alerts of warm-up, then N more; the stream crosses the 2**30 wrap */
    t = (0x3FFFFFFFu - (uint32_t)((n + 2000u) * step)) & 0x3FFFFFFFu;
    for (k = 0; k < 2000u + n; k++) {
        (void)lim_offer(LIM_REF(&lim), codes[k % nc], t);
        t = (t + step) & 0x3FFFFFFFu;
    }
    printf("sizeof=%u suppressed=%u\n", (unsigned)sizeof(limiter_t),
           (unsigned)lim.h.stats[ST_SUPPRESSED]);
    return 0;
}
