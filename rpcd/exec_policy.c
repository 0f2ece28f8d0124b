/* exec_policy.c - the exec service's on/off switch and allow-list. */
#include "exec_policy.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- programs that could be replaced ----------------------------------------
 * "Us" is rpcd's effective user: a program it could replace is one a listed
 * program (or a put) could be made to replace. rpcd running as root could
 * replace anything; there "us" means every user but root, so that the
 * system's own root-owned programs stay listable. */

static const char *us(void)
{
	return geteuid() == 0 ? "users other than root" : "rpcd's user";
}

static int owned_by_us(const struct stat *st)
{
	uid_t me = geteuid();
	return me == 0 ? st->st_uid != 0 : st->st_uid == me;
}

static int in_our_groups(gid_t gid)
{
	gid_t groups[256];
	if (gid == getegid())
		return 1;
	int n = getgroups(256, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return n < 0; /* cannot tell: assume the worst */
}

/* Whether we could write st (or chmod it: its owner can). */
static int writable_by_us(const struct stat *st)
{
	if (st->st_mode & S_IWOTH || owned_by_us(st))
		return 1;
	if (st->st_mode & S_IWGRP)
		return geteuid() == 0 || in_our_groups(st->st_gid);
	return 0;
}

/* Walks path from "/": NULL if no directory on it lets us replace the next
 * entry and the file itself is not writable by us; else a static description
 * of what could be replaced. */
static const char *replaceable_on(const char *path)
{
	static char what[PATH_MAX + 64];
	char prefix[PATH_MAX];
	struct stat dir, entry;
	size_t len = strlen(path);
	if (len >= sizeof prefix || path[0] != '/')
		return NULL;
	if (stat("/", &dir) != 0)
		return NULL;
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (path[i - 1] == '/') /* "//": nothing new */
			continue;
		memcpy(prefix, path, i);
		prefix[i] = '\0';
		int missing = lstat(prefix, &entry) != 0;
		/* A directory we may write lets us rename the entry away and put
		 * another in its place -- unless it is sticky and neither it nor the
		 * entry is ours. */
		if (writable_by_us(&dir) && (missing || !(dir.st_mode & S_ISVTX) ||
		                             owned_by_us(&entry) || owned_by_us(&dir))) {
			char parent[PATH_MAX];
			size_t plen = (size_t)(strrchr(prefix, '/') - prefix);
			memcpy(parent, prefix, plen);
			parent[plen] = '\0';
			snprintf(what, sizeof what, "the directory %s is writable by %s",
			         plen ? parent : "/", us());
			return what;
		}
		if (missing || stat(prefix, &dir) != 0)
			return NULL; /* nothing more to replace: exec will say NOT_FOUND */
	}
	if (S_ISREG(dir.st_mode) && writable_by_us(&dir)) {
		snprintf(what, sizeof what, "the file is writable by %s", us());
		return what;
	}
	return NULL;
}

/* NULL if the program at path is safe to list, else why not. */
static const char *why_replaceable(const rpcd_exec_policy *p, const char *path)
{
	char real[PATH_MAX], real_root[PATH_MAX];
	int resolved = realpath(path, real) != NULL;
	if (resolved && p->root && realpath(p->root, real_root)) {
		size_t n = strlen(real_root);
		if (strncmp(real, real_root, n) == 0 &&
		    (real[n] == '/' || real[n] == '\0' || n == 1))
			return "it lies beneath the file root, where a put could replace it";
	}
	const char *why = replaceable_on(path);
	if (!why && resolved)
		why = replaceable_on(real); /* where its symbolic links lead */
	return why;
}

static void warn(const rpcd_exec_policy *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(const rpcd_exec_policy *p, const char *fmt, ...)
{
	char message[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	if (p->warn)
		p->warn(p->warn_ctx, message);
	else
		fprintf(stderr, "rpcd: warning: %s\n", message);
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
		const char *why = why_replaceable(p, entry);
		if (why) {
			warn(p, "--exec-allow %s:%u: %s left out: %s", path, lineno, entry, why);
			continue;
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

int rpcd_exec_policy_accept_env(rpcd_exec_policy *p, const char *text, const char *seps,
                                pbrpc_error *err)
{
	if (rpcd_name_list_parse(&p->env_accepted, text, seps, err) != 0)
		return -1;
	p->has_env = 1;
	return 0;
}

int rpcd_exec_policy_restricted(const rpcd_exec_policy *p)
{
	return p->has_allow;
}

static pbrpc_status deny(pbrpc_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static pbrpc_status deny(pbrpc_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err->code = PBRPC_PERMISSION_DENIED;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return err->code;
}

static pbrpc_status check_program(const rpcd_exec_policy *p, const char *program, pbrpc_error *err)
{
	/* Exact match only: no PATH search, no normalising, so what the operator
	 * listed is exactly what runs. */
	for (size_t i = 0; i < p->n_allowed; i++)
		if (strcmp(p->allowed[i], program) == 0)
			return PBRPC_OK;
	return deny(err, "not in this server's exec allow-list: %.200s%s", program,
	            program[0] == '/' ? "" : " (list entries are absolute paths)");
}

/* Only accepted names: a variable any program reads can be the one that makes
 * it load or run the client's code (LD_PRELOAD, TAR_OPTIONS, GIT_CONFIG_*,
 * OPENSSL_CONF ...), and no list of such names can be complete. */
static pbrpc_status check_env(const rpcd_exec_policy *p, const rpcd_exec_plan *plan,
                              pbrpc_error *err)
{
	for (size_t i = 0; i < plan->n_client_env; i++) {
		const char *entry = plan->env[i];
		size_t name_len = strcspn(entry, "=");
		if (rpcd_name_list_match(&p->env_accepted, entry, name_len))
			continue;
		char name[72];
		size_t n = 0;
		for (; n < name_len && n < 64; n++) /* printable, short: it goes to logs */
			name[n] = (entry[n] >= 0x20 && entry[n] < 0x7f) ? entry[n] : '?';
		if (name_len > 64) {
			memcpy(name + n, "...", 3);
			n += 3;
		}
		name[n] = '\0';
		return deny(err, "%s: this server does not accept that environment variable", name);
	}
	return PBRPC_OK;
}

pbrpc_status rpcd_exec_policy_permit(const rpcd_exec_policy *p, const rpcd_exec_plan *plan,
                                     pbrpc_error *err)
{
	if (p->disabled)
		return deny(err, "exec is disabled on this server");
	if (p->has_allow) {
		pbrpc_status st = check_program(p, plan->program, err);
		if (st != PBRPC_OK)
			return st;
		/* Said without the root's path, which the client need not know. */
		if (!plan->cwd_beneath_root)
			return deny(err, "cwd must be a directory beneath the server's root "
			                 "on a server with an exec allow-list");
	}
	if (p->has_allow || p->has_env)
		return check_env(p, plan, err);
	return PBRPC_OK;
}

void rpcd_exec_policy_free(rpcd_exec_policy *p)
{
	for (size_t i = 0; i < p->n_allowed; i++)
		free(p->allowed[i]);
	free(p->allowed);
	p->allowed = NULL;
	p->n_allowed = 0;
	rpcd_name_list_free(&p->env_accepted);
}
