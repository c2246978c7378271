/* ops->observe: the daemon's watches of a worker's process tree, for ready = accepting
 * (is one of its processes waiting on one of its sockets yet?) and drain = idle (frozen,
 * does it hold an accepted connection?). The reading of /proc is observe.c's; this file is
 * the timing: a bounded interval per watch, never a busy loop, and every process it froze
 * thawed again. What is seen goes to the supervisor, which decides. */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/log.h"
#include "sockvisor/macro.h"
#include "sockvisor/observe.h"
#include "sockvisor/shim.h"

/* ready = accepting: the first look soon after the spawn, then less often; the ceiling is
 * what a slow boot adds to the restart at most. */
#define ACCEPT_FIRST_USEC (2 * USEC_PER_MSEC)
#define ACCEPT_MAX_USEC (50 * USEC_PER_MSEC)
#define ACCEPT_SAMPLES 8                      /* samples of one look, */
#define ACCEPT_SAMPLE_USEC (2 * USEC_PER_MSEC) /* within this */
/* drain = idle: a busy worker stays frozen a while (the next generation takes the new
 * connections meanwhile), then runs a moment to finish what it holds, and is looked at again.
 * Mostly frozen, it takes few new connections, so it comes to be idle even under load. */
#define IDLE_HOLD_USEC (30 * USEC_PER_MSEC)
#define IDLE_RUN_USEC (3 * USEC_PER_MSEC)
#define IDLE_LULL_USEC (2 * USEC_PER_MSEC) /* how long one look waits for a lull */
/* How long one freeze waits for the kernel to stop every process (SIGSTOP is asynchronous). */
#define FREEZE_WAIT_USEC (5 * USEC_PER_MSEC)
#define TREE_MAX 256

typedef struct Observer {
        SvDaemon *d;
        SvInstanceId id;
        pid_t pid;
        SvObserve what;
        SvObserveSocket socks[SV_PROGRAM_SOCKETS_MAX];
        char names[SV_PROGRAM_SOCKETS_MAX][SV_ADDR_STRLEN];
        size_t n;
        uint64_t interval;
        unsigned looks;
        pid_t frozen[TREE_MAX];
        size_t n_frozen;
        bool holding; /* drain = idle: frozen and busy, to be thawed at the next timer */
        sd_event_source *timer;
        struct Observer *next;
} Observer;

static Observer **find(SvDaemon *d, SvInstanceId id) {
        for (Observer **pp = &d->observers; *pp; pp = &(*pp)->next)
                if ((*pp)->id == id)
                        return pp;
        return NULL;
}

static void thaw(Observer *o) {
        for (size_t k = 0; k < o->n_frozen; k++)
                (void) kill(o->frozen[k], SIGCONT);
        o->n_frozen = 0;
}

static void drop(Observer **pp) {
        Observer *o = *pp;
        *pp = o->next;
        thaw(o);
        sd_event_source_disable_unref(o->timer);
        free(o);
}

/* An event-loop server under load is seldom idle at a random moment: a few quick samples
 * (bounded) wait for the moment every process of the tree sleeps waiting for work, and the
 * freeze comes then. */
static void await_lull(const pid_t *pids, size_t n) {
        struct timespec pause = { .tv_nsec = 100 * 1000 };
        uint64_t t0 = sv_clock_usec();
        while (sv_clock_usec() - t0 < IDLE_LULL_USEC) {
                bool all = true;
                for (size_t k = 0; k < n && all; k++)
                        all = sv_observe_waits_for_work(pids[k]);
                if (all)
                        return;
                (void) nanosleep(&pause, NULL);
        }
}

/* Stops every process of the tree and waits (bounded) until the kernel has stopped them:
 * an accept() that is still running would otherwise finish after the look. */
static bool freeze(Observer *o, const pid_t *pids, size_t n) {
        memcpy(o->frozen, pids, n * sizeof(pid_t));
        o->n_frozen = n;
        for (size_t k = 0; k < o->n_frozen; k++)
                (void) kill(o->frozen[k], SIGSTOP);
        struct timespec pause = { .tv_nsec = 100 * 1000 };
        for (uint64_t waited = 0; waited <= FREEZE_WAIT_USEC; waited += 100) {
                bool all = true;
                for (size_t k = 0; k < o->n_frozen && all; k++)
                        all = sv_observe_stopped(o->frozen[k]);
                if (all)
                        return true;
                (void) nanosleep(&pause, NULL);
        }
        return false;
}

static void rearm(Observer *o, uint64_t delay) {
        uint64_t now = sv_daemon_now(o->d);
        (void) sd_event_source_set_time(o->timer, now + delay);
        (void) sd_event_source_set_enabled(o->timer, SD_EVENT_ONESHOT);
}

/* Returns true when it reported: the supervisor may have ended this watch (o is gone). */
static bool look_accepting(Observer *o) {
        SvObservation obs = {};
        /* A server under load is mostly on the CPU, where /proc shows "running", not what it
         * waits in: a few quick samples per look (bounded in count and time) catch it
         * between two requests. */
        uint64_t t0 = sv_clock_usec();
        struct timespec pause = { .tv_nsec = 200 * 1000 };
        int r = 0;
        for (unsigned k = 0; k < ACCEPT_SAMPLES; k++) {
                r = sv_observe_accepting(o->pid, o->socks, o->n, &obs);
                if (r != 0 || sv_clock_usec() - t0 > ACCEPT_SAMPLE_USEC)
                        break;
                (void) nanosleep(&pause, NULL);
        }
        if (r < 0 && r != -ESRCH && o->looks == 1)
                sv_log_errno(LOG_WARNING, -r, "instance pid %d: cannot read /proc to see it accept; it will not be "
                             "ready unless it can", (int) o->pid);
        if (r <= 0)
                return false;
        char how[192];
        const char *sock = obs.socket < o->n ? o->names[obs.socket] : "?";
        if (obs.tid == 0) /* a registration: it waits whenever it calls epoll_wait */
                (void) snprintf(how, sizeof(how), "pid %d waits in epoll for fd %d (%s)", (int) obs.pid, obs.fd, sock);
        else
                (void) snprintf(how, sizeof(how), "pid %d waits in %s() on fd %d (%s)", (int) obs.pid,
                                obs.call ? obs.call : obs.how, obs.fd, sock);
        sv_supervisor_observed(o->d->sup, o->id, SV_OBSERVE_ACCEPTING, how);
        return true;
}

/* Tells every process of the tree that it drains (SV_SHIM_DRAIN_TIMERSLACK_NS): one that
 * runs the shim then accepts nothing more. Again at every look, for children forked since.
 * Without CAP_SYS_NICE the kernel refuses, and the freezes alone have to find a lull. */
static void mark_draining(const Observer *o, const pid_t *pids, size_t n) {
        char path[64], val[32];
        int len = snprintf(val, sizeof(val), "%d", SV_SHIM_DRAIN_TIMERSLACK_NS);
        for (size_t k = 0; k < n; k++) {
                (void) snprintf(path, sizeof(path), "/proc/%d/timerslack_ns", (int) pids[k]);
                int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        continue;
                if (write(fd, val, (size_t) len) < 0 && o->looks <= 1)
                        log_debug("pid %d: cannot mark it draining (%s): its processes keep accepting until idle",
                                  (int) pids[k], strerror(errno));
                (void) close(fd);
        }
}

static bool look_idle(Observer *o) {
        if (o->holding) { /* held frozen long enough: let it finish what it serves */
                o->holding = false;
                thaw(o);
                return false;
        }
        /* one walk of the tree for the whole look */
        pid_t pids[TREE_MAX];
        int n = sv_observe_tree(o->pid, pids, ELEMENTSOF(pids));
        if (n <= 0)
                return false;
        mark_draining(o, pids, (size_t) n);
        await_lull(pids, (size_t) n);
        if (!freeze(o, pids, (size_t) n)) {
                thaw(o);
                return false;
        }
        /* two ways of counting, and busy if either says so: a kill that resets a client
         * is the one mistake this must not make */
        unsigned conns = 0, held = 0;
        int r = sv_observe_held(o->pid, o->socks, o->n, &held);
        if (r >= 0 && held == 0)
                r = sv_observe_connections(o->pid, o->socks, o->n, &conns);
        if (r < 0 || conns > 0 || held > 0) {
                o->holding = true;
                return false;
        }
        char how[192];
        (void) snprintf(how, sizeof(how), "%zu process%s frozen, no accepted connection on %s", o->n_frozen,
                        o->n_frozen == 1 ? "" : "es", o->n ? o->names[0] : "its sockets");
        /* still frozen: the supervisor kills it, then ends the watch, which thaws what is left */
        sv_supervisor_observed(o->d->sup, o->id, SV_OBSERVE_IDLE, how);
        return true;
}

static int on_look(sd_event_source *s, uint64_t usec, void *userdata) {
        Observer *o = userdata;
        o->looks++;
        bool reported = o->what == SV_OBSERVE_ACCEPTING ? look_accepting(o) : look_idle(o);
        if (reported)
                return 0; /* o may be freed */
        if (o->what == SV_OBSERVE_ACCEPTING) {
                o->interval = o->interval * 2 > ACCEPT_MAX_USEC ? ACCEPT_MAX_USEC : o->interval * 2;
                rearm(o, o->interval);
        } else
                rearm(o, o->holding ? IDLE_HOLD_USEC : IDLE_RUN_USEC);
        return 0;
}

static void socket_of(const SvSocketInfo *si, SvObserveSocket *ret, char *name, size_t len) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int type = 0;
        socklen_t tl = sizeof(type);
        *ret = (SvObserveSocket){ .inode = si->inode };
        if (getsockopt(si->fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
                type = SOCK_STREAM;
        if (getsockname(si->fd, (struct sockaddr *) &ss, &sl) == 0)
                (void) sv_addr_from_sockaddr((struct sockaddr *) &ss, sl, type, &ret->addr);
        (void) snprintf(name, len, "%s", si->address);
}

void sv_observer_set(SvDaemon *d, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n) {
        Observer **pp = find(d, id);
        if (pp)
                drop(pp);
        if (what == SV_OBSERVE_NONE || pid <= 0)
                return;
        Observer *o = calloc(1, sizeof(Observer));
        if (!o) {
                log_error("pid %d: out of memory for its watch; %s", (int) pid,
                          what == SV_OBSERVE_ACCEPTING ? "it is not ready until ready_timeout" :
                                                         "it is killed at stopwaitsecs");
                return;
        }
        *o = (Observer){ .d = d, .id = id, .pid = pid, .what = what, .interval = ACCEPT_FIRST_USEC };
        for (size_t k = 0; k < n && o->n < ELEMENTSOF(o->socks); k++, o->n++)
                socket_of(&socks[k], &o->socks[o->n], o->names[o->n], sizeof(o->names[0]));
        uint64_t first = what == SV_OBSERVE_ACCEPTING ? ACCEPT_FIRST_USEC : 0;
        if (sd_event_add_time(d->event, &o->timer, CLOCK_MONOTONIC, sv_daemon_now(d) + first, USEC_PER_MSEC, on_look, o) < 0) {
                log_error("pid %d: cannot arm its watch; %s", (int) pid,
                          what == SV_OBSERVE_ACCEPTING ? "it is not ready until ready_timeout" :
                                                         "it is killed at stopwaitsecs");
                free(o);
                return;
        }
        o->next = d->observers;
        d->observers = o;
}

void sv_observer_stop_all(SvDaemon *d) {
        while (d->observers)
                drop(&d->observers);
}

void sv_observer_thaw_all(SvDaemon *d) {
        for (Observer *o = d->observers; o; o = o->next)
                thaw(o);
}
