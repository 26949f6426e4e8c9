/* lut.h -- the limiter-under-test verbs (lut.c). */
#ifndef ALERTSTORM_LUT_H
#define ALERTSTORM_LUT_H

#include "reply.h"
#include "wire.h"

int lut_is_verb(word_t verb);
/* Run an L verb: 0 (r holds the ACK text) or -1 (r holds the NAK). */
int lut_run(const wire_cmd_t *cmd, wire_out_t *out, reply_t *r);
void lut_reset(void);   /* at boot: no limiter under test */

#endif
