/* Reads of /proc the daemon needs: who is in a worker's process group and what it uses
 * (status PROCS, CPU, MEM), and
 * our own children (orphans reparented to us, the subreaper). Bounded reads. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "sockvisor/supervisor.h"

/* For each pgids[k] > 0, the live (not zombie) processes in that process group: how many,
 * their CPU time (user + system) and resident memory, summed; zeros where pgids[k] <= 0.
 * One walk of /proc for all of them. */
void sv_procfs_group_usage(const pid_t *pgids, size_t n, SvGroupUsage *ret);

/* Our children, as /proc/self/task/PID/children lists them; at most cap. Returns how many,
 * or a negative errno. */
int sv_procfs_children(pid_t *ret, size_t cap);
