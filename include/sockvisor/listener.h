/* Listening sockets: bind once at start-up, hold until exit. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "sockvisor/addr.h"
#include "sockvisor/config.h"
#include "sockvisor/diag.h"

typedef struct SvListener {
        int fd;             /* CLOEXEC; the worker gets a dup at 3.. */
        int lock_fd;        /* unix path sockets: flock on "<path>.lock" */
        int path_fd;        /* unix path sockets we bound: O_PATH|O_NOFOLLOW handle on the socket file */
        char *name;         /* [socket:NAME] */
        SvAddr addr;        /* the address actually bound (port 0 resolved) */
        ino_t inode;        /* socket inode, shown by status and used by tests */
        bool unlink_on_close;
        bool adopted;       /* passed in by the service manager, not bound by us */
} SvListener;

/* Binds and listens as sc says: SO_REUSEADDR for inet, CLOEXEC, non-blocking unless
 * sc->blocking. For unix path sockets: takes "<path>.lock" (so two daemons cannot fight
 * over a path), refuses to unlink a path where a live process still listens, removes a
 * stale socket file, and binds with the umask set so the file is born with sc->mode.
 * Errors name the socket, the address, the reason and, where one is known, the fix. */
int sv_listener_open(const SvSocketConf *sc, SvListener *ret, SvDiag *d);

/* Uses fd, passed in by the service manager (LISTEN_FDS, matched by name), instead of
 * binding: checks that it is a socket of sc's type and family, bound to sc's address, and
 * listening (stream); sets non-blocking as sc says. Takes fd on success only. A mismatch
 * is an error saying what the fd is and what the config expects. */
int sv_listener_adopt(const SvSocketConf *sc, int fd, SvListener *ret, SvDiag *d);

/* A unix stream listener for the daemon's own control socket, with the same hygiene. */
int sv_unix_listener_open(const char *path, mode_t mode, int socktype, int backlog, bool nonblock,
                          int *ret_fd, int *ret_lock_fd, SvDiag *d);

/* Applies what a reload may change in place, on the same fd: sc->backlog (listen() again,
 * stream sockets), O_NONBLOCK as sc->blocking says (a file status flag: it changes for
 * every holder), and for a unix path socket we bound, sc->mode on the socket file we
 * created, through the O_PATH handle: never through the path, which whoever can write the
 * directory may have pointed elsewhere (a symlink planted there is not followed). When the
 * path no longer names our socket, returns 0 with a warning in d (d->msg is empty when
 * there is nothing to say). Negative errno when something could not be applied (d says
 * what); what came before it is applied. */
int sv_listener_adjust(SvListener *l, const SvSocketConf *sc, SvDiag *d);

/* Upgrade: what besides the fd the next image needs ("lock 7 path 8 unlink 1"), and the
 * listener rebuilt from it around fd. Import checks that every fd is still what it was
 * (fd a socket with that inode, the others open) and changes none of them. */
int sv_listener_export(const SvListener *l, char *buf, size_t len);
int sv_listener_import(const char *name, int fd, unsigned long inode, bool adopted, const char *ext, SvListener *ret,
                       SvDiag *d);

/* Closes the socket; removes a unix socket file that this process created, if the path
 * still names it. */
void sv_listener_close(SvListener *l);
