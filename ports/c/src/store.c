/* store.c -- the A/B flash store (store.h). Page layout: "AB" version:u8 pad:u8 seq:u32
 * length:u32 crc16(payload):u16 pad:u16, then the payload. Big-endian. */
#include "store.h"

#include <string.h>

#include "crc.h"
#include "platform.h"

#define MAGIC0 'A'
#define MAGIC1 'B'
#define VERSION 1u
#define PAYLOAD_MAX (PLAT_FLASH_PAGE_SIZE - STORE_HEAD)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* 1 and *seq, *len if the page holds a whole image; 0 if erased; -1 if anything else */
static int check_page(unsigned page, uint32_t *seq, uint32_t *len)
{
    uint8_t h[STORE_HEAD];
    if (plat_flash_read(page, 0, h, sizeof h))
        return -1;
    int erased = 1;
    for (unsigned i = 0; i < sizeof h; i++)
        erased &= h[i] == 0xFF;
    if (erased)
        return 0;
    if (h[0] != MAGIC0 || h[1] != MAGIC1 || h[2] != VERSION)
        return -1;
    uint32_t n = be32(h + 8);
    if (n > PAYLOAD_MAX)
        return -1;
    uint16_t crc = CRC16_INIT;
    uint8_t buf[64];
    for (uint32_t off = 0; off < n; off += sizeof buf) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        if (plat_flash_read(page, STORE_HEAD + off, buf, k))
            return -1;
        crc = crc16_update(crc, buf, k);
    }
    if (crc != (uint16_t)(h[12] << 8 | h[13]))
        return -1;
    *seq = be32(h + 4);
    *len = n;
    return 1;
}

int store_open(store_t *s)
{
    uint32_t seq[2] = { 0, 0 }, len[2] = { 0, 0 };
    int st[2];
    memset(s, 0, sizeof *s);
    s->page = -1;
    for (unsigned p = 0; p < 2; p++)
        st[p] = check_page(p, &seq[p], &len[p]);
    int best = -1;
    for (unsigned p = 0; p < 2; p++)
        if (st[p] == 1 && (best < 0 || (int32_t)(seq[p] - seq[best]) > 0))
            best = (int)p;
    if (best < 0)
        return st[0] == 0 && st[1] == 0 ? STORE_NONE : STORE_CORRUPT;
    s->page = best;
    s->seq = seq[best];
    s->len = len[best];
    return STORE_OK;
}

int store_read(const store_t *s, uint32_t off, uint8_t *p, size_t n)
{
    if (s->page < 0 || off + n > s->len)
        return -1;
    return plat_flash_read((unsigned)s->page, STORE_HEAD + off, p, n);
}

void store_begin(store_t *s)
{
    s->wpage = s->page < 0 ? 0u : (unsigned)s->page ^ 1u;
    s->wlen = 0;
    s->wcrc = CRC16_INIT;
    s->wfail = plat_flash_erase(s->wpage) != 0;
}

void store_put(store_t *s, const uint8_t *p, size_t n)
{
    if (s->wfail || s->wlen + n > PAYLOAD_MAX) {
        s->wfail = 1;
        return;
    }
    s->writes++;
    if (plat_flash_write(s->wpage, STORE_HEAD + s->wlen, p, n))
        s->wfail = 1;
    s->wcrc = crc16_update(s->wcrc, p, n);
    s->wlen += (uint32_t)n;
}

void store_copy(store_t *s, uint32_t off, size_t n)
{
    uint8_t buf[64];
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        if (store_read(s, off, buf, k)) {
            s->wfail = 1;
            return;
        }
        store_put(s, buf, k);
        off += (uint32_t)k;
        n -= k;
    }
}

int store_commit(store_t *s)
{
    if (s->wfail)
        return -1;
    uint8_t h[STORE_HEAD] = { MAGIC0, MAGIC1, VERSION, 0 };
    uint32_t seq = s->page < 0 ? 1u : s->seq + 1u;
    put32(h + 4, seq);
    put32(h + 8, s->wlen);
    h[12] = (uint8_t)(s->wcrc >> 8);
    h[13] = (uint8_t)s->wcrc;
    s->writes++;
    if (plat_flash_write(s->wpage, 0, h, sizeof h))   /* last: until now the page is no image */
        return -1;
    s->page = (int)s->wpage;
    s->seq = seq;
    s->len = s->wlen;
    return 0;
}
