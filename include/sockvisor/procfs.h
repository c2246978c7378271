/* Reads of /proc the daemon needs: who is in a worker's process group (status PROCS), and
 * our own children (orphans reparented to us, the subreaper). Bounded reads. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* For each pgids[k] > 0, the number of live (not zombie) processes in that process group;
 * 0 where pgids[k] <= 0. One walk of /proc for all of them. */
void sv_procfs_count_groups(const pid_t *pgids, size_t n, unsigned *ret_counts);

/* Our children, as /proc/self/task/PID/children lists them; at most cap. Returns how many,
 * or a negative errno. */
int sv_procfs_children(pid_t *ret, size_t cap);
