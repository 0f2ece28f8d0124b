/* exec_plan.h - turns a client's exec Start message into what rpcd_spawn
 * needs, checking every field: argv, environment, working directory. */
#ifndef RPCD_EXEC_PLAN_H
#define RPCD_EXEC_PLAN_H

#include <stdint.h>

#include "pbrpc.h"
#include "pbrpc/exec.pb-c.h"

/* Limits on what a client may ask for, each for argv and env separately. */
#define RPCD_EXEC_MAX_ENTRIES 256
#define RPCD_EXEC_MAX_BYTES   (64u << 10)

typedef struct rpcd_exec_plan {
	char **argv;          /* NULL-terminated; argv[0] is the file to execute */
	char **env;           /* NULL-terminated "NAME=VALUE": base + the client's */
	char *cwd;            /* the directory to run in (for PATH entries relative to it) */
	int cwd_fd;           /* that directory, opened beneath the root; -1 if it is not */
	int cwd_beneath_root; /* 1: the kernel resolved --cwd beneath the root (cwd_fd) */
	size_t n_client_env;  /* env[0 .. n_client_env) are the client's entries */
	char cwd_shown[256];  /* the client's cwd, printable, for messages */
	const char *program;  /* what the policy checks and logs name: argv[0] or "/bin/sh" */
	const char *name;     /* what the client named: argv[0], or "sh -c" */
	uint32_t timeout_ms;  /* 0: none */
	int with_stdin;
} rpcd_exec_plan;

/* Fills plan from start. root (also open as root_fd) is the default cwd; a
 * relative cwd is resolved beneath it with openat2(RESOLVE_BENEATH), and one
 * that leads outside (or an absolute one) is marked so for the policy.
 * Returns PBRPC_OK, or INVALID_ARGUMENT / NOT_FOUND / PERMISSION_DENIED /
 * FAILED_PRECONDITION / RESOURCE_EXHAUSTED with err's message, which names
 * only what the client sent (never the root's path). Free plan with
 * rpcd_exec_plan_free() in every case. */
pbrpc_status rpcd_exec_plan_build(rpcd_exec_plan *plan, const Pbrpc__Exec__Start *start,
                                  const char *root, int root_fd, pbrpc_error *err);
/* Checks a cwd outside the root (absolute, or leading out) once the policies
 * have allowed it: exists, is a directory, may be entered. PBRPC_OK for a cwd
 * beneath the root (checked by rpcd_exec_plan_build already). */
pbrpc_status rpcd_exec_plan_check_cwd(const rpcd_exec_plan *plan, pbrpc_error *err);
void rpcd_exec_plan_free(rpcd_exec_plan *plan);

#endif /* RPCD_EXEC_PLAN_H */
