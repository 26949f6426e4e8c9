/* plat_host.h -- the host platform's state, shared by plat_host.c and main.c. */
#ifndef ALERTSTORM_PLAT_HOST_H
#define ALERTSTORM_PLAT_HOST_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    jmp_buf boot;              /* plat_reset() jumps here: main() boots the firmware again */
    int cause;
    int real;                  /* real clock (ADVANCE refused) */
    uint64_t ticks_start, elapsed_ms, t0_ms;
    uint64_t wall_base, wall_at;
    const char *flash_path;
    int flash_fd;
    int cut_armed;
    size_t cut_after;
} host_t;

extern host_t host;

#endif
