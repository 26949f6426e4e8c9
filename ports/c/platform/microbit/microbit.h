/* microbit.h -- what startup.c and platform.c share, beyond platform.h. */
#ifndef MICROBIT_H
#define MICROBIT_H

#include <stdint.h>

/* painted over the free stack at start-up; the benchmark reads how far it was overwritten */
#define MICROBIT_STACK_PAINT 0xA5A5A5A5u

/* Peripherals up, the reset cause and the clocks taken from RAM a reset keeps. */
void microbit_init(void);

/* Restart after a crash (a fault, or main returning), reported as a watchdog reset. */
void microbit_fault_reset(void) __attribute__((noreturn));

#endif
