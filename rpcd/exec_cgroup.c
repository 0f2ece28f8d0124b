/* exec_cgroup.c - a cgroup v2 leaf per exec run: setup beneath rpcd's own
 * cgroup, limits, kill, removal. Only files of the cgroup filesystem are
 * touched, through descriptors opened once. */
#include "exec_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How long a removal waits for killed processes to leave a cgroup. */
#define RMDIR_TRIES    100
#define RMDIR_PAUSE_NS (10 * 1000 * 1000)

static int fail(pbrpc_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(pbrpc_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err->code = PBRPC_FAILED_PRECONDITION;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads the small file name in dir into buf (NUL-terminated): its length, or
 * a negative errno. */
static ssize_t read_at(int dir, const char *name, char *buf, size_t size)
{
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}

/* Writes text to the cgroup file name in dir: 0, or a negative errno. */
static int write_at(int dir, const char *name, const char *text)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = errno;
	close(fd);
	return n < 0 ? -e : 0;
}

/* 1 if word is one of the blank-separated words of list. */
static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return 1;
	return 0;
}

static void pause_briefly(void)
{
	struct timespec ts = {0, RMDIR_PAUSE_NS};
	nanosleep(&ts, NULL);
}

/* Removes the cgroup name beneath dir, its child cgroups first, killing
 * whatever is still inside: a leftover of a crashed rpcd, or ours at exit. */
static void remove_tree(int dir, const char *name)
{
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	DIR *d = fdopendir(dup(fd));
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (e->d_type == DT_DIR && e->d_name[0] != '.')
				remove_tree(fd, e->d_name);
		closedir(d);
	}
	write_at(fd, "cgroup.kill", "1");
	close(fd);
	for (int i = 0; i < RMDIR_TRIES; i++) {
		if (unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno != EBUSY)
			return;
		pause_briefly(); /* killed processes take a moment to leave */
	}
}

/* Whether the rpcd that made C/rpcd.PID is still there: a process PID
 * that is no zombie and lives in C or in C/rpcd.PID/daemon. (Its number may
 * have been reused by a process elsewhere: that does not count.) */
static int owner_alive(long pid, const char *rel)
{
	char path[64], line[PATH_MAX + 64], want[PATH_MAX + 64];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int zombie = fgets(line, sizeof line, f) && strrchr(line, ')') &&
	             strrchr(line, ')')[1] == ' ' && strrchr(line, ')')[2] == 'Z';
	fclose(f);
	if (zombie)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/cgroup", pid);
	if (!(f = fopen(path, "re")))
		return 0;
	int alive = 0;
	while (!alive && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "0::", 3) != 0)
			continue;
		snprintf(want, sizeof want, "%s/rpcd.%ld/daemon", strcmp(rel, "/") ? rel : "", pid);
		alive = strcmp(line + 3, rel) == 0 || strcmp(line + 3, want) == 0;
	}
	fclose(f);
	return alive;
}

/* Removes C/rpcd.PID of rpcds that are gone (killed, crashed). */
static void remove_stale(int home_fd, const char *rel)
{
	DIR *d = fdopendir(dup(home_fd));
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char *end;
		if (strncmp(e->d_name, "rpcd.", 5) != 0)
			continue;
		long pid = strtol(e->d_name + 5, &end, 10);
		if (*end != '\0' || pid <= 0 || pid == getpid())
			continue;
		if (!owner_alive(pid, rel))
			remove_tree(home_fd, e->d_name);
	}
	closedir(d);
}

/* rpcd's cgroup directory: the cgroup2 mount point + the 0:: path (rel). */
static int find_home(char *home, size_t size, char rel[PATH_MAX], pbrpc_error *err)
{
	char line[PATH_MAX + 64], mount[PATH_MAX] = "";
	rel[0] = '\0';
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return fail(err, "/proc/self/cgroup: %s", strerror(errno));
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(rel, PATH_MAX, "%.4000s", line + 3);
			rel[strcspn(rel, "\n")] = '\0';
		}
	fclose(f);
	if (rel[0] != '/')
		return fail(err, "no cgroup v2 hierarchy");
	if (!(f = fopen("/proc/self/mountinfo", "re")))
		return fail(err, "/proc/self/mountinfo: %s", strerror(errno));
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE OPTIONS" */
	while (!mount[0] && fgets(line, sizeof line, f)) {
		char root[PATH_MAX], point[PATH_MAX];
		const char *dash = strstr(line, " - ");
		if (!dash || strncmp(dash, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) == 2 &&
		    strcmp(root, "/") == 0 && !strchr(point, '\\'))
			snprintf(mount, sizeof mount, "%s", point);
	}
	fclose(f);
	if (!mount[0])
		return fail(err, "no cgroup2 file system mounted");
	if (snprintf(home, size, "%s%s", mount, strcmp(rel, "/") == 0 ? "" : rel) >= (int)size)
		return fail(err, "cgroup path too long");
	return strcmp(rel, "/") == 0 ? 1 : 0; /* 1: the root cgroup */
}

/* Makes C hand the controllers in want ("pids", "memory") down to
 * C/rpcd.PID and that to its leaves. In C that needs C free of processes
 * (cgroup v2: no processes in inner nodes, except at the root), so rpcd moves
 * into C/rpcd.PID/daemon first if it must. Returns 0, or a negative errno. */
static int enable_controller(rpcd_cgroup *cg, int home_fd, int is_root, const char *name)
{
	char buf[512], plus[32];
	snprintf(plus, sizeof plus, "+%s", name);
	if (read_at(home_fd, "cgroup.subtree_control", buf, sizeof buf) < 0 ||
	    !has_word(buf, name)) {
		int rc = write_at(home_fd, "cgroup.subtree_control", plus);
		if (rc == -EBUSY && !is_root && !cg->moved_self) {
			if (mkdirat(cg->dir_fd, "daemon", 0755) != 0 && errno != EEXIST)
				return -errno;
			int daemon =
			    openat(cg->dir_fd, "daemon", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			rc = daemon < 0 ? -errno : write_at(daemon, "cgroup.procs", "0");
			if (daemon >= 0)
				close(daemon);
			if (rc != 0)
				return rc;
			cg->moved_self = 1;
			rc = write_at(home_fd, "cgroup.subtree_control", plus);
		}
		if (rc != 0)
			return rc;
	}
	return write_at(cg->dir_fd, "cgroup.subtree_control", plus);
}

/* Puts rpcd back into its own cgroup, if it moved out. */
static void move_home(rpcd_cgroup *cg)
{
	if (!cg->moved_self)
		return;
	int home_fd = open(cg->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd >= 0) {
		write_at(home_fd, "cgroup.procs", "0");
		close(home_fd);
	}
	cg->moved_self = 0;
}

static void undo(rpcd_cgroup *cg)
{
	move_home(cg);
	if (cg->dir_fd >= 0) {
		close(cg->dir_fd);
		cg->dir_fd = -1;
		int home_fd = open(cg->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (home_fd >= 0) {
			remove_tree(home_fd, strrchr(cg->path, '/') + 1);
			close(home_fd);
		}
	}
}

int rpcd_cgroup_init(rpcd_cgroup *cg, unsigned max_pids, int pids_optional, int *pids_dropped,
                     uint64_t max_memory, pbrpc_error *err)
{
	char buf[512];
	memset(cg, 0, sizeof *cg);
	cg->dir_fd = -1;
	*pids_dropped = 0;
	/* clone3 is how a run starts inside its cgroup: without it (Linux < 5.7,
	 * or valgrind), no cgroups. A NULL argument gives EFAULT or EINVAL where
	 * clone3 exists. */
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno == ENOSYS)
		return fail(err, "no clone3 system call");
	char rel[PATH_MAX];
	int is_root = find_home(cg->home, sizeof cg->home, rel, err);
	if (is_root < 0)
		return -1;
	int home_fd = open(cg->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0)
		return fail(err, "%s: %s", cg->home, strerror(errno));
	remove_stale(home_fd, rel);
	snprintf(cg->path, sizeof cg->path, "%.4000s/rpcd.%ld", cg->home, (long)getpid());
	const char *leaf = strrchr(cg->path, '/') + 1;
	if (mkdirat(home_fd, leaf, 0755) != 0 ||
	    (cg->dir_fd = openat(home_fd, leaf, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int e = errno;
		close(home_fd);
		return fail(err, "cannot make a cgroup in %s: %s", cg->home, strerror(e));
	}
	if (faccessat(cg->dir_fd, "cgroup.kill", F_OK, 0) != 0) {
		close(home_fd);
		undo(cg);
		return fail(err, "no cgroup.kill in %s (Linux 5.14 or later needed)", cg->home);
	}
	if (read_at(home_fd, "cgroup.controllers", buf, sizeof buf) < 0)
		buf[0] = '\0';
	int rc = 0;
	const char *what = "";
	if (max_pids) {
		rc = has_word(buf, "pids") ? enable_controller(cg, home_fd, is_root, "pids")
		                           : -ENOENT;
		if (rc != 0 && pids_optional) {
			*pids_dropped = 1;
			rc = 0;
		} else if (rc == 0) {
			cg->max_pids = max_pids;
		}
		what = "pids";
	}
	if (rc == 0 && max_memory) {
		what = "memory";
		rc = has_word(buf, "memory") ? enable_controller(cg, home_fd, is_root, "memory")
		                             : -ENOENT;
		cg->max_memory = max_memory;
	}
	close(home_fd);
	if (rc != 0) {
		undo(cg);
		return fail(err, "cannot use the %s controller in %s: %s", what, cg->home,
		            rc == -ENOENT ? "not available there" : strerror(-rc));
	}
	return 0;
}

int rpcd_cgroup_run_create(rpcd_cgroup *cg, rpcd_cgroup_run *run)
{
	char value[32];
	snprintf(run->name, sizeof run->name, "run-%lu", ++cg->next_run);
	run->fd = -1;
	if (mkdirat(cg->dir_fd, run->name, 0755) != 0)
		return -errno;
	run->fd = openat(cg->dir_fd, run->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = run->fd < 0 ? -errno : 0;
	if (rc == 0 && cg->max_pids) {
		snprintf(value, sizeof value, "%u", cg->max_pids);
		rc = write_at(run->fd, "pids.max", value);
	}
	if (rc == 0 && cg->max_memory) {
		snprintf(value, sizeof value, "%llu", (unsigned long long)cg->max_memory);
		rc = write_at(run->fd, "memory.max", value);
		/* Optional refinements: no swapping past the limit, and an OOM kill
		 * takes the whole run rather than one process of it. */
		write_at(run->fd, "memory.swap.max", "0");
		write_at(run->fd, "memory.oom.group", "1");
	}
	if (rc != 0)
		rpcd_cgroup_run_remove(cg, run);
	return rc;
}

int rpcd_cgroup_run_populated(const rpcd_cgroup_run *run)
{
	char buf[256];
	if (run->fd < 0 || read_at(run->fd, "cgroup.events", buf, sizeof buf) < 0)
		return -1;
	const char *p = strstr(buf, "populated ");
	return p ? p[10] == '1' : -1;
}

int rpcd_cgroup_run_signal(const rpcd_cgroup_run *run, int sig)
{
	if (run->fd < 0)
		return -EBADF;
	if (sig == SIGKILL)
		return write_at(run->fd, "cgroup.kill", "1");
	int fd = openat(run->fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	long pid;
	while (fscanf(f, "%ld", &pid) == 1)
		kill((pid_t)pid, sig);
	fclose(f);
	return 0;
}

void rpcd_cgroup_run_remove(rpcd_cgroup *cg, rpcd_cgroup_run *run)
{
	if (run->fd >= 0)
		close(run->fd);
	run->fd = -1;
	/* Busy if something is still inside: rpcd_cgroup_free kills and removes it. */
	if (run->name[0])
		unlinkat(cg->dir_fd, run->name, AT_REMOVEDIR);
	run->name[0] = '\0';
}

void rpcd_cgroup_free(rpcd_cgroup *cg)
{
	if (cg->dir_fd >= 0)
		undo(cg);
}
