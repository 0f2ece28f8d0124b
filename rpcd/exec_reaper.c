/* exec_reaper.c - rpcd as a child subreaper: finding, stopping, killing and
 * reaping the processes of a run from /proc, for systems where rpcd cannot
 * make a cgroup. */
#include "exec_reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Rounds of SIGSTOP before giving up on stopping a run (a fork bomb keeps
 * adding processes until each is stopped). */
#define STOP_ROUNDS 200
/* Ancestor chains longer than this are not followed (a loop in a racy read). */
#define MAX_DEPTH 4096

typedef struct proc_info {
	pid_t pid, ppid, pgid, sid;
	char state;
	unsigned long long start; /* start time in clock ticks: tells a reused pid apart */
} proc_info;

int rpcd_reaper_init(pbrpc_error *err)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
		return 0;
	err->code = PBRPC_FAILED_PRECONDITION;
	snprintf(err->message, sizeof err->message, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	return -1;
}

/* Reads /proc/PID/stat. 0, or -1 if the process is gone or unreadable. */
static int read_stat(pid_t pid, proc_info *p)
{
	char path[32], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "PID (COMM) S PPID PGRP SESSION ..." where COMM may hold anything. */
	char *rest = strrchr(buf, ')');
	int ppid, pgid, sid;
	if (!rest ||
	    sscanf(rest + 1,
	           " %c %d %d %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu",
	           &p->state, &ppid, &pgid, &sid, &p->start) != 5)
		return -1;
	p->pid = pid;
	p->ppid = ppid;
	p->pgid = pgid;
	p->sid = sid;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const proc_info *)a)->pid, y = ((const proc_info *)b)->pid;
	return (x > y) - (x < y);
}

/* Every process on the system, sorted by pid; *n set. NULL on failure. */
static proc_info *scan(size_t *n)
{
	DIR *d = opendir("/proc");
	if (!d)
		return NULL;
	size_t cap = 256;
	proc_info *all = malloc(cap * sizeof *all);
	*n = 0;
	struct dirent *e;
	while (all && (e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 0)
			continue;
		if (*n == cap) {
			proc_info *grown = realloc(all, 2 * cap * sizeof *all);
			if (!grown) {
				free(all);
				all = NULL;
				break;
			}
			all = grown;
			cap *= 2;
		}
		if (read_stat((pid_t)pid, &all[*n]) == 0)
			(*n)++;
	}
	closedir(d);
	if (all)
		qsort(all, *n, sizeof *all, by_pid);
	return all;
}

static const proc_info *find(const proc_info *all, size_t n, pid_t pid)
{
	proc_info key = {.pid = pid};
	return bsearch(&key, all, n, sizeof *all, by_pid);
}

static int listed(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

/* The child of rpcd that p descends from, or NULL if p is not rpcd's. */
static const proc_info *top_of(const proc_info *all, size_t n, const proc_info *p, pid_t self)
{
	for (int depth = 0; p && depth < MAX_DEPTH; depth++) {
		if (p->ppid == self)
			return p;
		if (p->ppid <= 1)
			return NULL;
		p = find(all, n, p->ppid);
	}
	return NULL;
}

/* Whether p belongs to the run led by leader (see rpcd_reaper_signal_run). */
static int of_run(const proc_info *all, size_t n, const proc_info *p, pid_t leader,
                  int leader_alive, const pid_t *others, size_t n_others)
{
	pid_t self = getpid();
	const proc_info *top = top_of(all, n, p, self);
	if (!top || listed(others, n_others, top->pid))
		return 0; /* not rpcd's, or under another run's living leader */
	if (leader_alive && top->pid == leader)
		return 1;
	/* The leader's number is its session's and group's while they have
	 * members; once reaped, another run's leader may get it. */
	if (!listed(others, n_others, leader) && (p->sid == leader || p->pgid == leader))
		return 1;
	/* An orphan rpcd adopted: another run's unless nothing says so. */
	return !listed(others, n_others, top->sid) && !listed(others, n_others, top->pgid) &&
	       !listed(others, n_others, p->sid) && !listed(others, n_others, p->pgid);
}

/* Sends sig to p if it is still the process that was scanned. */
static void send(const proc_info *p, int sig)
{
	proc_info now;
	int fd = pidfd_open(p->pid, 0);
	if (read_stat(p->pid, &now) != 0 || now.start != p->start) {
		if (fd >= 0)
			close(fd);
		return; /* gone, or its number reused */
	}
	if (fd >= 0) { /* the pidfd holds this very process */
		syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
		close(fd);
	} else {
		kill(p->pid,
		     sig); /* no pidfd (old kernel, valgrind): the check above narrows the race */
	}
}

/* One pass: sends sig (unless 0) to the run's live processes, or with
 * only_running just to those not stopped yet. Returns how many it found. */
static int pass(pid_t leader, int leader_alive, const pid_t *others, size_t n_others, int sig,
                int only_running)
{
	size_t n;
	proc_info *all = scan(&n);
	if (!all)
		return -ENOMEM;
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		const proc_info *p = &all[i];
		if (p->state == 'Z' || p->state == 'X' || p->pid == getpid())
			continue;
		if (only_running && (p->state == 'T' || p->state == 't'))
			continue;
		if (!of_run(all, n, p, leader, leader_alive, others, n_others))
			continue;
		found++;
		if (sig)
			send(p, sig);
	}
	free(all);
	return found;
}

int rpcd_reaper_signal_run(pid_t leader, int leader_alive, const pid_t *others, size_t n_others,
                           int sig)
{
	if (sig == SIGKILL) {
		/* Stopped processes cannot fork: stop everything first. */
		for (int round = 0; round < STOP_ROUNDS; round++)
			if (pass(leader, leader_alive, others, n_others, SIGSTOP, 1) <= 0)
				break;
	}
	return pass(leader, leader_alive, others, n_others, sig, 0);
}

void rpcd_reaper_reap_orphans(const pid_t *leaders, size_t n_leaders)
{
	size_t n;
	proc_info *all = scan(&n);
	if (!all)
		return;
	pid_t self = getpid();
	for (size_t i = 0; i < n; i++)
		if (all[i].ppid == self && all[i].state == 'Z' &&
		    !listed(leaders, n_leaders, all[i].pid))
			waitpid(all[i].pid, NULL, WNOHANG);
	free(all);
}
