/* The port doctor's I/O edge: sock_diag dumps, /proc/PID/fd, test binds. The decisions
 * are in diagnose.c, the parsers of what is read here in diagnose_parse.c. */
#include "sockvisor/doctor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* ---------------------------------------------------------------- sock_diag */

typedef struct Collect {
        const SvDoctorQuery *q;
        const struct stat *unix_st; /* path queries: the file, to match UNIX_DIAG_VFS */
        SvSockRec *v;
        size_t n, cap;
} Collect;

/* UNIX_DIAG_VFS gives the kernel's own dev_t encoding (major << 20 | minor), not stat's. */
static uint32_t kernel_dev(dev_t d) {
        return (uint32_t) ((major(d) << 20) | minor(d));
}

static bool unix_matches(const Collect *c, const SvSockRec *r) {
        const SvAddr *a = &c->q->addr;
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &a->sa;

        if (a->abstract) {
                size_t n = a->salen - offsetof(struct sockaddr_un, sun_path) - 1;
                return r->has_name && r->abstract && strlen(r->path) == n && memcmp(r->path, sun->sun_path + 1, n) == 0;
        }
        /* A path socket is found by its file's inode: the name the kernel keeps is the one
         * given to bind(), maybe relative, maybe of a file since deleted. */
        return c->unix_st && r->has_vfs && r->vfs_ino == (uint64_t) c->unix_st->st_ino &&
               r->vfs_dev == kernel_dev(c->unix_st->st_dev);
}

/* v with room for one more element (n used of *cap, each size bytes; doubles, from
 * first), or NULL when out of memory (v is then left as it was). */
static void *grow(void *v, size_t *cap, size_t n, size_t size, size_t first) {
        if (n < *cap)
                return v;
        size_t c = *cap ? *cap * 2 : first;
        void *nv = realloc(v, c * size);
        if (nv)
                *cap = c;
        return nv;
}

static int collect_cb(const SvSockRec *r, void *userdata) {
        Collect *c = userdata;

        if (r->family == AF_UNIX ? !unix_matches(c, r) : !sv_doctor_overlaps(c->q, r, NULL))
                return 0;
        SvSockRec *v = grow(c->v, &c->cap, c->n, sizeof(*v), 16);
        if (!v)
                return -ENOMEM;
        c->v = v;
        c->v[c->n++] = *r;
        return 0;
}

/* One SOCK_DIAG_BY_FAMILY dump. inet dumps are filtered by local port in the kernel, so
 * only the sockets on the port come back. family AF_UNSPEC (tcp only) uses the older
 * TCPDIAG_GETSOCK request, the one that walks the tcp hash tables once for IPv4 and IPv6
 * together instead of once per family: the walk is the whole cost on a busy machine. */
static int sockdiag_dump(int family, int protocol, unsigned port, Collect *c) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
        struct {
                struct nlmsghdr nlh;
                union {
                        struct inet_diag_req_v2 inet;
                        struct inet_diag_req compat;
                        struct unix_diag_req unix;
                };
                struct rtattr rta;
                struct inet_diag_bc_op ops[4];
        } req;
        size_t req_len;
        static const struct timeval tmo = { .tv_sec = 5 };

        fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        /* The kernel always ends a dump; the timeout is only a guard against the unforeseen. */
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));

        memset(&req, 0, sizeof(req));
        req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        req.nlh.nlmsg_seq = 1;
        if (family == AF_UNIX) {
                req.unix.sdiag_family = AF_UNIX;
                req.unix.udiag_states = ~0U;
                req.unix.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_UID;
                req_len = NLMSG_LENGTH(sizeof(req.unix));
        } else if (family == AF_UNSPEC) {
                req.nlh.nlmsg_type = TCPDIAG_GETSOCK;
                req.compat.idiag_family = AF_INET; /* ignored for dumps: both families come back */
                req.compat.idiag_states = ~0U;
                req.compat.id.idiag_sport = htons((uint16_t) port);
                req.rta.rta_type = INET_DIAG_REQ_BYTECODE;
                req.rta.rta_len = RTA_LENGTH(sizeof(req.ops));
                req.ops[0] = (struct inet_diag_bc_op) { INET_DIAG_BC_S_GE, 8, 20 };
                req.ops[1] = (struct inet_diag_bc_op) { 0, 0, (uint16_t) port };
                req.ops[2] = (struct inet_diag_bc_op) { INET_DIAG_BC_S_LE, 8, 12 };
                req.ops[3] = (struct inet_diag_bc_op) { 0, 0, (uint16_t) port };
                /* The attribute must follow the request at its aligned end. */
                memmove((uint8_t *) &req.nlh + NLMSG_LENGTH(sizeof(req.compat)), &req.rta,
                        RTA_LENGTH(sizeof(req.ops)));
                req_len = NLMSG_LENGTH(sizeof(req.compat)) + RTA_LENGTH(sizeof(req.ops));
        } else {
                req.inet.sdiag_family = (uint8_t) family;
                req.inet.sdiag_protocol = (uint8_t) protocol;
                req.inet.idiag_states = ~0U;
                /* The kernel compares this before anything else, for every socket it walks. */
                req.inet.id.idiag_sport = htons((uint16_t) port);
                /* Bytecode: local port >= port, then <= port (S_EQ is newer than S_GE/S_LE).
                 * A true test jumps to the next op, a false one past the end: rejected. */
                req.rta.rta_type = INET_DIAG_REQ_BYTECODE;
                req.rta.rta_len = RTA_LENGTH(sizeof(req.ops));
                req.ops[0] = (struct inet_diag_bc_op) { INET_DIAG_BC_S_GE, 8, 20 };
                req.ops[1] = (struct inet_diag_bc_op) { 0, 0, (uint16_t) port };
                req.ops[2] = (struct inet_diag_bc_op) { INET_DIAG_BC_S_LE, 8, 12 };
                req.ops[3] = (struct inet_diag_bc_op) { 0, 0, (uint16_t) port };
                req_len = NLMSG_LENGTH(sizeof(req.inet)) + RTA_LENGTH(sizeof(req.ops));
        }
        req.nlh.nlmsg_len = (uint32_t) req_len;

        if (sendto(fd, &req, req_len, 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;

        for (;;) {
                static _Alignas(struct nlmsghdr) uint8_t buf[32768];
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EPROTO;
                r = sv_sockdiag_walk(buf, (size_t) n, family, protocol, collect_cb, c);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
}

/* ---------------------------------------------------------------- /proc */

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

typedef struct Want {
        uint64_t inode;
        bool all_holders; /* a listener: every process that holds it matters (forks inherit it) */
        bool found;
        pid_t last_pid;   /* the last process seen holding it: a dup of one socket counts once */
} Want;

static int cmp_want(const void *a, const void *b) {
        return cmp_u64(&((const Want *) a)->inode, &((const Want *) b)->inode);
}

static void read_small(int dirfd, const char *name, char *buf, size_t len, size_t *ret_n) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n = -1;

        if (fd >= 0) {
                n = read(fd, buf, len);
                (void) safe_close(fd);
        }
        *ret_n = n > 0 ? (size_t) n : 0;
}

static int add_holder(SvDoctorFacts *f, size_t *cap, int piddir, pid_t pid, uint64_t inode) {
        SvSockHolder h = { .inode = inode, .pid = pid };
        char raw[512];
        size_t n;
        struct stat st;

        /* A process's holders are added one after the other: copy its names from the last. */
        if (f->n_holders > 0 && f->holders[f->n_holders - 1].pid == pid) {
                h = f->holders[f->n_holders - 1];
                h.inode = inode;
                goto append;
        }
        if (fstat(piddir, &st) == 0)
                h.uid = st.st_uid;
        read_small(piddir, "comm", raw, sizeof(raw) - 1, &n);
        while (n > 0 && raw[n - 1] == '\n')
                n--;
        sv_doctor_cmdline_clean(raw, n, h.comm, sizeof(h.comm));
        read_small(piddir, "cmdline", raw, sizeof(raw), &n);
        sv_doctor_cmdline_clean(raw, n, h.cmdline, sizeof(h.cmdline));
append:
        SvSockHolder *v = grow(f->holders, cap, f->n_holders, sizeof(*v), 8);
        if (!v)
                return -ENOMEM;
        f->holders = v;
        f->holders[f->n_holders++] = h;
        return 0;
}

static int add_partial(SvDoctorFacts *f, size_t *cap, pid_t pid) {
        pid_t *v = grow(f->partial_pids, cap, f->n_partial, sizeof(*v), 4);
        if (!v)
                return -ENOMEM;
        f->partial_pids = v;
        f->partial_pids[f->n_partial++] = pid;
        return 0;
}

/* Fds read in full in every process: a small server is matched exactly. */
#define PROC_FDS_FULL 256

/* Reads the fd links of one process (piddir) and adds a holder for every wanted inode
 * among them. Stops early once the process has shown every listener (n_all > 0) and
 * PROC_FDS_FULL fds were read: a server with thousands of connections is then known as
 * the holder of its listeners after a few hundred links instead of a read of its whole
 * fd table; *ret_partial says so, and its connections are then counted, not matched
 * (diagnose.c says so). getdents64 with a small first buffer: the listeners are usually
 * among the first fds, and /proc builds every entry a read asks for. */
static int proc_scan_one(SvDoctorFacts *f, size_t *cap, int piddir, pid_t pid, Want *want, size_t n_want,
                         size_t n_all, size_t *left, bool *ret_partial) {
        _cleanup_close_ int fddir = -EBADF;
        _Alignas(struct dirent64) char buf[8192];
        size_t chunk = 1024, all_seen = 0, n_read = 0;
        int r = 0;

        *ret_partial = false;
        fddir = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fddir < 0)
                return errno == EACCES || errno == EPERM ? 1 : 0; /* 1: not readable */
        for (;;) {
                ssize_t n = getdents64(fddir, buf, chunk);

                if (n <= 0)
                        return 0; /* the end, or the process went away meanwhile */
                chunk = sizeof(buf);
                for (ssize_t o = 0; o < n;) {
                        const struct dirent64 *fe = (const struct dirent64 *) (buf + o);
                        char link[64];
                        ssize_t ln;
                        Want key, *w;

                        o += fe->d_reclen;
                        if (fe->d_name[0] == '.')
                                continue;
                        if (n_all > 0 && all_seen == n_all && n_read >= PROC_FDS_FULL) {
                                *ret_partial = true; /* this entry is not read */
                                return 0;
                        }
                        n_read++;
                        ln = readlinkat(fddir, fe->d_name, link, sizeof(link));
                        if (ln <= 0 || (size_t) ln >= sizeof(link) || link[0] != 's')
                                continue;
                        key.inode = sv_doctor_parse_socket_link(link, (size_t) ln);
                        if (key.inode == 0)
                                continue;
                        w = bsearch(&key, want, n_want, sizeof(*want), cmp_want);
                        if (!w || w->last_pid == pid)
                                continue; /* not wanted, or a dup of one this process was seen with */
                        w->last_pid = pid;
                        r = add_holder(f, cap, piddir, pid, key.inode);
                        if (r < 0)
                                return r;
                        if (!w->found) {
                                w->found = true;
                                (*left)--;
                        }
                        if (w->all_holders)
                                all_seen++;
                }
        }
}

/* Finds the processes holding the wanted inodes. When there is no listener among them,
 * the walk stops as soon as every inode is found. A listener's inode keeps it going to
 * the last process (a forked child holds the same socket, and all of them must go), but
 * each process is read only as far as it shows every listener (proc_scan_one). */
static int proc_scan(SvDoctorFacts *f, Want *want, size_t n_want) {
        DIR *proc;
        struct dirent *de;
        size_t cap = 0, pcap = 0, left = n_want, n_all = 0;
        int r = 0;

        for (size_t i = 0; i < n_want; i++)
                n_all += want[i].all_holders;

        proc = opendir("/proc");
        if (!proc)
                return -errno;
        f->proc_scanned = true;
        while ((de = readdir(proc)) && (left > 0 || n_all > 0)) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                bool partial;
                int piddir;

                if (pid <= 0 || *end != '\0')
                        continue;
                piddir = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (piddir < 0)
                        continue; /* gone meanwhile */
                r = proc_scan_one(f, &cap, piddir, (pid_t) pid, want, n_want, n_all, &left, &partial);
                (void) safe_close(piddir);
                if (r == 1)
                        f->proc_hidden++;
                else if (r == 0 && partial)
                        r = add_partial(f, &pcap, (pid_t) pid);
                if (r < 0)
                        break;
                r = 0;
        }
        (void) closedir(proc);
        return r;
}

/* Every process holding one of inodes (listeners: forks count, each process once per
 * inode), for sockvisord's search of what a stopped generation left behind. */
int sv_doctor_find_holders(const uint64_t *inodes, size_t n, SvSockHolder **ret, size_t *ret_n) {
        SvDoctorFacts f = {};
        _cleanup_free_ Want *want = calloc(n ? n : 1, sizeof(Want));
        if (!want)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++)
                want[k] = (Want){ .inode = inodes[k], .all_holders = true };
        qsort(want, n, sizeof(Want), cmp_want);
        int r = proc_scan(&f, want, n);
        free(f.partial_pids); /* each of those was seen holding every inode: it is in holders */
        if (r < 0) {
                free(f.holders);
                return r;
        }
        *ret = f.holders;
        *ret_n = f.n_holders;
        return 0;
}

/* ---------------------------------------------------------------- test binds */

static void probe(SvBindProbe *p) {
        for (int reuse = 0; reuse < 2; reuse++) {
                int one = 1, r = 0;
                int fd = socket(p->addr.family, p->addr.socktype | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        r = -errno;
                else if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                        r = -errno;
                else if (bind(fd, (const struct sockaddr *) &p->addr.sa, p->addr.salen) < 0)
                        r = -errno;
                (void) safe_close(fd); /* bound, never listening: nothing lingers */
                if (reuse)
                        p->reuseaddr = r;
                else
                        p->plain = r;
        }
        p->tried = true;
}

/* ---------------------------------------------------------------- gather */

int sv_doctor_gather(const SvDoctorQuery *q, SvDoctorFacts *ret, SvDiag *d) {
        SvDoctorFacts f = { .query = *q, .my_uid = geteuid() };
        Collect c = { .q = &f.query };
        struct stat st;
        int r;

        if (q->addr.kind == SV_ADDR_UNIX) {
                const struct sockaddr_un *sun = (const struct sockaddr_un *) &q->addr.sa;

                if (!q->addr.abstract) {
                        if (lstat(sun->sun_path, &st) == 0) {
                                f.unix_file.exists = true;
                                f.unix_file.is_socket = S_ISSOCK(st.st_mode);
                                f.unix_file.ino = st.st_ino;
                                f.unix_file.dev = kernel_dev(st.st_dev);
                                if (f.unix_file.is_socket)
                                        c.unix_st = &st;
                        }
                        if (f.unix_file.is_socket) {
                                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                                f.unix_file.connect_err = fd < 0 ? -errno
                                                        : connect(fd, (const struct sockaddr *) &q->addr.sa,
                                                                  q->addr.salen) < 0 ? -errno : 0;
                                (void) safe_close(fd);
                        }
                }
                if (q->addr.abstract || c.unix_st) {
                        r = sockdiag_dump(AF_UNIX, 0, 0, &c);
                        if (r < 0) {
                                free(c.v);
                                diag_set(d, 0, "cannot list unix sockets through NETLINK_SOCK_DIAG: %s (is the "
                                         "unix_diag module available? try 'modprobe unix_diag')", strerror(-r));
                                return r;
                        }
                }
        } else {
                int proto = q->addr.kind == SV_ADDR_UDP ? IPPROTO_UDP : IPPROTO_TCP;
                static const int families[] = { AF_INET, AF_INET6 };

                /* tcp: one walk for both families; if this kernel refuses that, one per family. */
                r = proto == IPPROTO_TCP ? sockdiag_dump(AF_UNSPEC, proto, q->port, &c) : -EAFNOSUPPORT;
                bool per_family = r < 0;
                if (per_family)
                        c.n = 0;
                for (size_t i = 0; per_family && i < ELEMENTSOF(families); i++) {
                        r = sockdiag_dump(families[i], proto, q->port, &c);
                        if (r == -ENOENT && families[i] == AF_INET6)
                                continue; /* IPv6 disabled */
                        if (r < 0) {
                                free(c.v);
                                diag_set(d, 0, "cannot list %s sockets through NETLINK_SOCK_DIAG: %s (is the "
                                         "%s_diag module available? try 'modprobe %s_diag')",
                                         proto == IPPROTO_UDP ? "udp" : "tcp", strerror(-r),
                                         proto == IPPROTO_UDP ? "udp" : "tcp", proto == IPPROTO_UDP ? "udp" : "tcp");
                                return r;
                        }
                }

                /* Test binds: what the user would bind. A bare port: [::] (dual-stack) and 0.0.0.0. */
                f.probes[0].addr = q->addr;
                f.n_probes = 1;
                if (q->bare_port) {
                        char text[32];
                        SvDiag ignored;

                        (void) snprintf(text, sizeof(text), "tcp://0.0.0.0:%u", q->port);
                        if (sv_addr_parse(text, &f.probes[1].addr, &ignored) == 0)
                                f.n_probes = 2;
                }
                for (size_t i = 0; i < f.n_probes; i++)
                        probe(&f.probes[i]);
        }
        f.socks = c.v;
        f.n_socks = c.n;

        /* Only when some socket has an owner to find. */
        size_t n_want = 0;
        for (size_t i = 0; i < f.n_socks; i++)
                n_want += f.socks[i].inode != 0;
        if (n_want > 0) {
                _cleanup_free_ Want *want = calloc(n_want, sizeof(*want));
                size_t k = 0;

                if (!want) {
                        sv_doctor_facts_done(&f);
                        return diag_set(d, 0, "out of memory"), -ENOMEM;
                }
                for (size_t i = 0; i < f.n_socks; i++) {
                        const SvSockRec *s = &f.socks[i];
                        if (s->inode == 0)
                                continue;
                        want[k].inode = s->inode;
                        want[k].all_holders = s->state == SV_TCP_LISTEN || s->protocol == IPPROTO_UDP ||
                                              (s->family == AF_UNIX && s->socktype == SOCK_DGRAM);
                        k++;
                }
                qsort(want, n_want, sizeof(*want), cmp_want);
                /* Merge duplicates (one inode listed twice cannot happen, but be safe for bsearch). */
                size_t u = 0;
                for (size_t i = 0; i < n_want; i++) {
                        if (u > 0 && want[u - 1].inode == want[i].inode) {
                                want[u - 1].all_holders |= want[i].all_holders;
                                continue;
                        }
                        want[u++] = want[i];
                }
                r = proc_scan(&f, want, u);
                if (r < 0) {
                        sv_doctor_facts_done(&f);
                        diag_set(d, 0, "cannot read /proc to find the processes holding the sockets: %s",
                                 strerror(-r));
                        return r;
                }
        }
        *ret = f;
        return 0;
}

void sv_doctor_facts_done(SvDoctorFacts *f) {
        free(f->socks);
        free(f->holders);
        free(f->partial_pids);
        f->socks = NULL;
        f->holders = NULL;
        f->partial_pids = NULL;
        f->n_socks = f->n_holders = f->n_partial = 0;
}

int sv_doctor_explain(const SvAddr *addr, char **ret_text) {
        SvDoctorQuery q = { .addr = *addr, .port = sv_addr_port(addr) };
        SvDoctorFacts f;
        SvDoctorReport rep = { 0 };
        SvDiag d = { 0 };
        char *text;
        int r;

        r = sv_doctor_gather(&q, &f, &d);
        if (r < 0)
                return r;
        r = sv_doctor_diagnose(&f, &rep);
        if (r < 0) {
                sv_doctor_facts_done(&f);
                return r;
        }
        text = sv_doctor_format_text(&f, &rep);
        sv_doctor_report_done(&rep);
        sv_doctor_facts_done(&f);
        if (!text)
                return -ENOMEM;
        *ret_text = text;
        return 0;
}
