/* The service manager (systemd) side: sd_notify, the fd store, LISTEN_FDS. The only file
 * besides loop.c that calls sd-daemon. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* "READY=1\nSTATUS=..." as is. */
void sv_servicemgr_notify(const char *assignments);
/* Keeps a copy of fd in the fd store (FileDescriptorStoreMax=) under name, so that a
 * restart of sockvisord gets it back in LISTEN_FDS; or drops it from there. */
void sv_servicemgr_fdstore_put(int fd, const char *name);
void sv_servicemgr_fdstore_remove(const char *name);

/* Sockets passed in LISTEN_FDS (socket units, or our own fd store), until used. */
typedef struct SvPassedFds {
        int *fds; /* -EBADF once taken or closed */
        char **names;
        size_t n;
} SvPassedFds;

/* Reads LISTEN_FDS/LISTEN_FDNAMES (and unsets them: nothing we start may take them for
 * its own). A broken LISTEN_FDS is a warning: every socket is bound instead. */
void sv_servicemgr_passed(SvPassedFds *ret);
/* The fd passed under name, taken out of the table; -EBADF when none. */
int sv_passed_take(SvPassedFds *p, const char *name);
void sv_passed_done(SvPassedFds *p);
