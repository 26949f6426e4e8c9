/* crc.h -- CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, xorout 0), the one CRC
 * of snapshots, flash records and wire lines; crc16("123456789") = 0x29B1. */
#ifndef ALERTSTORM_CRC_H
#define ALERTSTORM_CRC_H

#include <stddef.h>
#include <stdint.h>

#define CRC16_INIT 0xFFFFu

/* Continue crc over n bytes (start with CRC16_INIT). */
uint16_t crc16_update(uint16_t crc, const uint8_t *p, size_t n);

static inline uint16_t crc16(const uint8_t *p, size_t n) { return crc16_update(CRC16_INIT, p, n); }

#endif
