/* Reads of /proc the daemon needs: who is in a worker's process group and what it uses
 * (status PROCS, CPU, MEM), and
 * our own children (orphans reparented to us, the subreaper). Bounded reads. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/supervisor.h"

/* One reading of every live process in /proc (group, CPU, memory), kept for the next
 * status of many programs: 10,000 workers cost ~100 ms a walk, so a `watch status` does
 * not walk per request. */
typedef struct SvProcSample SvProcSample;
#define SV_PROC_SAMPLE_MAX_AGE_USEC (1000 * 1000)
SvProcSample *sv_proc_sample_free(SvProcSample *s);

/* For each pgids[k] > 0, the live (not zombie) processes in that process group: how many,
 * their CPU time (user + system) and resident memory, summed; zeros where pgids[k] <= 0.
 * Up to 16 groups: a walk of each leader's descendants. More: from *cache, when it is
 * younger than SV_PROC_SAMPLE_MAX_AGE_USEC at now_usec and holds every group asked for;
 * otherwise one walk of all of /proc, which replaces *cache. */
void sv_procfs_group_usage(SvProcSample **cache, uint64_t now_usec, const pid_t *pgids, size_t n,
                           SvGroupUsage *ret);

/* Our children, as the children files of all our threads list them (each read to its end);
 * at most cap. Returns how many, or a negative errno. */
int sv_procfs_children(pid_t *ret, size_t cap);

/* CPU time pid has used, user and system, its threads included and the children it has
 * reaped (utime + stime + cutime + cstime of /proc/PID/stat), in microseconds. 0 or a
 * negative errno (-ENOENT: it is gone; -EACCES: another user's, unreadable). */
int sv_procfs_cpu_usec(pid_t pid, uint64_t *ret);
/* Resident memory of pid (/proc/PID/statm, resident pages times the page size), in bytes. */
int sv_procfs_rss_bytes(pid_t pid, uint64_t *ret);
/* The first len - 1 bytes of /proc/PID/NAME, NUL-terminated: 0 or a negative errno. */
int sv_procfs_read(pid_t pid, const char *name, char *buf, size_t len);
/* Open fds of this process (entries of /proc/self/fd, less the one the count uses). */
int sv_procfs_self_fds(unsigned *ret);

/* --- the parsers (pure; exposed for the tests) --- */
/* A /proc/PID/stat line -> utime + stime + cutime + cstime, in clock ticks; -EINVAL when
 * it does not read as one. The command name may hold spaces and parentheses. */
int sv_procfs_parse_stat_ticks(const char *text, uint64_t *ret);
/* A /proc/PID/statm line -> its resident pages (the second field); -EINVAL otherwise. */
int sv_procfs_parse_statm_resident(const char *text, uint64_t *ret);
