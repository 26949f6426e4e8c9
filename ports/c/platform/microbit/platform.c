/* platform.c -- platform.h on a micro:bit v1 (nRF51822, Cortex-M0) as QEMU's `-M microbit`
 * models it: UART0 for the link, TIMER0 for real time and for waking from WFI, the NVMC for
 * the two snapshot slots at the top of flash, SYSRESETREQ for resets.
 *
 * The clock is virtual by default (the board file says clock = "virtual"): ticks move only by
 * plat_advance(), so a run under QEMU decides exactly as the scenario's times say, however
 * loaded the host is. Built with -DMICROBIT_CLOCK_REAL the ticks follow TIMER0 instead and
 * ADVANCE is refused. Either way the clock, the wall clock and the reset cause live in RAM
 * that the start-up code does not clear (.noinit), so they outlive a reset as they would on a
 * device whose RTC keeps running; QEMU zeroes RAM only when its process starts: a power-on.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "platform.h"
#include "nrf51.h"
#include "microbit.h"

#define TICKS_MASK      0x3FFFFFFFu
#define KEEP_MAGIC      0x4B454550u     /* "KEEP": .noinit holds a previous boot's state */
#define BOOTARG_MAGIC   0x5449434Bu     /* "TICK": the launcher gave a power-on ticks value */
#define DEFAULT_WALL_S  1767225600u     /* 2026-01-01T00:00:00Z until the host sends CLOCK */
#define IDLE_WAKE_US    50000u          /* plat_idle returns at least this often */
#define HW_PAGES_PER_SLOT (PLAT_FLASH_PAGE_SIZE / NRF51_PAGE_SIZE)

/* Written at the start of RAM before every boot by the launcher (emulator/qemu_c.py, with
 * QEMU's `-device loader`): ticks_ms at power-on, the emulated boards' --ticks-start. */
struct bootarg {
    uint32_t magic;
    uint32_t ticks_start;
};
__attribute__((section(".bootarg"), used)) volatile struct bootarg microbit_bootarg;

struct keep {
    uint32_t magic;
    uint32_t cause_next;    /* what the next boot reports; HARD unless a kind was asked for */
    uint32_t start;         /* ticks at power-on */
    uint32_t elapsed;       /* ms since power-on (mod 2**32; ticks are mod 2**30) */
    uint32_t wall_base;     /* wall clock at elapsed == wall_at */
    uint32_t wall_at;
};
__attribute__((section(".noinit"))) static struct keep keep;

extern uint32_t __snap_start;

static int boot_cause;
static uint32_t powercut_left;  /* bytes that may still be programmed; armed while nonzero */
static int powercut_armed;
#ifdef MICROBIT_CLOCK_REAL
static uint32_t last_us, rem_us;
#endif

static uint32_t timer_us(void)
{
    TIMER0_CAPTURE0 = 1u;
    return TIMER0_CC0;
}

static uintptr_t slot_addr(unsigned page);

/* QEMU's nRF51 flash starts as zeros where the image does not reach, not as the 0xFF of an
 * erased chip, and the store would read an all-zero slot as a corrupt snapshot. A store write
 * never leaves a slot all zero (NOR programming only clears bits, and an image never fills
 * its 4 KB), so such a slot has never been erased: erase it, as the factory would have. */
static void erase_blank_slots(void)
{
    for (unsigned page = 0; page < PLAT_FLASH_PAGES; page++) {
        const volatile uint32_t *w = (const volatile uint32_t *)slot_addr(page);
        unsigned i = 0;
        while (i < PLAT_FLASH_PAGE_SIZE / 4u && w[i] == 0u)
            i++;
        if (i == PLAT_FLASH_PAGE_SIZE / 4u)
            (void)plat_flash_erase(page);
    }
}

void microbit_init(void)
{
    if (keep.magic != KEEP_MAGIC) {
        erase_blank_slots();
        keep.magic = KEEP_MAGIC;
        keep.start = microbit_bootarg.magic == BOOTARG_MAGIC
                     ? microbit_bootarg.ticks_start & TICKS_MASK : 0u;
        keep.elapsed = 0u;
        keep.wall_base = DEFAULT_WALL_S;
        keep.wall_at = 0u;
        boot_cause = PLAT_RESET_POWER;
    } else {
        boot_cause = (int)keep.cause_next;
    }
    /* a reset nobody asked for (QEMU's monitor `system_reset`) is a hard one */
    keep.cause_next = PLAT_RESET_HARD;

    TIMER0_MODE = 0u;
    TIMER0_BITMODE = TIMER_BITMODE_32;
    TIMER0_PRESCALER = TIMER_PRESCALE_1MHZ;
    TIMER0_CLEAR = 1u;
    TIMER0_INTENSET = TIMER_INTEN_COMPARE1;
    TIMER0_START = 1u;

    UART0_PSELTXD = MICROBIT_PIN_TX;
    UART0_PSELRXD = MICROBIT_PIN_RX;
    UART0_BAUDRATE = UART_BAUD_115200;
    UART0_ENABLE = UART_ENABLE_ON;
    UART0_INTENSET = UART_INTEN_RXDRDY;
    UART0_STARTTX = 1u;
    UART0_STARTRX = 1u;
    /* enabled in the NVIC only to end a WFI: PRIMASK stays set, no handler runs */
    NVIC_ISER = (1u << UART0_IRQ) | (1u << TIMER0_IRQ);
}

/* -- time ------------------------------------------------------------------------------- */

uint32_t plat_ticks_ms(void)
{
#ifdef MICROBIT_CLOCK_REAL
    uint32_t now = timer_us();
    rem_us += now - last_us;    /* TIMER0 restarts at 0 on a reset, as last_us does */
    last_us = now;
    keep.elapsed += rem_us / 1000u;
    rem_us %= 1000u;
#endif
    return (keep.start + keep.elapsed) & TICKS_MASK;
}

int plat_advance(uint32_t ms)
{
#ifdef MICROBIT_CLOCK_REAL
    (void)ms;
    return 0;
#else
    keep.elapsed += ms;
    return 1;
#endif
}

uint32_t plat_wall_s(void)
{
    (void)plat_ticks_ms();
    return keep.wall_base + (keep.elapsed - keep.wall_at) / 1000u;
}

void plat_set_wall(uint32_t unix_s)
{
    (void)plat_ticks_ms();
    keep.wall_base = unix_s;
    keep.wall_at = keep.elapsed;
}

/* -- the serial link -------------------------------------------------------------------- */

int plat_getc(void)
{
    if (!UART0_RXDRDY)
        return -1;
    /* clear first: reading RXD sets the event again when QEMU's FIFO holds more */
    UART0_RXDRDY = 0u;
    return (int)(UART0_RXD & 0xFFu);
}

void plat_write(const uint8_t *p, size_t n)
{
    while (n--) {
        UART0_TXDRDY = 0u;
        UART0_TXD = *p++;
        while (!UART0_TXDRDY) {
        }
    }
}

void plat_idle(void)
{
    if (UART0_RXDRDY)
        return;
    TIMER0_COMPARE1 = 0u;
    TIMER0_CC1 = timer_us() + IDLE_WAKE_US;
    NVIC_ICPR = (1u << UART0_IRQ) | (1u << TIMER0_IRQ);
    /* WFI wakes on a pending enabled interrupt even with PRIMASK set: QEMU then stops
     * spending a host core on a board that waits */
    if (!UART0_RXDRDY)
        __asm__ volatile ("wfi");
}

/* -- flash ------------------------------------------------------------------------------ */

static uintptr_t slot_addr(unsigned page)
{
    return (uintptr_t)&__snap_start + (uintptr_t)page * PLAT_FLASH_PAGE_SIZE;
}

static int in_range(unsigned page, uint32_t off, size_t n)
{
    return page < PLAT_FLASH_PAGES && off <= PLAT_FLASH_PAGE_SIZE
           && n <= PLAT_FLASH_PAGE_SIZE - off;
}

int plat_flash_read(unsigned page, uint32_t off, uint8_t *p, size_t n)
{
    if (!in_range(page, off, n))
        return -1;
    memcpy(p, (const void *)(slot_addr(page) + off), n);
    return 0;
}

static void nvmc_wait(void)
{
    while (!NVMC_READY) {
    }
}

int plat_flash_erase(unsigned page)
{
    unsigned i;

    if (page >= PLAT_FLASH_PAGES)
        return -1;
    NVMC_CONFIG = NVMC_CONFIG_EEN;
    nvmc_wait();
    for (i = 0; i < HW_PAGES_PER_SLOT; i++) {
        NVMC_ERASEPAGE = (uint32_t)(slot_addr(page) + i * NRF51_PAGE_SIZE);
        nvmc_wait();
    }
    NVMC_CONFIG = NVMC_CONFIG_REN;
    nvmc_wait();
    return 0;
}

/* The NVMC programs whole words (QEMU refuses narrower writes to flash); NOR programming
 * only clears bits, so a word that is 0xFF outside the byte leaves its neighbours as they are. */
static void program_byte(uintptr_t addr, uint8_t b)
{
    unsigned shift = (unsigned)(addr & 3u) * 8u;
    uint32_t word = ~(0xFFu << shift) | ((uint32_t)b << shift);

    *(volatile uint32_t *)(addr & ~(uintptr_t)3u) = word;
    nvmc_wait();
}

int plat_flash_write(unsigned page, uint32_t off, const uint8_t *p, size_t n)
{
    uintptr_t a;
    size_t i, keep_n = n;
    int cut = 0;

    if (!in_range(page, off, n))
        return -1;
    if (powercut_armed) {
        if (n <= powercut_left) {
            powercut_left -= (uint32_t)n;
        } else {
            keep_n = powercut_left;
            cut = 1;
        }
    }
    a = slot_addr(page) + off;
    NVMC_CONFIG = NVMC_CONFIG_WEN;
    nvmc_wait();
    for (i = 0; i < keep_n; i++)
        program_byte(a + i, p[i]);
    NVMC_CONFIG = NVMC_CONFIG_REN;
    nvmc_wait();
    if (cut)
        plat_reset(PLAT_RESET_BROWNOUT);
    return 0;
}

int plat_powercut(uint32_t n)
{
    powercut_left = n;
    powercut_armed = 1;
    return 1;
}

/* -- resets ----------------------------------------------------------------------------- */

/* QEMU models no watchdog and no brown-out detector on this machine: every kind is a system
 * reset (SYSRESETREQ), the kind carried to the next boot in .noinit, as the emulators do. */
int plat_can_reset(int kind)
{
    return kind >= PLAT_RESET_SOFT && kind <= PLAT_RESET_BROWNOUT;
}

static void system_reset(int kind) __attribute__((noreturn));
static void system_reset(int kind)
{
    keep.cause_next = (uint32_t)kind;
    __asm__ volatile ("dsb" ::: "memory");
    SCB_AIRCR = AIRCR_SYSRESETREQ;
    for (;;) {
    }
}

void plat_reset(int kind)
{
    system_reset(kind);
}

void microbit_fault_reset(void)
{
    system_reset(PLAT_RESET_WATCHDOG);
}

int plat_reset_cause(void)
{
    return boot_cause;
}

const char *plat_engine(void)
{
    return "nrf51";
}
