/* exec_cgroup.h - a cgroup (v2) for each program exec runs, where rpcd may
 * make one: its own cgroup is writable (delegated, e.g. systemd's
 * Delegate=yes). Each run starts inside its own leaf (clone3
 * CLONE_INTO_CGROUP, so not even its first fork escapes), is ended with
 * cgroup.kill, which reaches every process it started however it detached
 * (setsid, double fork), and is capped by pids.max and memory.max.
 *
 * Layout, below rpcd's cgroup C:
 *   C/rpcd.PID/          one per rpcd (several may share C), controllers on
 *   C/rpcd.PID/daemon    rpcd itself, if it had to leave C so that C could
 *                        hand controllers down (no processes in inner nodes)
 *   C/rpcd.PID/run-N     one leaf per run */
#ifndef RPCD_EXEC_CGROUP_H
#define RPCD_EXEC_CGROUP_H

#include <limits.h>
#include <stdint.h>

#include "pbrpc.h"

typedef struct rpcd_cgroup {
	int dir_fd;          /* C/rpcd.PID, -1 when not in use */
	char path[PATH_MAX]; /* its path, for the log */
	char home[PATH_MAX]; /* C, where rpcd goes back to at exit if it moved */
	int moved_self;      /* rpcd moved itself into C/rpcd.PID/daemon */
	unsigned max_pids;   /* 0: no pids.max */
	uint64_t max_memory; /* 0: no memory.max */
	unsigned long next_run;
} rpcd_cgroup;

typedef struct rpcd_cgroup_run {
	int fd;        /* the run's leaf (O_DIRECTORY), for CLONE_INTO_CGROUP; -1: none */
	char name[32]; /* run-N */
} rpcd_cgroup_run;

/* Sets cg up beneath rpcd's own cgroup with the given limits (0: none).
 * Returns 0, or -1 with why not in err (no cgroup v2, not writable, no
 * cgroup.kill, clone3 missing, or a limit whose controller cannot be had) and
 * nothing left behind. pids_optional: a missing pids controller only drops
 * the pids.max limit (*pids_dropped is set) instead of failing. */
int rpcd_cgroup_init(rpcd_cgroup *cg, unsigned max_pids, int pids_optional, int *pids_dropped,
                     uint64_t max_memory, pbrpc_error *err);

/* Makes the leaf for a new run, with the limits written. 0, or a negative
 * errno (the run must then not start). */
int rpcd_cgroup_run_create(rpcd_cgroup *cg, rpcd_cgroup_run *run);

/* 1 if any process is still in the run's leaf, 0 if none, -1 if unknown. */
int rpcd_cgroup_run_populated(const rpcd_cgroup_run *run);

/* Sends sig to every process in the leaf; SIGKILL uses cgroup.kill, which
 * also reaches processes forked meanwhile. 0, or a negative errno. */
int rpcd_cgroup_run_signal(const rpcd_cgroup_run *run, int sig);

/* Removes the leaf (once empty) and closes it; the run is unusable after. */
void rpcd_cgroup_run_remove(rpcd_cgroup *cg, rpcd_cgroup_run *run);

/* Removes what rpcd_cgroup_init made (killing anything still in it) and puts
 * rpcd back into its own cgroup. */
void rpcd_cgroup_free(rpcd_cgroup *cg);

#endif /* RPCD_EXEC_CGROUP_H */
