/* wire.h -- the line codec of docs/wire-protocol.md, device side: bytes in, lines out (in one
 * buffer of WIRE_MAX_LINE bytes), a received line parsed in place into seq, verb and words, and
 * numbered output lines built in place in the RESEND ring, which keeps the last `ring` of them
 * byte for byte. */
#ifndef ALERTSTORM_WIRE_H
#define ALERTSTORM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MAX_LINE 1024u   /* bytes of a line without its "\n" (HELLO max=) */
#define WIRE_SEQ_MOD 0x40000000u
#define WIRE_MAX_ARGS 24u     /* words after the verb; more is E_ARG territory anyway */
#ifndef WIRE_RING_MAX
#define WIRE_RING_MAX 64u     /* lines the ring can hold (a board file's ring= is at most this) */
#endif
#ifndef WIRE_OUT_MAX
#define WIRE_OUT_MAX 600u     /* longest device line: an LBLOB of 256 bytes is ~545 */
#endif

/* -- input -------------------------------------------------------------------------------- */

typedef struct {
    uint8_t buf[WIRE_MAX_LINE];
    size_t n;
    int over;   /* the line in progress passed WIRE_MAX_LINE: discard to its "\n" */
} wire_reader_t;

/* Feed one byte. Returns 1 when buf[0..n) holds a complete line, 2 for an over-long line that
 * ended (answer E_TOOLONG), 0 otherwise. Call wire_reader_next() after a 1 or 2. */
int wire_reader_byte(wire_reader_t *r, uint8_t c);
void wire_reader_next(wire_reader_t *r);

typedef struct { const char *p; size_t n; } word_t;

typedef struct {
    uint32_t seq;
    word_t verb;
    word_t arg[WIRE_MAX_ARGS];
    unsigned nargs;       /* may exceed WIRE_MAX_ARGS: only the first are kept */
    size_t noise;         /* bytes before the mark */
} wire_cmd_t;

/* Parse line[0..n) (modified in place: nothing). Returns NULL, or the error code word
 * ("E_NOISE", "E_FORMAT", "E_CRC") with *detail_num set for E_NOISE (the byte count). */
const char *wire_decode(const uint8_t *line, size_t n, wire_cmd_t *cmd, size_t *noise_n);

int word_is(word_t w, const char *s);
/* a decimal word 0..top (at most 10 digits): 0, or -1 */
int word_uint(word_t w, uint32_t top, uint32_t *out);

/* -- output ------------------------------------------------------------------------------- */

typedef struct {
    uint8_t line[WIRE_RING_MAX][WIRE_OUT_MAX];
    uint16_t len[WIRE_RING_MAX];
    uint32_t size;      /* ring lines in use (HELLO ring=) */
    uint32_t seq;       /* seq of the next line */
    uint32_t held;      /* lines in the ring, <= size */
    uint8_t *cur;       /* line being built */
    size_t pos;
} wire_out_t;

void wire_out_init(wire_out_t *o, uint32_t ring);
/* Build a line: begin("VERB"), then put/putu/puthex pieces (each put after the first gets a
 * blank before it when `sep`), then end() numbers, CRCs, keeps and writes it. */
void wire_begin(wire_out_t *o, const char *verb);
void wire_put(wire_out_t *o, const char *s);                 /* " " + s */
void wire_putn(wire_out_t *o, const char *s, size_t n);      /* s[0..n) as is, no blank */
void wire_putu(wire_out_t *o, uint32_t v);                   /* " " + decimal */
void wire_putraw(wire_out_t *o, const char *s);              /* s as is, no blank */
void wire_puturaw(wire_out_t *o, uint32_t v);                /* decimal, no blank */
void wire_puthex(wire_out_t *o, const uint8_t *p, size_t n); /* " " + upper-case hex */
void wire_end(wire_out_t *o);
/* RESEND from seq `first`: writes what the ring holds from there; returns the count, or -1
 * (not emitted yet: E_ARG) or -2 (partly gone: *oldest set, E_GONE, after writing the rest) */
int32_t wire_resend(wire_out_t *o, uint32_t first, uint32_t *oldest);

#endif
