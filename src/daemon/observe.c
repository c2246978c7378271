/* Readiness and drain by observation: /proc/PID/{fd,fdinfo,task/TID/syscall} and the
 * process's memory (process_vm_readv) say whether a worker waits on its socket; sock_diag
 * says which of its sockets are connections accepted from it. The parsers are pure and at
 * the top; the decisions take what they read and nothing else. */
#include "sockvisor/observe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockvisor/doctor.h"
#include "sockvisor/macro.h"

/* Listener fds one process may hold (dups included) and eventpoll fds read per process:
 * past these, the rest of the process's fds are not looked at. */
#define FDS_MAX 256
#define EPFDS_MAX 1024
/* Other socket fds of one process looked at for a connection accepted from a listener. */
#define OTHERS_MAX 256

/* ---------------------------------------------------------------- parsers (pure) */

int sv_observe_parse_syscall(const char *line, long *ret_nr, uint64_t ret_args[6]) {
        uint64_t args[6];
        char *end;
        long nr;

        if (!line || strncmp(line, "running", 7) == 0)
                return 0;
        errno = 0;
        nr = strtol(line, &end, 10);
        if (end == line || errno != 0 || nr < 0) /* "-1 SP PC": blocked outside a syscall */
                return 0;
        for (size_t k = 0; k < ELEMENTSOF(args); k++) {
                const char *p = end;
                while (*p == ' ')
                        p++;
                if (p[0] != '0' || p[1] != 'x')
                        return 0;
                errno = 0;
                args[k] = strtoull(p, &end, 16);
                if (end == p || errno != 0)
                        return 0;
        }
        *ret_nr = nr;
        memcpy(ret_args, args, sizeof(args));
        return 1;
}

int sv_observe_parse_tfd(const char *line, int *ret_tfd, uint32_t *ret_events, uint64_t *ret_ino) {
        const char *ev, *ino;
        char *end;
        long tfd;
        unsigned long events;
        unsigned long long i;

        if (strncmp(line, "tfd:", 4) != 0)
                return 0;
        errno = 0;
        tfd = strtol(line + 4, &end, 10);
        if (end == line + 4 || errno != 0 || tfd < 0 || tfd > INT32_MAX)
                return 0;
        ev = strstr(end, "events:");
        ino = strstr(end, " ino:");
        if (!ev || !ino)
                return 0;
        errno = 0;
        events = strtoul(ev + 7, &end, 16);
        if (end == ev + 7 || errno != 0 || events > UINT32_MAX)
                return 0;
        errno = 0;
        i = strtoull(ino + 5, &end, 16);
        if (end == ino + 5 || errno != 0)
                return 0;
        *ret_tfd = (int) tfd;
        *ret_events = (uint32_t) events;
        *ret_ino = (uint64_t) i;
        return 1;
}

/* ---------------------------------------------------------------- /proc helpers */

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* The process went away or is not ours to read: skip it, it is no error. */
static bool skippable(int r) {
        return r == -ENOENT || r == -ESRCH || r == -EACCES || r == -EPERM;
}

static DIR *opendir_at(int dirfd, const char *name) {
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        DIR *d = fdopendir(fd);
        if (!d)
                (void) safe_close(fd); /* keeps errno for the caller */
        return d;
}

static int open_pid_dir(pid_t pid) {
        char path[32];
        (void) snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* A small /proc file at dirfd/name into buf, NUL-terminated; returns its length or -errno. */
static ssize_t read_small_at(int dirfd, const char *name, char *buf, size_t len) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t l;

        if (fd < 0)
                return -errno;
        do
                l = read(fd, buf, len - 1);
        while (l < 0 && errno == EINTR);
        if (l < 0)
                return -errno;
        buf[l] = '\0';
        return l;
}

static bool is_number(const char *s) {
        if (*s < '0' || *s > '9')
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* ---------------------------------------------------------------- tree */

/* Appends the pids in dirfd/name (a children file: "PID PID ... ") to v while *n < cap. */
static int read_children(int dirfd, const char *name, pid_t *v, size_t *n, size_t cap) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        char buf[1024];
        long cur = -1;

        if (fd < 0)
                return -errno;
        while (*n < cap) {
                ssize_t l = read(fd, buf, sizeof(buf));
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (l == 0)
                        break;
                for (ssize_t k = 0; k < l && *n < cap; k++) {
                        if (buf[k] >= '0' && buf[k] <= '9') {
                                cur = (cur < 0 ? 0 : cur) * 10 + (buf[k] - '0');
                                if (cur > INT32_MAX)
                                        return -EBADMSG;
                        } else if (cur >= 0) {
                                v[(*n)++] = (pid_t) cur;
                                cur = -1;
                        }
                }
        }
        if (cur > 0 && *n < cap)
                v[(*n)++] = (pid_t) cur;
        return 0;
}

/* Every thread of pid can have children of its own: read them all. */
static int add_children(pid_t pid, pid_t *v, size_t *n, size_t cap) {
        char path[48];
        struct dirent *de;

        (void) snprintf(path, sizeof(path), "/proc/%d/task", (int) pid);
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? -ESRCH : -errno;
        while (*n < cap && (de = readdir(d))) {
                char name[300];
                if (!is_number(de->d_name))
                        continue;
                (void) snprintf(name, sizeof(name), "%s/children", de->d_name);
                int r = read_children(dirfd(d), name, v, n, cap);
                if (r < 0 && !skippable(r))
                        return r;
        }
        return 0;
}

int sv_observe_tree(pid_t root, pid_t *ret, size_t cap) {
        size_t n = 0;

        if (root <= 0 || !ret || cap == 0)
                return -EINVAL;
        if (cap > INT32_MAX)
                cap = INT32_MAX;
        ret[n++] = root;
        /* Breadth first; ret is the queue. A descendant that exits meanwhile is skipped: its
         * children are reparented away from the tree anyway. */
        for (size_t i = 0; i < n && n < cap; i++) {
                int r = add_children(ret[i], ret, &n, cap);
                if (r < 0 && (i == 0 || !skippable(r)))
                        return r == -ENOENT ? -ESRCH : r;
        }
        return (int) n;
}

/* ---------------------------------------------------------------- accepting */

typedef struct FdSock {
        int fd;
        size_t sock;
} FdSock;

typedef struct Proc {
        pid_t pid;
        int dirfd; /* /proc/PID */
        FdSock fds[FDS_MAX];
        size_t n_fds;
        int epfds[EPFDS_MAX];
        size_t n_epfds;
        int others[OTHERS_MAX]; /* socket fds that are none of the listeners */
        size_t n_others;
} Proc;

static ssize_t sock_index(const SvObserveSocket *socks, size_t n, uint64_t ino) {
        if (ino == 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (socks[i].inode == ino)
                        return (ssize_t) i;
        return -1;
}

static const FdSock *fd_lookup(const Proc *p, int fd) {
        for (size_t k = 0; k < p->n_fds; k++)
                if (p->fds[k].fd == fd)
                        return &p->fds[k];
        return NULL;
}

/* The process's fd number for socks[sock], or fallback when it holds none. */
static int fd_of_sock(const Proc *p, size_t sock, int fallback) {
        for (size_t k = 0; k < p->n_fds; k++)
                if (p->fds[k].sock == sock)
                        return p->fds[k].fd;
        return fallback;
}

/* One pass over /proc/PID/fd: which fds are one of socks, which are eventpoll fds. */
static int scan_fds(Proc *p, const SvObserveSocket *socks, size_t n) {
        static const char eventpoll[] = "anon_inode:[eventpoll]";
        struct dirent *de;

        _cleanup_closedir_ DIR *d = opendir_at(p->dirfd, "fd");
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char link[64];
                ssize_t l;
                if (!is_number(de->d_name))
                        continue;
                l = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
                if (l < 0)
                        continue; /* closed meanwhile */
                int fd = atoi(de->d_name);
                ssize_t i = sock_index(socks, n, sv_doctor_parse_socket_link(link, (size_t) l));
                if (i >= 0 && p->n_fds < FDS_MAX)
                        p->fds[p->n_fds++] = (FdSock) { .fd = fd, .sock = (size_t) i };
                else if (i < 0 && l > 8 && memcmp(link, "socket:[", 8) == 0 && p->n_others < OTHERS_MAX)
                        p->others[p->n_others++] = fd;
                else if ((size_t) l == sizeof(eventpoll) - 1 && memcmp(link, eventpoll, (size_t) l) == 0 &&
                         p->n_epfds < EPFDS_MAX)
                        p->epfds[p->n_epfds++] = fd;
        }
        return 0;
}

/* Whether the eventpoll fd epfd of p has one of socks registered for input; 1 and the
 * match, 0, or -errno. Read by lines, at most SV_OBSERVE_FDINFO_MAX bytes. */
static int scan_epoll(const Proc *p, int epfd, const SvObserveSocket *socks, size_t n, size_t *ret_sock,
                      int *ret_tfd) {
        char name[32], buf[4096 + 1];
        size_t have = 0, total = 0;
        bool eof = false;

        (void) snprintf(name, sizeof(name), "fdinfo/%d", epfd);
        _cleanup_close_ int fd = openat(p->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (!eof && total < SV_OBSERVE_FDINFO_MAX) {
                ssize_t l = read(fd, buf + have, sizeof(buf) - 1 - have);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (l == 0) {
                        eof = true;
                        if (have == 0)
                                break;
                        buf[have++] = '\n'; /* the last line without its newline */
                }
                total += (size_t) l;
                have += (size_t) l;
                buf[have] = '\0';

                char *line = buf, *nl;
                while ((nl = memchr(line, '\n', (size_t) (buf + have - line)))) {
                        int tfd;
                        uint32_t events;
                        uint64_t ino;
                        *nl = '\0';
                        if (sv_observe_parse_tfd(line, &tfd, &events, &ino) == 1 && (events & EPOLLIN)) {
                                ssize_t i = sock_index(socks, n, ino);
                                if (i >= 0) {
                                        *ret_sock = (size_t) i;
                                        *ret_tfd = tfd;
                                        return 1;
                                }
                        }
                        line = nl + 1;
                }
                have -= (size_t) (line - buf);
                memmove(buf, line, have);
                if (have == sizeof(buf) - 1)
                        have = 0; /* a line longer than any tfd line: not one, drop it */
        }
        return 0;
}

typedef enum WaitKind {
        WAIT_ACCEPT,
        WAIT_POLL,
        WAIT_SELECT,
} WaitKind;

typedef struct WaitCall {
        long nr;
        const char *name;
        const char *how;
        WaitKind kind;
} WaitCall;

/* epoll_wait/epoll_pwait/epoll_pwait2 are not here: what an epoll set waits on is read from
 * its registrations, in or out of epoll_wait. Some architectures (aarch64) have no accept,
 * poll or select syscall: their libc uses accept4, ppoll and pselect6. */
static const WaitCall wait_calls[] = {
#ifdef SYS_accept
        { SYS_accept, "accept", "accept", WAIT_ACCEPT },
#endif
        { SYS_accept4, "accept4", "accept", WAIT_ACCEPT },
#ifdef SYS_poll
        { SYS_poll, "poll", "poll", WAIT_POLL },
#endif
        { SYS_ppoll, "ppoll", "poll", WAIT_POLL },
#ifdef SYS_select
        { SYS_select, "select", "select", WAIT_SELECT },
#endif
        { SYS_pselect6, "pselect6", "select", WAIT_SELECT },
};

static const WaitCall *wait_call(long nr) {
        for (size_t k = 0; k < ELEMENTSOF(wait_calls); k++)
                if (wait_calls[k].nr == nr)
                        return &wait_calls[k];
        return NULL;
}

/* The calls an event loop sleeps in between two pieces of work, besides wait_calls. */
static const long epoll_waits[] = {
#ifdef SYS_epoll_wait
        SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait2
        SYS_epoll_pwait2,
#endif
        SYS_epoll_pwait,
};

bool sv_observe_waits_for_work(pid_t pid) {
        char path[64], line[256];
        long nr;
        uint64_t a[6];
        (void) snprintf(path, sizeof(path), "/proc/%d/syscall", (int) pid);
        if (read_small_at(AT_FDCWD, path, line, sizeof(line)) < 0 || sv_observe_parse_syscall(line, &nr, a) != 1)
                return false;
        if (wait_call(nr))
                return true;
        for (size_t k = 0; k < ELEMENTSOF(epoll_waits); k++)
                if (epoll_waits[k] == nr)
                        return true;
        return false;
}

bool sv_observe_stopped(pid_t pid) {
        char path[64], buf[512];
        (void) snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        if (read_small_at(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
                return true; /* gone */
        const char *e = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
        if (!e || e[1] != ' ')
                return true; /* unreadable: nothing to wait for */
        return e[2] == 'T' || e[2] == 't' || e[2] == 'Z';
}

static int read_mem(pid_t pid, uint64_t addr, void *buf, size_t len) {
        struct iovec local = { .iov_base = buf, .iov_len = len };
        struct iovec remote = { .iov_base = (void *) (uintptr_t) addr, .iov_len = len };
        ssize_t r = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (r < 0)
                return -errno;
        return (size_t) r == len ? 0 : -EFAULT;
}

/* poll/ppoll(fds, nfds, ...): the first pollfd asking for input on one of p's listener fds. */
static const FdSock *match_poll(const Proc *p, uint64_t addr, uint64_t nfds) {
        struct pollfd chunk[256];

        if (addr == 0)
                return NULL;
        if (nfds > SV_OBSERVE_POLL_MAX)
                nfds = SV_OBSERVE_POLL_MAX;
        for (uint64_t done = 0; done < nfds;) {
                size_t k = (size_t) (nfds - done < ELEMENTSOF(chunk) ? nfds - done : ELEMENTSOF(chunk));
                if (read_mem(p->pid, addr + done * sizeof(struct pollfd), chunk, k * sizeof(struct pollfd)) < 0)
                        return NULL;
                for (size_t j = 0; j < k; j++) {
                        const FdSock *f;
                        if ((chunk[j].events & (POLLIN | POLLRDNORM)) && (f = fd_lookup(p, chunk[j].fd)))
                                return f;
                }
                done += k;
        }
        return NULL;
}

/* select/pselect6(nfds, readfds, ...): a listener fd of p in the read set. The kernel writes
 * the result back only when the call returns, so while blocked the set is the one asked. */
static const FdSock *match_select(const Proc *p, uint64_t nfds, uint64_t readfds) {
        enum { BITS = 8 * sizeof(unsigned long) };
        unsigned long set[SV_OBSERVE_POLL_MAX / BITS];

        if (readfds == 0 || nfds == 0)
                return NULL;
        if (nfds > SV_OBSERVE_POLL_MAX)
                nfds = SV_OBSERVE_POLL_MAX;
        size_t words = (size_t) ((nfds + BITS - 1) / BITS);
        if (read_mem(p->pid, readfds, set, words * sizeof(unsigned long)) < 0)
                return NULL;
        for (size_t k = 0; k < p->n_fds; k++) {
                int fd = p->fds[k].fd;
                if ((uint64_t) fd < nfds && (set[fd / BITS] & (1UL << (fd % BITS))))
                        return &p->fds[k];
        }
        return NULL;
}

/* Threads of p blocked in accept, poll or select on one of its listener fds. */
static int scan_tasks(const Proc *p, SvObservation *ret) {
        struct dirent *de;

        _cleanup_closedir_ DIR *d = opendir_at(p->dirfd, "task");
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char name[300], line[256];
                long nr;
                uint64_t a[6];
                const WaitCall *c;
                const FdSock *f = NULL;

                if (!is_number(de->d_name))
                        continue;
                (void) snprintf(name, sizeof(name), "%s/syscall", de->d_name);
                if (read_small_at(dirfd(d), name, line, sizeof(line)) < 0)
                        continue; /* the thread exited, or we may not read it */
                if (sv_observe_parse_syscall(line, &nr, a) != 1 || !(c = wait_call(nr)))
                        continue;
                switch (c->kind) {
                case WAIT_ACCEPT:
                        f = a[0] <= INT32_MAX ? fd_lookup(p, (int) a[0]) : NULL;
                        break;
                case WAIT_POLL:
                        f = match_poll(p, a[0], a[1]);
                        break;
                case WAIT_SELECT:
                        f = match_select(p, a[0], a[1]);
                        break;
                }
                if (f) {
                        *ret = (SvObservation) {
                                .pid = p->pid,
                                .fd = f->fd,
                                .how = c->how,
                                .socket = f->sock,
                                .tid = (pid_t) atoi(de->d_name),
                                .call = c->name,
                        };
                        return 1;
                }
        }
        return 0;
}

/* Whether an accepted socket whose local address is family/port/ip (4 or 16 bytes) came
 * from listener a: the listener's own address or, for a wildcard listener, any of its port. */
static bool listener_covers(const SvAddr *a, int family, unsigned port, const void *ip) {
        if (a->family != family || sv_addr_port(a) != port)
                return false;
        if (family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *) &a->sa;
                return sin->sin_addr.s_addr == htonl(INADDR_ANY) || memcmp(&sin->sin_addr, ip, 4) == 0;
        }
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &a->sa;
        return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) || memcmp(&sin6->sin6_addr, ip, 16) == 0;
}

/* The local address of fd (a copy of one of a worker's sockets) when it is connected and
 * not listening: what tells an accepted connection. */
static bool connected_local(int fd, struct sockaddr_storage *ss, socklen_t *sl) {
        struct sockaddr_storage peer;
        socklen_t pl = sizeof(peer);
        int listening = 0;
        socklen_t ll = sizeof(listening);
        *sl = sizeof(*ss);
        return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) == 0 && !listening &&
               getsockname(fd, (struct sockaddr *) ss, sl) == 0 && getpeername(fd, (struct sockaddr *) &peer, &pl) == 0;
}

/* Whether a connection with local address ss was accepted from a (an accepted unix socket
 * has its listener's name). */
static bool accepted_from(const struct sockaddr_storage *ss, socklen_t sl, const SvAddr *a) {
        switch (ss->ss_family) {
        case AF_UNIX:
                return a->family == AF_UNIX && sl == a->salen && memcmp(ss, &a->sa, sl) == 0;
        case AF_INET: {
                const struct sockaddr_in *m = (const struct sockaddr_in *) ss;
                return listener_covers(a, AF_INET, ntohs(m->sin_port), &m->sin_addr);
        }
        case AF_INET6: {
                const struct sockaddr_in6 *m = (const struct sockaddr_in6 *) ss;
                return listener_covers(a, AF_INET6, ntohs(m->sin6_port), &m->sin6_addr);
        }
        }
        return false;
}

/* Counts the connections accepted from socks among p's other socket fds into *count (all of
 * them), or stops at the first and fills ret (count NULL). Each fd is looked at on a copy
 * (pidfd_getfd), read once against every listener. */
static int count_served(const Proc *p, const SvObserveSocket *socks, size_t n, SvObservation *ret,
                        unsigned *count) {
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
        if (p->n_others == 0)
                return 0;
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, p->pid, 0);
        if (pidfd < 0)
                return -errno;
        for (size_t k = 0; k < p->n_others; k++) {
                _cleanup_close_ int copy = (int) syscall(SYS_pidfd_getfd, pidfd, p->others[k], 0);
                if (copy < 0) {
                        if (errno == EBADF)
                                continue; /* closed since the scan */
                        return -errno;
                }
                struct sockaddr_storage ss;
                socklen_t sl;
                if (!connected_local(copy, &ss, &sl))
                        continue;
                for (size_t i = 0; i < n; i++) {
                        if (!socks[i].inode || !accepted_from(&ss, sl, &socks[i].addr))
                                continue;
                        if (count) {
                                ++*count;
                                break;
                        }
                        *ret = (SvObservation) {
                                .pid = p->pid,
                                .fd = p->others[k],
                                .how = "serving",
                                .socket = i,
                                .call = "accept",
                        };
                        return 1;
                }
        }
#endif
        return 0;
}

/* A busy server is seldom caught waiting: it is on the CPU, where /proc says "running", or
 * in read() and write(). One that holds a connection accepted from its listener has
 * accepted, just as surely. Each candidate is looked at on a copy of the fd (pidfd_getfd),
 * which stays atomic where a walk of the kernel's tables would race with short
 * connections; the copy is closed at once (it delays nothing but a close of that instant
 * by microseconds). 1 and the match, 0, or -errno. */
static int scan_served(const Proc *p, const SvObserveSocket *socks, size_t n, SvObservation *ret) {
        return count_served(p, socks, n, ret, NULL);
}

static void proc_freep(Proc **p) {
        if (*p) {
                (void) safe_close((*p)->dirfd);
                free(*p);
        }
}

/* /proc/PID opened and its fds scanned against socks, into *ret (about 8 KiB: on the heap
 * rather than the caller's stack; proc_freep frees it). */
static int proc_load(pid_t pid, const SvObserveSocket *socks, size_t n, Proc **ret) {
        int dfd = open_pid_dir(pid);
        if (dfd < 0)
                return dfd;
        Proc *p = malloc(sizeof(Proc));
        if (!p) {
                (void) safe_close(dfd);
                return -ENOMEM;
        }
        p->pid = pid;
        p->dirfd = dfd;
        p->n_fds = p->n_epfds = p->n_others = 0;
        int r = scan_fds(p, socks, n);
        if (r < 0) {
                proc_freep(&p);
                return r;
        }
        *ret = p;
        return 0;
}

static int observe_one(pid_t pid, const SvObserveSocket *socks, size_t n, SvObservation *ret) {
        _cleanup_(proc_freep) Proc *p = NULL;
        int r = proc_load(pid, socks, n, &p);
        if (r < 0)
                return r;
        for (size_t k = 0; k < p->n_epfds; k++) {
                size_t sock = 0;
                int tfd = -1;
                r = scan_epoll(p, p->epfds[k], socks, n, &sock, &tfd);
                if (r == 1) {
                        *ret = (SvObservation) {
                                .pid = pid,
                                .fd = fd_of_sock(p, sock, tfd),
                                .how = "epoll",
                                .socket = sock,
                                .call = "epoll_ctl",
                        };
                        return 1;
                }
                if (r < 0 && !skippable(r))
                        return r;
        }
        /* accept, poll and select take the process's own fds: without a listener fd there
         * is nothing to wait on. */
        if (p->n_fds == 0)
                return 0;
        r = scan_tasks(p, ret);
        if (r != 0)
                return r;
        return scan_served(p, socks, n, ret);
}

int sv_observe_accepting(pid_t root, const SvObserveSocket *socks, size_t n, SvObservation *ret) {
        pid_t pids[SV_OBSERVE_TREE_MAX];
        int np;

        if (!socks && n > 0)
                return -EINVAL;
        np = sv_observe_tree(root, pids, ELEMENTSOF(pids));
        if (np < 0)
                return np;
        for (int i = 0; i < np; i++) {
                SvObservation o;
                int r = observe_one(pids[i], socks, n, &o);
                if (r < 0 && !skippable(r))
                        return r;
                if (r == 1) {
                        if (ret)
                                *ret = o;
                        return 1;
                }
        }
        return 0;
}

/* ---------------------------------------------------------------- connections */

typedef struct Inodes {
        uint64_t *v;
        size_t n, cap;
} Inodes;

static int inodes_add(Inodes *in, uint64_t ino) {
        if (in->n == in->cap) {
                if (in->cap >= SV_OBSERVE_INODES_MAX)
                        return -E2BIG;
                size_t c = in->cap ? in->cap * 2 : 64;
                uint64_t *v = realloc(in->v, c * sizeof(uint64_t));
                if (!v)
                        return -ENOMEM;
                in->v = v;
                in->cap = c;
        }
        in->v[in->n++] = ino;
        return 0;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static bool inodes_has(const Inodes *in, uint64_t ino) {
        return ino != 0 && in->n > 0 && bsearch(&ino, in->v, in->n, sizeof(uint64_t), cmp_u64);
}

/* The socket inodes pid holds, but for the listeners' own. */
static int collect_inodes(pid_t pid, const SvObserveSocket *socks, size_t n, Inodes *in) {
        char path[48];
        struct dirent *de;

        (void) snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        _cleanup_closedir_ DIR *d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char link[64];
                ssize_t l;
                uint64_t ino;
                if (!is_number(de->d_name))
                        continue;
                l = readlinkat(dirfd(d), de->d_name, link, sizeof(link));
                if (l < 0 || (ino = sv_doctor_parse_socket_link(link, (size_t) l)) == 0 || sock_index(socks, n, ino) >= 0)
                        continue;
                int r = inodes_add(in, ino);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* What the unix dump says about one listener of socks, to match its connections with. */
typedef struct UnixName {
        bool seen, has_vfs;
        uint64_t vfs_ino;
        uint32_t vfs_dev;
        bool abstract;
        char path[SV_SOCK_PATH_MAX + 1];
} UnixName;

typedef struct Count {
        const SvObserveSocket *socks;
        size_t n;
        const Inodes *tree;
        unsigned count;
        UnixName *names;  /* [n], unix dump only */
        SvSockRec *cand;  /* tree sockets with a name, unix dump only */
        size_t n_cand, cap_cand;
        size_t n_unix;    /* tree sockets the unix dump listed */
} Count;

static bool is_stream_unix(const SvAddr *a) {
        return a->kind == SV_ADDR_UNIX && (a->socktype == SOCK_STREAM || a->socktype == SOCK_SEQPACKET);
}

/* A TCP connection accepted from socks[i]: same family and port, and the listener's address
 * or, for a wildcard listener, any. */
static bool tcp_accepted_from(const SvAddr *a, const SvSockRec *r) {
        return a->kind == SV_ADDR_TCP && listener_covers(a, r->family, r->lport, r->laddr);
}

static int tcp_cb(const SvSockRec *r, void *userdata) {
        Count *c = userdata;

        if (r->state == SV_TCP_LISTEN || !inodes_has(c->tree, r->inode))
                return 0;
        for (size_t i = 0; i < c->n; i++)
                if (c->socks[i].inode != 0 && tcp_accepted_from(&c->socks[i].addr, r)) {
                        c->count++;
                        break;
                }
        return 0;
}

static int unix_cb(const SvSockRec *r, void *userdata) {
        Count *c = userdata;
        ssize_t i = sock_index(c->socks, c->n, r->inode);

        if (i >= 0) {
                UnixName *u = &c->names[i];
                *u = (UnixName) { .seen = true, .has_vfs = r->has_vfs, .vfs_ino = r->vfs_ino, .vfs_dev = r->vfs_dev,
                                  .abstract = r->abstract };
                memcpy(u->path, r->path, sizeof(u->path));
                return 0;
        }
        if (!inodes_has(c->tree, r->inode))
                return 0;
        c->n_unix++; /* each inode comes once in a dump */
        if (r->state == SV_TCP_LISTEN || !r->has_name)
                return 0;
        if (c->n_cand == c->cap_cand) {
                size_t nc = c->cap_cand ? c->cap_cand * 2 : 8;
                SvSockRec *v = realloc(c->cand, nc * sizeof(SvSockRec));
                if (!v)
                        return -ENOMEM;
                c->cand = v;
                c->cap_cand = nc;
        }
        c->cand[c->n_cand++] = *r;
        return 0;
}

/* An accepted unix socket carries its listener's address (and path) in the kernel. The
 * listener's own record says what that is; without one, the configured address does. */
static bool unix_accepted_from(const SvAddr *a, const UnixName *u, const SvSockRec *r) {
        if (!is_stream_unix(a) || a->socktype != r->socktype)
                return false;
        if (u->seen) {
                if (u->has_vfs && r->has_vfs)
                        return u->vfs_ino == r->vfs_ino && u->vfs_dev == r->vfs_dev;
                return u->abstract == r->abstract && strcmp(u->path, r->path) == 0;
        }
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &a->sa;
        if (a->abstract) {
                size_t len = a->salen - offsetof(struct sockaddr_un, sun_path) - 1;
                return r->abstract && strlen(r->path) == len && memcmp(r->path, sun->sun_path + 1, len) == 0;
        }
        return !r->abstract && strcmp(r->path, sun->sun_path) == 0;
}

/* One SOCK_DIAG_BY_FAMILY dump: AF_UNIX, or tcp of one family filtered by local port in the
 * kernel (and never LISTEN, TIME_WAIT or request sockets: none of them has an fd); with
 * listeners, only the listening sockets, with their queues (metrics). The
 * kernel answers a dump at once (the first part on send, each next one on the recv before
 * it), so MSG_DONTWAIT never waits; EAGAIN would mean something unforeseen. */
static int sockdiag_dump(int family, unsigned port, bool listeners, uint8_t *buf, size_t buflen,
                         int (*cb)(const SvSockRec *r, void *userdata), void *userdata) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        struct {
                struct nlmsghdr nlh;
                union {
                        struct inet_diag_req_v2 inet;
                        struct unix_diag_req unix;
                };
        } req;
        size_t req_len;

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        memset(&req, 0, sizeof(req));
        req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nlh.nlmsg_seq = 1;
        if (family == AF_UNIX) {
                req.unix.sdiag_family = AF_UNIX;
                req.unix.udiag_states = listeners ? 1U << SV_TCP_LISTEN : ~0U;
                req.unix.udiag_show = listeners ? UDIAG_SHOW_RQLEN : UDIAG_SHOW_NAME | UDIAG_SHOW_VFS;
                req_len = NLMSG_LENGTH(sizeof(req.unix));
        } else {
                req.inet.sdiag_family = (uint8_t) family;
                req.inet.sdiag_protocol = IPPROTO_TCP;
                req.inet.idiag_states = listeners ? 1U << SV_TCP_LISTEN
                                                  : ~0U & ~((1U << SV_TCP_LISTEN) | (1U << SV_TCP_TIME_WAIT) |
                                                            (1U << SV_TCP_NEW_SYN_RECV));
                req.inet.id.idiag_sport = htons((uint16_t) port);
                req_len = NLMSG_LENGTH(sizeof(req.inet));
        }
        req.nlh.nlmsg_len = (uint32_t) req_len;
        if (sendto(fd, &req, req_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;
        for (;;) {
                ssize_t l = recv(fd, buf, buflen, MSG_DONTWAIT);
                if (l < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (l == 0)
                        return -EPROTO;
                int r = sv_sockdiag_walk(buf, (size_t) l, family, IPPROTO_TCP, cb, userdata);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
}

static bool tcp_dump_dup(const SvObserveSocket *socks, size_t i) {
        const SvAddr *a = &socks[i].addr;
        for (size_t j = 0; j < i; j++)
                if (socks[j].inode != 0 && socks[j].addr.kind == SV_ADDR_TCP && socks[j].addr.family == a->family &&
                    sv_addr_port(&socks[j].addr) == sv_addr_port(a))
                        return true;
        return false;
}

/* The unix dump first: it is cheap (the unix sockets of the namespace), while a tcp dump
 * walks the kernel's whole established hash table even when filtered by port (about 2 ms
 * here, with nothing in it). When every socket of the tree is a unix one (socketpairs,
 * a journal stream on stdout), no tcp dump is needed. */
static int count_in_tables(const SvObserveSocket *socks, size_t n, const Inodes *tree, unsigned *ret) {
        /* The kernel never sends a dump part larger than 32 KiB. */
        enum { BUFLEN = 32768 };
        _cleanup_free_ uint8_t *buf = malloc(BUFLEN);
        _cleanup_free_ UnixName *names = calloc(n ? n : 1, sizeof(UnixName));
        Count c = { .socks = socks, .n = n, .tree = tree, .names = names };
        bool want_tcp = false;
        int r;

        if (!buf || !names)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                want_tcp |= socks[i].inode != 0 && socks[i].addr.kind == SV_ADDR_TCP;

        r = sockdiag_dump(AF_UNIX, 0, false, buf, BUFLEN, unix_cb, &c);
        for (size_t k = 0; r >= 0 && k < c.n_cand; k++)
                for (size_t i = 0; i < n; i++)
                        if (socks[i].inode != 0 && unix_accepted_from(&socks[i].addr, &names[i], &c.cand[k])) {
                                c.count++;
                                break;
                        }
        free(c.cand);
        if (r < 0)
                return r;

        /* tcp: one dump per distinct (family, port) among the listeners, so no connection is
         * counted twice. */
        for (size_t i = 0; want_tcp && c.n_unix < tree->n && i < n; i++) {
                const SvAddr *a = &socks[i].addr;
                if (socks[i].inode == 0 || a->kind != SV_ADDR_TCP || tcp_dump_dup(socks, i))
                        continue;
                r = sockdiag_dump(a->family, sv_addr_port(a), false, buf, BUFLEN, tcp_cb, &c);
                if (r < 0)
                        return r;
        }
        *ret = c.count;
        return 0;
}

int sv_observe_connections(pid_t root, const SvObserveSocket *socks, size_t n, unsigned *ret) {
        pid_t pids[SV_OBSERVE_TREE_MAX];
        _cleanup_free_ uint64_t *inodes = NULL;
        Inodes in = { 0 };
        int np, r = 0;

        if ((!socks && n > 0) || !ret)
                return -EINVAL;
        np = sv_observe_tree(root, pids, ELEMENTSOF(pids));
        if (np < 0)
                return np;
        for (int i = 0; i < np; i++) {
                r = collect_inodes(pids[i], socks, n, &in);
                inodes = in.v; /* owned here from the first allocation on */
                if (r < 0 && !skippable(r))
                        return r;
        }
        /* The cheap path: nothing but the listeners, so no connection at all. */
        if (in.n == 0) {
                *ret = 0;
                return 0;
        }
        qsort(in.v, in.n, sizeof(uint64_t), cmp_u64);
        size_t w = 0;
        for (size_t k = 0; k < in.n; k++) /* a connection shared by a parent and its child is one */
                if (w == 0 || in.v[w - 1] != in.v[k])
                        in.v[w++] = in.v[k];
        in.n = w;
        return count_in_tables(socks, n, &in, ret);
}

/* The connections root's tree holds that were accepted from socks, each fd looked at on a
 * copy of its own (see scan_served): exact for a frozen tree, and no kernel table walk. */
int sv_observe_held(pid_t root, const SvObserveSocket *socks, size_t n, unsigned *ret) {
        pid_t pids[SV_OBSERVE_TREE_MAX];
        unsigned total = 0;
        int np = sv_observe_tree(root, pids, ELEMENTSOF(pids));
        if (np < 0)
                return np;
        for (int i = 0; i < np; i++) {
                _cleanup_(proc_freep) Proc *p = NULL;
                int r = proc_load(pids[i], socks, n, &p);
                if (r == 0)
                        r = count_served(p, socks, n, NULL, &total);
                if (r < 0 && !skippable(r))
                        return r;
        }
        *ret = total;
        return 0;
}

/* ---------------------------------------------------------------- accept queues */

typedef struct Queues {
        const SvObserveSocket *socks;
        size_t n;
        SvSocketQueue *ret;
} Queues;

static int queue_cb(const SvSockRec *r, void *userdata) {
        Queues *q = userdata;
        ssize_t i = r->state == SV_TCP_LISTEN && r->has_queues ? sock_index(q->socks, q->n, r->inode) : -1;
        if (i >= 0)
                q->ret[i] = (SvSocketQueue){ .known = true, .queued = r->rqueue, .backlog = r->wqueue };
        return 0;
}

int sv_observe_queues(const SvObserveSocket *socks, size_t n, SvSocketQueue *ret) {
        enum { BUFLEN = 32768 };
        _cleanup_free_ uint8_t *buf = malloc(BUFLEN);
        Queues q = { .socks = socks, .n = n, .ret = ret };
        bool want_unix = false;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ret[i] = (SvSocketQueue){};
                want_unix |= socks[i].inode != 0 && is_stream_unix(&socks[i].addr);
        }
        if (want_unix)
                r = sockdiag_dump(AF_UNIX, 0, true, buf, BUFLEN, queue_cb, &q);
        /* one dump per distinct (family, port): the kernel walks only its listening hash */
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const SvAddr *a = &socks[i].addr;
                if (socks[i].inode == 0 || a->kind != SV_ADDR_TCP || tcp_dump_dup(socks, i))
                        continue;
                r = sockdiag_dump(a->family, sv_addr_port(a), true, buf, BUFLEN, queue_cb, &q);
        }
        return r < 0 ? r : 0;
}
