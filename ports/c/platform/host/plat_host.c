/* plat_host.c -- platform.h on a POSIX host, for the emulator's "native" engine
 * (emulator/engine_native.py): the serial link is stdin/stdout (the engine relays them to the
 * pty), flash is a file of two pages, the clock is virtual (moved by ADVANCE) or the host's
 * monotonic clock, and a reset jumps back to main() (platform/host/main.c), which boots the
 * firmware again: its RAM state is cleared there, flash and clocks carry on. */
#include "plat_host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform.h"

host_t host;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t elapsed(void)
{
    if (host.real)
        host.elapsed_ms = mono_ms() - host.t0_ms;
    return host.elapsed_ms;
}

uint32_t plat_ticks_ms(void) { return (uint32_t)((host.ticks_start + elapsed()) & 0x3FFFFFFFu); }

int plat_advance(uint32_t ms)
{
    if (host.real)
        return 0;
    host.elapsed_ms += ms;
    return 1;
}

uint32_t plat_wall_s(void)
{
    return (uint32_t)(host.wall_base + (elapsed() - host.wall_at) / 1000u);
}

void plat_set_wall(uint32_t unix_s)
{
    host.wall_base = unix_s;
    host.wall_at = elapsed();
}

/* -- the link: stdin/stdout, buffered ---------------------------------------------------- */

static uint8_t inbuf[4096];
static size_t in_n, in_pos;

static void fill(int timeout_ms)
{
    struct pollfd p = { 0, POLLIN, 0 };
    if (poll(&p, 1, timeout_ms) <= 0)
        return;
    ssize_t k = read(0, inbuf, sizeof inbuf);
    if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
        exit(0);   /* the engine closed the link: power off */
    if (k > 0) {
        in_n = (size_t)k;
        in_pos = 0;
    }
}

int plat_getc(void)
{
    if (in_pos == in_n)
        fill(0);
    return in_pos < in_n ? inbuf[in_pos++] : -1;
}

void plat_write(const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = write(1, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            exit(0);
        }
        p += k;
        n -= (size_t)k;
    }
}

void plat_idle(void)
{
    if (in_pos == in_n)
        fill(50);
}

/* -- flash: a file of two pages ---------------------------------------------------------- */

static int flash_fd(void)
{
    if (host.flash_fd >= 0)
        return host.flash_fd;
    int fd = open(host.flash_path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    off_t size = lseek(fd, 0, SEEK_END);
    if (size < (off_t)(PLAT_FLASH_PAGES * PLAT_FLASH_PAGE_SIZE)) {
        /* a new flash is erased: 0xFF */
        uint8_t ff[256];
        memset(ff, 0xFF, sizeof ff);
        for (off_t o = size < 0 ? 0 : size; o < (off_t)(PLAT_FLASH_PAGES * PLAT_FLASH_PAGE_SIZE);
             o += (off_t)sizeof ff) {
            size_t k = (size_t)((off_t)(PLAT_FLASH_PAGES * PLAT_FLASH_PAGE_SIZE) - o);
            if (pwrite(fd, ff, k < sizeof ff ? k : sizeof ff, o) < 0)
                break;
        }
    }
    host.flash_fd = fd;
    return fd;
}

static int range_ok(unsigned page, uint32_t off, size_t n)
{
    return page < PLAT_FLASH_PAGES && off <= PLAT_FLASH_PAGE_SIZE && n <= PLAT_FLASH_PAGE_SIZE - off;
}

int plat_flash_read(unsigned page, uint32_t off, uint8_t *p, size_t n)
{
    int fd = flash_fd();
    if (fd < 0 || !range_ok(page, off, n))
        return -1;
    off_t at = (off_t)page * PLAT_FLASH_PAGE_SIZE + off;
    return pread(fd, p, n, at) == (ssize_t)n ? 0 : -1;
}

int plat_flash_erase(unsigned page)
{
    int fd = flash_fd();
    if (fd < 0 || page >= PLAT_FLASH_PAGES)
        return -1;
    uint8_t ff[PLAT_FLASH_PAGE_SIZE];
    memset(ff, 0xFF, sizeof ff);
    return pwrite(fd, ff, sizeof ff, (off_t)page * PLAT_FLASH_PAGE_SIZE) == (ssize_t)sizeof ff ? 0 : -1;
}

int plat_flash_write(unsigned page, uint32_t off, const uint8_t *p, size_t n)
{
    int fd = flash_fd();
    if (fd < 0 || !range_ok(page, off, n))
        return -1;
    off_t at = (off_t)page * PLAT_FLASH_PAGE_SIZE + off;
    if (host.cut_armed && n > host.cut_after) {
        /* the power fails here: the bytes before the cut reach the flash, the rest do not */
        size_t keep = host.cut_after;
        host.cut_armed = 0;
        if (keep && pwrite(fd, p, keep, at) < 0)
            return -1;
        fsync(fd);
        plat_reset(PLAT_RESET_BROWNOUT);
    }
    if (host.cut_armed)
        host.cut_after -= n;
    return pwrite(fd, p, n, at) == (ssize_t)n ? 0 : -1;
}

int plat_powercut(uint32_t n)
{
    host.cut_armed = 1;
    host.cut_after = n;
    return 1;
}

/* -- resets ------------------------------------------------------------------------------ */

int plat_can_reset(int kind) { return kind >= PLAT_RESET_SOFT && kind <= PLAT_RESET_BROWNOUT; }

void plat_reset(int kind)
{
    host.cause = kind;
    longjmp(host.boot, 1);
}

int plat_reset_cause(void) { return host.cause; }

const char *plat_engine(void) { return "native"; }
