/* wire.c -- docs/wire-protocol.md sections 1-3 on the device. Reading follows section 1's
 * steps in order (strip, last mark, "*XXXX", CRC, printable, seq and verb), so every bad line
 * gets the same error code as from firmware_model/wire.py. */
#include "wire.h"

#include <string.h>

#include "crc.h"
#include "platform.h"

int wire_reader_byte(wire_reader_t *r, uint8_t c)
{
    if (c == '\n')
        return r->over ? 2 : 1;
    if (r->over)
        return 0;
    if (r->n < WIRE_MAX_LINE) {
        r->buf[r->n++] = c;
    } else {
        r->over = 1;
        r->n = 0;
    }
    return 0;
}

void wire_reader_next(wire_reader_t *r)
{
    r->n = 0;
    r->over = 0;
}

static int is_hexu(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

const char *wire_decode(const uint8_t *line, size_t n, wire_cmd_t *cmd, size_t *noise_n)
{
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    size_t i = n;
    while (i && line[i - 1] != '!')
        i--;
    if (!i) {
        *noise_n = n;
        return "E_NOISE";
    }
    i--;   /* the last mark */
    size_t j = n;
    while (j > i && line[j - 1] != '*')
        j--;
    if (j == i || n - (j - 1) != 5)
        return "E_FORMAT";
    j--;   /* the "*" */
    uint16_t want = 0;
    for (size_t k = j + 1; k < n; k++) {
        if (!is_hexu(line[k]))
            return "E_FORMAT";
        want = (uint16_t)(want << 4 | (line[k] <= '9' ? line[k] - '0' : line[k] - 'A' + 10));
    }
    if (crc16(line + i, j - i) != want)
        return "E_CRC";
    for (size_t k = i + 1; k < j; k++)
        if (line[k] < 32 || line[k] > 126)
            return "E_FORMAT";
    /* split on single blanks, as str.split(" "): empty words are words */
    const char *p = (const char *)line + i + 1, *end = (const char *)line + j;
    word_t w[2 + WIRE_MAX_ARGS];
    unsigned nw = 0, total = 0;
    const char *s = p;
    for (const char *q = p;; q++) {
        if (q == end || *q == ' ') {
            if (nw < 2 + WIRE_MAX_ARGS)
                w[nw++] = (word_t){ s, (size_t)(q - s) };
            total++;
            s = q + 1;
            if (q == end)
                break;
        }
    }
    if (total < 2 || w[0].n == 0 || w[1].n == 0)
        return "E_FORMAT";
    uint32_t seq = 0;
    for (size_t k = 0; k < w[0].n; k++) {
        if (!is_digit(w[0].p[k]))
            return "E_FORMAT";
        if (seq < WIRE_SEQ_MOD)
            seq = seq * 10u + (uint32_t)(w[0].p[k] - '0');
    }
    if (seq >= WIRE_SEQ_MOD)
        return "E_FORMAT";
    cmd->seq = seq;
    cmd->verb = w[1];
    cmd->nargs = total - 2;
    for (unsigned k = 2; k < nw; k++)
        cmd->arg[k - 2] = w[k];
    cmd->noise = i;
    return NULL;
}

int word_is(word_t w, const char *s) { return strlen(s) == w.n && memcmp(w.p, s, w.n) == 0; }

int word_uint(word_t w, uint32_t top, uint32_t *out)
{
    if (w.n == 0 || w.n > 10)
        return -1;
    uint64_t v = 0;
    for (size_t k = 0; k < w.n; k++) {
        if (!is_digit(w.p[k]))
            return -1;
        v = v * 10u + (uint64_t)(w.p[k] - '0');
    }
    if (v > top)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* -- output ------------------------------------------------------------------------------- */

static const char hexu[] = "0123456789ABCDEF";

void wire_out_init(wire_out_t *o, uint32_t ring)
{
    o->size = ring < 1 ? 1 : ring > WIRE_RING_MAX ? WIRE_RING_MAX : ring;
    o->seq = 0;
    o->held = 0;
    o->cur = NULL;
    o->pos = 0;
}

static void putc_(wire_out_t *o, char c)
{
    if (o->pos < WIRE_OUT_MAX - 6u)   /* room for "*XXXX\n"; longer lines are cut (never are) */
        o->cur[o->pos++] = (uint8_t)c;
}

void wire_putraw(wire_out_t *o, const char *s)
{
    while (*s)
        putc_(o, *s++);
}

void wire_putn(wire_out_t *o, const char *s, size_t n)
{
    while (n--)
        putc_(o, *s++);
}

void wire_puturaw(wire_out_t *o, uint32_t v)
{
    char d[10];
    unsigned k = 0;
    do {
        d[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (k)
        putc_(o, d[--k]);
}

void wire_begin(wire_out_t *o, const char *verb)
{
    o->cur = o->line[o->seq % o->size];
    o->pos = 0;
    putc_(o, '@');
    wire_puturaw(o, o->seq);
    putc_(o, ' ');
    wire_putraw(o, verb);
}

void wire_put(wire_out_t *o, const char *s)
{
    putc_(o, ' ');
    wire_putraw(o, s);
}

void wire_putu(wire_out_t *o, uint32_t v)
{
    putc_(o, ' ');
    wire_puturaw(o, v);
}

void wire_puthex(wire_out_t *o, const uint8_t *p, size_t n)
{
    putc_(o, ' ');
    for (size_t k = 0; k < n; k++) {
        putc_(o, hexu[p[k] >> 4]);
        putc_(o, hexu[p[k] & 15u]);
    }
}

void wire_end(wire_out_t *o)
{
    uint16_t crc = crc16(o->cur, o->pos);
    uint8_t *l = o->cur;
    size_t p = o->pos;
    l[p] = '*';
    l[p + 1] = (uint8_t)hexu[crc >> 12];
    l[p + 2] = (uint8_t)hexu[(crc >> 8) & 15u];
    l[p + 3] = (uint8_t)hexu[(crc >> 4) & 15u];
    l[p + 4] = (uint8_t)hexu[crc & 15u];
    l[p + 5] = '\n';
    o->len[o->seq % o->size] = (uint16_t)(p + 6u);
    o->seq = (o->seq + 1u) % WIRE_SEQ_MOD;
    if (o->held < o->size)
        o->held++;
    plat_write(l, p + 6u);
    o->cur = NULL;
}

static int32_t seq_diff(uint32_t a, uint32_t b)
{
    uint32_t h = WIRE_SEQ_MOD >> 1;
    return (int32_t)((a - b + h) & (WIRE_SEQ_MOD - 1u)) - (int32_t)h;
}

int32_t wire_resend(wire_out_t *o, uint32_t first, uint32_t *oldest)
{
    if (seq_diff(o->seq, first) < 0)
        return -1;
    uint32_t old = (o->seq + WIRE_SEQ_MOD - o->held) % WIRE_SEQ_MOD;
    uint32_t start = seq_diff(first, old) < 0 ? old : first;
    int32_t k = 0;
    for (uint32_t s = start; s != o->seq; s = (s + 1u) % WIRE_SEQ_MOD, k++)
        plat_write(o->line[s % o->size], o->len[s % o->size]);
    if (start != first) {
        *oldest = old;
        return -2;
    }
    return k;
}
