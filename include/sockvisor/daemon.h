/* sockvisord's run time: the supervisor wired to sd-event, the sockets, the notify and
 * control sockets, signals and the service manager. */
#pragma once

#include "sockvisor/config.h"
#include "sockvisor/diag.h"

typedef struct SvDaemon SvDaemon;

/* Binds (or adopts from LISTEN_FDS) every socket, opens the notify and control sockets.
 * Takes config, also on failure. Errors say which socket or path failed and why. */
int sv_daemon_new(const char *config_path, SvConfig *config, SvDaemon **ret, SvDiag *d);
/* Starts the programs and runs until shutdown; returns the exit status. */
int sv_daemon_run(SvDaemon *d);
SvDaemon *sv_daemon_free(SvDaemon *d);
