/* nrf51.h -- the few nRF51822 and Cortex-M0 registers the micro:bit platform touches.
 *
 * Addresses and offsets from the nRF51 Series Reference Manual (v3.0) and the ARMv6-M
 * Architecture Reference Manual. Only what QEMU's `-M microbit` models is used: UART0,
 * TIMER0, NVMC (QEMU has no RTC and no watchdog on this machine, see docs/c-port.md).
 */
#ifndef NRF51_H
#define NRF51_H

#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* ---- UART0 ------------------------------------------------------------------------------ */
#define UART0_BASE          0x40002000u
#define UART0_STARTRX       REG(UART0_BASE + 0x000u)
#define UART0_STARTTX       REG(UART0_BASE + 0x008u)
#define UART0_RXDRDY        REG(UART0_BASE + 0x108u)
#define UART0_TXDRDY        REG(UART0_BASE + 0x11Cu)
#define UART0_INTENSET      REG(UART0_BASE + 0x304u)
#define UART0_ENABLE        REG(UART0_BASE + 0x500u)
#define UART0_PSELTXD       REG(UART0_BASE + 0x50Cu)
#define UART0_PSELRXD       REG(UART0_BASE + 0x514u)
#define UART0_RXD           REG(UART0_BASE + 0x518u)
#define UART0_TXD           REG(UART0_BASE + 0x51Cu)
#define UART0_BAUDRATE      REG(UART0_BASE + 0x524u)
#define UART_ENABLE_ON      4u
#define UART_INTEN_RXDRDY   (1u << 2)
#define UART_BAUD_115200    0x01D7E000u
#define UART0_IRQ           2u
/* micro:bit v1 edge connector: the interface chip's UART is on P0.24 (TX) and P0.25 (RX) */
#define MICROBIT_PIN_TX     24u
#define MICROBIT_PIN_RX     25u

/* ---- TIMER0 ----------------------------------------------------------------------------- */
#define TIMER0_BASE         0x40008000u
#define TIMER0_START        REG(TIMER0_BASE + 0x000u)
#define TIMER0_CLEAR        REG(TIMER0_BASE + 0x00Cu)
#define TIMER0_CAPTURE0     REG(TIMER0_BASE + 0x040u)
#define TIMER0_COMPARE1     REG(TIMER0_BASE + 0x144u)
#define TIMER0_SHORTS       REG(TIMER0_BASE + 0x200u)
#define TIMER0_INTENSET     REG(TIMER0_BASE + 0x304u)
#define TIMER0_MODE         REG(TIMER0_BASE + 0x504u)
#define TIMER0_BITMODE      REG(TIMER0_BASE + 0x508u)
#define TIMER0_PRESCALER    REG(TIMER0_BASE + 0x510u)
#define TIMER0_CC0          REG(TIMER0_BASE + 0x540u)
#define TIMER0_CC1          REG(TIMER0_BASE + 0x544u)
#define TIMER_BITMODE_32    3u
#define TIMER_PRESCALE_1MHZ 4u              /* 16 MHz >> 4 */
#define TIMER_INTEN_COMPARE1 (1u << 17)
#define TIMER0_IRQ          8u

/* ---- NVMC and flash --------------------------------------------------------------------- */
#define NVMC_BASE           0x4001E000u
#define NVMC_READY          REG(NVMC_BASE + 0x400u)
#define NVMC_CONFIG         REG(NVMC_BASE + 0x504u)
#define NVMC_ERASEPAGE      REG(NVMC_BASE + 0x508u)
#define NVMC_CONFIG_REN     0u
#define NVMC_CONFIG_WEN     1u
#define NVMC_CONFIG_EEN     2u
#define NRF51_PAGE_SIZE     1024u
#define NRF51_FLASH_SIZE    (256u * 1024u)

/* ---- Cortex-M0 system control ----------------------------------------------------------- */
#define NVIC_ISER           REG(0xE000E100u)
#define NVIC_ICPR           REG(0xE000E280u)
#define SCB_AIRCR           REG(0xE000ED0Cu)
#define AIRCR_SYSRESETREQ   0x05FA0004u      /* VECTKEY | SYSRESETREQ */

#endif
