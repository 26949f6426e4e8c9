/* gbcs.h -- the frames the board sends north (docs/frames.md): GBCS alert frames (General-
 * Signing for critical alerts, General-Ciphering with a MAC otherwise; DLMS or GBZ payload)
 * and the project's suppression summary frame. Byte-identical to firmware_model/gbcs.py's
 * builders; MAC and signature are zero placeholders (the board holds no keys for them). */
#ifndef ALERTSTORM_GBCS_H
#define ALERTSTORM_GBCS_H

#include <stddef.h>
#include <stdint.h>

#define GBCS_FRAME_MAX 128u        /* the summary; signed DLMS 124, ciphered DLMS 85 */
#define GBCS_SUMMARY_CODE 0x8FFEu
#define GBCS_MSG_CRITICAL 0x1000u
#define GBCS_MSG_NON_CRITICAL 0x1001u
enum { GBCS_ENC_DLMS = 1, GBCS_ENC_GBZ = 2 };

/* Times are seconds since 2000-01-01T00:00:00Z. Both return the frame's length (0: refused,
 * the summary code or an unknown encoding). buf holds GBCS_FRAME_MAX bytes. */
size_t gbcs_build_alert(uint8_t *buf, int ciphered, uint64_t counter, const uint8_t orig[8],
                        const uint8_t recip[8], uint16_t msg_code, uint16_t code, int encoding,
                        uint32_t t2000);
size_t gbcs_build_summary(uint8_t *buf, uint64_t counter, const uint8_t orig[8],
                          const uint8_t recip[8], uint32_t t2000, uint16_t code, uint32_t count,
                          uint32_t total, uint32_t first2000, uint32_t last2000, uint8_t kind);

/* The alert code of a frame the builders made (what a hub learns from a meter's frame):
 * -1 if it is not one of theirs. */
int32_t gbcs_alert_code(const uint8_t *frame, size_t n);

#endif
