/* report.c - error lines on stderr and safe printing of server text. */
#include "report.h"

#include <stdarg.h>

#include "commands.h"

void rpcc_put_safe(FILE *out, const char *text)
{
	if (text == NULL)
		return;
	for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f)
			putc(*p, out);
		else
			fprintf(out, "\\x%02x", *p);
	}
}

static void print_prefix(const char *command)
{
	fputs("rpcc: ", stderr);
	if (command != NULL)
		fprintf(stderr, "%s: ", command);
}

void rpcc_report(const char *command, const char *context, const pbrpc_error *err)
{
	print_prefix(command);
	if (context != NULL)
		fprintf(stderr, "%s: ", context);
	rpcc_put_safe(stderr, err->message[0] != '\0' ? err->message : pbrpc_strerror(err->code));
	fprintf(stderr, " (%s)\n", pbrpc_status_name(err->code));
}

void rpcc_reportf(const char *command, pbrpc_status code, const char *fmt, ...)
{
	va_list ap;

	print_prefix(command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (code != PBRPC_OK)
		fprintf(stderr, " (%s)", pbrpc_status_name(code));
	putc('\n', stderr);
}

int rpcc_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		print_prefix(command);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		putc('\n', stderr);
	}
	if (command != NULL)
		fprintf(stderr, "Try 'rpcc %s --help' for more information.\n", command);
	else
		fputs("Try 'rpcc --help' for more information.\n", stderr);
	return RPCC_EXIT_USAGE;
}
