/* report.h - how rpcc tells the user something went wrong: one line on
 * stderr, "rpcc: COMMAND: message (STATUS)". */
#ifndef RPCC_REPORT_H
#define RPCC_REPORT_H

#include <stdio.h>

#include <pbrpc.h>

/* Prints err as "rpcc: command: context: message (STATUS)" (no "context: "
 * when context is NULL); an empty message becomes pbrpc_strerror(code). The
 * message may come from the server, so control characters are escaped. */
void rpcc_report(const char *command, const char *context, const pbrpc_error *err);

/* Prints "rpcc: command: <formatted> (STATUS)"; code PBRPC_OK leaves out the
 * status, for local failures that have none (a read error, say). */
void rpcc_reportf(const char *command, pbrpc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "rpcc: command: <formatted>" (if fmt is not NULL) and a hint to run
 * 'rpcc command --help'; returns RPCC_EXIT_USAGE. command NULL means the
 * global command line. */
int rpcc_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes text from the server to out with control characters and non-ASCII
 * bytes escaped (\xNN), so a hostile name cannot drive the terminal. */
void rpcc_put_safe(FILE *out, const char *text);

#endif /* RPCC_REPORT_H */
