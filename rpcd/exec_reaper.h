/* exec_reaper.h - where no cgroup can be made: rpcd is a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so every process a run starts stays rpcd's
 * descendant even after its parent exits or it calls setsid, and rpcd can
 * find it in /proc, signal it and reap it. */
#ifndef RPCD_EXEC_REAPER_H
#define RPCD_EXEC_REAPER_H

#include <stddef.h>
#include <sys/types.h>

#include "pbrpc.h"

/* Makes rpcd a child subreaper. 0, or -1 with err. */
int rpcd_reaper_init(pbrpc_error *err);

/* Signals the live processes of one run (sig 0: only counts them).
 * leader: the run's first process, whose pid is also its session and group
 * id; leader_alive: not reaped yet. others: the leaders of rpcd's other runs,
 * whose processes are left alone. A process is the run's if it descends from
 * the living leader, is in its session or group, or descends from an orphan
 * rpcd adopted that no other run's session or group claims (such a process
 * cannot be told apart any more: it goes with the first run to end).
 * SIGKILL first stops them all (SIGSTOP until no running one is left), so a
 * fork bomb cannot outrun it. Each is signalled through a pidfd opened after
 * checking its start time, never a pid that was reused meanwhile. Returns how
 * many live processes were found (0: nothing is left), or a negative errno. */
int rpcd_reaper_signal_run(pid_t leader, int leader_alive, const pid_t *others, size_t n_others,
                           int sig);

/* Reaps rpcd's exited children other than the n leaders (runs' first
 * processes, which their runs reap): the orphans rpcd adopted. */
void rpcd_reaper_reap_orphans(const pid_t *leaders, size_t n);

#endif /* RPCD_EXEC_REAPER_H */
