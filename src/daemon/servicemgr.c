/* sd-daemon: notifications, the fd store, passed sockets. */
#include "sockvisor/servicemgr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "sockvisor/config.h"
#include "sockvisor/log.h"
#include "sockvisor/macro.h"

void sv_servicemgr_notify(const char *assignments) {
        (void) sd_notify(0, assignments);
}

void sv_servicemgr_fdstore_put(int fd, const char *name) {
        char msg[SV_NAME_MAX + 32];
        (void) snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        int r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
        if (r > 0)
                log_debug("socket '%s': stored in the service manager's fd store", name);
        else if (r < 0)
                sv_log_errno(LOG_WARNING, r, "socket '%s': cannot store it in the service manager's fd store", name);
}

void sv_servicemgr_fdstore_remove(const char *name) {
        (void) sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

void sv_servicemgr_passed(SvPassedFds *ret) {
        char **names = NULL;
        *ret = (SvPassedFds){};
        int n = sd_listen_fds_with_names(1, &names);
        if (n < 0) {
                sv_log_errno(LOG_WARNING, n, "cannot read LISTEN_FDS; binding every socket");
                n = 0;
        }
        if (n > 0) {
                ret->fds = calloc((size_t) n, sizeof(int));
                ret->names = calloc((size_t) n, sizeof(char *));
                if (!ret->fds || !ret->names) {
                        log_error("out of memory reading LISTEN_FDS; binding every socket");
                        free(ret->fds);
                        free(ret->names);
                        *ret = (SvPassedFds){};
                } else {
                        for (int k = 0; k < n; k++) {
                                ret->fds[k] = SD_LISTEN_FDS_START + k;
                                ret->names[k] = strdup(names && names[k] ? names[k] : "unknown");
                        }
                        ret->n = (size_t) n;
                }
        }
        for (int k = 0; names && names[k]; k++)
                free(names[k]);
        free(names);
}

int sv_passed_take(SvPassedFds *p, const char *name) {
        for (size_t k = 0; k < p->n; k++)
                if (p->fds[k] >= 0 && p->names[k] && strcmp(p->names[k], name) == 0)
                        return TAKE_FD(p->fds[k]);
        return -EBADF;
}

void sv_passed_done(SvPassedFds *p) {
        for (size_t k = 0; k < p->n; k++) {
                (void) safe_close(p->fds[k]);
                free(p->names[k]);
        }
        free(p->fds);
        free(p->names);
        *p = (SvPassedFds){};
}
