/* exec_policy.h - who may run what through the exec service: on or off, and
 * the allow-list of program paths (rpcd --no-exec, --exec-allow FILE). */
#ifndef RPCD_EXEC_POLICY_H
#define RPCD_EXEC_POLICY_H

#include <stddef.h>

#include "pbrpc.h"

typedef struct rpcd_exec_policy {
	int disabled;   /* --no-exec */
	int has_allow;  /* --exec-allow was given: only the listed paths run */
	char **allowed; /* absolute program paths, malloc'ed */
	size_t n_allowed;
} rpcd_exec_policy;

/* Reads the allow-list file: one absolute path per line; blank lines and
 * lines starting with '#' are skipped, surrounding blanks trimmed. Returns 0,
 * or -1 with a message naming the file (and line) in err. Free with
 * rpcd_exec_policy_free() either way. */
int rpcd_exec_policy_load(rpcd_exec_policy *p, const char *path, pbrpc_error *err);

/* PBRPC_OK if program (the exact argv[0] the client sent, or "/bin/sh" for a
 * shell command) may run; else PBRPC_PERMISSION_DENIED with a message. */
pbrpc_status rpcd_exec_policy_check(const rpcd_exec_policy *p, const char *program,
                                    pbrpc_error *err);

/* With an allow-list, PBRPC_OK only if none of the n entries of env (the
 * client's NAME=VALUE strings) names a variable that could make a listed
 * program load or run something else (the list is in exec_policy.c and
 * docs/exec.md). Else PBRPC_PERMISSION_DENIED naming the variable. Without an
 * allow-list every variable is allowed (the client may run anything anyway). */
pbrpc_status rpcd_exec_policy_check_env(const rpcd_exec_policy *p, char *const *env, size_t n,
                                        pbrpc_error *err);

void rpcd_exec_policy_free(rpcd_exec_policy *p);

#endif /* RPCD_EXEC_POLICY_H */
