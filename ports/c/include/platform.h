/* platform.h -- the whole interface between the portable firmware (ports/c/src/) and a board.
 *
 * Two builds implement it: platform/host/ (gcc, run by `python -m emulator` behind a pty,
 * virtual clock, flash as a file) and platform/microbit/ (nRF51822 under QEMU -M microbit).
 * The firmware calls nothing else: no libc I/O, no malloc, no clock of its own.
 *
 * Conventions: every function returns at once unless it says otherwise; "ms" are
 * milliseconds; ticks are masked to 2**30 like MicroPython's time.ticks_ms(), so the firmware
 * compares them with ticks_diff() only (ports/c/include/ticks.h).
 */
#ifndef ALERTSTORM_PLATFORM_H
#define ALERTSTORM_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* -- time ------------------------------------------------------------------------------- */

/* ms since some origin, masked to 2**30 (wraps every 12.4 days, as ticks_ms does). */
uint32_t plat_ticks_ms(void);

/* Virtual clock: move ticks forward by `ms` and return 1. A board on a real clock returns 0
 * and changes nothing (the firmware then answers ADVANCE with E_UNSUPPORTED). */
int plat_advance(uint32_t ms);

/* Wall clock, UTC seconds since 1970 (frames carry it). It belongs to the platform because
 * it outlives a reset on the emulated boards (the host's clock does) and on a board with an
 * RTC; a board without one keeps it in RAM that a reset does not clear, or restarts it. */
uint32_t plat_wall_s(void);
void plat_set_wall(uint32_t unix_s);

/* -- the serial link -------------------------------------------------------------------- */

/* Next received byte (0..255), or -1 when nothing has arrived yet. Never blocks. */
int plat_getc(void);

/* Write all n bytes; blocks until they are queued or sent. */
void plat_write(const uint8_t *p, size_t n);

/* Nothing to do: wait until a byte arrives or the next tick (at most ~50 ms), whichever is
 * first. On a virtual clock it must not move ticks. */
void plat_idle(void);

/* -- flash: two pages, the A/B slots of the snapshot store (ports/c/src/store.c) -------- */

#define PLAT_FLASH_PAGES 2u
/* Every page holds at least this many bytes (the store needs 8 + 1117 + 8 for a full table). */
#define PLAT_FLASH_PAGE_SIZE 4096u

/* Read n bytes at off of page (0 or 1). Returns 0, or -1 (bad page/range, I/O error). Erased
 * bytes read 0xFF. */
int plat_flash_read(unsigned page, uint32_t off, uint8_t *p, size_t n);

/* Set every byte of page to 0xFF. Returns 0 or -1. A power cut may strike during it. */
int plat_flash_erase(unsigned page);

/* Program n bytes at off of page (erased bytes only, as NOR flash). Returns 0 or -1. A power
 * cut may strike after any byte: the bytes before it are written, the rest stay erased, and
 * the board restarts (plat_reset(PLAT_RESET_BROWNOUT)); the call then does not return. */
int plat_flash_write(unsigned page, uint32_t off, const uint8_t *p, size_t n);

/* Emulators only: arm a power cut that strikes when n more bytes have been programmed.
 * Returns 1 if armed, 0 if the board cannot (the firmware answers E_UNSUPPORTED). */
int plat_powercut(uint32_t n);

/* -- resets ----------------------------------------------------------------------------- */

enum {
    PLAT_RESET_POWER = 0,   /* power-on (a cause only, never a kind to ask for) */
    PLAT_RESET_SOFT = 1,
    PLAT_RESET_HARD = 2,
    PLAT_RESET_WATCHDOG = 3,
    PLAT_RESET_BROWNOUT = 4
};

/* 1 if this board can restart with that kind (RESET answers E_UNSUPPORTED otherwise). */
int plat_can_reset(int kind);

/* Restart the firmware: RAM state is lost, flash and the clocks stay. Does not return; the
 * next boot's plat_reset_cause() is `kind`. */
void plat_reset(int kind);

/* Why this boot happened: one of PLAT_RESET_*. */
int plat_reset_cause(void);

/* -- identity --------------------------------------------------------------------------- */

/* HELLO engine=, e.g. "native" (host build) or "nrf51" (micro:bit); one word. */
const char *plat_engine(void);

#endif
