/* sockvisord's run time: the supervisor wired to sd-event, the sockets, the notify and
 * control sockets, signals and the service manager. */
#pragma once

#include <stdbool.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"

typedef struct SvDaemon SvDaemon;

/* Binds (or adopts from LISTEN_FDS) every socket, opens the notify and control sockets.
 * Takes config, also on failure. Errors say which socket or path failed and why. */
int sv_daemon_new(const char *config_path, SvConfig *config, bool debug, SvDaemon **ret, SvDiag *d);
/* The next image of an upgrade: takes over everything the state memfd describes (the
 * running configuration, sockets, control and notify sockets, workers, jobs). failed is
 * the reason given when this is the previous binary taking back a failed upgrade, else
 * NULL. On failure (d says why) nothing was changed and every fd is still open and
 * inheritable: call sv_daemon_fall_back. */
int sv_daemon_restore(int memfd, const char *failed, SvDaemon **ret, SvDiag *d);
/* Re-executes the previous binary on the same state, to take back an upgrade whose
 * restore failed. Returns only when that is impossible (the reason is logged). */
void sv_daemon_fall_back(int memfd, const char *why);
/* --check-state: parses the state and restores it into a supervisor that touches nothing;
 * what the next image does first, without doing it. */
int sv_daemon_check_state(int memfd, SvDiag *d);
/* Starts the programs and runs until shutdown; returns the exit status. */
int sv_daemon_run(SvDaemon *d);
SvDaemon *sv_daemon_free(SvDaemon *d);
