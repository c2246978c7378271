/* The control verbs, shared by sockvisorctl and sockvisord. */
#include "sockvisor/ctlverbs.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sockvisor/ctlproto.h"
#include "sockvisor/macro.h"

static const SvVerbInfo verbs[_SV_VERB_MAX] = {
        [SV_VERB_STATUS] = { "status", 0, SIZE_MAX, true, false, "[--json] [NAME...]", "status --json app",
                             "show programs and their instances" },
        [SV_VERB_START] = { "start", 1, SIZE_MAX, false, false, "NAME...|all", "start app",
                            "start programs; waits until they are ready" },
        [SV_VERB_STOP] = { "stop", 1, SIZE_MAX, false, false, "NAME...|all", "stop app",
                           "stop programs (waits for them to drain); cancels a start or restart under way" },
        [SV_VERB_RESTART] = { "restart", 1, SIZE_MAX, false, false, "NAME...|all", "restart app",
                              "replace programs with no dropped connections (starts stopped ones)" },
        [SV_VERB_PID] = { "pid", 0, SIZE_MAX, true, false, "[NAME...|all]", "pid app",
                          "print the daemon's pid, or the pids of programs' instances" },
        [SV_VERB_SIGNAL] = { "signal", 2, SIZE_MAX, true, false, "SIG NAME...", "signal HUP app",
                             "send a signal to programs" },
        [SV_VERB_SOCKETS] = { "sockets", 0, 1, true, false, "[--json]", "sockets --json",
                              "list the held sockets: address, fd, inode, users" },
        [SV_VERB_RELOAD] = { "reload", 0, 0, false, false, "", "reload",
                             "re-read the configuration, apply the difference, wait for what it started" },
        [SV_VERB_SHUTDOWN] = { "shutdown", 0, 0, false, false, "", "shutdown", "stop every program and exit the daemon" },
        [SV_VERB_UPGRADE] = { "upgrade", 0, 2, true, false, "[--exec PATH]", "upgrade --exec /usr/sbin/sockvisord",
                             "re-execute sockvisord in place (a new build): same pid, sockets and workers" },
        [SV_VERB_VERSION] = { "version", 0, 0, true, false, "", "version",
                              "print the client's and the daemon's versions" },
        [SV_VERB_WHY] = { "why", 1, 2, true, true, "[--json] ADDRESS|PORT", "why 8080",
                          "who holds an address, why a bind fails, and the fix (no daemon needed)" },
        [SV_VERB_FETCH] = { "fetch", 1, SV_FETCH_MAX, true, false, "NAME...", "fetch web",
                            "send held sockets over the control socket (SCM_RIGHTS); what exec uses" },
        [SV_VERB_EXEC] = { "exec", 3, SIZE_MAX, true, true, "--socket NAME... -- COMMAND [ARGS...]",
                           "exec --socket web -- /usr/bin/server",
                           "run COMMAND on held sockets (fd 3.., LISTEN_FDS), fetched from sockvisord" },
        [SV_VERB_EVENTS] = { "events", 0, 1, false, false, "[--json]", "events --json",
                             "the state now, then every transition and milestone as it happens, until Ctrl-C" },
        [SV_VERB_LOGFILES] = { "logfiles", 0, SIZE_MAX, true, false, "[NAME...]", "logfiles app",
                               "where programs' stdout and stderr go: a file, the journal, inherited, none" },
        [SV_VERB_TAIL] = { "tail", 1, 5, true, true, "[-f] [-n N] NAME [stdout|stderr]", "tail -f app",
                           "the last lines of a program's log file (-f: and what follows, across rotation)" },
        [SV_VERB_LOGS] = { "logs", 0, SIZE_MAX, true, true, "[-n N] [NAME...]", "logs app",
                           "follow the log files of every program (or those named), each line prefixed" },
};

const SvVerbInfo *sv_verb_info(SvVerb v) {
        return v < _SV_VERB_MAX ? &verbs[v] : NULL;
}

const SvVerbInfo *sv_verb_find(const char *name, SvVerb *ret_verb) {
        for (size_t k = 0; k < ELEMENTSOF(verbs); k++)
                if (strcmp(verbs[k].name, name) == 0) {
                        if (ret_verb)
                                *ret_verb = (SvVerb) k;
                        return &verbs[k];
                }
        return NULL;
}

void sv_verbs_list(char *buf, size_t len, bool daemon_only) {
        size_t o = 0;
        if (len == 0)
                return;
        buf[0] = '\0';
        for (size_t k = 0; k < ELEMENTSOF(verbs) && o < len; k++) {
                if (daemon_only && verbs[k].local)
                        continue;
                int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", verbs[k].name);
                if (n < 0)
                        break;
                o += (size_t) n;
        }
}
