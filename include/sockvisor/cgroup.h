/* Per-instance cgroups (v2): where sockvisord may make them (root, or a cgroup delegated by
 * systemd with Delegate=yes), each worker starts in its own, and stopping or killing a worker
 * reaches every process in it, those that left its process group (setsid) too. Elsewhere
 * everything here is a no-op and process groups are all there is. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "sockvisor/diag.h"

typedef struct SvCgroups SvCgroups;

/* Finds the cgroup2 mount and our cgroup, and makes (or, after an upgrade, reopens) our
 * directory under it: OWN/sockvisord-NS-PID (NS: our pid namespace's inode). Returns NULL with d saying why where we cannot
 * (no cgroup2, not allowed, read-only): not an error, the caller logs it once. */
SvCgroups *sv_cgroups_open(sd_event *event, SvDiag *d);
/* At exit (never before an upgrade's execve): waits up to 1 s for what sv_cgroup_reaped
 * killed to go, reaping our children meanwhile, then removes every empty instance cgroup and
 * our directory (if empty), and frees. */
void sv_cgroups_free(SvCgroups *cg);
const char *sv_cgroups_path(const SvCgroups *cg);

/* Makes the cgroup of one generation of one instance and opens its cgroup.procs for the
 * child to write "0" to before it execs (SvSpawnRequest.cgroup_procs_fd). Returns the fd
 * (O_CLOEXEC: the worker never gets it), or -errno with d saying what failed. */
int sv_cgroup_prepare(SvCgroups *cg, const char *instance, unsigned generation, SvDiag *d);
/* The child pid now runs in the cgroup sv_cgroup_prepare made last (call right after the
 * spawn, or with ok false to remove it when the spawn failed). Closes procs_fd. */
void sv_cgroup_spawned(SvCgroups *cg, pid_t pid, int procs_fd, bool ok);
/* After an upgrade: pid (a worker the new image adopts) is in one of our cgroups; find it. */
void sv_cgroup_adopt(SvCgroups *cg, pid_t pid);
/* After an upgrade, once every worker is adopted: the leaves none of them is in (what the
 * previous image's reaped workers left) are removed when empty, else SIGKILLed after
 * grace_usec and removed once empty. workers: every live worker's pid; when one of them
 * was not adopted into a leaf, no populated leaf is touched. */
void sv_cgroups_adopt_rest(SvCgroups *cg, uint64_t grace_usec, const pid_t *workers, size_t n_workers);

/* Sends sig to every process in the cgroup of worker pid (SIGKILL through cgroup.kill, in
 * one step). Returns how many processes it signalled, 0 when pid has no cgroup. */
int sv_cgroup_signal(SvCgroups *cg, pid_t pid, int sig);
/* The worker pid was reaped: whatever is left in its cgroup gets SIGTERM now and SIGKILL
 * after grace_usec (nothing else would ever stop it; systemd's KillMode=control-group does the
 * same when a main process exits), and the cgroup is removed once empty. Returns how many
 * were left. */
int sv_cgroup_reaped(SvCgroups *cg, pid_t pid, uint64_t grace_usec);
/* The grace sockvisord gives: as systemd's default TimeoutStopSec is long, but a process
 * whose worker is gone serves nobody we know of; 5 s is what an orderly exit needs. */
#define SV_CGROUP_GRACE_USEC (5 * 1000000ULL)
/* Removes the cgroups of reaped workers that have emptied since (on SIGCHLD: their last
 * processes were our children once orphaned). */
void sv_cgroup_sweep(SvCgroups *cg);
