/* parse.h - strict parsing of numbers given on the command line. */
#ifndef RPCC_PARSE_H
#define RPCC_PARSE_H

#include <stdint.h>

/* Parses all of text as a decimal integer in [min, max] into *out.
 * Returns 0, or -1 for anything else (empty, trailing junk, out of range). */
int rpcc_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out);

/* Parses all of text as a non-negative decimal number of seconds ("5",
 * "0.25") into milliseconds in [0, max_ms], rounding a non-zero value up to
 * at least 1 ms. Returns 0, or -1. */
int rpcc_parse_seconds(const char *text, int64_t max_ms, int64_t *out_ms);

#endif /* RPCC_PARSE_H */
