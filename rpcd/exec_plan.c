/* exec_plan.c - a client's Start message, checked and turned into argv, env
 * and cwd for rpcd_spawn. Everything here came from the network. */
#include "exec_plan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_path.h"

#define SHELL "/bin/sh"

/* The environment every program starts from; the client may override any. */
static const char *const base_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "LANG=C.UTF-8",
};

static pbrpc_status fail(pbrpc_error *err, pbrpc_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static pbrpc_status fail(pbrpc_error *err, pbrpc_status code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err->code = code;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return code;
}

/* A new C string of b, or NULL (with *bad = 1) if b holds a NUL byte. */
static char *dup_bytes(ProtobufCBinaryData b, int *bad)
{
	if (b.len > 0 && memchr(b.data, '\0', b.len)) {
		*bad = 1;
		return NULL;
	}
	char *s = malloc(b.len + 1);
	if (s) {
		if (b.len > 0)
			memcpy(s, b.data, b.len);
		s[b.len] = '\0';
	}
	return s;
}

/* Counts and sizes a list of entries against the limits. */
static pbrpc_status check_list(const char *what, size_t n, const ProtobufCBinaryData *v,
                               pbrpc_error *err)
{
	size_t total = 0;
	if (n > RPCD_EXEC_MAX_ENTRIES)
		return fail(err, PBRPC_INVALID_ARGUMENT, "too many %s entries (%zu, limit %d)",
		            what, n, RPCD_EXEC_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		total += v[i].len + 1;
		if (total > RPCD_EXEC_MAX_BYTES)
			return fail(err, PBRPC_INVALID_ARGUMENT, "%s is longer than %u bytes", what,
			            RPCD_EXEC_MAX_BYTES);
		if (v[i].len > 0 && memchr(v[i].data, '\0', v[i].len))
			return fail(err, PBRPC_INVALID_ARGUMENT, "%s entry %zu contains a NUL byte",
			            what, i);
	}
	return PBRPC_OK;
}

static pbrpc_status build_argv(rpcd_exec_plan *plan, const Pbrpc__Exec__Start *start,
                               pbrpc_error *err)
{
	int bad = 0;
	if (start->n_argv == 0 || start->argv[0].len == 0)
		return fail(err, PBRPC_INVALID_ARGUMENT,
		            start->shell ? "empty command line" : "empty argv: no program given");
	pbrpc_status st = check_list("argv", start->n_argv, start->argv, err);
	if (st != PBRPC_OK)
		return st;
	size_t extra = start->shell ? 2 : 0; /* "/bin/sh", "-c" */
	plan->argv = calloc(start->n_argv + extra + 1, sizeof *plan->argv);
	if (!plan->argv)
		return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	if (start->shell) {
		/* Filled in order so that rpcd_exec_plan_free (which stops at the
		 * first NULL) frees whatever was made before running out of memory. */
		if (!(plan->argv[0] = strdup(SHELL)) || !(plan->argv[1] = strdup("-c")))
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	for (size_t i = 0; i < start->n_argv; i++) {
		plan->argv[extra + i] = dup_bytes(start->argv[i], &bad);
		if (!plan->argv[extra + i])
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	plan->program = plan->argv[0];
	plan->name = start->shell ? "sh -c" : plan->argv[0];
	return PBRPC_OK;
}

/* Whether entry "NAME=..." sets the same NAME as any of the client's. */
static int overridden(const char *entry, char **client, size_t n_client)
{
	size_t name_len = strcspn(entry, "=") + 1; /* with the '=' */
	for (size_t i = 0; i < n_client; i++)
		if (strncmp(client[i], entry, name_len) == 0)
			return 1;
	return 0;
}

static pbrpc_status build_env(rpcd_exec_plan *plan, const Pbrpc__Exec__Start *start,
                              pbrpc_error *err)
{
	int bad = 0;
	pbrpc_status st = check_list("env", start->n_env, start->env, err);
	if (st != PBRPC_OK)
		return st;
	for (size_t i = 0; i < start->n_env; i++) {
		const ProtobufCBinaryData *e = &start->env[i];
		const uint8_t *eq = e->len ? memchr(e->data, '=', e->len) : NULL;
		if (!eq || eq == e->data)
			return fail(err, PBRPC_INVALID_ARGUMENT, "env entry %zu is not NAME=VALUE",
			            i);
	}
	size_t n_base = sizeof base_env / sizeof base_env[0];
	/* base + HOME + the client's + NULL */
	plan->env = calloc(n_base + 1 + start->n_env + 1, sizeof *plan->env);
	if (!plan->env)
		return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	char **client = plan->env; /* the client's entries go first, then the base */
	size_t n = 0;
	for (size_t i = 0; i < start->n_env; i++)
		if (!(plan->env[n++] = dup_bytes(start->env[i], &bad)))
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	size_t n_client = n;
	plan->n_client_env = n_client;
	for (size_t i = 0; i < n_base; i++) {
		if (overridden(base_env[i], client, n_client))
			continue;
		if (!(plan->env[n++] = strdup(base_env[i])))
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	const char *home = getenv("HOME");
	if (home && !overridden("HOME=", client, n_client)) {
		if (asprintf(&plan->env[n], "HOME=%s", home) < 0) {
			plan->env[n] = NULL;
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		}
		n++;
	}
	return PBRPC_OK;
}

/* The status for errno from looking up the client's cwd; the message names
 * only what the client sent. */
static pbrpc_status cwd_error(int e, const char *shown, pbrpc_error *err)
{
	switch (e) {
	case ENOENT: return fail(err, PBRPC_NOT_FOUND, "cwd %s: no such directory", shown);
	case ENOTDIR: return fail(err, PBRPC_FAILED_PRECONDITION, "cwd %s: not a directory", shown);
	case EACCES:
	case EPERM: return fail(err, PBRPC_PERMISSION_DENIED, "cwd %s: permission denied", shown);
	default: return fail(err, PBRPC_FAILED_PRECONDITION, "cwd %s: %s", shown, strerror(e));
	}
}

/* The run's directory exists, is a directory and may be entered. Through the
 * descriptor when there is one: a lookup of "." needs search permission. */
static pbrpc_status check_dir(const rpcd_exec_plan *plan, const char *shown, pbrpc_error *err)
{
	struct stat st;
	int rc = plan->cwd_fd >= 0 ? fstatat(plan->cwd_fd, ".", &st, 0) : stat(plan->cwd, &st);
	if (rc != 0)
		return cwd_error(errno, shown, err);
	if (!S_ISDIR(st.st_mode))
		return cwd_error(ENOTDIR, shown, err);
	if (plan->cwd_fd < 0 && access(plan->cwd, X_OK) != 0)
		return cwd_error(errno, shown, err);
	return PBRPC_OK;
}

/* Without openat2: whether root/dir, symbolic links resolved, is root or
 * beneath it. Racy against a link swapped in meanwhile; only for kernels that
 * cannot do better. */
static int beneath_by_name(const char *root, const char *dir)
{
	char *joined = NULL, real_dir[PATH_MAX], real_root[PATH_MAX];
	if (asprintf(&joined, "%s/%s", root, dir) < 0)
		return 0;
	int ok = realpath(joined, real_dir) && realpath(root, real_root);
	free(joined);
	size_t n = ok ? strlen(real_root) : 0;
	return ok && strncmp(real_dir, real_root, n) == 0 &&
	       (real_dir[n] == '/' || real_dir[n] == '\0' || n == 1);
}

/* Checked here, before spawning, because posix_spawn reports a bad directory
 * with the same ENOENT/EACCES as a bad program. A relative cwd is opened
 * beneath the root by the kernel (symlinks included), and the run starts in
 * that very directory (fchdir), so nothing can be swapped in between. */
static pbrpc_status build_cwd(rpcd_exec_plan *plan, const Pbrpc__Exec__Start *start,
                              const char *root, int root_fd, pbrpc_error *err)
{
	int bad = 0;
	char shown[256];
	if (start->cwd.len > PATH_MAX)
		return fail(err, PBRPC_INVALID_ARGUMENT, "cwd is too long");
	char *dir = dup_bytes(start->cwd, &bad);
	if (bad)
		return fail(err, PBRPC_INVALID_ARGUMENT, "cwd contains a NUL byte");
	if (!dir)
		return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
	file_path_printable(dir[0] ? dir : ".", shown, sizeof shown);
	if (dir[0] != '/' && root_fd >= 0) {
		int fd = file_open_beneath(root_fd, dir[0] ? dir : ".", O_PATH | O_DIRECTORY, 0);
		int e = fd < 0 ? errno : 0;
		if (e == ENOSYS) { /* no openat2 (Linux < 5.6, valgrind) */
			plan->cwd_beneath_root = beneath_by_name(root, dir);
		} else if (e != 0 && e != EXDEV && e != ELOOP) {
			free(dir);
			return cwd_error(e, shown, err);
		} else { /* fd -1: it leads outside the root (a policy may refuse that) */
			plan->cwd_fd = fd;
			plan->cwd_beneath_root = fd >= 0;
		}
	}
	if (dir[0] != '/') { /* empty: the root itself */
		char *joined = NULL;
		int rc = dir[0] == '\0' ? asprintf(&joined, "%s", root)
		                        : asprintf(&joined, "%s/%s", root, dir);
		free(dir);
		if (rc < 0)
			return fail(err, PBRPC_RESOURCE_EXHAUSTED, "out of memory");
		dir = joined;
	}
	plan->cwd = dir;
	if (plan->cwd_fd >= 0)
		return check_dir(plan, shown, err);
	/* Outside the root: looked at only once a policy has allowed that (see
	 * rpcd_exec_plan_check_cwd), so a restricted client cannot probe what
	 * exists out there. */
	snprintf(plan->cwd_shown, sizeof plan->cwd_shown, "%s", shown);
	return PBRPC_OK;
}

pbrpc_status rpcd_exec_plan_check_cwd(const rpcd_exec_plan *plan, pbrpc_error *err)
{
	if (plan->cwd_fd >= 0)
		return PBRPC_OK; /* checked when it was opened */
	return check_dir(plan, plan->cwd_shown, err);
}

pbrpc_status rpcd_exec_plan_build(rpcd_exec_plan *plan, const Pbrpc__Exec__Start *start,
                                  const char *root, int root_fd, pbrpc_error *err)
{
	memset(plan, 0, sizeof *plan);
	plan->cwd_fd = -1;
	plan->timeout_ms = start->timeout_ms;
	plan->with_stdin = start->with_stdin != 0;
	pbrpc_status st = build_argv(plan, start, err);
	if (st == PBRPC_OK)
		st = build_env(plan, start, err);
	if (st == PBRPC_OK)
		st = build_cwd(plan, start, root, root_fd, err);
	return st;
}

static void free_list(char **list)
{
	if (!list)
		return;
	for (char **p = list; *p; p++)
		free(*p);
	free(list);
}

void rpcd_exec_plan_free(rpcd_exec_plan *plan)
{
	free_list(plan->argv);
	free_list(plan->env);
	free(plan->cwd);
	if (plan->cwd_fd >= 0)
		close(plan->cwd_fd);
	memset(plan, 0, sizeof *plan);
	plan->cwd_fd = -1;
}
