/* reply.c -- building a command's answer (reply.h). */
#include "reply.h"

#include <string.h>

void u32_text(char *out, uint32_t v)
{
    char d[10];
    unsigned k = 0;
    do {
        d[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (k)
        *out++ = d[--k];
    *out = 0;
}

void reply_add(reply_t *r, const char *s)
{
    size_t n = strlen(s);
    if (r->n + n + 2u > sizeof r->text)
        return;
    if (r->n)
        r->text[r->n++] = ' ';
    memcpy(r->text + r->n, s, n);
    r->n += n;
    r->text[r->n] = 0;
}

void reply_addu(reply_t *r, const char *key, uint32_t v)
{
    char buf[48];
    size_t k = strlen(key);
    if (k > 32)
        k = 32;
    memcpy(buf, key, k);
    buf[k] = '=';
    u32_text(buf + k + 1, v);
    reply_add(r, buf);
}

int reply_failn(reply_t *r, const char *code, const char *detail, size_t n)
{
    r->err = code;
    if (n > sizeof r->detail - 1u)
        n = sizeof r->detail - 1u;
    /* the detail is one or more words of printable ASCII without marks: anything else is "_" */
    for (size_t i = 0; i < n; i++) {
        char c = detail[i];
        r->detail[i] = (c > 32 && c < 127 && c != '!' && c != '@' && c != '*') || c == ' ' ? c : '_';
    }
    r->detail[n] = 0;
    return -1;
}

int reply_fail(reply_t *r, const char *code, const char *detail)
{
    return reply_failn(r, code, detail, strlen(detail));
}
