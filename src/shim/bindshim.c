/* libsockvisor-bind.so: an LD_PRELOAD shim that gives a self-binding server sockvisord's held
 * listening socket when it binds the same address, so that a restart never meets EADDRINUSE
 * and every generation shares one accept queue.
 *
 * Contract with sockvisord: the held sockets sit at the fds listed in SOCKVISOR_BIND_FDS
 * ("3,4"), and the daemon hands them over NON-blocking. Listed fds that are not listening
 * sockets (at the time of the bind) are ignored.
 *
 * Blocking mode, the one deliberate choice here. O_NONBLOCK lives in the open file
 * description, which every generation and every process given the socket shares (dup and
 * SCM_RIGHTS share it, and a socket cannot be reopened through /proc/self/fd/N), so the shim
 * never changes it: whichever mode it set would be wrong for the other holders. Instead each
 * adopted fd carries the program's own *view* of the mode in a table here: what it asked for
 * on its socket (SOCK_NONBLOCK at socket(), O_NONBLOCK read with F_GETFL before the swap),
 * then what it sets with fcntl(F_SETFL) or ioctl(FIONBIO) on the adopted fd. F_GETFL reports
 * the view, F_SETFL and FIONBIO change only the view. accept/accept4 on an fd whose view is
 * blocking waits in poll(POLLIN, no timeout) and tries again on EAGAIN (another process took
 * the connection) and on EINTR from poll, as SA_RESTART would: a classic blocking server
 * never sees EAGAIN. The price: a program whose signal handler has no SA_RESTART and that
 * counts on accept() failing with EINTR to notice the signal only notices it at the next
 * connection. A non-blocking view passes straight through. If the listener turns out to be
 * blocking while the view is non-blocking, accept may block: we warn at adoption.
 *
 * The table is per fd number (SV_FD_MAX), one atomic byte each, so threads need no lock and
 * every wrapper stays async-signal-safe where libc's function is; fork copies it, which is
 * right, and exec starts afresh. Nothing happens at load time but reading SOCKVISOR_BIND_FDS:
 * a shell wrapper that execs the server loads the shim too and must find its fds untouched.
 * The one line per adoption (and per unexplained EADDRINUSE) is formatted without stdio or
 * malloc. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/shim.h"

#define SV_EXPORT __attribute__((visibility("default")))

/* With _GNU_SOURCE, glibc declares the sockaddr arguments of bind and accept as transparent
 * unions; the definitions must use the same types. */
#if defined(__USE_GNU) && defined(__GNUC__)
#define SA_PTR(u) ((u).__sockaddr__)
#else
#define SA_PTR(u) (u)
#endif

#define SV_FD_MAX 65536         /* fds at or above this are never adopted (a warning says so) */
#define SV_HELD_MAX 64          /* entries of SOCKVISOR_BIND_FDS we look at */

enum {
        REC_ADOPTED = 1u << 0,  /* this fd is a dup of a held socket */
        REC_VIEW_NB = 1u << 1,  /* the program believes it is non-blocking */
};

static _Atomic uint8_t records[SV_FD_MAX];
/* The epoll set an adopted fd was last registered in, plus one (0: none): a draining
 * process takes it out of there, so that its event loop does not wake for it again. */
static _Atomic int epoll_of[SV_FD_MAX];

/* The listed held fds; -1 once the program closed or overwrote that number. */
static _Atomic int held[SV_HELD_MAX];
static int n_held;

/* ---- the real functions ---- */

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_fn)(int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);
typedef int (*socket_fn)(int, int, int);
typedef int (*close_fn)(int);
typedef int (*close_range_fn)(unsigned, unsigned, int);
typedef int (*dup_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*epoll_ctl_fn)(int, int, int, struct epoll_event *);

enum {
        F_BIND, F_LISTEN, F_ACCEPT, F_ACCEPT4, F_SETSOCKOPT, F_SOCKET, F_CLOSE, F_CLOSE_RANGE,
        F_DUP, F_DUP2, F_DUP3, F_FCNTL, F_FCNTL64, F_IOCTL, F_EPOLL_CTL, _F_MAX
};
static const char *const real_names[_F_MAX] = {
        [F_BIND] = "bind", [F_LISTEN] = "listen", [F_ACCEPT] = "accept", [F_ACCEPT4] = "accept4",
        [F_SETSOCKOPT] = "setsockopt", [F_SOCKET] = "socket", [F_CLOSE] = "close",
        [F_CLOSE_RANGE] = "close_range", [F_DUP] = "dup", [F_DUP2] = "dup2", [F_DUP3] = "dup3",
        [F_FCNTL] = "fcntl", [F_FCNTL64] = "fcntl64", [F_IOCTL] = "ioctl", [F_EPOLL_CTL] = "epoll_ctl",
};
static void *_Atomic real_ptrs[_F_MAX];

/* Set while this thread is inside dlsym: dlsym may allocate, and an allocator or anything
 * else it calls may come back into one of our wrappers; those then use the raw syscall. */
static __thread int in_dlsym;

/* The next definition of a function after ours, or NULL (then the caller makes the raw
 * syscall). Racing threads resolve the same pointer; storing it twice is harmless. */
static void *real(int which) {
        void *p = atomic_load_explicit(&real_ptrs[which], memory_order_acquire);
        if (p || in_dlsym)
                return p;
        int saved = errno;
        in_dlsym = 1;
        p = dlsym(RTLD_NEXT, real_names[which]);
        in_dlsym = 0;
        errno = saved;
        if (p)
                atomic_store_explicit(&real_ptrs[which], p, memory_order_release);
        return p;
}

static long raw_result(long r) {
        if (r < 0 && r > -4096) {
                errno = (int) -r;
                return -1;
        }
        return r;
}

static int real_bind(int fd, const struct sockaddr *a, socklen_t l) {
        bind_fn f = (bind_fn) real(F_BIND);
        return f ? f(fd, a, l) : (int) syscall(SYS_bind, fd, a, l);
}
static int real_listen(int fd, int backlog) {
        listen_fn f = (listen_fn) real(F_LISTEN);
        return f ? f(fd, backlog) : (int) syscall(SYS_listen, fd, backlog);
}
static int real_accept(int fd, struct sockaddr *a, socklen_t *l) {
        accept_fn f = (accept_fn) real(F_ACCEPT);
        return f ? f(fd, a, l) : (int) syscall(SYS_accept4, fd, a, l, 0);
}
static int real_accept4(int fd, struct sockaddr *a, socklen_t *l, int flags) {
        accept4_fn f = (accept4_fn) real(F_ACCEPT4);
        return f ? f(fd, a, l, flags) : (int) syscall(SYS_accept4, fd, a, l, flags);
}
static int real_setsockopt(int fd, int level, int name, const void *v, socklen_t l) {
        setsockopt_fn f = (setsockopt_fn) real(F_SETSOCKOPT);
        return f ? f(fd, level, name, v, l) : (int) syscall(SYS_setsockopt, fd, level, name, v, l);
}
static int real_socket(int domain, int type, int proto) {
        socket_fn f = (socket_fn) real(F_SOCKET);
        return f ? f(domain, type, proto) : (int) syscall(SYS_socket, domain, type, proto);
}
static int real_close(int fd) {
        close_fn f = (close_fn) real(F_CLOSE);
        return f ? f(fd) : (int) syscall(SYS_close, fd);
}
static int real_close_range(unsigned first, unsigned last, int flags) {
        close_range_fn f = (close_range_fn) real(F_CLOSE_RANGE);
        return f ? f(first, last, flags) : (int) raw_result(syscall(SYS_close_range, first, last, flags));
}
static int real_dup(int fd) {
        dup_fn f = (dup_fn) real(F_DUP);
        return f ? f(fd) : (int) syscall(SYS_dup, fd);
}
static int real_dup2(int o, int n) {
        dup2_fn f = (dup2_fn) real(F_DUP2);
        if (f)
                return f(o, n);
        if (o == n) /* dup3 refuses o == n; dup2 checks o and returns it */
                return (int) syscall(SYS_fcntl, o, F_GETFD) < 0 ? -1 : n;
        return (int) syscall(SYS_dup3, o, n, 0);
}
static int real_dup3(int o, int n, int flags) {
        dup3_fn f = (dup3_fn) real(F_DUP3);
        return f ? f(o, n, flags) : (int) syscall(SYS_dup3, o, n, flags);
}
static int real_fcntl(int fd, int cmd, void *arg) {
        fcntl_fn f = (fcntl_fn) real(F_FCNTL);
        return f ? f(fd, cmd, arg) : (int) syscall(SYS_fcntl, fd, cmd, arg);
}
static int real_fcntl64(int fd, int cmd, void *arg) {
        fcntl_fn f = (fcntl_fn) real(F_FCNTL64);
        return f ? f(fd, cmd, arg) : real_fcntl(fd, cmd, arg);
}
static int real_ioctl(int fd, unsigned long req, void *arg) {
        ioctl_fn f = (ioctl_fn) real(F_IOCTL);
        return f ? f(fd, req, arg) : (int) syscall(SYS_ioctl, fd, req, arg);
}

/* ---- the table ---- */

static uint8_t rec_get(int fd) {
        if (fd < 0 || fd >= SV_FD_MAX)
                return 0;
        return atomic_load_explicit(&records[fd], memory_order_acquire);
}

static void rec_set(int fd, uint8_t v) {
        if (fd >= 0 && fd < SV_FD_MAX)
                atomic_store_explicit(&records[fd], v, memory_order_release);
}

static void rec_view(int fd, bool nonblock) {
        uint8_t old = rec_get(fd), v;
        do {
                if (!(old & REC_ADOPTED))
                        return;
                v = nonblock ? (uint8_t) (old | REC_VIEW_NB) : (uint8_t) (old & ~REC_VIEW_NB);
        } while (!atomic_compare_exchange_weak(&records[fd], &old, v));
}

/* The program is closing or overwriting fd: forget what we knew about that number. */
static void forget(int fd) {
        rec_set(fd, 0);
        if (fd >= 0 && fd < SV_FD_MAX)
                atomic_store(&epoll_of[fd], 0);
        for (int k = 0; k < n_held; k++) {
                int expect = fd;
                if (fd >= 0)
                        (void) atomic_compare_exchange_strong(&held[k], &expect, -1);
        }
}

/* The one thing done at load time: read SOCKVISOR_BIND_FDS. Touches no fd. */
__attribute__((constructor)) static void shim_init(void) {
        const char *s = getenv("SOCKVISOR_BIND_FDS");
        if (!s)
                return;
        while (*s && n_held < SV_HELD_MAX) {
                long v = 0;
                bool digits = false;
                while (*s >= '0' && *s <= '9' && v < SV_FD_MAX) {
                        v = v * 10 + (*s++ - '0');
                        digits = true;
                }
                if (digits && v >= 0 && v < SV_FD_MAX && (*s == ',' || *s == '\0'))
                        atomic_store(&held[n_held++], (int) v);
                while (*s && *s != ',') /* skip a malformed entry */
                        s++;
                if (*s == ',')
                        s++;
        }
}

/* ---- one line on stderr, without stdio ---- */

typedef struct Line {
        char buf[512];
        size_t n;
} Line;

static void put(Line *l, const char *s) {
        while (*s && l->n < sizeof(l->buf) - 1)
                l->buf[l->n++] = *s++;
}

static void put_num(Line *l, long v) {
        char d[24];
        int k = 0;
        unsigned long u = v < 0 ? (unsigned long) -v : (unsigned long) v;
        do
                d[k++] = (char) ('0' + u % 10);
        while ((u /= 10) && k < (int) sizeof(d));
        if (v < 0)
                put(l, "-");
        while (k > 0) {
                char c[2] = { d[--k], 0 };
                put(l, c);
        }
}

static void put_addr(Line *l, const struct sockaddr_storage *ss, socklen_t len) {
        char a[INET6_ADDRSTRLEN];
        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) ss;
                put(l, inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a)) ? a : "?");
                put(l, ":");
                put_num(l, ntohs(in->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;
                put(l, "[");
                put(l, inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a)) ? a : "?");
                put(l, "]:");
                put_num(l, ntohs(in6->sin6_port));
        } else if (ss->ss_family == AF_UNIX) {
                const struct sockaddr_un *un = (const struct sockaddr_un *) ss;
                size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
                if (n > sizeof(un->sun_path))
                        n = sizeof(un->sun_path);
                put(l, "unix:");
                size_t k = 0;
                if (n > 0 && un->sun_path[0] == '\0') {
                        put(l, "@");
                        k = 1;
                }
                for (; k < n && l->n < sizeof(l->buf) - 1; k++) {
                        char c = un->sun_path[k];
                        if (c == '\0' && un->sun_path[0] != '\0')
                                break;
                        l->buf[l->n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
                }
        } else {
                put(l, "family ");
                put_num(l, ss->ss_family);
        }
}

static void line_start(Line *l) {
        l->n = 0;
        put(l, "sockvisor-bind: pid ");
        put_num(l, (long) getpid());
        put(l, ": ");
}

static void line_emit(Line *l) {
        int saved = errno;
        l->buf[l->n++] = '\n';
        const char *p = l->buf;
        size_t left = l->n;
        for (int tries = 0; left > 0 && tries < 8; tries++) {
                ssize_t w = write(STDERR_FILENO, p, left);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        break;
                p += w;
                left -= (size_t) w;
        }
        errno = saved;
}

/* ---- matching a bind against the held sockets ---- */

typedef struct Sock {
        struct sockaddr_storage addr;
        socklen_t len;
        int family, type, protocol;
} Sock;

static int sock_int(int fd, int level, int name) {
        int v = 0;
        socklen_t l = sizeof(v);
        return getsockopt(fd, level, name, &v, &l) < 0 ? -1 : v;
}

static int port_of(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *) ss)->sin_port);
        if (ss->ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
        return -1;
}

static bool wildcard(const struct sockaddr_storage *ss) {
        if (ss->ss_family == AF_INET)
                return ((const struct sockaddr_in *) ss)->sin_addr.s_addr == htonl(INADDR_ANY);
        if (ss->ss_family == AF_INET6)
                return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *) ss)->sin6_addr);
        return false;
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *) b)->sin_addr.s_addr;
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *) a, *y = (const struct sockaddr_in6 *) b;
        return memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
               (!IN6_IS_ADDR_LINKLOCAL(&x->sin6_addr) || x->sin6_scope_id == y->sin6_scope_id);
}

/* A unix address as (bytes, count): a path up to its NUL, an abstract name in full. */
static size_t unix_name(const struct sockaddr_storage *ss, socklen_t len, const char **ret) {
        const struct sockaddr_un *un = (const struct sockaddr_un *) ss;
        size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
        if (n > sizeof(un->sun_path))
                n = sizeof(un->sun_path);
        *ret = un->sun_path;
        if (n > 0 && un->sun_path[0] != '\0')
                n = strnlen(un->sun_path, n);
        return n;
}

/* How well held socket h covers the program's bind of p: 0 = not at all (with *why set when
 * it is the same port or path, so an EADDRINUSE can be explained), else higher is better. */
static int match_score(const Sock *p, bool v6only, const Sock *h, const char **why) {
        if (p->family == AF_UNIX || h->family == AF_UNIX) {
                const char *pn, *hn;
                size_t pl, hl;
                if (p->family != h->family)
                        return 0;
                pl = unix_name(&p->addr, p->len, &pn);
                hl = unix_name(&h->addr, h->len, &hn);
                if (pl == 0 || pl != hl || memcmp(pn, hn, pl) != 0)
                        return 0;
                if (p->type != h->type) {
                        *why = "it is of another socket type (SOCK_STREAM, SOCK_SEQPACKET and SOCK_DGRAM differ)";
                        return 0;
                }
                return 3;
        }
        int pp = port_of(&p->addr), hp = port_of(&h->addr);
        if (pp <= 0 || pp != hp)
                return 0;
        if (p->type != h->type || p->protocol != h->protocol) {
                *why = "it is of another socket type or protocol";
                return 0;
        }
        if (p->family == h->family) {
                if (same_ip(&p->addr, &h->addr))
                        return 3;
                if (wildcard(&p->addr) || wildcard(&h->addr))
                        return 2;
                *why = "it is bound to another address (only an exact address or a wildcard on either side matches)";
                return 0;
        }
        if (p->family == AF_INET6 && h->family == AF_INET && wildcard(&p->addr)) {
                if (v6only) {
                        *why = "the program set IPV6_V6ONLY on its [::] socket, and the held socket is IPv4";
                        return 0;
                }
                return 1;
        }
        *why = p->family == AF_INET ? "the program binds IPv4 and the held socket is IPv6"
                                    : "the program binds a specific IPv6 address and the held socket is IPv4";
        return 0;
}

static bool describe(int fd, Sock *ret) {
        ret->len = sizeof(ret->addr);
        memset(&ret->addr, 0, sizeof(ret->addr));
        if (getsockname(fd, (struct sockaddr *) &ret->addr, &ret->len) < 0)
                return false;
        ret->family = ret->addr.ss_family;
        ret->type = sock_int(fd, SOL_SOCKET, SO_TYPE);
        ret->protocol = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
        return ret->type >= 0;
}

/* Swaps the program's fd for a dup of the held socket. Returns 0, or -1 with errno set (then
 * the program's fd is untouched). */
static int adopt(int fd, int hfd, const Sock *want, const Sock *h) {
        Line l;
        if (fd >= SV_FD_MAX) {
                line_start(&l);
                put(&l, "fd ");
                put_num(&l, fd);
                put(&l, " is beyond the shim's table (");
                put_num(&l, SV_FD_MAX);
                put(&l, " fds): not adopting, the program binds its own socket");
                line_emit(&l);
                return 1;
        }
        int fl = real_fcntl(fd, F_GETFL, NULL), fdfl = real_fcntl(fd, F_GETFD, NULL);
        int hfl = real_fcntl(hfd, F_GETFL, NULL);
        if (fl < 0 || fdfl < 0 || hfl < 0)
                return -1;
        if (real_dup3(hfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
                return -1;
        rec_set(fd, (uint8_t) (REC_ADOPTED | ((fl & O_NONBLOCK) ? REC_VIEW_NB : 0)));

        line_start(&l);
        put(&l, "fd ");
        put_num(&l, fd);
        put(&l, ": bind(");
        put_addr(&l, &want->addr, want->len);
        put(&l, ") adopted held fd ");
        put_num(&l, hfd);
        put(&l, " (");
        put_addr(&l, &h->addr, h->len);
        put(&l, (fl & O_NONBLOCK) ? "), non-blocking view" : "), blocking view");
        line_emit(&l);
        if ((fl & O_NONBLOCK) && !(hfl & O_NONBLOCK)) {
                line_start(&l);
                put(&l, "warning: held fd ");
                put_num(&l, hfd);
                put(&l, " is a blocking listener but fd ");
                put_num(&l, fd);
                put(&l, " wants non-blocking: accept() may block when another process takes the "
                        "connection; the supervisor should hand it over non-blocking");
                line_emit(&l);
        }
        return 0;
}

SV_EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr_arg, socklen_t len) {
        const struct sockaddr *addr = SA_PTR(addr_arg);
        if (n_held == 0 || !addr || len < sizeof(sa_family_t) || len > sizeof(struct sockaddr_storage) ||
            (rec_get(fd) & REC_ADOPTED))
                return real_bind(fd, addr, len);

        Sock want = { .len = len };
        memcpy(&want.addr, addr, len);
        want.family = addr->sa_family;
        if (want.family == AF_INET || want.family == AF_INET6) {
                if (len < (want.family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) ||
                    port_of(&want.addr) == 0)
                        return real_bind(fd, addr, len); /* port 0: the program wants a port of its own */
        } else if (want.family == AF_UNIX) {
                const char *n;
                if (unix_name(&want.addr, len, &n) == 0)
                        return real_bind(fd, addr, len); /* autobind */
        } else
                return real_bind(fd, addr, len);

        int saved = errno;
        want.type = sock_int(fd, SOL_SOCKET, SO_TYPE);
        want.protocol = sock_int(fd, SOL_SOCKET, SO_PROTOCOL);
        int domain = sock_int(fd, SOL_SOCKET, SO_DOMAIN);
        bool v6only = domain == AF_INET6 && sock_int(fd, IPPROTO_IPV6, IPV6_V6ONLY) == 1;
        errno = saved;
        if (want.type < 0 || domain != want.family)
                return real_bind(fd, addr, len); /* not a socket, or the kernel will say EINVAL */

        int best = -1, best_score = 0, near = -1;
        Sock best_sock, near_sock;
        const char *near_why = NULL;
        for (int k = 0; k < n_held; k++) {
                int hfd = atomic_load(&held[k]);
                Sock h;
                const char *why = NULL;
                if (hfd < 0 || hfd == fd || (rec_get(hfd) & REC_ADOPTED) || !describe(hfd, &h) ||
                    sock_int(hfd, SOL_SOCKET, SO_ACCEPTCONN) != 1)
                        continue;
                int score = match_score(&want, v6only, &h, &why);
                if (score > best_score) {
                        best = hfd;
                        best_score = score;
                        best_sock = h;
                } else if (score == 0 && why && near < 0) {
                        near = hfd;
                        near_sock = h;
                        near_why = why;
                }
        }
        errno = saved;
        if (best >= 0) {
                int r = adopt(fd, best, &want, &best_sock);
                if (r <= 0)
                        return r;
        }

        int r = real_bind(fd, addr, len);
        if (r < 0 && errno == EADDRINUSE && near >= 0) {
                saved = errno;
                Line l;
                line_start(&l);
                put(&l, "fd ");
                put_num(&l, fd);
                put(&l, ": bind(");
                put_addr(&l, &want.addr, want.len);
                put(&l, "): Address already in use; held fd ");
                put_num(&l, near);
                put(&l, " (");
                put_addr(&l, &near_sock.addr, near_sock.len);
                put(&l, ") is on that port but was not adopted: ");
                put(&l, near_why);
                line_emit(&l);
                errno = saved;
        }
        return r;
}

SV_EXPORT int listen(int fd, int backlog) {
        if (rec_get(fd) & REC_ADOPTED)
                return 0; /* the shared socket listens already, with sockvisord's backlog */
        return real_listen(fd, backlog);
}

SV_EXPORT int setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
        if ((rec_get(fd) & REC_ADOPTED) &&
            ((level == SOL_SOCKET && (name == SO_REUSEADDR || name == SO_REUSEPORT)) ||
             (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)))
                return 0; /* meaningless on a socket bound already, and not ours to change */
        return real_setsockopt(fd, level, name, value, len);
}

SV_EXPORT int socket(int domain, int type, int protocol) {
        int fd = real_socket(domain, type, protocol);
        rec_set(fd, 0); /* the number was closed behind our back (a raw close): start clean */
        return fd;
}

static int real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
        epoll_ctl_fn f = (epoll_ctl_fn) real(F_EPOLL_CTL);
        return f ? f(epfd, op, fd, ev) : (int) raw_result(syscall(SYS_epoll_ctl, epfd, op, fd, ev));
}

SV_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
        int r = real_epoll_ctl(epfd, op, fd, ev);
        if (r == 0 && fd >= 0 && fd < SV_FD_MAX && (rec_get(fd) & REC_ADOPTED))
                atomic_store(&epoll_of[fd], op == EPOLL_CTL_DEL ? 0 : epfd + 1);
        return r;
}

/* sockvisord says this generation drains (see SV_SHIM_DRAIN_TIMERSLACK_NS). */
static bool draining(void) {
        return prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == SV_SHIM_DRAIN_TIMERSLACK_NS;
}

/* A draining process accepts nothing more on an adopted fd: the fd leaves its epoll set, a
 * non-blocking caller gets EAGAIN, a blocking one sleeps until it is killed (or the drain
 * ends). What it holds already, it finishes. */
static int refuse_while_draining(int fd, uint8_t rec) {
        int ep = atomic_exchange(&epoll_of[fd], 0);
        if (ep > 0)
                (void) real_epoll_ctl(ep - 1, EPOLL_CTL_DEL, fd, NULL);
        if (rec & REC_VIEW_NB) {
                errno = EAGAIN;
                return -1;
        }
        struct timespec nap = { .tv_nsec = 50 * 1000 * 1000 };
        while (draining())
                (void) nanosleep(&nap, NULL);
        return 0;
}

/* accept on an adopted fd whose view is blocking: wait for a connection rather than fail
 * with EAGAIN on the shared non-blocking listener. */
static int accept_common(int fd, struct sockaddr *addr, socklen_t *len, int flags, bool four) {
        socklen_t len0 = len ? *len : 0;
        for (;;) {
                uint8_t rec0 = fd >= 0 && fd < SV_FD_MAX ? rec_get(fd) : 0;
                if ((rec0 & REC_ADOPTED) && draining() && refuse_while_draining(fd, rec0) < 0)
                        return -1;
                int r = four ? real_accept4(fd, addr, len, flags) : real_accept(fd, addr, len);
                if (r >= 0) {
                        rec_set(r, 0);
                        return r;
                }
                uint8_t rec = rec_get(fd);
                if ((errno != EAGAIN && errno != EWOULDBLOCK) || !(rec & REC_ADOPTED) || (rec & REC_VIEW_NB))
                        return -1;
                if (len)
                        *len = len0;
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue; /* as SA_RESTART would: see the top of the file */
                        return -1;
                }
                if (p.revents & POLLNVAL) {
                        errno = EBADF;
                        return -1;
                }
        }
}

SV_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len) {
        return accept_common(fd, SA_PTR(addr), len, 0, false);
}

SV_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags) {
        return accept_common(fd, SA_PTR(addr), len, flags, true);
}

SV_EXPORT int close(int fd) {
        forget(fd); /* before: once closed, another thread may get the number */
        return real_close(fd);
}

SV_EXPORT int close_range(unsigned first, unsigned last, int flags) {
        if (!(flags & CLOSE_RANGE_CLOEXEC)) {
                for (int k = 0; k < n_held; k++) {
                        int h = atomic_load(&held[k]);
                        if (h >= 0 && (unsigned) h >= first && (unsigned) h <= last)
                                forget(h);
                }
                unsigned end = last < SV_FD_MAX - 1 ? last : SV_FD_MAX - 1;
                for (unsigned fd = first; fd <= end && fd < SV_FD_MAX; fd++)
                        if (rec_get((int) fd))
                                rec_set((int) fd, 0);
        }
        return real_close_range(first, last, flags);
}

SV_EXPORT int dup(int fd) {
        int r = real_dup(fd);
        if (r >= 0)
                rec_set(r, rec_get(fd));
        return r;
}

/* dup2 and dup3: newfd is closed by the call, then becomes what oldfd is. */
static int dup_onto(int o, int n, int flags, bool three) {
        /* an invalid oldfd leaves newfd open: then there is nothing to forget */
        if (o == n || real_fcntl(o, F_GETFD, NULL) < 0)
                return three ? real_dup3(o, n, flags) : real_dup2(o, n);
        uint8_t rec = rec_get(o);
        forget(n);
        int r = three ? real_dup3(o, n, flags) : real_dup2(o, n);
        if (r >= 0)
                rec_set(r, rec);
        return r;
}

SV_EXPORT int dup2(int o, int n) {
        return dup_onto(o, n, 0, false);
}

SV_EXPORT int dup3(int o, int n, int flags) {
        return dup_onto(o, n, flags, true);
}

/* fcntl with the third argument as the caller passed it: glibc reads it as a pointer too,
 * which carries an int or a long unchanged. */
static int fcntl_common(int fd, int cmd, void *arg, bool is64) {
        uint8_t rec = rec_get(fd);
        int r;
        switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
                r = is64 ? real_fcntl64(fd, cmd, arg) : real_fcntl(fd, cmd, arg);
                if (r >= 0)
                        rec_set(r, rec);
                return r;
        case F_GETFL:
                r = is64 ? real_fcntl64(fd, cmd, arg) : real_fcntl(fd, cmd, arg);
                if (r >= 0 && (rec & REC_ADOPTED))
                        r = (rec & REC_VIEW_NB) ? (r | O_NONBLOCK) : (r & ~O_NONBLOCK);
                return r;
        case F_SETFL:
                if (rec & REC_ADOPTED) {
                        int want = (int) (intptr_t) arg;
                        int cur = real_fcntl(fd, F_GETFL, NULL);
                        if (cur < 0)
                                return -1;
                        /* the other flags (O_ASYNC, O_APPEND...) pass through; O_NONBLOCK stays */
                        int set = (want & ~O_NONBLOCK) | (cur & O_NONBLOCK);
                        r = is64 ? real_fcntl64(fd, F_SETFL, (void *) (intptr_t) set)
                                 : real_fcntl(fd, F_SETFL, (void *) (intptr_t) set);
                        if (r >= 0)
                                rec_view(fd, want & O_NONBLOCK);
                        return r;
                }
                break;
        default:
                break;
        }
        return is64 ? real_fcntl64(fd, cmd, arg) : real_fcntl(fd, cmd, arg);
}

SV_EXPORT int fcntl(int fd, int cmd, ...) {
        va_list ap;
        va_start(ap, cmd);
        void *arg = va_arg(ap, void *);
        va_end(ap);
        return fcntl_common(fd, cmd, arg, false);
}

SV_EXPORT int fcntl64(int fd, int cmd, ...) {
        va_list ap;
        va_start(ap, cmd);
        void *arg = va_arg(ap, void *);
        va_end(ap);
        return fcntl_common(fd, cmd, arg, true);
}

SV_EXPORT int ioctl(int fd, unsigned long req, ...) {
        va_list ap;
        va_start(ap, req);
        void *arg = va_arg(ap, void *);
        va_end(ap);
        if (req == FIONBIO && (rec_get(fd) & REC_ADOPTED)) {
                /* only the view changes; check the fd is still open as the kernel would */
                if (real_fcntl(fd, F_GETFD, NULL) < 0)
                        return -1;
                if (!arg) {
                        errno = EFAULT;
                        return -1;
                }
                rec_view(fd, *(const int *) arg != 0);
                return 0;
        }
        return real_ioctl(fd, req, arg);
}
