/* exec_policy.c - the exec service's on/off switch and allow-list. */
#include "exec_policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An allow-list longer than this is a mistake, not a policy. */
#define MAX_ALLOWED 4096
#define MAX_LINE    4096

static int fail(pbrpc_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(pbrpc_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err->code = PBRPC_INVALID_ARGUMENT;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Trims blanks (and the newline) from both ends of line, in place. */
static char *trim(char *line)
{
	size_t n = strlen(line);
	while (n > 0 && strchr(" \t\r\n", line[n - 1]))
		line[--n] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

int rpcd_exec_policy_load(rpcd_exec_policy *p, const char *path, pbrpc_error *err)
{
	char line[MAX_LINE + 2];
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return fail(err, "--exec-allow %s: %s", path, strerror(errno));
	p->has_allow = 1;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (strlen(line) > MAX_LINE) {
			rc = fail(err, "--exec-allow %s:%u: line too long", path, lineno);
			break;
		}
		char *entry = trim(line);
		if (entry[0] == '\0' || entry[0] == '#')
			continue;
		if (entry[0] != '/') {
			rc = fail(err, "--exec-allow %s:%u: not an absolute path: %s", path, lineno,
			          entry);
			break;
		}
		if (p->n_allowed == MAX_ALLOWED) {
			rc = fail(err, "--exec-allow %s: more than %d programs", path, MAX_ALLOWED);
			break;
		}
		char **grown = realloc(p->allowed, (p->n_allowed + 1) * sizeof *grown);
		char *copy = strdup(entry);
		if (grown)
			p->allowed = grown;
		if (!grown || !copy) {
			free(copy);
			rc = fail(err, "--exec-allow %s: out of memory", path);
			break;
		}
		p->allowed[p->n_allowed++] = copy;
	}
	if (rc == 0 && ferror(f))
		rc = fail(err, "--exec-allow %s: %s", path, strerror(errno));
	fclose(f);
	return rc;
}

pbrpc_status rpcd_exec_policy_check(const rpcd_exec_policy *p, const char *program,
                                    pbrpc_error *err)
{
	if (p->disabled) {
		err->code = PBRPC_PERMISSION_DENIED;
		snprintf(err->message, sizeof err->message, "exec is disabled on this server");
		return err->code;
	}
	if (!p->has_allow)
		return PBRPC_OK;
	/* Exact match only: no PATH search, no normalising, so what the operator
	 * listed is exactly what runs. */
	for (size_t i = 0; i < p->n_allowed; i++)
		if (strcmp(p->allowed[i], program) == 0)
			return PBRPC_OK;
	err->code = PBRPC_PERMISSION_DENIED;
	snprintf(err->message, sizeof err->message,
	         "not in this server's exec allow-list: %.200s%s", program,
	         program[0] == '/' ? "" : " (list entries are absolute paths)");
	return err->code;
}

/* Variables through which a caller could make an allowed program load code
 * of its own (say a file it uploaded with put) or start other programs: the
 * dynamic loader's and libc's, the shells' startup files and exported
 * functions, the common interpreters' module paths, and where programs look
 * for their configuration. */
static const char *const loader_prefixes[] = {
    "LD_", "BASH_FUNC_", "PYTHON", "PERL", "RUBY", "NODE_", "XDG_",
};
static const char *const loader_vars[] = {
    "PATH", "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "MALLOC_TRACE", "BASH_ENV",
    "ENV",  "SHELLOPTS",  "BASHOPTS",       "PS4",     "IFS",     "CDPATH",       "HOME",
};

static int is_loader_var(const char *entry, size_t name_len)
{
	for (size_t i = 0; i < sizeof loader_prefixes / sizeof loader_prefixes[0]; i++) {
		size_t n = strlen(loader_prefixes[i]);
		if (name_len >= n && strncmp(entry, loader_prefixes[i], n) == 0)
			return 1;
	}
	for (size_t i = 0; i < sizeof loader_vars / sizeof loader_vars[0]; i++)
		if (strlen(loader_vars[i]) == name_len &&
		    strncmp(entry, loader_vars[i], name_len) == 0)
			return 1;
	return 0;
}

pbrpc_status rpcd_exec_policy_check_env(const rpcd_exec_policy *p, char *const *env, size_t n,
                                        pbrpc_error *err)
{
	if (!p->has_allow)
		return PBRPC_OK;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(env[i], '=');
		size_t name_len = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
		if (is_loader_var(env[i], name_len)) {
			err->code = PBRPC_PERMISSION_DENIED;
			snprintf(err->message, sizeof err->message,
			         "%.*s may not be set on a server with an exec allow-list",
			         (int)(name_len > 64 ? 64 : name_len), env[i]);
			return err->code;
		}
	}
	return PBRPC_OK;
}

void rpcd_exec_policy_free(rpcd_exec_policy *p)
{
	for (size_t i = 0; i < p->n_allowed; i++)
		free(p->allowed[i]);
	free(p->allowed);
	p->allowed = NULL;
	p->n_allowed = 0;
}
