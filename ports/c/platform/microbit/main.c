/* main.c -- the micro:bit's board: the comms hub of boards/qemu-microbit-c.toml, fixed at
 * compile time (a device has no command line), started on the portable firmware. */
#include "firmware.h"
#include "wire.h"

int main(void)
{
    static board_cfg_t cfg;     /* static: the stack is the scarce thing here */

    board_cfg_default(&cfg);
    cfg.name = "qemu-microbit-c";
    cfg.ring = WIRE_RING_MAX;   /* microbit.mk sizes the ring down: 16 KB of RAM */
    fw_main(&cfg);
    return 0;
}
