/* parse.c - strict parsing of numbers given on the command line. */
#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rpcc_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long value;

	/* strtoll would skip leading blanks and accept a sign before them. */
	if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+'))
		return -1;
	errno = 0;
	value = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
		return -1;
	*out = value;
	return 0;
}

int rpcc_parse_seconds(const char *text, int64_t max_ms, int64_t *out_ms)
{
	char *end;
	double seconds, ms;

	/* Digits first, no 'x': refuses blanks, signs, "inf", "nan" and hex. */
	if (text == NULL || !(isdigit((unsigned char)text[0]) || text[0] == '.') ||
	    strpbrk(text, "xX") != NULL)
		return -1;
	errno = 0;
	seconds = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(seconds) || seconds < 0)
		return -1;
	ms = seconds * 1000.0;
	if (ms > (double)max_ms)
		return -1;
	*out_ms = (int64_t)ms;
	if ((double)*out_ms < ms) /* round up, by hand to stay off libm */
		++*out_ms;
	return 0;
}
