/* Starting a worker from the supervisor's SvSpawnSpec: who it runs as (NSS), its
 * environment, its output, then spawn.c's fork and exec. */
#pragma once

#include <sys/types.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"
#include "sockvisor/spawn.h"
#include "sockvisor/supervisor.h"

/* Who workers run as, resolved when a configuration is loaded or reloaded (NSS may block:
 * never at a spawn). */
typedef struct SvCredsCache SvCredsCache;

/* Looks up every user= and group= of cfg and puts them into *cache (created when NULL), in
 * place of older lookups of the same names. A user or group that does not exist, or one
 * the daemon may not switch to, is an error ORIGIN:LINE: [program:NAME] ... (a config
 * error), and then the cache is left as it was. */
int sv_creds_cache_update(SvCredsCache **cache, const SvConfig *cfg, SvDiag *d);
SvCredsCache *sv_creds_cache_free(SvCredsCache *c);

/* Who a process of a program with user (NULL: root, "0") and group (NULL: the user's
 * primary one) runs as: *ret points into cache, or at own, filled by a lookup now when the
 * cache misses them (out of memory at load); sv_creds_done(own) once done with *ret. *ret is
 * NULL when both are NULL (the daemon's own). Workers and exec probes (health.c) share it. */
int sv_process_creds(const SvCredsCache *cache, const char *user, const char *group, SvCreds *own,
                     const SvCreds **ret, SvDiag *d);

/* The same checks, keeping nothing (sockvisord -t). */
int sv_config_check_users(const SvConfig *cfg, SvDiag *d);

/* cache: from sv_creds_cache_update (a name missing there is looked up now); notify_name:
 * NOTIFY_SOCKET for the worker; stdin_fd: its fd 0 (/dev/null); stdout_fd, stderr_fd: its
 * fds 1 and 2 when >= 0 (output.c's log pipes, /dev/null), else output= decides (the
 * journal, or inherited); cgroup_fd: > 0, the cgroup.procs the child joins (cgroup.h), else
 * none. */
int sv_process_spawn(const SvSpawnSpec *spec, const SvCredsCache *cache, const char *notify_name, int stdin_fd,
                     int stdout_fd, int stderr_fd, int cgroup_fd, pid_t *ret_pid, SvDiag *d);
