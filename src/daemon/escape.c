/* ops->escapees: once a generation has stopped, the processes that still hold its listening
 * sockets outside every live worker (a worker's child that called setsid() left the process
 * group stop and kill reach, and goes on serving old code) get SIGTERM, and SIGKILL after the
 * program's stopwaitsecs=. Which holders those are is core/escapee.c's to say; here are the
 * /proc reads and the signals. Signals go through pidfds, checked against the start time
 * read with the holder, so a pid reused meanwhile is never hit. */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "sockvisor/doctor.h"
#include "sockvisor/duration.h"
#include "sockvisor/escapee.h"
#include "sockvisor/procfs.h"
#include "sockvisor/log.h"

/* Escapees signalled in one sweep: more than a generation could sensibly leave. */
#define ESCAPEES_MAX 256
/* At exit, the longest sockvisord waits for what it sent SIGTERM before the SIGKILL. */
#define EXIT_WAIT_MAX_USEC (10 * USEC_PER_SEC)

typedef struct Pending {
        int pidfd;
        pid_t pid;
        char comm[16];
        uint64_t kill_at; /* CLOCK_MONOTONIC */
} Pending;

/* How long stopped generations are gathered for one search. */
#define ESCAPE_BATCH_USEC (100 * USEC_PER_MSEC)

/* One stopped generation waiting for the next search: a copy of its SvEscapeQuery. */
typedef struct Query {
        char *program;
        unsigned generation;
        uint64_t grace_usec;
        uint64_t inodes[SV_PROGRAM_SOCKETS_MAX];
        char *addresses[SV_PROGRAM_SOCKETS_MAX];
        size_t n_socks;
} Query;

struct SvEscape {
        sd_event *event;
        sd_event_source *timer; /* the earliest kill_at */
        Pending *v;
        size_t n, cap;
        sd_event_source *search_src; /* ESCAPE_BATCH_USEC after the first queued query */
        Query *queries;
        size_t n_queries, cap_queries;
        SvEscapeLive live;
        SvEscapeCounted counted;
        void *userdata;
};

static int pidfd_open_(pid_t pid) {
        return (int) syscall(SYS_pidfd_open, pid, 0); /* always O_CLOEXEC */
}

static int pidfd_signal(int pidfd, int sig) {
        return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* Gone (a zombie counts): its pidfd polls readable. */
static bool pidfd_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

static int read_stat(pid_t pid, pid_t *ret_ppid, uint64_t *ret_start) {
        char buf[1024];
        int r = sv_procfs_read(pid, "stat", buf, sizeof(buf));
        return r < 0 ? r : sv_escapee_parse_stat(buf, ret_ppid, ret_start);
}

SvEscape *sv_escape_new(sd_event *event, SvEscapeLive live, SvEscapeCounted counted, void *userdata) {
        SvEscape *e = calloc(1, sizeof(SvEscape));
        if (e)
                *e = (SvEscape){ .event = event, .live = live, .counted = counted, .userdata = userdata };
        return e;
}

static void pending_drop(SvEscape *e, size_t k) {
        (void) safe_close(e->v[k].pidfd);
        e->v[k] = e->v[--e->n];
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void arm(SvEscape *e) {
        uint64_t next = 0;
        for (size_t k = 0; k < e->n; k++)
                if (!next || e->v[k].kill_at < next)
                        next = e->v[k].kill_at;
        if (sv_timer_oneshot(e->event, &e->timer, next, on_kill_timer, e) < 0)
                log_error("cannot arm the timer that SIGKILLs escaped processes; they got SIGTERM only");
}

/* What SIGTERM did not end by its deadline (or, with all, at once) gets SIGKILL. */
static void kill_due(SvEscape *e, uint64_t now, bool all) {
        for (size_t k = 0; k < e->n;) {
                Pending *p = &e->v[k];
                if (!all && p->kill_at > now) {
                        k++;
                        continue;
                }
                if (!pidfd_exited(p->pidfd) && pidfd_signal(p->pidfd, SIGKILL) == 0)
                        log_warning("escaped process %d (%s) was still running after SIGTERM; sent SIGKILL", (int) p->pid,
                                    p->comm);
                pending_drop(e, k);
        }
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        SvEscape *e = userdata;
        kill_due(e, sv_clock_usec(), false);
        arm(e);
        return 0;
}

static int pending_add(SvEscape *e, int pidfd, pid_t pid, const char *comm, uint64_t kill_at) {
        if (e->n == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 8;
                Pending *v = realloc(e->v, cap * sizeof(Pending));
                if (!v)
                        return -ENOMEM;
                e->v = v;
                e->cap = cap;
        }
        e->v[e->n] = (Pending){ .pidfd = pidfd, .pid = pid, .kill_at = kill_at };
        (void) snprintf(e->v[e->n].comm, sizeof(e->v[e->n].comm), "%s", comm);
        e->n++;
        return 0;
}

/* The parents of every holder and of their ancestors, up to sockvisord or init, each with
 * its start time (start[m] for tree[m]); returns how many were read. */
static size_t read_tree(const SvSockHolder *h, size_t nh, SvProcParent *tree, uint64_t *start, size_t cap) {
        size_t n = 0;
        pid_t self = getpid();
        for (size_t k = 0; k < nh; k++) {
                pid_t pid = h[k].pid;
                for (unsigned depth = 0; pid > 1 && pid != self && depth < SV_ESCAPEE_DEPTH_MAX && n < cap; depth++) {
                        bool known = false;
                        for (size_t m = 0; m < n && !known; m++)
                                known = tree[m].pid == pid;
                        pid_t ppid;
                        if (known || read_stat(pid, &ppid, &start[n]) < 0)
                                break; /* the rest of its ancestry is read already, or it is gone */
                        tree[n++] = (SvProcParent){ .pid = pid, .ppid = ppid };
                        pid = ppid;
                }
        }
        return n;
}

static uint64_t start_of(const SvProcParent *tree, const uint64_t *start, size_t n, pid_t pid) {
        for (size_t m = 0; m < n; m++)
                if (tree[m].pid == pid)
                        return start[m];
        return 0;
}

static const char *address_of(const Query *q, uint64_t inode) {
        for (size_t k = 0; k < q->n_socks; k++)
                if (q->inodes[k] == inode)
                        return q->addresses[k] ? q->addresses[k] : "?";
        return "?";
}

/* SIGTERM to the escapee h, through a pidfd opened now and checked to be the process read
 * (its start time): 0, or a negative errno when it is gone or not the same. */
static int signal_escapee(SvEscape *e, const Query *q, const SvSockHolder *h, uint64_t start) {
        int pidfd = pidfd_open_(h->pid);
        if (pidfd < 0)
                return -errno;
        pid_t ppid;
        uint64_t now_start;
        int r = read_stat(h->pid, &ppid, &now_start);
        if (r >= 0 && now_start != start)
                r = -ESRCH; /* the pid is someone else's now */
        if (r >= 0)
                r = pidfd_signal(pidfd, SIGTERM);
        if (r < 0) {
                (void) safe_close(pidfd);
                return r;
        }
        log_warning("escaped process %d (%s) held socket %s after generation %u of program '%s' stopped; sent SIGTERM, "
                    "SIGKILL in %s", (int) h->pid, h->comm, address_of(q, h->inode), q->generation, q->program,
                    sv_duration_format(q->grace_usec, (char[32]){}, 32));
        if (pending_add(e, pidfd, h->pid, h->comm, sv_clock_usec() + q->grace_usec) < 0) {
                (void) pidfd_signal(pidfd, SIGKILL); /* no memory to wait: no waiting */
                (void) safe_close(pidfd);
        }
        return 0;
}

static bool query_has(const Query *q, uint64_t inode) {
        for (size_t k = 0; k < q->n_socks; k++)
                if (q->inodes[k] == inode)
                        return true;
        return false;
}

static void queries_clear(SvEscape *e) {
        for (size_t k = 0; k < e->n_queries; k++) {
                free(e->queries[k].program);
                for (size_t m = 0; m < e->queries[k].n_socks; m++)
                        free(e->queries[k].addresses[m]);
        }
        e->n_queries = 0;
}

/* One /proc walk for every generation that stopped since the last: the holders of all
 * their sockets at once, then, per generation, those that are escapees. live: every worker
 * with a process now (NULL at exit: none). */
static void search_queued(SvEscape *e, const pid_t *live, size_t n_live) {
        _cleanup_free_ uint64_t *inodes = NULL;
        size_t n_inodes = 0, nh = 0, cap_inodes = 0;
        for (size_t k = 0; k < e->n_queries; k++)
                cap_inodes += e->queries[k].n_socks;
        inodes = calloc(cap_inodes ? cap_inodes : 1, sizeof(uint64_t));
        if (!inodes)
                return;
        for (size_t k = 0; k < e->n_queries; k++)
                for (size_t m = 0; m < e->queries[k].n_socks; m++) {
                        bool dup = false;
                        for (size_t j = 0; j < n_inodes && !dup; j++)
                                dup = inodes[j] == e->queries[k].inodes[m];
                        if (!dup)
                                inodes[n_inodes++] = e->queries[k].inodes[m];
                }
        if (n_inodes == 0)
                return;
        _cleanup_free_ SvSockHolder *h = NULL;
        int r = sv_doctor_find_holders(inodes, n_inodes, &h, &nh);
        if (r < 0) {
                sv_log_errno(LOG_WARNING, r, "cannot look for processes stopped generations left holding their sockets");
                return;
        }
        if (nh == 0)
                return;
        _cleanup_free_ pid_t *holders = calloc(nh, sizeof(pid_t));
        _cleanup_free_ pid_t *signalled = calloc(nh, sizeof(pid_t));
        size_t cap = nh * SV_ESCAPEE_DEPTH_MAX, n_signalled = 0;
        _cleanup_free_ uint64_t *start = calloc(cap, sizeof(uint64_t));
        _cleanup_free_ SvProcParent *tree = calloc(cap, sizeof(SvProcParent));
        if (!holders || !signalled || !start || !tree)
                return;
        size_t n_tree = read_tree(h, nh, tree, start, cap);
        for (size_t k = 0; k < e->n_queries; k++) {
                const Query *q = &e->queries[k];
                size_t n_holders = 0;
                for (size_t m = 0; m < nh; m++)
                        if (query_has(q, h[m].inode))
                                holders[n_holders++] = h[m].pid;
                if (n_holders == 0)
                        continue;
                SvEscapeeFacts f = { .holders = holders, .n_holders = n_holders, .live = live, .n_live = n_live,
                                     .self = getpid(), .tree = tree, .n_tree = n_tree };
                pid_t picked[ESCAPEES_MAX];
                size_t n = sv_escapees_pick(&f, picked, ESCAPEES_MAX);
                unsigned count = 0;
                for (size_t p = 0; p < n; p++) {
                        bool done_already = false; /* a socket two stopped programs shared */
                        for (size_t j = 0; j < n_signalled && !done_already; j++)
                                done_already = signalled[j] == picked[p];
                        for (size_t m = 0; m < nh && !done_already; m++)
                                if (h[m].pid == picked[p] && query_has(q, h[m].inode)) {
                                        if (signal_escapee(e, q, &h[m], start_of(tree, start, n_tree, h[m].pid)) == 0) {
                                                count++;
                                                signalled[n_signalled++] = picked[p];
                                        }
                                        break;
                                }
                }
                if (count && e->counted)
                        e->counted(e->userdata, q->program, count);
        }
        if (n_signalled)
                arm(e);
}

static void search(SvEscape *e, const pid_t *live, size_t n_live) {
        search_queued(e, live, n_live);
        queries_clear(e);
}

/* Searches what is queued, sparing the workers live now. */
static void search_now(SvEscape *e) {
        size_t n_live = e->live ? e->live(e->userdata, NULL, 0) : 0;
        _cleanup_free_ pid_t *live = calloc(n_live ? n_live : 1, sizeof(pid_t));
        if (!live) {
                log_error("out of memory; what stopped generations left running is not looked for");
                queries_clear(e);
                return;
        }
        if (e->live)
                n_live = e->live(e->userdata, live, n_live);
        search(e, live, n_live);
}

static int on_search(sd_event_source *s, uint64_t usec, void *userdata) {
        search_now(userdata);
        return 0;
}

void sv_escape_search_queued(SvEscape *e) {
        if (!e || !e->n_queries)
                return;
        search_now(e);
        if (e->search_src)
                (void) sd_event_source_set_enabled(e->search_src, SD_EVENT_OFF);
}

void sv_escape_kill_pending(SvEscape *e) {
        if (!e || e->n == 0)
                return;
        log_warning("upgrade: %zu escaped process(es) still within their SIGTERM grace get SIGKILL now (the next "
                    "image does not carry their deadlines)",
                    e->n);
        kill_due(e, sv_clock_usec(), true);
        arm(e);
}

/* Queued, not searched: a rollout or a shutdown stops many generations within moments, and
 * one walk of /proc (tens of ms with a few thousand processes) serves them all. */
unsigned sv_escape_sweep(SvEscape *e, const SvEscapeQuery *q) {
        if (!e || q->n_socks == 0)
                return 0;
        if (e->n_queries == e->cap_queries) {
                size_t cap = e->cap_queries ? e->cap_queries * 2 : 8;
                Query *v = realloc(e->queries, cap * sizeof(Query));
                if (!v)
                        return 0;
                e->queries = v;
                e->cap_queries = cap;
        }
        Query *n = &e->queries[e->n_queries];
        *n = (Query){ .program = strdup(q->program), .generation = q->generation, .grace_usec = q->grace_usec };
        if (!n->program)
                return 0;
        for (size_t k = 0; k < q->n_socks && n->n_socks < SV_PROGRAM_SOCKETS_MAX; k++)
                if (q->socks[k].inode) {
                        n->inodes[n->n_socks] = q->socks[k].inode;
                        n->addresses[n->n_socks] = strdup(q->socks[k].address); /* NULL: logged as "?" */
                        n->n_socks++;
                }
        e->n_queries++;
        if (!e->search_src) {
                if (sd_event_add_time_relative(e->event, &e->search_src, CLOCK_MONOTONIC, ESCAPE_BATCH_USEC,
                                               10 * USEC_PER_MSEC, on_search, e) < 0) {
                        on_search(NULL, 0, e); /* no timer: search now rather than never */
                        return 0;
                }
        } else if (sd_event_source_get_enabled(e->search_src, NULL) == 0) {
                (void) sd_event_source_set_time_relative(e->search_src, ESCAPE_BATCH_USEC);
                (void) sd_event_source_set_enabled(e->search_src, SD_EVENT_ONESHOT);
        }
        return 0;
}

SvEscape *sv_escape_free(SvEscape *e) {
        if (!e)
                return NULL;
        /* At exit every worker is gone: what the last generations left is searched now. */
        if (e->n_queries)
                search(e, NULL, 0);
        e->search_src = sd_event_source_disable_unref(e->search_src);
        free(e->queries);
        /* At exit: what got SIGTERM has until its deadline (at most EXIT_WAIT_MAX_USEC) to go,
         * then SIGKILL; nothing outlives sockvisord holding its sockets. */
        uint64_t until = sv_clock_usec() + EXIT_WAIT_MAX_USEC;
        for (unsigned round = 0; e->n > 0 && round < 1000; round++) {
                uint64_t now = sv_clock_usec();
                for (size_t k = 0; k < e->n;)
                        if (pidfd_exited(e->v[k].pidfd)) {
                                siginfo_t si;
                                (void) waitid(P_PIDFD, (id_t) e->v[k].pidfd, &si, WEXITED | WNOHANG); /* ours, once orphaned */
                                pending_drop(e, k);
                        } else
                                k++;
                kill_due(e, now, now >= until);
                if (e->n > 0)
                        (void) usleep(10000);
        }
        for (size_t k = 0; k < e->n; k++)
                (void) safe_close(e->v[k].pidfd);
        e->timer = sd_event_source_disable_unref(e->timer);
        free(e->v);
        free(e);
        return NULL;
}
