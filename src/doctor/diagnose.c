/* The port doctor's diagnosis (pure): from the facts gather.c collected (sockets on the
 * address, their holders, test binds, the unix file) to findings, one per reason a bind is
 * in the way, each with its one-line text and fix. One function per kind of finding; they
 * run in a fixed order, and the later ones read what the earlier ones found (a connection
 * held by the listener's own process needs no fix of its own). */
#include "sockvisor/doctor.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "format.h"

/* Short names for the line builders of format.h: findings are written with little else. */
#define put sv_doctor_put
#define append sv_doctor_append

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

/* ---------------------------------------------------------------- findings and holders */

/* What the test binds showed, over every probe that ran. */
typedef struct Probes {
        bool tried;  /* at least one test bind ran */
        int plain;   /* the first failure without SO_REUSEADDR, or 0 */
        int reuse;   /* the first failure with SO_REUSEADDR, or 0 */
        bool in_use; /* a bind without SO_REUSEADDR failed with EADDRINUSE */
} Probes;

static Probes probes_summarize(const SvDoctorFacts *f) {
        Probes p = { 0 };

        for (size_t i = 0; i < f->n_probes; i++) {
                const SvBindProbe *x = &f->probes[i];

                if (!x->tried)
                        continue;
                p.tried = true;
                if (p.plain == 0 && x->plain < 0)
                        p.plain = x->plain;
                if (p.reuse == 0 && x->reuseaddr < 0)
                        p.reuse = x->reuseaddr;
                p.in_use |= x->plain == -EADDRINUSE;
        }
        return p;
}

typedef struct Builder {
        const SvDoctorFacts *f;
        const SvDoctorQuery *q;
        SvFinding *v;
        size_t n, cap;
        char where[SV_ADDR_STRLEN]; /* the query as findings name it: "port 8080", "tcp://..." */
        Probes probes;
        SvHolderIx *hix; /* f->holders by inode */
        /* What find_listeners found, for the kinds after it. */
        size_t n_listeners;
        pid_t listener_pids[SV_FINDING_PIDS_MAX];
        size_t n_listener_pids;
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

/* A process still holds something on the address: a listener, or connections it keeps. */
static bool have_live_holder(const Builder *b) {
        for (size_t k = 0; k < b->n; k++) {
                const SvFinding *x = &b->v[k];

                if (x->kind == SV_FIND_LISTENER ||
                    (x->kind != SV_FIND_TIME_WAIT && x->kind != SV_FIND_CLOSING && x->count > 0))
                        return true;
        }
        return false;
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

/* The pid of the first process that holds inode, or 0 when none is visible. */
static pid_t first_holder(const Builder *b, uint64_t inode) {
        size_t first;

        if (sv_doctor_holders_find(b->hix, b->f->n_holders, inode, &first) == 0)
                return 0;
        return b->f->holders[b->hix[first].i].pid;
}

/* Adds every holder of inode to x; returns how many there are. */
static size_t add_holders(const Builder *b, SvFinding *x, uint64_t inode) {
        size_t first, n;

        if (inode == 0)
                return 0;
        n = sv_doctor_holders_find(b->hix, b->f->n_holders, inode, &first);
        for (size_t k = 0; k < n; k++)
                add_pid(x, b->f->holders[b->hix[first + k].i].pid);
        return n;
}

/* " pid 12 (python3 -m http.server)" for the first pid, ", pid 13 (...)", " and pid 14 (...)". */
static void append_pids(const SvDoctorFacts *f, const SvFinding *x, char *dst, size_t len) {
        for (size_t i = 0; i < x->n_pids; i++) {
                const SvSockHolder *h = holder_of_pid(f, x->pids[i]);

                append(dst, len, "%s pid %d (%s)", i == 0 ? "" : i + 1 == x->n_pids ? " and" : ",",
                       (int) x->pids[i], h && h->cmdline[0] ? h->cmdline : h ? h->comm : "?");
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

static void append_kill_fix(const SvFinding *x, char *dst, size_t len) {
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

/* ---------------------------------------------------------------- inet: one finder per kind */

static bool is_live_bound(const SvSockRec *r) {
        if (r->inode == 0)
                return false;
        if (r->protocol == IPPROTO_UDP)
                return true; /* any bound udp socket holds the port */
        return r->state == SV_TCP_LISTEN || r->state == SV_TCP_CLOSE; /* CLOSE + inode: bound, not listening */
}

static void listener_text(const Builder *b, SvFinding *x, const SvSockRec *r) {
        const char *verb = r->protocol == IPPROTO_UDP ? "is bound to"
                           : r->state == SV_TCP_LISTEN ? "listens on"
                                                       : "is bound (not listening) to";
        char local[SV_ADDR_STRLEN];

        sv_doctor_fmt_local(r, local, sizeof(local));
        if (x->hidden)
                put(x->text, sizeof(x->text), "a process we cannot see (uid %" PRIu32 ", socket inode %" PRIu64
                    ") %s %s", r->uid, r->inode, verb, local);
        else {
                put(x->text, sizeof(x->text), "in use by");
                append_pids(b->f, x, x->text, sizeof(x->text));
                append(x->text, sizeof(x->text), ", which %s %s", verb, local);
                if (x->n_pids > 1)
                        append(x->text, sizeof(x->text), " (one socket shared by %zu processes: a fork "
                               "inherited it)", x->n_pids);
        }
        if (strcmp(x->conflict, "wildcard") == 0)
                append(x->text, sizeof(x->text), "; that is every address, so it includes %s", b->where);
        else if (strcmp(x->conflict, "specific") == 0)
                append(x->text, sizeof(x->text), "; binding every address (%s) includes that one", b->where);
        else if (strcmp(x->conflict, "dual-stack") == 0)
                append(x->text, sizeof(x->text), "; an IPv6 [::] socket without IPV6_V6ONLY takes IPv4 "
                       "on the same port too (dual-stack)");
}

static void listener_fix(const Builder *b, SvFinding *x) {
        if (x->hidden)
                hidden_fix(b->f, x->fix, sizeof(x->fix), "it");
        else if (finding_is_sockvisord(b->f, x))
                put(x->fix, sizeof(x->fix), "sockvisord already holds this socket for its programs: use "
                    "'sockvisorctl restart NAME' instead of starting another server on it, or choose another "
                    "port");
        else {
                append_kill_fix(x, x->fix, sizeof(x->fix));
                append(x->fix, sizeof(x->fix), ", or choose another %s",
                       b->q->bare_port || b->q->port ? "port" : "address");
                if (strcmp(x->conflict, "dual-stack") == 0)
                        append(x->fix, sizeof(x->fix), ", or set IPV6_V6ONLY on the IPv6 socket");
        }
}

/* SV_FIND_LISTENER: live sockets bound to the address (listeners and bound udp sockets). */
static int find_listeners(Builder *b) {
        const SvDoctorFacts *f = b->f;

        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];
                const char *conflict = NULL;

                if (!is_live_bound(r) || !sv_doctor_overlaps(b->q, r, &conflict))
                        continue;
                SvFinding *x = finding_new(b, SV_FIND_LISTENER);
                if (!x)
                        return -ENOMEM;
                x->conflict = conflict;
                x->count = 1;
                x->sock = i;
                x->hidden = add_holders(b, x, r->inode) == 0;
                for (size_t k = 0; k < x->n_pids && b->n_listener_pids < SV_FINDING_PIDS_MAX; k++)
                        b->listener_pids[b->n_listener_pids++] = x->pids[k];
                b->n_listeners++;
                listener_text(b, x, r);
                listener_fix(b, x);
        }
        return 0;
}

static bool is_listener_pid(const Builder *b, pid_t pid) {
        for (size_t l = 0; l < b->n_listener_pids; l++)
                if (b->listener_pids[l] == pid)
                        return true;
        return false;
}

static void connections_text(const Builder *b, SvFinding *x) {
        const SvSockRec *r = &b->f->socks[x->sock];
        char local[SV_ADDR_STRLEN], remote[INET6_ADDRSTRLEN + 16];

        sv_doctor_fmt_local(r, local, sizeof(local));
        sv_doctor_fmt_endpoint(r->family, r->raddr, r->rport, remote, sizeof(remote));
        if (x->unmatched) {
                bool one = x->n_pids == 1;

                put(x->text, sizeof(x->text), "%u connection%s on %s in all (e.g. %s from %s, %s), as the kernel "
                    "counts them: the listener's process%s", x->count, x->count == 1 ? "" : "s", b->where, local,
                    remote, sv_tcp_state_name(r->state), one ? "" : "es");
                append_pids(b->f, x, x->text, sizeof(x->text));
                append(x->text, sizeof(x->text), " %s read only in part", one ? "was" : "were");
                if (x->n_matched > 0)
                        append(x->text, sizeof(x->text), " and %s %u of them there; the other %u are not matched to a "
                               "process (most likely %s too)", one ? "holds" : "hold", x->n_matched,
                               x->count - x->n_matched, one ? "its own" : "theirs");
                else
                        append(x->text, sizeof(x->text), "; they are not matched to a process (most likely %s)",
                               one ? "its own" : "theirs");
                if (x->kind == SV_FIND_CLOSE_WAIT)
                        append(x->text, sizeof(x->text), "; they are in CLOSE_WAIT: the other side closed, the "
                               "holder never did");
                return;
        }
        if (x->hidden)
                put(x->text, sizeof(x->text), "a process we cannot see (uid %" PRIu32 ")", r->uid);
        else {
                x->text[0] = '\0';
                append_pids(b->f, x, x->text, sizeof(x->text));
                /* Drop the leading space append_pids leaves. */
                memmove(x->text, x->text + (x->text[0] == ' '), strlen(x->text));
        }
        if (x->kind == SV_FIND_CONNECTIONS)
                append(x->text, sizeof(x->text), " still holds %u connection%s on %s (e.g. %s from %s, %s)%s",
                       x->count, x->count == 1 ? "" : "s", b->where, local, remote, sv_tcp_state_name(r->state),
                       b->n_listeners == 0 ? " with no listener left: a child still serving clients after its "
                                             "listener exited, or a leaked connection"
                                           : "");
        else
                append(x->text, sizeof(x->text), " holds %u connection%s on %s that the other side closed but it "
                       "never did (CLOSE_WAIT: it does not close its sockets)",
                       x->count, x->count == 1 ? "" : "s", b->where);
}

/* A fix only where stopping the listener would not already do it. */
static void connections_fix(const Builder *b, SvFinding *x) {
        bool all_listener = x->n_pids > 0;

        for (size_t p = 0; p < x->n_pids; p++)
                all_listener &= is_listener_pid(b, x->pids[p]);
        if (x->hidden)
                hidden_fix(b->f, x->fix, sizeof(x->fix), "them");
        else if (!all_listener || b->n_listeners == 0) {
                append_kill_fix(x, x->fix, sizeof(x->fix));
                append(x->fix, sizeof(x->fix), x->kind == SV_FIND_CONNECTIONS
                       ? ", or wait until those connections end"
                       : ", and fix that program to close its connections");
                if (b->probes.reuse == 0 && b->probes.plain < 0 && b->n_listeners == 0)
                        append(x->fix, sizeof(x->fix), "; or set SO_REUSEADDR on the new socket: the test bind "
                               "shows that gets past them");
        }
}

static bool is_partial_pid(const SvDoctorFacts *f, pid_t pid) {
        for (size_t p = 0; p < f->n_partial; p++)
                if (f->partial_pids[p] == pid)
                        return true;
        return false;
}

/* Some process was read only in part, and every holder seen of inode (maybe none) is one
 * of those. */
static bool only_partial_holders(const Builder *b, uint64_t inode) {
        size_t first, n;

        if (b->f->n_partial == 0)
                return false;
        n = sv_doctor_holders_find(b->hix, b->f->n_holders, inode, &first);
        for (size_t k = 0; k < n; k++)
                if (!is_partial_pid(b->f, b->f->holders[b->hix[first + k].i].pid))
                        return false;
        return true;
}

/* SV_FIND_CONNECTIONS (ESTABLISHED and the like) or SV_FIND_CLOSE_WAIT: connections on the
 * port that processes hold, one finding per first holder (or one for the hidden ones). */
static int find_held_connections(Builder *b, SvFindingKind kind) {
        const SvDoctorFacts *f = b->f;
        size_t first = b->n;

        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];

                if (r->inode == 0 || is_live_bound(r) || r->state == SV_TCP_NEW_SYN_RECV ||
                    !sv_doctor_overlaps(b->q, r, NULL))
                        continue;
                if ((r->state == SV_TCP_CLOSE_WAIT) != (kind == SV_FIND_CLOSE_WAIT))
                        continue;

                pid_t key = first_holder(b, r->inode);
                /* Held by no fully read process, and some were read only in part: it is
                 * theirs (or hidden); which one cannot be told without all of their fds. */
                bool unmatched = only_partial_holders(b, r->inode);
                SvFinding *x = NULL;
                for (size_t k = first; k < b->n && !x; k++)
                        if (unmatched ? b->v[k].unmatched
                            : key == 0 ? b->v[k].hidden
                                       : !b->v[k].unmatched && b->v[k].n_pids > 0 && b->v[k].pids[0] == key)
                                x = &b->v[k];
                if (!x) {
                        x = finding_new(b, kind);
                        if (!x)
                                return -ENOMEM;
                        x->sock = i;
                        x->hidden = key == 0 && !unmatched;
                        x->unmatched = unmatched;
                        for (size_t p = 0; unmatched && p < f->n_partial; p++)
                                add_pid(x, f->partial_pids[p]);
                }
                x->n_matched += unmatched && key != 0;
                add_holders(b, x, r->inode);
                x->count++;
        }
        for (size_t k = first; k < b->n; k++) {
                connections_text(b, &b->v[k]);
                connections_fix(b, &b->v[k]);
        }
        return 0;
}

static int find_connections(Builder *b) {
        return find_held_connections(b, SV_FIND_CONNECTIONS);
}

static int find_close_wait(Builder *b) {
        return find_held_connections(b, SV_FIND_CLOSE_WAIT);
}

/* SV_FIND_TIME_WAIT: closed connections no process holds; the kernel keeps them 60 s. */
static int find_time_wait(Builder *b) {
        const SvDoctorFacts *f = b->f;
        SvFinding *tw = NULL;
        char left[32];

        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];

                if (r->inode != 0 || r->state != SV_TCP_TIME_WAIT || !sv_doctor_overlaps(b->q, r, NULL))
                        continue;
                if (!tw) {
                        tw = finding_new(b, SV_FIND_TIME_WAIT);
                        if (!tw)
                                return -ENOMEM;
                        tw->sock = i;
                }
                tw->count++;
                if (r->expires_ms > tw->max_expires_ms)
                        tw->max_expires_ms = r->expires_ms;
        }
        if (!tw)
                return 0;

        sv_doctor_fmt_duration_ms(tw->max_expires_ms, left, sizeof(left));
        put(tw->text, sizeof(tw->text), "%u closed connection%s on %s %s in TIME_WAIT: the side that closes first "
            "keeps the port for 60 s after the close, and this server closed first; the last one goes in %s",
            tw->count, tw->count == 1 ? "" : "s", b->where, tw->count == 1 ? "is" : "are", left);
        if (!b->probes.tried || b->n_listeners > 0)
                tw->reuseaddr_helps = -1;
        else
                tw->reuseaddr_helps = b->probes.reuse == 0;
        if (tw->reuseaddr_helps == 1)
                put(tw->fix, sizeof(tw->fix), "set SO_REUSEADDR on the listening socket before bind() (a test bind "
                    "with it works now), or wait %s", left);
        else if (tw->reuseaddr_helps == 0 && !have_live_holder(b))
                put(tw->fix, sizeof(tw->fix), "wait %s: SO_REUSEADDR will NOT get past these (a test bind with it "
                    "fails too: the server that left them did not set it); set SO_REUSEADDR in that server, or let "
                    "sockvisord hold the socket so a restart never binds again", left);
        else if (tw->reuseaddr_helps == 0)
                put(tw->fix, sizeof(tw->fix), "after the processes above are gone, wait up to %s, or set "
                    "SO_REUSEADDR before bind()", left);
        else
                put(tw->fix, sizeof(tw->fix), "once the listener above is gone: SO_REUSEADDR before bind() gets past "
                    "TIME_WAIT left by a server that set it too; otherwise wait up to %s", left);
        return 0;
}

/* SV_FIND_CLOSING: FIN_WAIT1/2, LAST_ACK, CLOSING and the like with no process left. */
static int find_closing(Builder *b) {
        const SvDoctorFacts *f = b->f;
        unsigned closing[_SV_TCP_STATE_MAX] = { 0 };
        uint32_t closing_max = 0;
        size_t closing_first = SIZE_MAX;
        char left[32];

        for (size_t i = 0; i < f->n_socks; i++) {
                const SvSockRec *r = &f->socks[i];

                if (r->inode != 0 || r->state >= _SV_TCP_STATE_MAX || r->state == SV_TCP_TIME_WAIT ||
                    r->state == SV_TCP_NEW_SYN_RECV || r->state == SV_TCP_LISTEN || r->protocol != IPPROTO_TCP ||
                    !sv_doctor_overlaps(b->q, r, NULL))
                        continue;
                closing[r->state]++;
                if (r->expires_ms > closing_max)
                        closing_max = r->expires_ms;
                if (closing_first == SIZE_MAX)
                        closing_first = i;
        }
        if (closing_first == SIZE_MAX)
                return 0;

        SvFinding *x = finding_new(b, SV_FIND_CLOSING);
        if (!x)
                return -ENOMEM;
        x->sock = closing_first;
        x->max_expires_ms = closing_max;
        put(x->text, sizeof(x->text), "closing connections with no process left on %s:", b->where);
        for (unsigned s = 0; s < _SV_TCP_STATE_MAX; s++)
                if (closing[s] > 0) {
                        append(x->text, sizeof(x->text), " %u %s", closing[s], sv_tcp_state_name(s));
                        x->count += closing[s];
                }
        sv_doctor_fmt_duration_ms(closing_max, left, sizeof(left));
        append(x->text, sizeof(x->text), " (the kernel finishes the close; timer %s)", left);
        put(x->fix, sizeof(x->fix), "wait: they go within net.ipv4.tcp_fin_timeout (60 s by default)%s",
            b->probes.reuse == 0 && b->probes.plain < 0 && !have_live_holder(b)
                    ? ", or set SO_REUSEADDR (a test bind with it works now)"
                    : "");
        return 0;
}

/* SV_FIND_FREE or SV_FIND_UNKNOWN, when nothing before found a socket in the way. */
static int find_free_or_unknown(Builder *b) {
        int plain = b->probes.plain;
        SvFinding *x;

        if (b->n > 0)
                return 0;
        if (plain == 0) {
                x = finding_new(b, SV_FIND_FREE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "no socket holds %s%s", b->where,
                    b->probes.tried ? ": a test bind just now worked" : "");
                return 0;
        }
        x = finding_new(b, SV_FIND_UNKNOWN);
        if (!x)
                return -ENOMEM;
        put(x->text, sizeof(x->text), "a test bind of %s fails (%s) but no socket on that port explains it",
            b->where, strerror(-plain));
        if (plain == -EACCES)
                put(x->fix, sizeof(x->fix), "ports below 1024 need root or CAP_NET_BIND_SERVICE");
        else if (plain == -EADDRNOTAVAIL)
                put(x->fix, sizeof(x->fix), "that address is not configured on this machine: use one that 'ip addr' "
                    "shows, or 0.0.0.0");
        else
                put(x->fix, sizeof(x->fix), "try again: a socket may have been closing at that moment");
        return 0;
}

/* ---------------------------------------------------------------- unix: one finder per kind */

/* SV_FIND_UNIX_LIVE: sockets bound to the name (gather.c kept only those). */
static int find_unix_listeners(Builder *b) {
        const SvDoctorFacts *f = b->f;
        bool abstract = b->q->addr.abstract;

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
                x->hidden = add_holders(b, x, r->inode) == 0;
                const char *verb = r->state == SV_TCP_LISTEN ? "listens on" : "is bound to";
                if (x->hidden) {
                        put(x->text, sizeof(x->text), "a process we cannot see (socket inode %" PRIu64 ") %s %s",
                            r->inode, verb, b->where);
                        hidden_fix(f, x->fix, sizeof(x->fix), "it");
                        continue;
                }
                put(x->text, sizeof(x->text), "in use by");
                append_pids(f, x, x->text, sizeof(x->text));
                append(x->text, sizeof(x->text), ", which %s %s", verb, b->where);
                if (finding_is_sockvisord(f, x))
                        put(x->fix, sizeof(x->fix), "sockvisord already holds this socket: use 'sockvisorctl "
                            "restart NAME', or choose another path");
                else {
                        append_kill_fix(x, x->fix, sizeof(x->fix));
                        append(x->fix, sizeof(x->fix), ", or choose another %s", abstract ? "name" : "path");
                        if (!abstract)
                                append(x->fix, sizeof(x->fix), "; do not delete the file while it listens: its "
                                       "clients would lose it");
                }
        }
        return 0;
}

/* When no socket holds the name: SV_FIND_FREE for an abstract name; for a path, what the
 * file says (none, not a socket, a socket something answers on, a stale one). */
static int find_unix_file(Builder *b) {
        const SvDoctorFacts *f = b->f;
        const SvUnixFile *u = &f->unix_file;
        const char *path = ((const struct sockaddr_un *) &b->q->addr.sa)->sun_path;
        SvFinding *x;

        if (b->n > 0)
                return 0;
        if (b->q->addr.abstract) {
                x = finding_new(b, SV_FIND_FREE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "no socket is bound to %s", b->where);
        } else if (!u->exists) {
                x = finding_new(b, SV_FIND_UNIX_NO_FILE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "no file at %s and no socket bound to it: a bind there works if the "
                    "directory exists and is writable", path);
        } else if (!u->is_socket) {
                x = finding_new(b, SV_FIND_UNIX_NOT_SOCKET);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "%s exists and is not a socket: bind() fails with \"Address already in "
                    "use\" on any existing file", path);
                put(x->fix, sizeof(x->fix), "choose another path, or move that file away if nothing needs it");
        } else if (u->connect_err == 0 || u->connect_err == -EAGAIN || u->connect_err == -EPROTOTYPE) {
                /* Something answers, yet no socket in our view matched the file. */
                x = finding_new(b, SV_FIND_UNIX_LIVE);
                if (!x)
                        return -ENOMEM;
                x->hidden = true;
                x->count = 1;
                put(x->text, sizeof(x->text), "a process we cannot identify listens on %s (a test connect %s)", path,
                    u->connect_err == -EPROTOTYPE ? "found a datagram socket" : "was accepted");
                hidden_fix(f, x->fix, sizeof(x->fix), "it");
        } else {
                x = finding_new(b, SV_FIND_UNIX_STALE);
                if (!x)
                        return -ENOMEM;
                put(x->text, sizeof(x->text), "%s is a stale socket file: no process listens on it (%s); its server "
                    "exited without removing it, and bind() fails while the file exists", path,
                    u->connect_err == -ECONNREFUSED ? "a test connect is refused"
                                                    : "no socket in the kernel is bound to it");
                put(x->fix, sizeof(x->fix), "remove it (rm %s) before binding; sockvisord does this by itself for its "
                    "[socket:] paths", path);
        }
        return 0;
}

/* ---------------------------------------------------------------- the diagnosis */

typedef int (*Finder)(Builder *b);

/* In this order: the later finders read what the earlier ones found. */
static const Finder inet_finders[] = {
        find_listeners, find_connections, find_close_wait, find_time_wait, find_closing, find_free_or_unknown,
};
static const Finder unix_finders[] = { find_unix_listeners, find_unix_file };

int sv_doctor_diagnose(const SvDoctorFacts *f, SvDoctorReport *ret) {
        bool is_unix = f->query.addr.kind == SV_ADDR_UNIX;
        const Finder *finders = is_unix ? unix_finders : inet_finders;
        size_t n_finders = is_unix ? ELEMENTSOF(unix_finders) : ELEMENTSOF(inet_finders);
        Builder b = { .f = f, .q = &f->query, .probes = probes_summarize(f) };

        if (sv_doctor_holder_index(f, &b.hix) < 0)
                return -ENOMEM;

        if (!is_unix && f->query.bare_port)
                put(b.where, sizeof(b.where), "port %u", f->query.port);
        else
                sv_addr_format(&f->query.addr, b.where, sizeof(b.where));
        for (size_t i = 0; i < n_finders; i++) {
                int r = finders[i](&b);
                if (r < 0) {
                        free(b.v);
                        free(b.hix);
                        return r;
                }
        }
        free(b.hix);

        ret->findings = b.v;
        ret->n_findings = b.n;
        if (is_unix)
                ret->blocked = b.n > 0 && b.v[0].kind != SV_FIND_FREE && b.v[0].kind != SV_FIND_UNIX_NO_FILE;
        else if (b.probes.tried)
                ret->blocked = b.probes.in_use;
        else
                ret->blocked = !(b.n == 1 && b.v[0].kind == SV_FIND_FREE);
        return 0;
}

void sv_doctor_report_done(SvDoctorReport *r) {
        free(r->findings);
        r->findings = NULL;
        r->n_findings = 0;
}
