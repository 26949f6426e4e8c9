/* gbcs.c -- the GBCS encoder of the device (docs/frames.md sections 2-5). Every field is written
 * at a computed offset into the caller's buffer: no allocation, no copies. */
#include "gbcs.h"

#include <string.h>

#define SC_AUTH_ONLY 0x11u
#define MAC_LEN 12u
#define SIG_LEN 64u
#define INVOKE_ID_FLAGS 0x20000000u
#define DLMS_ALERT_LEN 25u
#define GBZ_ALERT_LEN 9u
#define SUMMARY_LEN 68u

static uint8_t *be16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static size_t lsize(size_t n) { return n < 0x80u ? 1u : n < 0x100u ? 2u : 3u; }

/* DER length, minimal form */
static uint8_t *put_len(uint8_t *p, size_t n)
{
    if (n < 0x80u) {
        *p++ = (uint8_t)n;
    } else if (n < 0x100u) {
        *p++ = 0x81;
        *p++ = (uint8_t)n;
    } else {
        *p++ = 0x82;
        p = be16(p, (uint32_t)n);
    }
    return p;
}

/* 12-byte DLMS date-time of a UTC instant in the RTDS form (weekday FF, hundredths 00,
 * deviation 8000, status FF); the civil date by H. Hinnant's civil_from_days */
static uint8_t *put_dlms_time(uint8_t *p, uint32_t secs)
{
    int64_t days = (int64_t)(secs / 86400u);
    uint32_t rem = secs % 86400u;
    int64_t z = days + 730425;   /* days since 0000-03-01 */
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    p = be16(p, (uint32_t)y);
    *p++ = (uint8_t)m;
    *p++ = (uint8_t)d;
    *p++ = 0xFF;
    *p++ = (uint8_t)(rem / 3600u);
    *p++ = (uint8_t)(rem / 60u % 60u);
    *p++ = (uint8_t)(rem % 60u);
    *p++ = 0;
    p = be16(p, 0x8000u);
    *p++ = 0xFF;
    return p;
}

/* General-Signing header up to the content length; returns where the content goes */
static uint8_t *put_signed(uint8_t *p, uint64_t counter, const uint8_t *orig,
                           const uint8_t *recip, uint16_t msg_code, size_t content_len)
{
    *p++ = 0xDF;
    *p++ = 9;
    *p++ = 3;   /* CRA flag: alert */
    p = be32(p, (uint32_t)(counter >> 32));
    p = be32(p, (uint32_t)counter);
    *p++ = 8;
    memcpy(p, orig, 8);
    p += 8;
    *p++ = 8;
    memcpy(p, recip, 8);
    p += 8;
    *p++ = 0;   /* date-time: absent */
    *p++ = 2;   /* other-information: the message code only */
    p = be16(p, msg_code);
    return put_len(p, content_len);
}

static uint8_t *envelope(uint8_t *buf, int ciphered, uint64_t counter, const uint8_t *orig,
                         const uint8_t *recip, uint16_t msg_code, size_t content_len)
{
    if (!ciphered)
        return put_signed(buf, counter, orig, recip, msg_code, content_len);
    size_t signed_len = 34u + lsize(content_len) + content_len;
    buf[0] = 0xDD;
    memset(buf + 1, 0, 6);   /* six empty header fields, as in every RTDS non-critical alert */
    uint8_t *p = put_len(buf + 7, 5u + signed_len + MAC_LEN);
    *p++ = SC_AUTH_ONLY;
    p = be32(p, 0);   /* invocation counter */
    return put_signed(p, counter, orig, recip, msg_code, content_len);
}

static size_t trailer(uint8_t *buf, uint8_t *p, int ciphered)
{
    if (ciphered) {
        *p++ = 0;   /* no signature inside General-Ciphering */
        memset(p, 0, MAC_LEN);
        p += MAC_LEN;
    } else {
        *p++ = SIG_LEN;
        memset(p, 0, SIG_LEN);
        p += SIG_LEN;
    }
    return (size_t)(p - buf);
}

static uint8_t *dlms_head(uint8_t *p, uint64_t counter, uint8_t count, uint16_t code, uint32_t t)
{
    *p++ = 0x0F;
    p = be32(p, INVOKE_ID_FLAGS | ((uint32_t)counter & 0xFFFFFFu));
    *p++ = 0;   /* no notification date-time */
    *p++ = 0x02;
    *p++ = count;
    *p++ = 0x12;
    p = be16(p, code);
    *p++ = 0x09;
    *p++ = 12;
    return put_dlms_time(p, t);
}

size_t gbcs_build_alert(uint8_t *buf, int ciphered, uint64_t counter, const uint8_t orig[8],
                        const uint8_t recip[8], uint16_t msg_code, uint16_t code, int encoding,
                        uint32_t t2000)
{
    if (code == GBCS_SUMMARY_CODE || (encoding != GBCS_ENC_DLMS && encoding != GBCS_ENC_GBZ))
        return 0;
    size_t n = encoding == GBCS_ENC_DLMS ? DLMS_ALERT_LEN : GBZ_ALERT_LEN;
    uint8_t *p = envelope(buf, ciphered, counter, orig, recip, msg_code, n);
    if (encoding == GBCS_ENC_DLMS) {
        p = dlms_head(p, counter, 2, code, t2000);
    } else {
        *p++ = 0x01;
        *p++ = 0x09;
        *p++ = 0;   /* no GBZ components */
        p = be16(p, code);
        p = be32(p, t2000);
    }
    return trailer(buf, p, ciphered);
}

size_t gbcs_build_summary(uint8_t *buf, uint64_t counter, const uint8_t orig[8],
                          const uint8_t recip[8], uint32_t t2000, uint16_t code, uint32_t count,
                          uint32_t total, uint32_t first2000, uint32_t last2000, uint8_t kind)
{
    uint8_t *p = envelope(buf, 1, counter, orig, recip, GBCS_MSG_NON_CRITICAL, SUMMARY_LEN);
    p = dlms_head(p, counter, 8, GBCS_SUMMARY_CODE, t2000);
    *p++ = 0x12;
    p = be16(p, code);
    *p++ = 0x06;
    p = be32(p, count);
    *p++ = 0x06;
    p = be32(p, total);
    *p++ = 0x09;
    *p++ = 12;
    p = put_dlms_time(p, first2000);
    *p++ = 0x09;
    *p++ = 12;
    p = put_dlms_time(p, last2000);
    *p++ = 0x11;
    *p++ = kind;
    return trailer(buf, p, 1);
}

/* The builders' frames have the alert code at a fixed place after the envelope: the hub reads
 * it there, after checking the frame has the shape they write. */
int32_t gbcs_alert_code(const uint8_t *f, size_t n)
{
    size_t i = 0;
    if (n < 40u)
        return -1;
    if (f[0] == 0xDD) {
        i = 7u + (f[7] == 0x81 ? 2u : 1u) + 5u;   /* length, security control, counter */
        if (i + 34u > n)
            return -1;
    }
    if (f[i] != 0xDF || f[i + 30] != 2)
        return -1;
    size_t c = i + 33u;   /* content length */
    c += f[c] == 0x81 ? 2u : 1u;
    if (c + 11u > n)
        return -1;
    if (f[c] == 0x0F)
        return (int32_t)((uint32_t)f[c + 9] << 8 | f[c + 10]);
    if (f[c] == 0x01)
        return (int32_t)((uint32_t)f[c + 3] << 8 | f[c + 4]);
    return -1;
}
