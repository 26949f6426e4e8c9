/* smoke.c -- a main of a few lines that proves the micro:bit platform without the firmware:
 * it greets, then answers one-letter commands (tests/test_c_microbit.py drives it).
 *   t ticks   a ADVANCE 1000   c reset cause   w/r flash write/read   e erase   s/h reset
 */
#include <stdint.h>

#include "platform.h"

static void put(const char *s)
{
    const char *e = s;

    while (*e)
        e++;
    plat_write((const uint8_t *)s, (size_t)(e - s));
}

static void put_u(uint32_t v)
{
    char b[11];
    int i = 10;

    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    put(&b[i]);
}

int main(void)
{
    uint8_t buf[4];

    put("SMOKE engine=");
    put(plat_engine());
    put(" cause=");
    put_u((uint32_t)plat_reset_cause());
    put(" t=");
    put_u(plat_ticks_ms());
    put("\n");
    for (;;) {
        int c = plat_getc();

        if (c < 0) {
            plat_idle();
            continue;
        }
        switch (c) {
        case 't': put_u(plat_ticks_ms()); break;
        case 'a': put_u((uint32_t)plat_advance(1000u)); break;
        case 'c': put_u((uint32_t)plat_reset_cause()); break;
        case 'e': put_u((uint32_t)(plat_flash_erase(1u) + 1)); break;
        case 'w': put_u((uint32_t)(plat_flash_write(1u, 4093u, (const uint8_t *)"OK!", 3u) + 1)); break;
        case 'r':
            if (plat_flash_read(1u, 4093u, buf, 3u) == 0) {
                buf[3] = 0;
                put((const char *)buf);
            }
            break;
        case 's': plat_reset(PLAT_RESET_SOFT); break;
        case 'h': plat_reset(PLAT_RESET_HARD); break;
        default: continue;
        }
        put("\n");
    }
}
