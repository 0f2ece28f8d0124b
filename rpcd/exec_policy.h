/* exec_policy.h - who may run what through the exec service: on or off, the
 * allow-list of program paths (--exec-allow FILE), the environment names a
 * client may set (--exec-env), and the directory a run may start in. The same
 * type serves the whole server and, narrower, a single client key: a run goes
 * ahead only if every policy that applies permits it. */
#ifndef RPCD_EXEC_POLICY_H
#define RPCD_EXEC_POLICY_H

#include <stddef.h>

#include "exec_plan.h"
#include "name_list.h"
#include "pbrpc.h"

typedef struct rpcd_exec_policy {
	int disabled;   /* --no-exec */
	int has_allow;  /* --exec-allow was given: only the listed paths run */
	char **allowed; /* absolute program paths, malloc'ed */
	size_t n_allowed;
	int has_env; /* --exec-env was given: env_accepted applies even unrestricted */
	rpcd_name_list env_accepted; /* names (globs) a client may set */
	/* Set before rpcd_exec_policy_load (both optional): the file root, whose
	 * programs a put could replace, and where warnings go (NULL: stderr). */
	const char *root;
	void (*warn)(void *ctx, const char *message);
	void *warn_ctx;
} rpcd_exec_policy;

/* Reads the allow-list file: one absolute path per line; blank lines and
 * lines starting with '#' are skipped, surrounding blanks trimmed. A listed
 * program that rpcd's user could replace (the file, or a directory on its
 * path, writable by rpcd's effective user; or beneath p->root, where a put
 * could replace it) is left out, with a warning naming it. Returns 0, or -1
 * with a message naming the file (and line) in err. Free with
 * rpcd_exec_policy_free() either way. */
int rpcd_exec_policy_load(rpcd_exec_policy *p, const char *path, pbrpc_error *err);

/* Adds the names in text (separators: any of seps, e.g. "," for --exec-env,
 * ":" for a key's env= option; * and ? globs) to the names a client may set,
 * and makes the list apply even without an allow-list. Returns 0, or -1 with
 * INVALID_ARGUMENT naming the bad name in err (the policy is unchanged). */
int rpcd_exec_policy_accept_env(rpcd_exec_policy *p, const char *text, const char *seps,
                                pbrpc_error *err);

/* 1 if the policy restricts exec (an allow-list is in force): then the
 * environment and --cwd are confined too. */
int rpcd_exec_policy_restricted(const rpcd_exec_policy *p);

/* The one decision: PBRPC_OK if plan may run under p. Else
 * PBRPC_PERMISSION_DENIED with a message for the client, which never holds
 * the root's absolute path:
 *  - exec disabled;
 *  - with an allow-list: plan->program not listed (exact match, no PATH
 *    search); --cwd not beneath the root (plan->cwd_beneath_root);
 *  - with an allow-list or --exec-env: one of the client's variables
 *    (plan->env[0 .. plan->n_client_env)) whose name is not accepted.
 * Call it once per policy that applies (server, then client key): each can
 * only narrow what the others permit. */
pbrpc_status rpcd_exec_policy_permit(const rpcd_exec_policy *p, const rpcd_exec_plan *plan,
                                     pbrpc_error *err);

void rpcd_exec_policy_free(rpcd_exec_policy *p);

#endif /* RPCD_EXEC_POLICY_H */
