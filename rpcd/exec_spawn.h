/* exec_spawn.h - starts an exec plan's program with posix_spawn: a session
 * and process group of its own, signals at their defaults and unblocked,
 * pipes for stdin, stdout and stderr, and a pidfd that says when it exits. */
#ifndef RPCD_EXEC_SPAWN_H
#define RPCD_EXEC_SPAWN_H

#include <sys/types.h>

#include "exec_plan.h"

typedef struct rpcd_child {
	pid_t pid;     /* also its process group and session id */
	int pidfd;     /* readable once the child has exited; reap with rpcd_child_reap.
	                * -1 where pidfd_open is missing: watch SIGCHLD then */
	int stdin_fd;  /* our end of its stdin (write), -1 without plan->with_stdin */
	int stdout_fd; /* our ends of its stdout and stderr (read) */
	int stderr_fd;
} rpcd_child;

/* Starts plan's program -- inside the cgroup cgroup_fd unless it is -1 (then
 * with posix_spawn) --: argv[0] searched in the plan's own PATH unless it
 * holds a '/', run in plan->cwd with plan->env. Every descriptor it returns
 * is close-on-exec and the caller's to close; the child gets only 0, 1, 2
 * (stdin is /dev/null without plan->with_stdin). Returns 0, or a negative
 * errno (libuv's UV_E* values on Linux): -ENOENT for no such program,
 * -EACCES for not executable, -EMFILE ... when out of resources; nothing is
 * left open or running then. */
int rpcd_spawn(const rpcd_exec_plan *plan, int cgroup_fd, rpcd_child *child);

/* Reaps the child once its pidfd is readable, without blocking. Returns 1
 * with either *exit_code (exited) or *term_signal (killed) set and the other
 * 0; 0 if it has not exited yet; a negative errno if it cannot be waited for. */
int rpcd_child_reap(const rpcd_child *child, int *exit_code, int *term_signal);

/* Closes whichever of child's descriptors are still open (not the pidfd if
 * keep_pidfd) and marks them -1. */
void rpcd_child_close_fds(rpcd_child *child, int keep_pidfd);

#endif /* RPCD_EXEC_SPAWN_H */
