/* reply.h -- what a command answers: the ACK's text, or a NAK's code and detail. Commands
 * (board.c, lut.c) fill one; the main loop turns it into the ACK or NAK line. */
#ifndef ALERTSTORM_REPLY_H
#define ALERTSTORM_REPLY_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char text[320];       /* ACK text after the seq ("" for none) */
    size_t n;
    const char *err;      /* NULL, or the NAK's E_* code */
    char detail[64];      /* the NAK's detail ("" for none) */
} reply_t;

void reply_add(reply_t *r, const char *s);          /* appends s, a blank before it if not first */
void reply_addu(reply_t *r, const char *key, uint32_t v);   /* key=v */
int reply_fail(reply_t *r, const char *code, const char *detail);   /* returns -1 */
int reply_failn(reply_t *r, const char *code, const char *detail, size_t n);
void u32_text(char *out, uint32_t v);   /* decimal, NUL-terminated (11 bytes) */

#endif
