/* ticks.h -- MicroPython's ticks arithmetic on the 2**30 circle (docs/limiter.md, "Ticks").
 * Every stored time is a ticks value; differences go through ticks_diff only, so a run across
 * the wrap decides exactly like one that does not. */
#ifndef ALERTSTORM_TICKS_H
#define ALERTSTORM_TICKS_H

#include <stdint.h>

#define TICKS_MASK 0x3FFFFFFFu   /* 2**30 - 1: also SAT_MAX, the saturation ceiling */
#define TICKS_HALF 0x20000000u   /* ticks_diff's range is [-2**29, 2**29) */
#define SAT_MAX TICKS_MASK

static inline int32_t ticks_diff(uint32_t end, uint32_t start)
{
    uint32_t r = (end - start) & TICKS_MASK;
    return r >= TICKS_HALF ? (int32_t)r - (int32_t)(TICKS_MASK + 1u) : (int32_t)r;
}

/* delta must lie in [-2**29, 2**29) (callers check where it comes from outside) */
static inline uint32_t ticks_add(uint32_t t, int32_t delta)
{
    return (t + (uint32_t)delta) & TICKS_MASK;
}

static inline uint32_t sat_inc(uint32_t x) { return x < SAT_MAX ? x + 1u : x; }
static inline uint32_t sat_add(uint32_t a, uint32_t b) { return a <= SAT_MAX - b ? a + b : SAT_MAX; }

#endif
