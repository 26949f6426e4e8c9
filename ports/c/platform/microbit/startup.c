/* startup.c -- what runs before main() on the nRF51822: the vector table, copying .data from
 * flash, clearing .bss, and painting the stack so its high-water mark can be measured.
 *
 * No libc start-up (crt0) is linked: this file is the whole of it. Interrupts stay masked
 * for the firmware's life (PRIMASK set); the platform only uses them to wake from WFI
 * (platform.c), so no handler ever runs but the fault ones.
 */
#include <stdint.h>

#include "nrf51.h"
#include "microbit.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end;
extern uint32_t __stack_limit, __ram_end;

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

/* A fault is a crash: on a device the watchdog would restart it, so it restarts as one. */
void Fault_Handler(void)
{
    microbit_fault_reset();
}

typedef void (*vector_t)(void);

/* Cortex-M0: initial SP, 15 system exceptions, then the nRF51's 32 peripheral interrupts
 * (none is taken: PRIMASK is set, see above; a stray one would land on Fault_Handler). */
__attribute__((section(".vectors"), used))
static const vector_t vectors[16 + 32] = {
    [0] = (vector_t)(uintptr_t)&__ram_end,
    [1] = Reset_Handler,
    [2] = Fault_Handler,            /* NMI */
    [3] = Fault_Handler,            /* HardFault */
    [11] = Fault_Handler,           /* SVCall */
    [14] = Fault_Handler,           /* PendSV */
    [15] = Fault_Handler,           /* SysTick */
};

void Reset_Handler(void)
{
    uint32_t *src = &__data_load, *dst = &__data_start;
    uint32_t *sp;

    __asm__ volatile ("cpsid i");
    while (dst < &__data_end)
        *dst++ = *src++;
    for (dst = &__bss_start; dst < &__bss_end; dst++)
        *dst = 0;
    /* paint up to a little below this frame: the high-water mark is the lowest word changed */
    __asm__ volatile ("mov %0, sp" : "=r"(sp));
    for (dst = &__stack_limit; dst < sp - 16; dst++)
        *dst = MICROBIT_STACK_PAINT;
    microbit_init();
    (void)main();
    microbit_fault_reset();         /* main never returns; if it does, restart */
}
