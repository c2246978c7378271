/* The port doctor's pure half: sock_diag parsing, the diagnosis, and its text and JSON. */
#include "sockvisor/doctor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tcp_state_names[_SV_TCP_STATE_MAX] = {
        [SV_TCP_ESTABLISHED] = "ESTABLISHED", [SV_TCP_SYN_SENT] = "SYN_SENT",
        [SV_TCP_SYN_RECV] = "SYN_RECV",       [SV_TCP_FIN_WAIT1] = "FIN_WAIT1",
        [SV_TCP_FIN_WAIT2] = "FIN_WAIT2",     [SV_TCP_TIME_WAIT] = "TIME_WAIT",
        [SV_TCP_CLOSE] = "CLOSE",             [SV_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
        [SV_TCP_LAST_ACK] = "LAST_ACK",       [SV_TCP_LISTEN] = "LISTEN",
        [SV_TCP_CLOSING] = "CLOSING",         [SV_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
};

const char *sv_tcp_state_name(unsigned state) {
        if (state < _SV_TCP_STATE_MAX && tcp_state_names[state])
                return tcp_state_names[state];
        return "UNKNOWN";
}

static const char *const finding_kind_names[_SV_FIND_KIND_MAX] = {
        [SV_FIND_FREE] = "free",
        [SV_FIND_LISTENER] = "listener",
        [SV_FIND_CONNECTIONS] = "connections",
        [SV_FIND_CLOSE_WAIT] = "close_wait",
        [SV_FIND_TIME_WAIT] = "time_wait",
        [SV_FIND_CLOSING] = "closing",
        [SV_FIND_UNIX_LIVE] = "unix_live",
        [SV_FIND_UNIX_STALE] = "unix_stale",
        [SV_FIND_UNIX_NOT_SOCKET] = "unix_not_socket",
        [SV_FIND_UNIX_NO_FILE] = "unix_no_file",
        [SV_FIND_UNKNOWN] = "unknown",
};

const char *sv_finding_kind_name(SvFindingKind k) {
        return (unsigned) k < _SV_FIND_KIND_MAX ? finding_kind_names[k] : "unknown";
}

/* ---------------------------------------------------------------- query */

int sv_doctor_query_parse(const char *s, SvDoctorQuery *ret, SvDiag *d) {
        SvDoctorQuery q = { 0 };
        size_t n = strlen(s);

        if (n > 0 && strspn(s, "0123456789") == n) {
                char text[32];
                unsigned long port;

                if (n > 5 || (port = strtoul(s, NULL, 10)) > 65535)
                        return diag_set(d, 0, "'%s' is not a port (1-65535); expected a port such as 8080 or an "
                                        "address such as tcp://127.0.0.1:8080", s);
                if (port == 0)
                        return diag_set(d, 0, "port 0 means \"any free port\": there is nothing to diagnose; give "
                                        "the port that fails, e.g. 8080");
                (void) snprintf(text, sizeof(text), "tcp://[::]:%lu", port);
                if (sv_addr_parse(text, &q.addr, d) < 0)
                        return -EINVAL;
                q.bare_port = true;
                q.port = (unsigned) port;
                *ret = q;
                return 0;
        }

        if (sv_addr_parse(s, &q.addr, d) < 0) {
                /* Say that a bare port works too. */
                size_t k = strlen(d->msg);
                (void) snprintf(d->msg + k, sizeof(d->msg) - k, " (or give a bare port, e.g. 8080)");
                return -EINVAL;
        }
        q.port = sv_addr_port(&q.addr);
        if (q.addr.kind != SV_ADDR_UNIX && q.port == 0)
                return diag_set(d, 0, "'%s': port 0 means \"any free port\": there is nothing to diagnose; give "
                                "the port that fails", s);
        *ret = q;
        return 0;
}

/* ---------------------------------------------------------------- sock_diag parsing */

static void parse_inet_attrs(const uint8_t *p, size_t len, SvSockRec *r) {
        while (len >= sizeof(struct rtattr)) {
                struct rtattr a;

                memcpy(&a, p, sizeof(a));
                if (a.rta_len < sizeof(a) || a.rta_len > len)
                        return;
                if (a.rta_type == INET_DIAG_SKV6ONLY && a.rta_len >= RTA_LENGTH(1))
                        r->v6only = p[RTA_LENGTH(0)] != 0;
                size_t step = RTA_ALIGN(a.rta_len);
                if (step >= len)
                        return;
                p += step;
                len -= step;
        }
}

static void parse_unix_attrs(const uint8_t *p, size_t len, SvSockRec *r) {
        while (len >= sizeof(struct rtattr)) {
                struct rtattr a;

                memcpy(&a, p, sizeof(a));
                if (a.rta_len < sizeof(a) || a.rta_len > len)
                        return;
                const uint8_t *data = p + RTA_LENGTH(0);
                size_t dlen = a.rta_len - RTA_LENGTH(0);

                switch (a.rta_type) {
                case UNIX_DIAG_NAME:
                        if (dlen > 0) {
                                r->has_name = true;
                                r->abstract = data[0] == '\0';
                                if (r->abstract) {
                                        data++;
                                        dlen--;
                                }
                                if (dlen > SV_SOCK_PATH_MAX)
                                        dlen = SV_SOCK_PATH_MAX;
                                memcpy(r->path, data, dlen);
                                r->path[dlen] = '\0';
                        }
                        break;
                case UNIX_DIAG_VFS:
                        if (dlen >= sizeof(struct unix_diag_vfs)) {
                                struct unix_diag_vfs v;

                                memcpy(&v, data, sizeof(v));
                                r->has_vfs = true;
                                r->vfs_ino = v.udiag_vfs_ino;
                                r->vfs_dev = v.udiag_vfs_dev;
                        }
                        break;
                case UNIX_DIAG_PEER:
                        if (dlen >= sizeof(uint32_t)) {
                                uint32_t peer;

                                memcpy(&peer, data, sizeof(peer));
                                r->peer_inode = peer;
                        }
                        break;
                case UNIX_DIAG_UID:
                        if (dlen >= sizeof(uint32_t))
                                memcpy(&r->uid, data, sizeof(uint32_t));
                        break;
                default:
                        break;
                }
                size_t step = RTA_ALIGN(a.rta_len);
                if (step >= len)
                        return;
                p += step;
                len -= step;
        }
}

int sv_sockdiag_walk(const void *buf, size_t len, int family, int protocol, int (*cb)(const SvSockRec *s, void *userdata),
                     void *userdata) {
        const uint8_t *p = buf;

        while (len > 0) {
                struct nlmsghdr h;
                SvSockRec r;
                int k;

                if (len < sizeof(h))
                        return -EBADMSG;
                memcpy(&h, p, sizeof(h));
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
                        return -EBADMSG;

                const uint8_t *payload = p + NLMSG_HDRLEN;
                size_t plen = h.nlmsg_len - NLMSG_HDRLEN;

                switch (h.nlmsg_type) {
                case NLMSG_DONE:
                        return 1;
                case NLMSG_ERROR: {
                        struct nlmsgerr e;

                        if (plen < sizeof(e.error))
                                return -EBADMSG;
                        memcpy(&e.error, payload, sizeof(e.error));
                        return e.error < 0 ? e.error : -EPROTO;
                }
                case NLMSG_NOOP:
                        break;
                default:
                        memset(&r, 0, sizeof(r));
                        r.v6only = -1;
                        if (family == AF_UNIX) {
                                struct unix_diag_msg m;

                                if (plen < sizeof(m))
                                        return -EBADMSG;
                                memcpy(&m, payload, sizeof(m));
                                r.family = AF_UNIX;
                                r.socktype = m.udiag_type;
                                r.state = m.udiag_state;
                                r.inode = m.udiag_ino;
                                r.uid = UINT32_MAX; /* unknown unless UNIX_DIAG_UID says */
                                parse_unix_attrs(payload + NLMSG_ALIGN(sizeof(m)),
                                                 plen > NLMSG_ALIGN(sizeof(m)) ? plen - NLMSG_ALIGN(sizeof(m)) : 0, &r);
                        } else {
                                struct inet_diag_msg m;

                                if (plen < sizeof(m))
                                        return -EBADMSG;
                                memcpy(&m, payload, sizeof(m));
                                r.family = m.idiag_family;
                                r.protocol = protocol;
                                r.socktype = protocol == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
                                r.state = m.idiag_state;
                                r.timer = m.idiag_timer;
                                r.lport = ntohs(m.id.idiag_sport);
                                r.rport = ntohs(m.id.idiag_dport);
                                memcpy(r.laddr, m.id.idiag_src, 16);
                                memcpy(r.raddr, m.id.idiag_dst, 16);
                                if (r.family == AF_INET) {
                                        memset(r.laddr + 4, 0, 12);
                                        memset(r.raddr + 4, 0, 12);
                                }
                                r.expires_ms = m.idiag_expires;
                                r.uid = m.idiag_uid;
                                r.inode = m.idiag_inode;
                                parse_inet_attrs(payload + NLMSG_ALIGN(sizeof(m)),
                                                 plen > NLMSG_ALIGN(sizeof(m)) ? plen - NLMSG_ALIGN(sizeof(m)) : 0, &r);
                        }
                        k = cb(&r, userdata);
                        if (k < 0)
                                return k;
                        break;
                }

                size_t step = NLMSG_ALIGN(h.nlmsg_len);
                if (step >= len)
                        break;
                p += step;
                len -= step;
        }
        return 0;
}

/* ---------------------------------------------------------------- /proc text */

uint64_t sv_doctor_parse_socket_link(const char *link, size_t len) {
        static const char prefix[] = "socket:[";
        uint64_t v = 0;
        size_t i = sizeof(prefix) - 1;

        if (len < sizeof(prefix) + 1 || memcmp(link, prefix, sizeof(prefix) - 1) != 0 || link[len - 1] != ']')
                return 0;
        for (; i < len - 1; i++) {
                if (link[i] < '0' || link[i] > '9' || v > (UINT64_MAX - 9) / 10)
                        return 0;
                v = v * 10 + (uint64_t) (link[i] - '0');
        }
        return v;
}

void sv_doctor_cmdline_clean(const char *raw, size_t len, char *out, size_t outlen) {
        size_t o = 0;

        if (outlen == 0)
                return;
        while (len > 0 && raw[len - 1] == '\0')
                len--;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) raw[i];

                if (o + 1 >= outlen) {
                        /* Cut: end with "..." where it fits. */
                        if (outlen >= 4)
                                memcpy(out + outlen - 4, "...", 3), o = outlen - 1;
                        break;
                }
                out[o++] = c == '\0' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        out[o] = '\0';
}

/* ---------------------------------------------------------------- addresses */

typedef struct NAddr {
        int family;      /* AF_INET or AF_INET6 after un-mapping ::ffff:a.b.c.d */
        uint8_t a[16];
        bool any;
        bool dual;       /* AF_INET6 [::] that also takes IPv4 */
} NAddr;

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static NAddr naddr_make(int family, const uint8_t *a, int v6only) {
        NAddr n = { .family = family };

        if (family == AF_INET6 && memcmp(a, v4mapped_prefix, 12) == 0) {
                n.family = AF_INET;
                memcpy(n.a, a + 12, 4);
        } else
                memcpy(n.a, a, family == AF_INET ? 4 : 16);
        static const uint8_t zero[16] = { 0 };
        n.any = memcmp(n.a, zero, 16) == 0;
        /* v6only unknown: Linux's default (net.ipv6.bindv6only = 0) is dual-stack. */
        n.dual = n.family == AF_INET6 && n.any && v6only != 1;
        return n;
}

static NAddr naddr_of_query(const SvAddr *a) {
        if (a->family == AF_INET) {
                const struct sockaddr_in *s = (const struct sockaddr_in *) &a->sa;
                uint8_t b[16] = { 0 };

                memcpy(b, &s->sin_addr, 4);
                return naddr_make(AF_INET, b, -1);
        }
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) &a->sa;
        return naddr_make(AF_INET6, s6->sin6_addr.s6_addr, -1);
}

bool sv_doctor_overlaps(const SvDoctorQuery *q, const SvSockRec *rec, const char **ret_conflict) {
        const char *c = NULL;

        if (q->addr.kind == SV_ADDR_UNIX || rec->family == AF_UNIX)
                return false;
        if (rec->protocol != (q->addr.kind == SV_ADDR_UDP ? IPPROTO_UDP : IPPROTO_TCP) || rec->lport != q->port)
                return false;
        if (q->bare_port)
                c = "port";
        else {
                NAddr Q = naddr_of_query(&q->addr);
                NAddr R = naddr_make(rec->family, rec->laddr, rec->v6only);

                if (Q.family == R.family) {
                        if (memcmp(Q.a, R.a, 16) == 0)
                                c = "exact";
                        else if (R.any)
                                c = "wildcard";
                        else if (Q.any)
                                c = "specific";
                } else if ((Q.family == AF_INET6 && Q.dual) || (R.family == AF_INET6 && R.dual))
                        c = "dual-stack";
        }
        if (c && ret_conflict)
                *ret_conflict = c;
        return c != NULL;
}

/* "127.0.0.1:8080", "[::1]:8080", "[::]:8080". */
static void fmt_endpoint(int family, const uint8_t *a, uint16_t port, char *buf, size_t len) {
        char ip[INET6_ADDRSTRLEN];

        if (family == AF_INET) {
                (void) inet_ntop(AF_INET, a, ip, sizeof(ip));
                (void) snprintf(buf, len, "%s:%u", ip, port);
        } else {
                (void) inet_ntop(AF_INET6, a, ip, sizeof(ip));
                (void) snprintf(buf, len, "[%s]:%u", ip, port);
        }
}

static void fmt_rec_local(const SvSockRec *r, char *buf, size_t len) {
        if (r->family == AF_UNIX) {
                (void) snprintf(buf, len, "%s%s", r->abstract ? "@" : "", r->has_name ? r->path : "(unnamed)");
                return;
        }
        char ep[INET6_ADDRSTRLEN + 16];

        fmt_endpoint(r->family, r->laddr, r->lport, ep, sizeof(ep));
        (void) snprintf(buf, len, "%s://%s", r->protocol == IPPROTO_UDP ? "udp" : "tcp", ep);
}

static void fmt_duration_ms(uint32_t ms, char *buf, size_t len) {
        if (ms >= 1000)
                (void) snprintf(buf, len, "%u s", (ms + 999) / 1000);
        else
                (void) snprintf(buf, len, "%u ms", ms);
}

/* ---------------------------------------------------------------- diagnosis */

typedef struct Builder {
        const SvDoctorFacts *f;
        SvFinding *v;
        size_t n, cap;
} Builder;

static SvFinding *finding_new(Builder *b, SvFindingKind kind) {
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 8;
                SvFinding *v = realloc(b->v, cap * sizeof(*v));
                if (!v)
                        return NULL;
                b->v = v;
                b->cap = cap;
        }
        SvFinding *x = &b->v[b->n++];
        memset(x, 0, sizeof(*x));
        x->kind = kind;
        x->reuseaddr_helps = -1;
        x->sock = SIZE_MAX;
        return x;
}

_printf_(3, 4) static void put(char *dst, size_t len, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(dst, len, fmt, ap);
        va_end(ap);
}

/* Appends to a fixed buffer (cut silently: these are one-line messages). */
_printf_(3, 4) static void append(char *dst, size_t len, const char *fmt, ...) {
        size_t k = strlen(dst);
        va_list ap;

        if (k + 1 >= len)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(dst + k, len - k, fmt, ap);
        va_end(ap);
}

static void add_pid(SvFinding *x, pid_t pid) {
        for (size_t i = 0; i < x->n_pids; i++)
                if (x->pids[i] == pid)
                        return;
        if (x->n_pids < SV_FINDING_PIDS_MAX)
                x->pids[x->n_pids++] = pid;
}

static const SvSockHolder *holder_of_pid(const SvDoctorFacts *f, pid_t pid) {
        for (size_t i = 0; i < f->n_holders; i++)
                if (f->holders[i].pid == pid)
                        return &f->holders[i];
        return NULL;
}

/* Adds every holder of inode to x; returns how many there are. */
static size_t add_holders(const SvDoctorFacts *f, SvFinding *x, uint64_t inode) {
        size_t n = 0;

        if (inode == 0)
                return 0;
        for (size_t i = 0; i < f->n_holders; i++)
                if (f->holders[i].inode == inode) {
                        add_pid(x, f->holders[i].pid);
                        n++;
                }
        return n;
}

/* "pid 12 (python3 -m http.server)" for each pid, "and pid 13 (...)". */
static void append_pids(const SvDoctorFacts *f, const SvFinding *x, char *dst, size_t len) {
        for (size_t i = 0; i < x->n_pids; i++) {
                const SvSockHolder *h = holder_of_pid(f, x->pids[i]);

                append(dst, len, "%s%s pid %d (%s)", i == 0 ? "" : i + 1 == x->n_pids ? " and" : ",",
                       i == 0 ? "" : "", (int) x->pids[i], h && h->cmdline[0] ? h->cmdline : h ? h->comm : "?");
        }
}

static bool finding_is_sockvisord(const SvDoctorFacts *f, const SvFinding *x) {
        for (size_t i = 0; i < x->n_pids; i++) {
                const SvSockHolder *h = holder_of_pid(f, x->pids[i]);
                if (h && strcmp(h->comm, "sockvisord") == 0)
                        return true;
        }
        return false;
}

static void append_kill_fix(const SvDoctorFacts *f, const SvFinding *x, char *dst, size_t len) {
        append(dst, len, "stop ");
        for (size_t i = 0; i < x->n_pids; i++)
                append(dst, len, "%s%d", i == 0 ? "pid " : i + 1 == x->n_pids ? " and " : ", ", (int) x->pids[i]);
        append(dst, len, " (kill");
        for (size_t i = 0; i < x->n_pids; i++)
                append(dst, len, " %d", (int) x->pids[i]);
        append(dst, len, ")");
}

static void hidden_fix(const SvDoctorFacts *f, char *dst, size_t len, const char *what) {
        if (f->my_uid != 0)
                append(dst, len, "run as root (sudo sockvisorctl why ...) to see which process holds %s", what);
        else
                append(dst, len, "no process in this PID namespace holds %s: look in the containers that share "
                       "this network namespace", what);
}

/* Probe summary: worst outcome over the probes. */
static int probe_plain(const SvDoctorFacts *f) {
        for (size_t i = 0; i < f->n_probes; i++)
                if (f->probes[i].tried && f->probes[i].plain < 0)
                        return f->probes[i].plain;
        return 0;
}

static int probe_reuse(const SvDoctorFacts *f) {
        for (size_t i = 0; i < f->n_probes; i++)
                if (f->probes[i].tried && f->probes[i].reuseaddr < 0)
                        return f->probes[i].reuseaddr;
        return 0;
}

static bool probed(const SvDoctorFacts *f) {
        for (size_t i = 0; i < f->n_probes; i++)
                if (f->probes[i].tried)
                        return true;
        return false;
}

static bool is_live_bound(const SvSockRec *r) {
        if (r->inode == 0)
                return false;
        if (r->protocol == IPPROTO_UDP)
                return true; /* any bound udp socket holds the port */
        return r->state == SV_TCP_LISTEN || r->state == SV_TCP_CLOSE; /* CLOSE + inode: bound, not listening */
}

static int diagnose_inet(Builder *b) {
        const SvDoctorFacts *f = b->f;
        const SvDoctorQuery *q = &f->query;
        char where[SV_ADDR_STRLEN];
        size_t n_listeners = 0;
        pid_t listener_pids[SV_FINDING_PIDS_MAX];
        size_t n_listener_pids = 0;
        int plain = probe_plain(f), reuse = probe_reuse(f);

        if (q->bare_port)
                put(where, sizeof(where), "port %u", q->port);
        else
                sv_addr_format(&q->addr, where, sizeof(where));

        /* 1. Live sockets bound to the address: listeners (and bound udp sockets). */
        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];
                const char *conflict = NULL;
                char local[SV_ADDR_STRLEN];

                if (!is_live_bound(r) || !sv_doctor_overlaps(q, r, &conflict))
                        continue;
                SvFinding *x = finding_new(b, SV_FIND_LISTENER);
                if (!x)
                        return -ENOMEM;
                x->conflict = conflict;
                x->count = 1;
                x->sock = i;
                fmt_rec_local(r, local, sizeof(local));
                size_t nh = add_holders(f, x, r->inode);
                x->hidden = nh == 0;
                for (size_t k = 0; k < x->n_pids && n_listener_pids < SV_FINDING_PIDS_MAX; k++)
                        listener_pids[n_listener_pids++] = x->pids[k];
                n_listeners++;

                const char *verb = r->protocol == IPPROTO_UDP ? "is bound to"
                                   : r->state == SV_TCP_LISTEN ? "listens on"
                                                               : "is bound (not listening) to";
                if (x->hidden)
                        put(x->text, sizeof(x->text), "a process we cannot see (uid %" PRIu32 ", socket inode %" PRIu64
                            ") %s %s", r->uid, r->inode, verb, local);
                else {
                        put(x->text, sizeof(x->text), "in use by");
                        append_pids(f, x, x->text, sizeof(x->text));
                        append(x->text, sizeof(x->text), ", which %s %s", verb, local);
                        if (x->n_pids > 1)
                                append(x->text, sizeof(x->text), " (one socket shared by %zu processes: a fork "
                                       "inherited it)", x->n_pids);
                }
                if (strcmp(conflict, "wildcard") == 0)
                        append(x->text, sizeof(x->text), "; that is every address, so it includes %s", where);
                else if (strcmp(conflict, "specific") == 0)
                        append(x->text, sizeof(x->text), "; binding every address (%s) includes that one", where);
                else if (strcmp(conflict, "dual-stack") == 0)
                        append(x->text, sizeof(x->text), "; an IPv6 [::] socket without IPV6_V6ONLY takes IPv4 "
                               "on the same port too (dual-stack)");

                if (x->hidden)
                        hidden_fix(f, x->fix, sizeof(x->fix), "it");
                else if (finding_is_sockvisord(f, x))
                        put(x->fix, sizeof(x->fix), "sockvisord already holds this socket for its programs: use "
                            "'sockvisorctl restart NAME' instead of starting another server on it, or choose another "
                            "port");
                else {
                        append_kill_fix(f, x, x->fix, sizeof(x->fix));
                        append(x->fix, sizeof(x->fix), ", or choose another %s", q->bare_port || q->port ? "port"
                                                                                                   : "address");
                        if (strcmp(conflict, "dual-stack") == 0)
                                append(x->fix, sizeof(x->fix), ", or set IPV6_V6ONLY on the IPv6 socket");
                }
        }

        /* 2. Connections on the port held by processes, grouped by holder set: one finding
         *    per distinct first holder, ESTABLISHED & co. apart from CLOSE_WAIT. */
        for (int pass = 0; pass < 2; pass++) {
                SvFindingKind kind = pass == 0 ? SV_FIND_CONNECTIONS : SV_FIND_CLOSE_WAIT;
                size_t first = b->n;

                for (size_t i = 0; i < f->n_socks; i++) {
                        const SvSockRec *r = &f->socks[i];

                        if (r->inode == 0 || is_live_bound(r) || r->state == SV_TCP_NEW_SYN_RECV ||
                            !sv_doctor_overlaps(q, r, NULL))
                                continue;
                        if ((r->state == SV_TCP_CLOSE_WAIT) != (pass == 1))
                                continue;

                        /* Find the finding of this socket's first holder (or the hidden one). */
                        pid_t key = 0;
                        for (size_t h = 0; h < f->n_holders; h++)
                                if (f->holders[h].inode == r->inode) {
                                        key = f->holders[h].pid;
                                        break;
                                }
                        SvFinding *x = NULL;
                        for (size_t k = first; k < b->n; k++)
                                if ((key == 0 && b->v[k].hidden) ||
                                    (key != 0 && b->v[k].n_pids > 0 && b->v[k].pids[0] == key)) {
                                        x = &b->v[k];
                                        break;
                                }
                        if (!x) {
                                x = finding_new(b, kind);
                                if (!x)
                                        return -ENOMEM;
                                x->sock = i;
                                x->hidden = key == 0;
                        }
                        add_holders(f, x, r->inode);
                        x->count++;
                }
                for (size_t k = first; k < b->n; k++) {
                        SvFinding *x = &b->v[k];
                        const SvSockRec *r = &f->socks[x->sock];
                        char local[SV_ADDR_STRLEN], remote[INET6_ADDRSTRLEN + 16];

                        fmt_rec_local(r, local, sizeof(local));
                        fmt_endpoint(r->family, r->raddr, r->rport, remote, sizeof(remote));
                        if (x->hidden)
                                put(x->text, sizeof(x->text), "a process we cannot see (uid %" PRIu32 ")", r->uid);
                        else {
                                x->text[0] = '\0';
                                append_pids(f, x, x->text, sizeof(x->text));
                                /* Drop the leading space append_pids leaves. */
                                memmove(x->text, x->text + (x->text[0] == ' '), strlen(x->text));
                        }
                        if (kind == SV_FIND_CONNECTIONS)
                                append(x->text, sizeof(x->text), " still holds %u connection%s on %s (e.g. %s from "
                                       "%s, %s)%s", x->count, x->count == 1 ? "" : "s", where, local, remote,
                                       sv_tcp_state_name(r->state),
                                       n_listeners == 0 ? " with no listener left: a child still serving clients "
                                                          "after its listener exited, or a leaked connection"
                                                        : "");
                        else
                                append(x->text, sizeof(x->text), " holds %u connection%s on %s that the other side "
                                       "closed but it never did (CLOSE_WAIT: it does not close its sockets)",
                                       x->count, x->count == 1 ? "" : "s", where);

                        /* A fix only where stopping the listener would not already do it. */
                        bool all_listener = x->n_pids > 0;
                        for (size_t p = 0; p < x->n_pids; p++) {
                                bool found = false;
                                for (size_t l = 0; l < n_listener_pids; l++)
                                        found |= listener_pids[l] == x->pids[p];
                                all_listener &= found;
                        }
                        if (x->hidden)
                                hidden_fix(f, x->fix, sizeof(x->fix), "them");
                        else if (!all_listener || n_listeners == 0) {
                                append_kill_fix(f, x, x->fix, sizeof(x->fix));
                                append(x->fix, sizeof(x->fix), kind == SV_FIND_CONNECTIONS
                                       ? ", or wait until those connections end"
                                       : ", and fix that program to close its connections");
                                if (reuse == 0 && plain < 0 && n_listeners == 0)
                                        append(x->fix, sizeof(x->fix), "; or set SO_REUSEADDR on the new "
                                               "socket: the test bind shows that gets past them");
                        }
                }
        }

        /* 3. TIME_WAIT: no process, the kernel keeps them up to 60 s. */
        SvFinding *tw = NULL;
        unsigned closing[_SV_TCP_STATE_MAX] = { 0 };
        uint32_t closing_max = 0;
        size_t closing_first = SIZE_MAX;
        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];

                if (r->inode != 0 || !sv_doctor_overlaps(q, r, NULL))
                        continue;
                if (r->state == SV_TCP_TIME_WAIT) {
                        if (!tw) {
                                tw = finding_new(b, SV_FIND_TIME_WAIT);
                                if (!tw)
                                        return -ENOMEM;
                                tw->sock = i;
                        }
                        tw->count++;
                        if (r->expires_ms > tw->max_expires_ms)
                                tw->max_expires_ms = r->expires_ms;
                } else if (r->state < _SV_TCP_STATE_MAX && r->state != SV_TCP_NEW_SYN_RECV &&
                           r->state != SV_TCP_LISTEN && r->protocol == IPPROTO_TCP) {
                        closing[r->state]++;
                        if (r->expires_ms > closing_max)
                                closing_max = r->expires_ms;
                        if (closing_first == SIZE_MAX)
                                closing_first = i;
                }
        }
        bool live = false;
        for (size_t k = 0; k < b->n; k++)
                live |= b->v[k].kind == SV_FIND_LISTENER ||
                        (b->v[k].kind != SV_FIND_TIME_WAIT && b->v[k].count > 0 && b->v[k].kind != SV_FIND_CLOSING);
        if (tw) {
                char left[32];

                fmt_duration_ms(tw->max_expires_ms, left, sizeof(left));
                put(tw->text, sizeof(tw->text), "%u closed connection%s on %s %s in TIME_WAIT: the side that "
                    "closes first keeps the port for 60 s after the close, and this server closed first; the last "
                    "one goes in %s", tw->count, tw->count == 1 ? "" : "s", where, tw->count == 1 ? "is" : "are",
                    left);
                if (!probed(f) || n_listeners > 0)
                        tw->reuseaddr_helps = -1;
                else
                        tw->reuseaddr_helps = reuse == 0;
                if (tw->reuseaddr_helps == 1)
                        put(tw->fix, sizeof(tw->fix), "set SO_REUSEADDR on the listening socket before bind() (a "
                            "test bind with it works now), or wait %s", left);
                else if (tw->reuseaddr_helps == 0 && !live)
                        put(tw->fix, sizeof(tw->fix), "wait %s: SO_REUSEADDR will NOT get past these (a test bind "
                            "with it fails too: the server that left them did not set it); set SO_REUSEADDR in "
                            "that server, or let sockvisord hold the socket so a restart never binds again", left);
                else if (tw->reuseaddr_helps == 0)
                        put(tw->fix, sizeof(tw->fix), "after the processes above are gone, wait up to %s, or set "
                            "SO_REUSEADDR before bind()", left);
                else
                        put(tw->fix, sizeof(tw->fix), "once the listener above is gone: SO_REUSEADDR before bind() "
                            "gets past TIME_WAIT left by a server that set it too; otherwise wait up to %s", left);
        }

        /* 4. Other closing states with no process left. */
        if (closing_first != SIZE_MAX) {
                SvFinding *x = finding_new(b, SV_FIND_CLOSING);
                char left[32];

                if (!x)
                        return -ENOMEM;
                x->sock = closing_first;
                x->max_expires_ms = closing_max;
                put(x->text, sizeof(x->text), "closing connections with no process left on %s:", where);
                for (unsigned s = 0; s < _SV_TCP_STATE_MAX; s++)
                        if (closing[s] > 0) {
                                append(x->text, sizeof(x->text), " %u %s", closing[s], sv_tcp_state_name(s));
                                x->count += closing[s];
                        }
                fmt_duration_ms(closing_max, left, sizeof(left));
                append(x->text, sizeof(x->text), " (the kernel finishes the close; timer %s)", left);
                put(x->fix, sizeof(x->fix), "wait: they go within net.ipv4.tcp_fin_timeout (60 s by default)%s",
                    reuse == 0 && plain < 0 && !live ? ", or set SO_REUSEADDR (a test bind with it works now)" : "");
        }

        /* 5. Nothing found: free, or an unexplained failure. */
        if (b->n == 0) {
                if (plain == 0) {
                        SvFinding *x = finding_new(b, SV_FIND_FREE);
                        if (!x)
                                return -ENOMEM;
                        put(x->text, sizeof(x->text), "no socket holds %s%s", where,
                            probed(f) ? ": a test bind just now worked" : "");
                } else {
                        SvFinding *x = finding_new(b, SV_FIND_UNKNOWN);
                        if (!x)
                                return -ENOMEM;
                        put(x->text, sizeof(x->text), "a test bind of %s fails (%s) but no socket on that port "
                            "explains it", where, strerror(-plain));
                        if (plain == -EACCES)
                                put(x->fix, sizeof(x->fix), "ports below 1024 need root or CAP_NET_BIND_SERVICE");
                        else if (plain == -EADDRNOTAVAIL)
                                put(x->fix, sizeof(x->fix), "that address is not configured on this machine: "
                                    "use one that 'ip addr' shows, or 0.0.0.0");
                        else
                                put(x->fix, sizeof(x->fix), "try again: a socket may have been closing at that "
                                    "moment");
                }
        }
        return 0;
}

static int diagnose_unix(Builder *b) {
        const SvDoctorFacts *f = b->f;
        const SvDoctorQuery *q = &f->query;
        char where[SV_ADDR_STRLEN];
        const struct sockaddr_un *sun = (const struct sockaddr_un *) &q->addr.sa;

        sv_addr_format(&q->addr, where, sizeof(where));

        /* Live sockets bound to the name (the I/O layer kept only those). */
        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];

                if (r->family != AF_UNIX || r->inode == 0)
                        continue;
                /* Connected ends that share the name (accepted sockets) are not what holds it. */
                if (r->socktype != SOCK_DGRAM && r->state != SV_TCP_LISTEN)
                        continue;
                SvFinding *x = finding_new(b, SV_FIND_UNIX_LIVE);
                if (!x)
                        return -ENOMEM;
                x->sock = i;
                x->count = 1;
                x->conflict = "exact";
                x->hidden = add_holders(f, x, r->inode) == 0;
                const char *verb = r->state == SV_TCP_LISTEN ? "listens on" : "is bound to";
                if (x->hidden)
                        put(x->text, sizeof(x->text), "a process we cannot see (socket inode %" PRIu64 ") %s %s",
                            r->inode, verb, where);
                else {
                        put(x->text, sizeof(x->text), "in use by");
                        append_pids(f, x, x->text, sizeof(x->text));
                        append(x->text, sizeof(x->text), ", which %s %s", verb, where);
                }
                if (x->hidden)
                        hidden_fix(f, x->fix, sizeof(x->fix), "it");
                else if (finding_is_sockvisord(f, x))
                        put(x->fix, sizeof(x->fix), "sockvisord already holds this socket: use 'sockvisorctl "
                            "restart NAME', or choose another path");
                else {
                        append_kill_fix(f, x, x->fix, sizeof(x->fix));
                        append(x->fix, sizeof(x->fix), ", or choose another %s", q->addr.abstract ? "name" : "path");
                        if (!q->addr.abstract)
                                append(x->fix, sizeof(x->fix), "; do not delete the file while it listens: its "
                                       "clients would lose it");
                }
        }
        if (b->n > 0 || q->addr.abstract) {
                if (b->n == 0) {
                        SvFinding *x = finding_new(b, SV_FIND_FREE);
                        if (!x)
                                return -ENOMEM;
                        put(x->text, sizeof(x->text), "no socket is bound to %s", where);
                }
                return 0;
        }

        const SvUnixFile *u = &f->unix_file;
        SvFinding *x;
        if (!u->exists) {
                x = finding_new(b, SV_FIND_UNIX_NO_FILE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "no file at %s and no socket bound to it: a bind there works if the "
                    "directory exists and is writable", sun->sun_path);
        } else if (!u->is_socket) {
                x = finding_new(b, SV_FIND_UNIX_NOT_SOCKET);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "%s exists and is not a socket: bind() fails with \"Address already in "
                    "use\" on any existing file", sun->sun_path);
                put(x->fix, sizeof(x->fix), "choose another path, or move that file away if nothing needs it");
        } else if (u->connect_err == 0 || u->connect_err == -EAGAIN || u->connect_err == -EPROTOTYPE) {
                /* Something answers, yet no socket in our view matched the file. */
                x = finding_new(b, SV_FIND_UNIX_LIVE);
                if (!x)
                        return -ENOMEM;
                x->hidden = true;
                x->count = 1;
                put(x->text, sizeof(x->text), "a process we cannot identify listens on %s (a test connect %s)",
                    sun->sun_path, u->connect_err == -EPROTOTYPE ? "found a datagram socket" : "was accepted");
                hidden_fix(f, x->fix, sizeof(x->fix), "it");
        } else {
                x = finding_new(b, SV_FIND_UNIX_STALE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "%s is a stale socket file: no process listens on it (%s); its "
                    "server exited without removing it, and bind() fails while the file exists", sun->sun_path,
                    u->connect_err == -ECONNREFUSED ? "a test connect is refused"
                                                    : "no socket in the kernel is bound to it");
                put(x->fix, sizeof(x->fix), "remove it (rm %s) before binding; sockvisord does this by itself for "
                    "its [socket:] paths", sun->sun_path);
        }
        return 0;
}

int sv_doctor_diagnose(const SvDoctorFacts *f, SvDoctorReport *ret) {
        Builder b = { .f = f };
        int r;

        r = f->query.addr.kind == SV_ADDR_UNIX ? diagnose_unix(&b) : diagnose_inet(&b);
        if (r < 0) {
                free(b.v);
                return r;
        }
        ret->findings = b.v;
        ret->n_findings = b.n;
        if (f->query.addr.kind == SV_ADDR_UNIX)
                ret->blocked = b.n > 0 && b.v[0].kind != SV_FIND_FREE && b.v[0].kind != SV_FIND_UNIX_NO_FILE;
        else if (probed(f)) {
                ret->blocked = false;
                for (size_t i = 0; i < f->n_probes; i++)
                        ret->blocked |= f->probes[i].tried && f->probes[i].plain == -EADDRINUSE;
        } else
                ret->blocked = !(b.n == 1 && b.v[0].kind == SV_FIND_FREE);
        return 0;
}

void sv_doctor_report_done(SvDoctorReport *r) {
        free(r->findings);
        r->findings = NULL;
        r->n_findings = 0;
}

/* ---------------------------------------------------------------- text */

static void query_text(const SvDoctorQuery *q, char *buf, size_t len) {
        if (q->bare_port)
                put(buf, len, "port %u (tcp, every address, IPv4 and IPv6)", q->port);
        else
                sv_addr_format(&q->addr, buf, len);
}

static const char *probe_result(int r, char *buf, size_t len) {
        if (r == 0)
                return "works";
        put(buf, len, "fails: %s", strerror(-r));
        return buf;
}

char *sv_doctor_format_text(const SvDoctorFacts *f, const SvDoctorReport *r) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *m = open_memstream(&out, &outlen);
        char q[SV_ADDR_STRLEN + 48];

        if (!m)
                return NULL;
        query_text(&f->query, q, sizeof(q));
        if (r->n_findings == 1 && r->findings[0].kind == SV_FIND_FREE)
                fprintf(m, "%s is free: %s\n", q, r->findings[0].text);
        else if (r->n_findings == 1 && r->findings[0].kind == SV_FIND_UNIX_NO_FILE)
                fprintf(m, "%s is free: %s\n", q, r->findings[0].text);
        else {
                fprintf(m, "%s is %s:\n", q, r->blocked ? "in use (bind() fails with \"Address already in use\")"
                                                        : "not free");
                for (size_t i = 0; i < r->n_findings; i++) {
                        const SvFinding *x = &r->findings[i];

                        fprintf(m, "  - %s\n", x->text);
                        if (x->fix[0])
                                fprintf(m, "    fix: %s\n", x->fix);
                }
        }
        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *p = &f->probes[i];
                char a[SV_ADDR_STRLEN], b1[96], b2[96];

                if (!p->tried)
                        continue;
                sv_addr_format(&p->addr, a, sizeof(a));
                fprintf(m, "  test bind of %s just now: %s; with SO_REUSEADDR: %s\n", a,
                        probe_result(p->plain, b1, sizeof(b1)), probe_result(p->reuseaddr, b2, sizeof(b2)));
        }
        if (f->proc_hidden > 0) {
                bool any_hidden = false;
                for (size_t i = 0; i < r->n_findings; i++)
                        any_hidden |= r->findings[i].hidden;
                if (any_hidden)
                        fprintf(m, "  note: the open files of %u process%s could not be read (other users%s)\n",
                                f->proc_hidden, f->proc_hidden == 1 ? "" : "es",
                                f->my_uid == 0 ? "" : "; root sees them");
        }
        if (fclose(m) != 0) {
                free(out);
                return NULL;
        }
        return out;
}

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *m, const char *s) {
        fputc('"', m);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        fprintf(m, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(m, "\\u%04x", c);
                else
                        fputc(c, m);
        }
        fputc('"', m);
}

static void json_errno(FILE *m, int r) {
        if (r == 0)
                fputs("null", m);
        else {
                const char *n = strerrorname_np(-r);
                json_str(m, n ? n : "unknown");
        }
}

static void json_tristate(FILE *m, int v) {
        fputs(v < 0 ? "null" : v ? "true" : "false", m);
}

char *sv_doctor_format_json(const SvDoctorFacts *f, const SvDoctorReport *r) {
        char *out = NULL;
        size_t outlen = 0;
        FILE *m = open_memstream(&out, &outlen);
        char buf[SV_ADDR_STRLEN + 48];
        const SvDoctorQuery *q = &f->query;

        if (!m)
                return NULL;
        sv_addr_format(&q->addr, buf, sizeof(buf));
        fputs("{\"query\":", m);
        if (q->bare_port)
                (void) snprintf(buf, sizeof(buf), "%u", q->port);
        json_str(m, buf);
        fprintf(m, ",\"protocol\":\"%s\",\"port\":%u,\"bare_port\":%s,\"in_use\":%s,",
                q->addr.kind == SV_ADDR_UNIX ? "unix" : q->addr.kind == SV_ADDR_UDP ? "udp" : "tcp", q->port,
                q->bare_port ? "true" : "false", r->blocked ? "true" : "false");

        fputs("\"findings\":[", m);
        for (size_t i = 0; i < r->n_findings; i++) {
                const SvFinding *x = &r->findings[i];

                fprintf(m, "%s{\"kind\":\"%s\",\"text\":", i ? "," : "", sv_finding_kind_name(x->kind));
                json_str(m, x->text);
                fputs(",\"fix\":", m);
                if (x->fix[0])
                        json_str(m, x->fix);
                else
                        fputs("null", m);
                fputs(",\"conflict\":", m);
                if (x->conflict)
                        json_str(m, x->conflict);
                else
                        fputs("null", m);
                fprintf(m, ",\"count\":%u,\"max_remaining_ms\":%" PRIu32 ",\"reuseaddr_helps\":", x->count,
                        x->max_expires_ms);
                json_tristate(m, x->reuseaddr_helps);
                fprintf(m, ",\"holder_visible\":%s,\"pids\":[", x->hidden ? "false" : "true");
                for (size_t k = 0; k < x->n_pids; k++)
                        fprintf(m, "%s%d", k ? "," : "", (int) x->pids[k]);
                fputs("]}", m);
        }

        fputs("],\"probes\":[", m);
        bool first = true;
        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *p = &f->probes[i];

                if (!p->tried)
                        continue;
                sv_addr_format(&p->addr, buf, sizeof(buf));
                fprintf(m, "%s{\"address\":", first ? "" : ",");
                json_str(m, buf);
                fprintf(m, ",\"plain_ok\":%s,\"plain_error\":", p->plain == 0 ? "true" : "false");
                json_errno(m, p->plain);
                fprintf(m, ",\"reuseaddr_ok\":%s,\"reuseaddr_error\":", p->reuseaddr == 0 ? "true" : "false");
                json_errno(m, p->reuseaddr);
                fputc('}', m);
                first = false;
        }

        fputs("],\"sockets\":[", m);
        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *s = &f->socks[i];

                fmt_rec_local(s, buf, sizeof(buf));
                fprintf(m, "%s{\"local\":", i ? "," : "");
                json_str(m, buf);
                if (s->family != AF_UNIX) {
                        fmt_endpoint(s->family, s->raddr, s->rport, buf, sizeof(buf));
                        fputs(",\"remote\":", m);
                        json_str(m, buf);
                        fprintf(m, ",\"family\":\"%s\",\"v6only\":", s->family == AF_INET ? "ipv4" : "ipv6");
                        json_tristate(m, s->family == AF_INET6 ? s->v6only : -1);
                } else
                        fprintf(m, ",\"family\":\"unix\",\"type\":\"%s\"", s->socktype == SOCK_DGRAM ? "dgram"
                                                                           : s->socktype == SOCK_SEQPACKET ? "seqpacket"
                                                                                                           : "stream");
                fprintf(m, ",\"state\":\"%s\",\"inode\":%" PRIu64 ",\"uid\":", sv_tcp_state_name(s->state), s->inode);
                if (s->uid == UINT32_MAX)
                        fputs("null", m);
                else
                        fprintf(m, "%" PRIu32, s->uid);
                fprintf(m, ",\"remaining_ms\":%" PRIu32 ",\"holders\":[", s->timer ? s->expires_ms : 0);
                bool hf = true;
                for (size_t h = 0; h < f->n_holders && s->inode; h++) {
                        const SvSockHolder *x = &f->holders[h];

                        if (x->inode != s->inode)
                                continue;
                        fprintf(m, "%s{\"pid\":%d,\"uid\":%u,\"comm\":", hf ? "" : ",", (int) x->pid, (unsigned) x->uid);
                        json_str(m, x->comm);
                        fputs(",\"command\":", m);
                        json_str(m, x->cmdline);
                        fputc('}', m);
                        hf = false;
                }
                fputs("]}", m);
        }
        fprintf(m, "],\"proc_scanned\":%s,\"processes_not_readable\":%u", f->proc_scanned ? "true" : "false",
                f->proc_hidden);
        if (q->addr.kind == SV_ADDR_UNIX && !q->addr.abstract) {
                fprintf(m, ",\"file\":{\"exists\":%s,\"is_socket\":%s,\"connect_error\":",
                        f->unix_file.exists ? "true" : "false", f->unix_file.is_socket ? "true" : "false");
                json_errno(m, f->unix_file.connect_err);
                fputc('}', m);
        }
        fputs("}\n", m);
        if (fclose(m) != 0) {
                free(out);
                return NULL;
        }
        return out;
}
