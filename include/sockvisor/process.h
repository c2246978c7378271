/* Starting a worker from the supervisor's SvSpawnSpec: who it runs as (NSS), its
 * environment, its output, then spawn.c's fork and exec. */
#pragma once

#include <sys/types.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"
#include "sockvisor/supervisor.h"

/* notify_name: NOTIFY_SOCKET for the worker; stdin_fd: its fd 0 (/dev/null). */
int sv_process_spawn(const SvSpawnSpec *spec, const char *notify_name, int stdin_fd, pid_t *ret_pid, SvDiag *d);

/* Every user= and group= of cfg names an existing user and group, and the daemon may
 * switch to them; the error is ORIGIN:LINE: [program:NAME] ... (a config error). */
int sv_config_check_users(const SvConfig *cfg, SvDiag *d);
