/* pbrpc/exec.h - run a program on a pbrpc server (the pbrpc.exec.Exec
 * service) with one call, collecting its output and how it ended:
 *
 *     const char *argv[] = {"uname", "-a", NULL};
 *     pbrpc_exec_result r;
 *     if (pbrpc_exec(client, argv, NULL, &r, &err) == PBRPC_OK) {
 *             printf("%s(exit %d)\n", r.out, r.exit_code);
 *             pbrpc_exec_result_free(&r);
 *     }
 *
 * For output as it is produced, or stdin streamed from somewhere, use the
 * generated stubs in "pbrpc/exec.pbrpc.h" directly (see docs/exec.md). */
#ifndef PBRPC_EXEC_H
#define PBRPC_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <pbrpc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What pbrpc_exec() keeps of each of stdout and stderr by default. */
#define PBRPC_EXEC_DEFAULT_MAX_OUTPUT (16u << 20)

typedef struct pbrpc_exec_options {
	const void *stdin_data; /* the program's whole stdin (borrowed, not copied);
	                           NULL: it reads /dev/null */
	size_t stdin_len;
	const char *const *env;  /* NULL-terminated "NAME=VALUE" list added to the
	                            server's base environment; NULL: none */
	const char *cwd;         /* working directory on the server; NULL: its root */
	uint32_t timeout_ms;     /* kill the program's process group after this; 0: never */
	int shell;               /* run argv[0] as a command line with /bin/sh -c */
	size_t max_output;       /* bytes kept of stdout and of stderr, each;
	                            0: PBRPC_EXEC_DEFAULT_MAX_OUTPUT */
	int64_t call_timeout_ms; /* deadline for the whole call; 0: none */
} pbrpc_exec_options;

typedef struct pbrpc_exec_result {
	char *out; /* stdout, NUL-terminated (it may also hold NULs) */
	size_t out_len;
	int out_truncated; /* 1 if stdout was longer than max_output */
	char *err;         /* stderr, likewise */
	size_t err_len;
	int err_truncated;
	int exit_code; /* the exit code if it exited, else 0 */
	int signal;    /* the signal that killed it, else 0 */
	int timed_out; /* timeout_ms fired and the group was killed */
	uint64_t duration_ms;
} pbrpc_exec_result;

/* Zero-fills o (all defaults). */
void pbrpc_exec_options_init(pbrpc_exec_options *o);

/* Runs argv (NULL-terminated; argv[0] is searched in the server's PATH unless
 * it holds a '/') on c's server and waits for it to end. opts may be NULL.
 * PBRPC_OK means the program ran, whatever its exit code: r is filled, and
 * the caller frees it with pbrpc_exec_result_free(). Otherwise r holds
 * nothing to free and err says why: NOT_FOUND (no such program),
 * PERMISSION_DENIED (not executable, not allowed, exec disabled),
 * RESOURCE_EXHAUSTED (too many programs running), INVALID_ARGUMENT,
 * UNAVAILABLE (connection lost), DEADLINE_EXCEEDED (call_timeout_ms) ...
 * Safe to call from several threads on one client. */
pbrpc_status pbrpc_exec(pbrpc_client *c, const char *const argv[], const pbrpc_exec_options *opts,
                        pbrpc_exec_result *r, pbrpc_error *err);

/* Sends len bytes of stdin on an open Exec.Run stream (from
 * pbrpc_exec_exec_run_open), split into smaller messages if the server's
 * record limit needs it. */
pbrpc_status pbrpc_exec_send_stdin(pbrpc_stream *stream, const uint8_t *data, size_t len);

/* Frees what pbrpc_exec() put in r and zeroes it. Safe on a zeroed result. */
void pbrpc_exec_result_free(pbrpc_exec_result *r);

#ifdef __cplusplus
}
#endif
#endif /* PBRPC_EXEC_H */
