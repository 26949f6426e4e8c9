/* crc.c -- CRC-16/CCITT-FALSE, a nibble at a time: a 16-entry table (32 bytes of flash)
 * instead of 512, two lookups per byte. */
#include "crc.h"

static const uint16_t nib[16] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
};

uint16_t crc16_update(uint16_t crc, const uint8_t *p, size_t n)
{
    while (n--) {
        unsigned c = crc, b = *p++;
        c = ((c << 4) & 0xFFFFu) ^ nib[((c >> 12) ^ (b >> 4)) & 0xFu];
        c = ((c << 4) & 0xFFFFu) ^ nib[((c >> 12) ^ b) & 0xFu];
        crc = (uint16_t)c;
    }
    return crc;
}
