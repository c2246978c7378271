/* The daemon's objects, shared by loop.c (the event loop and the SvOps) and upgrade_daemon.c
 * (the self-upgrade: what the daemon carries across execve). Not a public header. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "sockvisor/control.h"
#include "sockvisor/daemon.h"
#include "sockvisor/pidmap.h"
#include "sockvisor/process.h"
#include "sockvisor/servicemgr.h"
#include "sockvisor/supervisor.h"
#include "sockvisor/upgrade.h"

/* A timer or a stored fd's watch, by instance id (or fd). */
typedef struct Watch {
        SvDaemon *d;
        SvInstanceId id;
        pid_t pid;
        sd_event_source *src;
        struct Watch *next;
} Watch;

struct SvDaemon {
        sd_event *event;
        char *config_path;
        SvSupervisor *sup;
        SvControl *control;
        SvPassedFds passed;
        SvCredsCache *creds; /* user= and group= looked up at load and reload */
        SvPidMap reapees; /* reaper.c: pid -> who handles its exit (workers, probe commands) */
        sd_event_source *reap_more_src; /* reaper.c: a burst's rest, at the next iteration */
        SvPidMap timers;  /* instance id -> its armed timer (a Watch): one lookup per arm */
        Watch *stored;   /* stored fds watched for POLLHUP/POLLERR, by fd (in id) */
        struct Observer *observers; /* observer.c: ready = accepting and drain = idle watches */
        struct Prober *probers;     /* health.c: healthcheck= probes, by instance */
        struct SvMetrics *metrics;  /* metrics.c: the HTTP endpoint of metrics=, NULL when off */
        struct SvOutput *output;    /* output.c: the programs' log pipes and files */
        struct SvCgroups *cgroups;  /* cgroup.c: each worker's own cgroup v2; NULL where we cannot */
        struct SvEscape *escape;    /* escape.c: what stopped generations left holding their sockets */
        struct SvProcSample *proc_sample; /* procfs.c: the last walk of /proc, for status of many */
        /* health.c reports each probe here; loop.c sets it to call sv_supervisor_probed (a
         * test, to capture the results) */
        void (*probed)(SvDaemon *d, SvInstanceId id, bool healthy, const char *why);
        int notify_fd, devnull_fd;
        char notify_name[108];
        bool notify_owned; /* the running image: its exit removes the notify directory */
        sd_event_source *notify_src, *sigchld_src, *term_src, *int_src, *hup_src, *usr2_src;
        char self_path[4096]; /* the binary this image runs: what a plain upgrade re-executes */
        bool debug;
        bool restored;   /* this image took over from a previous one: nothing to start */
        SvCarry carry;   /* during an upgrade: the fds the next image gets */
};


extern const SvOps sv_daemon_ops;

/* CLOCK_MONOTONIC now, in microseconds: for bounds within one callback, where the loop's
 * cached time (sv_daemon_now) stands still. */
static inline uint64_t sv_clock_usec(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

int sv_daemon_alloc(const char *config_path, bool debug, SvDaemon **ret, SvDiag *diag);
Watch **sv_watch_find(Watch **list, SvInstanceId id);
uint64_t sv_daemon_now(SvDaemon *d);

/* One timer for the earliest of a set of deadlines (escapees', leftover cgroups' SIGKILLs):
 * *src, made on first use, is moved to at_usec (CLOCK_MONOTONIC) and fires once; at_usec 0
 * turns it off. Returns 0, or a negative errno when it cannot be made. */
int sv_timer_oneshot(sd_event *event, sd_event_source **src, uint64_t at_usec, sd_event_time_handler_t cb,
                     void *userdata);
/* reaper.c: every child reaped from one SIGCHLD source. fn runs with the child still a
 * zombie (its pid not reusable yet), id passed along; the child is reaped right after. A pid
 * nobody watches is an orphan: reaped, logged at debug. */
typedef void (*SvReapFn)(SvDaemon *d, void *userdata, uint64_t id, const siginfo_t *si);
int sv_reaper_watch(SvDaemon *d, pid_t pid, SvReapFn fn, void *userdata, uint64_t id);
void sv_reaper_unwatch(SvDaemon *d, pid_t pid);
bool sv_reaper_watches(const SvDaemon *d, pid_t pid);
int sv_reaper_start(SvDaemon *d);
void sv_reaper_stop(SvDaemon *d);
/* The event sources every image has: notify socket, signals. */
int sv_daemon_add_sources(SvDaemon *d, SvDiag *diag);
void sv_daemon_on_request(void *userdata, SvCtlConn *c, const CtlRequest *req);
void sv_daemon_on_hangup(void *userdata, uint64_t id);

/* observer.c: ops->observe. Replaces the instance's watch (SV_OBSERVE_NONE: ends it). */
void sv_observer_set(SvDaemon *d, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n);
/* Ends every watch and thaws what they froze (at exit). */
void sv_observer_stop_all(SvDaemon *d);
/* Thaws what the watches froze, and keeps them: before an upgrade's execve, whose next image
 * watches anew (and, should the execve fail, this one goes on). */
void sv_observer_thaw_all(SvDaemon *d);

/* health.c: ops->probe. Starts probing instance id (pid leads it) as conf->health says, the
 * first probe from the loop's next iteration, or (conf NULL) ends it; replaces the instance's
 * previous probing, dropping its probe in flight unreported (an exec probe's command is
 * killed). Copies what it needs of conf. Each probe's result goes to d->probed. */
void sv_health_set(SvDaemon *d, SvInstanceId id, pid_t pid, const SvProgramConf *conf);
/* Ends all probing, killing the commands in flight (at exit). */
void sv_health_stop_all(SvDaemon *d);
/* Before an upgrade's execve: kills the exec probes' commands and drops the HTTP probes in
 * flight, unreported, and keeps the probing (should the execve fail, this image goes on;
 * the next image probes anew once the supervisor resumes). */
void sv_health_drop_in_flight(SvDaemon *d);
/* pid is an exec probe's command, not reaped yet: the orphan reaper must leave it alone. */
bool sv_health_owns_pid(const SvDaemon *d, pid_t pid);

/* escape.c: ops->escapees. sv_escape_sweep queues q; 100 ms later one search finds, for every
 * generation queued, what holds its sockets outside the workers live then (live(), as
 * sv_supervisor_live_pids), sends it SIGTERM and arms its SIGKILL, and reports how many per
 * program through counted(). At exit, sv_escape_free searches what is still queued, waits
 * for them (at most 10 s) and SIGKILLs what is left. */
typedef struct SvEscape SvEscape;
typedef size_t (*SvEscapeLive)(void *userdata, pid_t *ret, size_t cap);
typedef void (*SvEscapeCounted)(void *userdata, const char *program, unsigned n);
SvEscape *sv_escape_new(sd_event *event, SvEscapeLive live, SvEscapeCounted counted, void *userdata);
unsigned sv_escape_sweep(SvEscape *e, const SvEscapeQuery *q);
/* Before an upgrade: neither the queue nor the SIGKILL deadlines cross the execve. So what
 * is queued is searched before the state is written (its counts go in the state), and
 * what got SIGTERM gets SIGKILL right before the execve. */
void sv_escape_search_queued(SvEscape *e);
void sv_escape_kill_pending(SvEscape *e);
SvEscape *sv_escape_free(SvEscape *e);

/* metrics.c: [sockvisord] metrics=, /metrics and /healthz over HTTP. */
typedef struct SvMetrics SvMetrics;
/* Binds and serves metrics= of the running configuration (nothing when it has none). */
int sv_metrics_open(SvDaemon *d, SvDiag *diag);
/* After a reload: rebinds when metrics= or metrics_mode= changed (the new address first,
 * the old one serving until it is bound), closes it when removed; a failure is logged. */
void sv_metrics_apply(SvDaemon *d);
SvMetrics *sv_metrics_free(SvMetrics *m);
/* Upgrade: a "metrics" record (none when off) and the listener's fds into d->carry; the next
 * image rebuilds it around them (restore: nothing served yet), then serves it (resume), and
 * applies the configuration as a reload would. */
int sv_metrics_save(SvDaemon *d, SvStateOut *o);
int sv_metrics_restore(SvDaemon *d, SvStateIn *in, const SvStateRec *rec, SvDiag *diag);
int sv_metrics_resume(SvDaemon *d);

/* upgrade_daemon.c */
/* 'upgrade [--exec PATH]' and SIGUSR2 (conn 0): returns only when it did not happen, after
 * answering conn. */
void sv_daemon_upgrade(SvDaemon *d, SvConnId conn, const char *path);
