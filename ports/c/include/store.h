/* store.h -- the A/B flash store: one image (boot count, config, replay state, every limiter's
 * snapshot) in one of two flash pages, each image with a sequence number. A write goes to the
 * other page and its header is programmed last, so a write torn at any byte leaves the previous
 * image whole: a power cut loses at most what changed since that image. */
#ifndef ALERTSTORM_STORE_H
#define ALERTSTORM_STORE_H

#include <stddef.h>
#include <stdint.h>

enum { STORE_OK = 0, STORE_NONE = 1, STORE_CORRUPT = 2 };
#define STORE_HEAD 16u

typedef struct {
    int page;          /* page of the current image, -1 none */
    uint32_t seq;      /* its sequence number */
    uint32_t len;      /* its payload bytes */
    /* the write in progress */
    unsigned wpage;
    uint32_t wlen;
    uint16_t wcrc;
    int wfail;
    uint32_t writes;   /* plat_flash_write calls (STATS flash_writes) */
} store_t;

/* Find the newest whole image: STORE_OK, STORE_NONE (both pages erased) or STORE_CORRUPT. */
int store_open(store_t *s);
int store_read(const store_t *s, uint32_t off, uint8_t *p, size_t n);   /* payload bytes */
void store_begin(store_t *s);
void store_put(store_t *s, const uint8_t *p, size_t n);
void store_copy(store_t *s, uint32_t off, size_t n);   /* payload bytes of the current image */
int store_commit(store_t *s);                           /* 0, or -1 (flash refused) */

#endif
