/* The manager: owns the held sockets, the programs and their instances; feeds events to
 * the state machine and carries out its actions; runs restarts and control commands. */
#pragma once

#include <systemd/sd-event.h>

#include "sockvisor/config.h"
#include "sockvisor/diag.h"

typedef struct SvManager SvManager;

/* Binds every socket, opens the notify and control sockets. Takes ownership of config,
 * also on failure. n_passed fds at 3.. (LISTEN_FDS, named by passed_names) are sockets the
 * service manager passed in: one whose name matches a [socket:NAME] is used instead of
 * binding; the rest are closed. Errors say which socket or path failed and why. */
int sv_manager_new(sd_event *e, const char *config_path, SvConfig *config, int n_passed, char **passed_names,
                   SvManager **ret, SvDiag *d);

/* Re-reads the config file and applies the difference (SIGHUP). A file with errors
 * changes nothing; the error is logged. */
void sv_manager_reload(SvManager *m);

/* Starts every program. */
void sv_manager_start_all(SvManager *m);

/* Stops every program gracefully; the event loop exits with 0 once none is left. */
void sv_manager_shutdown(SvManager *m, const char *why);

SvManager *sv_manager_free(SvManager *m);
