/* Binding and holding listening sockets. */
#include "sockvisor/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* A one-line suggestion for a bind() failure. */
static const char *bind_hint(int err, const SvAddr *a) {
        switch (err) {
        case EADDRINUSE:
                if (a->kind == SV_ADDR_UNIX && a->abstract)
                        /* no file, so no lock and no probe: the kernel's bind() is the only judge */
                        return "another socket of this type is bound to that abstract name (see 'ss -xlp'): stop "
                               "that process or choose another name";
                return a->kind == SV_ADDR_UNIX ? "another process is bound to that name"
                                               : "another process holds that port: see 'ss -ltnp' and stop it, or "
                                                 "choose another port";
        case EACCES:
                return a->kind == SV_ADDR_UNIX ? "no permission to create the socket file in that directory"
                                               : "ports below 1024 need root or CAP_NET_BIND_SERVICE";
        case EADDRNOTAVAIL:
                return "that address is not configured on any interface of this machine";
        case ENOENT:
                return "the directory does not exist";
        default:
                return NULL;
        }
}

static const char *socktype_name(int type) {
        switch (type) {
        case SOCK_STREAM:
                return "SOCK_STREAM";
        case SOCK_DGRAM:
                return "SOCK_DGRAM";
        case SOCK_SEQPACKET:
                return "SOCK_SEQPACKET";
        default:
                return "an unknown type";
        }
}

/* The systemd socket unit directive that makes a socket of this family and type. */
static const char *socktype_directive(int family, int type) {
        switch (type) {
        case SOCK_STREAM:
                return "ListenStream=";
        case SOCK_DGRAM:
                return "ListenDatagram=";
        case SOCK_SEQPACKET:
                return family == AF_UNIX ? "ListenSequentialPacket=" : "?";
        default:
                return "?";
        }
}

/* Whether a process still has a socket bound at path, asked with connect() from a socket of
 * the type we are about to bind. Only ECONNREFUSED says "nobody": the file is stale (ENOENT:
 * it went away meanwhile). Everything else means somebody is there or we cannot tell:
 *  - 0, EAGAIN (a full accept queue), EINPROGRESS: a live listener of this type;
 *  - EPROTOTYPE: a live socket of another type (a path names one socket, whatever its type);
 *  - EPERM: a live datagram socket that is connected to another peer refuses our connect,
 *    which a rule "0 means live" would take for stale;
 *  - EACCES and the rest: we cannot tell, so the file is not ours to remove.
 * A datagram connect() sends nothing, so the probe never reaches a live datagram reader. */
static int unix_path_probe(const char *path, int socktype, int *ret_err) {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        int probe = socket(AF_UNIX, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (probe < 0)
                return -errno;
        strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
        int cr = connect(probe, (struct sockaddr *) &sun, sizeof(sun));
        int cerr = cr < 0 ? errno : 0;
        (void) safe_close(probe);
        *ret_err = cerr;
        return cerr == ECONNREFUSED || cerr == ENOENT ? 0 : 1;
}

static int unix_path_prepare(const char *path, int socktype, int *ret_lock_fd, SvDiag *d) {
        char lockpath[sizeof(((struct sockaddr_un *) NULL)->sun_path) + 8];
        struct stat st;

        (void) snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
        int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (lfd < 0) {
                int r = -errno;
                diag_set(d, 0, "cannot create lock file %s: %s", lockpath, strerror(-r));
                return r;
        }
        if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
                int r = -errno;
                (void) safe_close(lfd);
                if (r == -EWOULDBLOCK)
                        diag_set(d, 0, "%s is locked by another process (%s): is another sockvisord using it?",
                                 path, lockpath);
                else
                        diag_set(d, 0, "cannot lock %s: %s", lockpath, strerror(-r));
                return r == -EWOULDBLOCK ? -EBUSY : r;
        }

        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        (void) safe_close(lfd);
                        diag_set(d, 0, "%s exists and is not a socket; remove it or choose another path", path);
                        return -EEXIST;
                }
                /* A socket file may still have a live socket behind it: probe before unlinking. */
                int cerr = 0;
                int live = unix_path_probe(path, socktype, &cerr);
                if (live < 0) {
                        (void) safe_close(lfd);
                        diag_set(d, 0, "cannot create a socket to probe %s: %s", path, strerror(-live));
                        return live;
                }
                if (live) {
                        (void) safe_close(lfd);
                        if (socktype != SOCK_DGRAM && (cerr == 0 || cerr == EAGAIN || cerr == EINPROGRESS))
                                diag_set(d, 0,
                                         "a live process is listening on %s; refusing to remove it (stop that process "
                                         "or choose another path)",
                                         path);
                        else if (cerr == 0 || cerr == EPROTOTYPE || cerr == EPERM)
                                diag_set(d, 0,
                                         "a live process has a socket bound at %s (connect: %s); refusing to remove "
                                         "it (stop that process or choose another path)",
                                         path, cerr ? strerror(cerr) : "a datagram socket is bound there");
                        else
                                diag_set(d, 0,
                                         "cannot tell whether a process has a socket bound at %s (connect: %s); "
                                         "refusing to remove it (remove it yourself if it is stale, or choose "
                                         "another path)",
                                         path, strerror(cerr));
                        return -EADDRINUSE;
                }
                if (unlink(path) < 0 && errno != ENOENT) {
                        int r = -errno;
                        (void) safe_close(lfd);
                        diag_set(d, 0, "cannot remove stale socket file %s: %s", path, strerror(-r));
                        return r;
                }
        }
        *ret_lock_fd = lfd;
        return 0;
}

static int open_socket(const char *what, const SvAddr *a, bool nonblock, int backlog, mode_t mode, int *ret_fd,
                       SvDiag *d) {
        char text[SV_ADDR_STRLEN];
        int fd = socket(a->family, a->socktype | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
        int r;

        sv_addr_format(a, text, sizeof(text));
        if (fd < 0) {
                r = -errno;
                diag_set(d, 0, "%s: cannot create a socket for %s: %s", what, text, strerror(-r));
                return r;
        }
        if (a->family != AF_UNIX) {
                int one = 1;
                if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
                        r = -errno;
                        (void) safe_close(fd);
                        diag_set(d, 0, "%s: cannot set SO_REUSEADDR on %s: %s", what, text, strerror(-r));
                        return r;
                }
        }

        mode_t old = 0;
        bool path = a->family == AF_UNIX && !a->abstract;
        if (path)
                old = umask(~mode & 0777); /* the file is born with the right mode: no chmod race */
        r = bind(fd, (const struct sockaddr *) &a->sa, a->salen) < 0 ? -errno : 0;
        if (path)
                (void) umask(old);
        if (r < 0) {
                const char *hint = bind_hint(-r, a);
                (void) safe_close(fd);
                diag_set(d, 0, "%s: cannot bind %s: %s%s%s", what, text, strerror(-r), hint ? "; " : "",
                         hint ? hint : "");
                return r;
        }
        /* a datagram socket is not listened on; seqpacket ones are, like stream ones */
        if (a->socktype != SOCK_DGRAM && listen(fd, backlog) < 0) {
                r = -errno;
                (void) safe_close(fd);
                diag_set(d, 0, "%s: cannot listen on %s: %s", what, text, strerror(-r));
                return r;
        }
        *ret_fd = fd;
        return 0;
}

int sv_unix_listener_open(const char *path, mode_t mode, int socktype, int backlog, bool nonblock,
                          int *ret_fd, int *ret_lock_fd, SvDiag *d) {
        SvAddr a = { .kind = SV_ADDR_UNIX, .family = AF_UNIX, .socktype = socktype };
        struct sockaddr_un *sun = (struct sockaddr_un *) &a.sa;
        int lfd = -EBADF, fd = -EBADF, r;

        if (strlen(path) >= sizeof(sun->sun_path))
                return diag_set(d, 0, "socket path %s is too long (at most %zu bytes)", path,
                                sizeof(sun->sun_path) - 1);
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        a.salen = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);

        r = unix_path_prepare(path, socktype, &lfd, d);
        if (r < 0)
                return r;
        r = open_socket(path, &a, nonblock, backlog, mode, &fd, d);
        if (r < 0) {
                (void) safe_close(lfd);
                return r;
        }
        *ret_fd = fd;
        *ret_lock_fd = lfd;
        return 0;
}

/* An O_PATH handle on the socket file bind() just created, so that later changes act on
 * that inode and never follow whatever the path names by then. We just created it in a
 * directory we hold the lock for: it must be a socket, and ours. */
static int socket_file_open(const char *what, const char *path, int *ret_fd, SvDiag *d) {
        struct stat st;
        int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                diag_set(d, 0, "%s: cannot open the socket file %s that was just bound: %s", what, path,
                         strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                (void) safe_close(fd);
                diag_set(d, 0, "%s: cannot stat the socket file %s: %s", what, path, strerror(-r));
                return r;
        }
        if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
                (void) safe_close(fd);
                diag_set(d, 0, "%s: %s was replaced right after bind (it is no socket of ours); check who else can "
                         "write its directory", what, path);
                return -EEXIST;
        }
        *ret_fd = fd;
        return 0;
}

/* Whether path still names the inode that path_fd holds. */
static bool socket_file_is_ours(int path_fd, const char *path) {
        struct stat ours, now;
        return path_fd >= 0 && fstat(path_fd, &ours) == 0 && lstat(path, &now) == 0 && ours.st_dev == now.st_dev &&
               ours.st_ino == now.st_ino;
}

int sv_listener_open(const SvSocketConf *sc, SvListener *ret, SvDiag *d) {
        char what[SV_NAME_MAX + 16];
        int fd = -EBADF, lfd = -EBADF, pfd = -EBADF, r;
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        struct stat st;
        SvListener l = { .fd = -EBADF, .lock_fd = -EBADF, .path_fd = -EBADF };

        (void) snprintf(what, sizeof(what), "socket '%s'", sc->name);
        if (sc->addr.kind == SV_ADDR_UNIX && !sc->addr.abstract) {
                const char *path = ((const struct sockaddr_un *) &sc->addr.sa)->sun_path;
                r = unix_path_prepare(path, sc->addr.socktype, &lfd, d);
                if (r < 0) {
                        diag_prefix(d, what);
                        return r;
                }
                l.unlink_on_close = true;
        }
        r = open_socket(what, &sc->addr, !sc->blocking, sc->backlog, sc->mode, &fd, d);
        if (r < 0) {
                (void) safe_close(lfd);
                return r;
        }
        if (l.unlink_on_close) {
                const char *path = ((const struct sockaddr_un *) &sc->addr.sa)->sun_path;
                r = socket_file_open(what, path, &pfd, d);
                if (r < 0) {
                        (void) safe_close(fd);
                        (void) safe_close(lfd);
                        return r; /* the lock is ours: whatever is at path now is left alone */
                }
        }

        l.addr = sc->addr;
        if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == 0 && sc->addr.family != AF_UNIX)
                (void) sv_addr_from_sockaddr((struct sockaddr *) &ss, sslen, sc->addr.socktype, &l.addr);
        if (fstat(fd, &st) == 0)
                l.inode = st.st_ino;
        l.name = strdup(sc->name);
        if (!l.name) {
                (void) safe_close(fd);
                (void) safe_close(lfd);
                (void) safe_close(pfd);
                return -ENOMEM;
        }
        l.fd = fd;
        l.lock_fd = lfd;
        l.path_fd = pfd;
        *ret = l;
        return 0;
}

int sv_listener_adjust(SvListener *l, const SvSocketConf *sc, SvDiag *d) {
        char text[SV_ADDR_STRLEN];
        int r = 0;

        sv_addr_format(&l->addr, text, sizeof(text));
        if (d)
                d->msg[0] = '\0';
        if (l->addr.socktype != SOCK_DGRAM && listen(l->fd, sc->backlog) < 0) {
                r = -errno;
                diag_set(d, 0, "socket '%s': cannot set backlog %d on %s: %s", l->name, sc->backlog, text,
                         strerror(-r));
                return r;
        }
        /* A file status flag, shared with every holder (each generation, the service
         * manager's copy), as it is for systemd's own sockets. */
        int fl = fcntl(l->fd, F_GETFL);
        if (fl < 0 || fcntl(l->fd, F_SETFL, sc->blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0) {
                r = -errno;
                diag_set(d, 0, "socket '%s': cannot make %s %s: %s", l->name, text,
                         sc->blocking ? "blocking" : "non-blocking", strerror(-r));
                return r;
        }
        if (l->path_fd < 0)
                return 0; /* no file of ours: inet, abstract, or passed in by the service manager */

        /* chmod through /proc/self/fd: it acts on the inode we hold, never on what the path
         * names now (fchmod() refuses O_PATH fds). */
        const char *path = ((const struct sockaddr_un *) &l->addr.sa)->sun_path;
        char proc[64];
        (void) snprintf(proc, sizeof(proc), "/proc/self/fd/%d", l->path_fd);
        if (chmod(proc, sc->mode & 07777) < 0) {
                r = -errno;
                diag_set(d, 0, "socket '%s': cannot change the mode of %s to %04o through %s: %s%s", l->name, path,
                         (unsigned) sc->mode, proc, strerror(-r), r == -ENOENT ? " (is /proc mounted?)" : "");
                return r;
        }
        if (!socket_file_is_ours(l->path_fd, path))
                diag_set(d, 0,
                         "socket '%s': %s no longer names the socket sockvisord bound (it was moved, removed or "
                         "replaced); mode %04o was set on the socket itself, and clients that connect by that path "
                         "do not reach it: put the socket file back, or change listen= so that a reload binds it anew",
                         l->name, path, (unsigned) sc->mode);
        return 0;
}

int sv_listener_adopt(const SvSocketConf *sc, int fd, SvListener *ret, SvDiag *d) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int type = 0, family = 0, acc = 0;
        socklen_t il = sizeof(int);
        char want[SV_ADDR_STRLEN], got[SV_ADDR_STRLEN];
        SvAddr a;
        struct stat st;

        sv_addr_format(&sc->addr, want, sizeof(want));
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
                return diag_set(d, 0, "socket '%s': the fd passed in as '%s' is not a socket; expected %s", sc->name,
                                sc->name, want);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &il) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0) {
                int r = -errno;
                diag_set(d, 0, "socket '%s': cannot inspect the fd passed in: %s", sc->name, strerror(-r));
                return r;
        }
        if (type != sc->addr.socktype)
                return diag_set(d, 0,
                                "socket '%s': the service manager passed a %s socket under this name (%s in the socket "
                                "unit), but listen = %s wants a %s socket (%s); make the socket unit and the config "
                                "agree (after changing listen=, 'systemctl stop sockvisord' flushes its fd store)",
                                sc->name, socktype_name(type), socktype_directive(family, type), want,
                                socktype_name(sc->addr.socktype),
                                socktype_directive(sc->addr.family, sc->addr.socktype));
        bool known = sv_addr_from_sockaddr((struct sockaddr *) &ss, sslen, type, &a) == 0;
        if (known)
                sv_addr_format(&a, got, sizeof(got));
        else
                (void) snprintf(got, sizeof(got), "a socket of family %d, type %d", family, type);
        if (!known || type != sc->addr.socktype || family != sc->addr.family || !sv_addr_equal(&a, &sc->addr))
                return diag_set(d, 0,
                                "socket '%s': the service manager passed %s under this name, but listen = %s; make "
                                "the socket unit (ListenStream=/ListenDatagram=/ListenSequentialPacket=, "
                                "FileDescriptorName=) and the config "
                                "agree (after changing listen=, 'systemctl stop sockvisord' flushes its fd store)",
                                sc->name, got, want);
        if (type != SOCK_DGRAM && (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) < 0 || !acc))
                return diag_set(d, 0, "socket '%s': the fd passed in for %s is not listening", sc->name, want);

        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0) /* a file status flag shared with the service manager's copy, as it should be */
                (void) fcntl(fd, F_SETFL, sc->blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK);
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

        SvListener l = { .fd = fd, .lock_fd = -EBADF, .path_fd = -EBADF, .addr = a, .inode = st.st_ino,
                         .adopted = true };
        l.name = strdup(sc->name);
        if (!l.name)
                return -ENOMEM;
        *ret = l;
        return 0;
}

int sv_listener_export(const SvListener *l, char *buf, size_t len) {
        return snprintf(buf, len, "lock %d path %d unlink %d", l->lock_fd, l->path_fd, l->unlink_on_close);
}

int sv_listener_import(const char *name, int fd, unsigned long inode, bool adopted, const char *ext, SvListener *ret,
                       SvDiag *d) {
        struct sockaddr_storage ss;
        socklen_t sslen = sizeof(ss);
        int type = 0, lock_fd, path_fd, unlink_on_close;
        socklen_t il = sizeof(int);
        struct stat st;
        SvAddr a;

        if (sscanf(ext, "lock %d path %d unlink %d", &lock_fd, &path_fd, &unlink_on_close) != 3)
                return diag_set(d, 0, "socket '%s': '%s' says nothing this build understands", name, ext);
        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || (unsigned long) st.st_ino != inode)
                return diag_set(d, 0, "socket '%s': fd %d is no longer the socket with inode %lu", name, fd, inode);
        if ((lock_fd >= 0 && fcntl(lock_fd, F_GETFD) < 0) || (path_fd >= 0 && fcntl(path_fd, F_GETFD) < 0))
                return diag_set(d, 0, "socket '%s': its lock or path fd (%d, %d) did not come through", name, lock_fd,
                                path_fd);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0 ||
            sv_addr_from_sockaddr((struct sockaddr *) &ss, sslen, type, &a) < 0)
                return diag_set(d, 0, "socket '%s': cannot read the address of fd %d", name, fd);
        *ret = (SvListener){ .fd = fd, .lock_fd = lock_fd, .path_fd = path_fd, .addr = a, .inode = st.st_ino,
                             .unlink_on_close = unlink_on_close, .adopted = adopted };
        ret->name = strdup(name);
        return ret->name ? 0 : -ENOMEM;
}

void sv_listener_close(SvListener *l) {
        const char *path = ((struct sockaddr_un *) &l->addr.sa)->sun_path;
        /* Only the file we created: if the path was moved away or replaced, whatever it names
         * now is someone else's (we hold the lock, so no other sockvisord put it there). */
        if (l->unlink_on_close && l->fd >= 0 && socket_file_is_ours(l->path_fd, path))
                (void) unlink(path);
        l->fd = safe_close(l->fd);
        l->lock_fd = safe_close(l->lock_fd);
        l->path_fd = safe_close(l->path_fd);
        free(l->name);
        l->name = NULL;
}
