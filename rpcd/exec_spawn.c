/* exec_spawn.c - posix_spawn for the exec service. glibc's posix_spawn is a
 * clone(CLONE_VM | CLONE_VFORK): unlike fork (what uv_spawn does) it copies
 * none of rpcd's page tables and costs rpcd no copy-on-write faults after,
 * and it reports a failed exec as its return value.
 *
 * The PATH search is done here rather than by posix_spawnp, which would use
 * rpcd's own PATH: the program is looked for in the plan's environment (the
 * base PATH, or the client's), as execvp in the child used to. */
#include "exec_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h> /* struct clone_args, CLONE_INTO_CGROUP */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* execvp's search path when the environment has no PATH (glibc's _CS_PATH). */
#define DEFAULT_PATH "/bin:/usr/bin"
#define SHELL        "/bin/sh"

/* The attributes are the same for every child: built once. */
static posix_spawnattr_t spawn_attr;
static int spawn_attr_ready;

static int init_attr(void)
{
	if (spawn_attr_ready)
		return 0;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	int rc = posix_spawnattr_init(&spawn_attr);
	if (rc != 0)
		return -rc;
	/* A session and process group of its own (so that a kill of -pid reaches
	 * everything it starts), no signal blocked, every signal at its default:
	 * rpcd's mask and dispositions (SIGPIPE ignored) must not reach it. */
	short flags = POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if ((rc = posix_spawnattr_setflags(&spawn_attr, flags)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&spawn_attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(&spawn_attr, &all)) != 0) {
		posix_spawnattr_destroy(&spawn_attr);
		return -rc;
	}
	spawn_attr_ready = 1;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void rpcd_child_close_fds(rpcd_child *child, int keep_pidfd)
{
	close_fd(&child->stdin_fd);
	close_fd(&child->stdout_fd);
	close_fd(&child->stderr_fd);
	if (!keep_pidfd)
		close_fd(&child->pidfd);
}

/* A close-on-exec pipe whose ends are both above 2, so that the dup2s onto
 * 0, 1 and 2 in the child cannot overwrite one another (rpcd may have been
 * started with one of 0, 1, 2 closed). */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (fds[i] > 2)
			continue;
		int moved = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		int e = errno;
		close(fds[i]);
		fds[i] = moved;
		if (moved < 0) {
			close_fd(&fds[1 - i]);
			return -e;
		}
	}
	return 0;
}

/* The value of PATH in env, or execvp's default. */
static const char *search_path(char *const env[])
{
	for (char *const *e = env; *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return DEFAULT_PATH;
}

/* What every candidate of one start shares. */
typedef struct spawn_ctx {
	const posix_spawn_file_actions_t *actions; /* for posix_spawn */
	const rpcd_exec_plan *plan;
	int cgroup_fd;             /* >= 0: start inside this cgroup (clone3) */
	int in_fd, out_fd, err_fd; /* the child's ends, for clone3; in_fd -1: /dev/null */
} spawn_ctx;

/* Runs file as a shell script, as execvp does for a file the kernel cannot
 * execute (ENOEXEC: no #! line): /bin/sh FILE ARGS... */
static int spawn_script(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                        char *const argv[], char *const env[])
{
	size_t argc = 0;
	while (argv[argc])
		argc++;
	char **shell_argv = calloc(argc + 2, sizeof *shell_argv);
	if (!shell_argv)
		return -ENOMEM;
	shell_argv[0] = (char *)SHELL;
	shell_argv[1] = (char *)file;
	for (size_t i = 1; i < argc; i++)
		shell_argv[i + 1] = argv[i];
	int rc = posix_spawn(pid, SHELL, actions, &spawn_attr, shell_argv, env);
	free(shell_argv);
	return -rc;
}

/* ---- starting inside a cgroup ------------------------------------------------
 * posix_spawn cannot (glibc 2.39 added posix_spawnattr_setcgroup_np), and
 * moving the child after it started would let whatever it forks first stay
 * behind. So clone3(CLONE_INTO_CGROUP) -- a fork, since clone3 with CLONE_VM
 * needs a stack of its own -- and in the child only async-signal-safe calls
 * until execve. The child reports a failed exec through a close-on-exec pipe,
 * as posix_spawn does, so the caller sees ENOENT/EACCES the same way. */

static void dup_onto(int fd, int target)
{
	if (fd != target)
		dup2(fd, target);
}

/* In the child: never returns. */
static void child_exec(const spawn_ctx *ctx, const char *file, char *const argv[],
                       char *const env[], char *const shell_argv[], int report_fd)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) /* glibc's own two refuse: harmless */
		sigaction(sig, &dfl, NULL);
	int e = 0;
	if (setsid() < 0)
		e = errno;
	if (!e && ctx->in_fd < 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0)
			e = errno;
		else if (null != 0) {
			dup2(null, 0);
			close(null);
		}
	} else if (!e) {
		dup_onto(ctx->in_fd, 0);
	}
	if (!e) {
		dup_onto(ctx->out_fd, 1);
		dup_onto(ctx->err_fd, 2);
		const rpcd_exec_plan *plan = ctx->plan;
		if ((plan->cwd_fd >= 0 ? fchdir(plan->cwd_fd) : chdir(plan->cwd)) != 0)
			e = errno;
	}
	if (!e) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(file, argv, env);
		if (errno == ENOEXEC)
			execve(SHELL, shell_argv, env);
		e = errno;
	}
	ssize_t unused = write(report_fd, &e, sizeof e);
	(void)unused;
	_exit(127);
}

static int clone_exec(pid_t *pid, const char *file, const spawn_ctx *ctx, char *const argv[],
                      char *const env[])
{
	size_t argc = 0;
	while (argv[argc])
		argc++;
	/* Made here: the child may not allocate. */
	char **shell_argv = calloc(argc + 2, sizeof *shell_argv);
	int report[2];
	if (!shell_argv)
		return -ENOMEM;
	shell_argv[0] = (char *)SHELL;
	shell_argv[1] = (char *)file;
	for (size_t i = 1; i < argc; i++)
		shell_argv[i + 1] = argv[i];
	if (pipe2(report, O_CLOEXEC) != 0) {
		free(shell_argv);
		return -errno;
	}
	/* No handler of rpcd's may run in the child before it resets them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	struct clone_args args;
	memset(&args, 0, sizeof args);
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = (uint64_t)ctx->cgroup_fd;
	long rc = syscall(SYS_clone3, &args, sizeof args);
	if (rc == 0)
		child_exec(ctx, file, argv, env, shell_argv, report[1]);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(report[1]);
	int child_errno = 0;
	ssize_t n = 0;
	if (rc > 0)
		do
			n = read(report[0], &child_errno, sizeof child_errno);
		while (n < 0 && errno == EINTR);
	close(report[0]);
	free(shell_argv);
	if (rc < 0)
		return -e;
	if (n == (ssize_t)sizeof child_errno) { /* exec failed: the child is gone */
		while (waitpid((pid_t)rc, NULL, 0) < 0 && errno == EINTR)
			;
		return -child_errno;
	}
	*pid = (pid_t)rc;
	return 0;
}

static int spawn_file(pid_t *pid, const char *file, const spawn_ctx *ctx, char *const argv[],
                      char *const env[])
{
	if (ctx->cgroup_fd >= 0)
		return clone_exec(pid, file, ctx, argv, env);
	int rc = posix_spawn(pid, file, ctx->actions, &spawn_attr, argv, env);
	if (rc == ENOEXEC)
		return spawn_script(pid, file, ctx->actions, argv, env);
	return -rc;
}

/* Whether candidate (relative ones are relative to the run's directory, where
 * the child will be) may exist: 0 yes, else the errno that stat gave. */
static int candidate_missing(const char *candidate, const rpcd_exec_plan *plan)
{
	char joined[PATH_MAX];
	struct stat st;
	const char *cwd = plan->cwd;
	if (candidate[0] != '/' && plan->cwd_fd >= 0)
		return fstatat(plan->cwd_fd, candidate, &st, 0) == 0 ? 0 : errno;
	if (candidate[0] != '/') {
		size_t n = strlen(cwd), m = strlen(candidate);
		if (n + 1 + m + 1 > sizeof joined)
			return 0; /* let exec say */
		memcpy(joined, cwd, n);
		joined[n] = '/';
		memcpy(joined + n + 1, candidate, m + 1);
		candidate = joined;
	}
	return stat(candidate, &st) == 0 ? 0 : errno;
}

/* execvp's search, done in the parent so that a miss costs a stat, not a
 * child: ENOENT-like misses go on to the next entry, EACCES is remembered
 * and reported if nothing else runs, any other failure ends the search. */
static int spawn_searched(pid_t *pid, const spawn_ctx *ctx)
{
	const rpcd_exec_plan *plan = ctx->plan;
	const char *name = plan->argv[0];
	if (strchr(name, '/'))
		return spawn_file(pid, name, ctx, plan->argv, plan->env);
	size_t name_len = strlen(name);
	if (name_len > NAME_MAX)
		return -ENAMETOOLONG;
	int denied = 0;
	char candidate[PATH_MAX];
	for (const char *dir = search_path(plan->env);; dir++) {
		size_t dir_len = strcspn(dir, ":");
		if (dir_len + 1 + name_len + 1 <= sizeof candidate) {
			size_t n = 0;
			if (dir_len > 0) { /* an empty entry is the current directory */
				memcpy(candidate, dir, dir_len);
				candidate[dir_len] = '/';
				n = dir_len + 1;
			}
			memcpy(candidate + n, name, name_len + 1);
			int rc = candidate_missing(candidate, plan);
			if (rc == 0)
				rc = -spawn_file(pid, candidate, ctx, plan->argv, plan->env);
			switch (rc) {
			case 0: return 0;
			case EACCES: denied = 1; break;
			case ENOENT:
			case ENOTDIR:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
			case ELOOP:
			case ENAMETOOLONG: break;
			default: return -rc;
			}
		}
		dir += dir_len;
		if (*dir == '\0')
			break;
	}
	return denied ? -EACCES : -ENOENT;
}

/* What the child's 0, 1, 2 become, then its directory. */
static int build_actions(posix_spawn_file_actions_t *actions, const rpcd_exec_plan *plan,
                         int stdin_read, int stdout_write, int stderr_write)
{
	int rc = stdin_read >= 0
	             ? posix_spawn_file_actions_adddup2(actions, stdin_read, 0)
	             : posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(actions, stdout_write, 1);
	if (rc == 0)
		rc = posix_spawn_file_actions_adddup2(actions, stderr_write, 2);
	if (rc == 0)
		rc = plan->cwd_fd >= 0
		         ? posix_spawn_file_actions_addfchdir_np(actions, plan->cwd_fd)
		         : posix_spawn_file_actions_addchdir_np(actions, plan->cwd);
	return -rc;
}

int rpcd_spawn(const rpcd_exec_plan *plan, int cgroup_fd, rpcd_child *child)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	posix_spawn_file_actions_t actions;
	int rc = init_attr();

	child->pid = -1;
	child->pidfd = child->stdin_fd = child->stdout_fd = child->stderr_fd = -1;
	if (rc != 0)
		return rc;
	if ((plan->with_stdin && (rc = make_pipe(in)) != 0) || (rc = make_pipe(out)) != 0 ||
	    (rc = make_pipe(err)) != 0)
		goto close_pipes;
	if ((rc = posix_spawn_file_actions_init(&actions)) != 0) {
		rc = -rc;
		goto close_pipes;
	}
	rc = build_actions(&actions, plan, in[0], out[1], err[1]);
	spawn_ctx ctx = {&actions, plan, cgroup_fd, in[0], out[1], err[1]};
	if (rc == 0)
		rc = spawn_searched(&child->pid, &ctx);
	posix_spawn_file_actions_destroy(&actions);
	if (rc != 0)
		goto close_pipes;
	/* Nobody else waits for our children (rpcd has no SIGCHLD handler and
	 * does not ignore SIGCHLD), so the pid cannot have been reaped and reused
	 * before this, even if the child has exited already. */
	child->pidfd = pidfd_open(child->pid, 0);
	if (child->pidfd < 0 && (errno == ENOSYS || errno == EPERM)) {
		/* A kernel before 5.3, a seccomp filter, valgrind: the caller
		 * watches SIGCHLD instead. */
	} else if (child->pidfd < 0) {
		rc = -errno;
		kill(-child->pid, SIGKILL);
		waitpid(child->pid, NULL, 0);
		child->pid = -1;
		goto close_pipes;
	}
	/* The child's ends are the child's now. */
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	child->stdin_fd = in[1];
	child->stdout_fd = out[0];
	child->stderr_fd = err[0];
	return 0;

close_pipes:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	return rc;
}

int rpcd_child_reap(const rpcd_child *child, int *exit_code, int *term_signal)
{
	siginfo_t info;
	info.si_pid = 0;
	*exit_code = *term_signal = 0;
	idtype_t by = child->pidfd >= 0 ? (idtype_t)P_PIDFD : P_PID;
	id_t id = child->pidfd >= 0 ? (id_t)child->pidfd : (id_t)child->pid;
	int rc = waitid(by, id, &info, WEXITED | WNOHANG);
	if (rc != 0 && errno == EINVAL && by == (idtype_t)P_PIDFD) /* Linux 5.3: no P_PIDFD yet */
		rc = waitid(P_PID, (id_t)child->pid, &info, WEXITED | WNOHANG);
	if (rc != 0)
		return errno == EINTR ? 0 : -errno;
	if (info.si_pid == 0)
		return 0; /* still running */
	if (info.si_code == CLD_EXITED)
		*exit_code = info.si_status;
	else
		*term_signal = info.si_status; /* CLD_KILLED, CLD_DUMPED */
	return 1;
}
