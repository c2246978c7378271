/* The supervisor: owns the held sockets, the programs and their instances, the jobs
 * (control commands that wait) and the reload; feeds events to the instance state
 * machine (sm) and the rolling-restart table (rollout) and carries out what they return.
 *
 * It is pure in the sense that matters for testing: every effect (time, spawn, signal,
 * timers, sockets, replies to clients, the service manager, logging) goes through the
 * SvOps table it is given. The daemon passes ops built on sd-event and real syscalls
 * (src/daemon/loop.c); the simulator (tests/sim) passes a virtual clock and simulated
 * processes, and drives this very code for millions of steps.
 *
 * Rules the ops must keep, so the supervisor never re-enters itself:
 *  - no op calls back into an sv_supervisor_* entry point; results come back as return
 *    values, and later events (an exit, a timer, READY=1) arrive as new entry calls;
 *  - spawn() watches the child before it returns (a child nobody watches is never reaped);
 *  - arm(id, t) replaces the instance's one timer; arm(id, 0) disarms it.
 *
 * Instances are named by SvInstanceId, never reused while the supervisor lives: an exit or
 * a timer that arrives for an instance that is gone is a logged no-op. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/addr.h"
#include "sockvisor/config.h"
#include "sockvisor/ctlproto.h"
#include "sockvisor/diag.h"
#include "sockvisor/notifymsg.h"
#include "sockvisor/sm.h"
#include "sockvisor/statefile.h"

typedef struct SvSupervisor SvSupervisor;
typedef uint64_t SvInstanceId; /* 0 = none */
typedef uint64_t SvConnId;     /* a control client; 0 = none (SIGHUP, start-up) */

/* One worker to start. Pointers are valid for the duration of the call only. */
typedef struct SvSpawnSpec {
        SvInstanceId id;
        const char *program;  /* "app" */
        const char *instance; /* "app", or "app:1" with numprocs > 1 */
        unsigned index;       /* 1 of "app:1": which argv it runs (sv_program_argv) */
        unsigned generation;
        const SvProgramConf *conf; /* argv, environment, user, directory, umask, output */
        const int *fds;            /* what it gets at 3, 4, ...: its sockets, then its program's fd store */
        char *const *fd_names;     /* LISTEN_FDNAMES, same order */
        size_t n_fds;
        size_t n_sockets;          /* the first n_sockets of fds are held sockets */
} SvSpawnSpec;

/* What a worker's process group uses, summed over its live processes. */
typedef struct SvGroupUsage {
        unsigned procs;
        uint64_t cpu_usec;  /* user + system time, since each started */
        uint64_t rss_bytes; /* resident memory */
} SvGroupUsage;

/* What the ops watch a worker's processes for (the daemon reads /proc): ready = accepting
 * and drain = idle. */
typedef enum SvObserve {
        SV_OBSERVE_NONE,      /* stop watching (and thaw what the idle watch froze) */
        SV_OBSERVE_ACCEPTING, /* STARTING: report once one of its processes waits on one of its sockets */
        SV_OBSERVE_IDLE,      /* STOPPING: freeze its processes now and then; report, while they are
                               * frozen, once they hold no connection accepted from its sockets */
        _SV_OBSERVE_MAX,
} SvObserve;

/* A held socket as the supervisor sees it; handle is the ops' own object. */
typedef struct SvSocketInfo {
        void *handle;
        int fd;
        unsigned long inode;
        bool adopted; /* passed in by the service manager, not bound by us */
        char address[SV_ADDR_STRLEN];
} SvSocketInfo;

/* Who a log line is about: the journal gets these as SOCKVISOR_* fields. */
typedef struct SvLogWho {
        const char *program;  /* NULL: the daemon itself */
        const char *instance; /* "app:1" */
        pid_t pid;
        unsigned generation;
} SvLogWho;

/* What ops->escapees looks for. Pointers are valid for the duration of the call only. */
typedef struct SvEscapeQuery {
        const char *program;
        unsigned generation;       /* the one that stopped */
        const SvSocketInfo *socks; /* its listening sockets */
        size_t n_socks;
        uint64_t grace_usec;       /* stopwaitsecs=: from SIGTERM to SIGKILL */
} SvEscapeQuery;

typedef struct SvOps {
        uint64_t (*now)(void *ctx); /* CLOCK_MONOTONIC, in microseconds */
        uint64_t (*realtime)(void *ctx); /* CLOCK_REALTIME, in microseconds: only for what people read */
        /* Starts a worker; on failure fills d ("cannot exec ...: No such file") and
         * returns a negative errno. */
        int (*spawn)(void *ctx, const SvSpawnSpec *spec, pid_t *ret_pid, SvDiag *d);
        /* Sends sig to pid, or to its process group (it leads its own) when group. */
        void (*signal)(void *ctx, pid_t pid, int sig, bool group);
        void (*arm)(void *ctx, SvInstanceId id, uint64_t at_usec);
        /* Binds (or, at start-up, adopts from the service manager) the socket sc says. */
        int (*socket_open)(void *ctx, const SvSocketConf *sc, bool startup, SvSocketInfo *ret, SvDiag *d);
        /* Same address, other backlog/blocking/mode: applied to the socket we hold. */
        int (*socket_adjust)(void *ctx, const SvSocketInfo *si, const SvSocketConf *sc, SvDiag *d);
        /* No longer configured (it may still serve draining generations). */
        void (*socket_retire)(void *ctx, const SvSocketInfo *si);
        void (*socket_close)(void *ctx, SvSocketInfo *si);
        /* One reply line to a control client; after OK/ERR the client is done. */
        void (*reply)(void *ctx, SvConnId conn, CtlReplyKind kind, const char *text);
        /* For status: per process group, its processes and what they use (ret[k] zeros when
         * pgids[k] <= 0). */
        void (*usage)(void *ctx, const pid_t *pgids, size_t n, SvGroupUsage *ret);
        /* "READY=1\nSTATUS=..." to the service manager (sd_notify). */
        void (*service_manager)(void *ctx, const char *assignments);
        void (*log)(void *ctx, int level, const SvLogWho *who, const char *text);
        void (*set_log_target)(void *ctx, SvLogTo target);
        /* The shutdown is complete: leave the event loop with this status. */
        void (*exit)(void *ctx, int status);

        /* Upgrade (sv_supervisor_save / restore). What the ops' own socket object needs
         * besides the fd (lock and path fds, say), as text for the next image; returns the
         * length, or a negative errno when it cannot be carried over. */
        int (*socket_export)(void *ctx, const SvSocketInfo *si, char *buf, size_t len);
        /* The next image: rebuilds the object around the fd the previous one held. saved is
         * what the previous image knew (handle NULL); ext is what socket_export wrote. Must
         * not change the fd: a failed restore hands it back to the previous binary. */
        int (*socket_import)(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                             SvSocketInfo *ret, SvDiag *d);
        /* Watches a worker the previous image started (as spawn does); a negative errno when
         * pid is no child of ours any more: the supervisor then counts it as exited. */
        int (*adopt)(void *ctx, SvInstanceId id, pid_t pid);

        /* The fd store (fdstore_max=). Closes a stored fd (and stops watching it). */
        void (*fd_close)(void *ctx, int fd);
        /* Watches a stored fd for POLLHUP/POLLERR, which then arrive as
         * sv_supervisor_fd_hangup; an fd that cannot be watched (a memfd) is kept unwatched. */
        void (*fd_watch)(void *ctx, int fd);
        /* Upgrade: a stored fd crosses execve (save), or came across (restore: negative
         * errno when it did not). */
        int (*fd_carry)(void *ctx, int fd, bool restoring);

        /* Starts (or, with SV_OBSERVE_NONE, ends) watching the process tree of instance id
         * (pid leads it) for what; socks are the sockets it was given. What is seen comes
         * back as sv_supervisor_observed. Replaces the instance's previous watch. */
        void (*observe)(void *ctx, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n);

        /* healthcheck=: starts (conf non-NULL, conf->health.kind not NONE) or ends (NULL)
         * probing instance id, whose process pid leads it, every conf->health.interval_usec
         * (the first probe at once), each bounded by conf->health.timeout_usec. Each result
         * comes back as sv_supervisor_probed. Replaces the instance's previous probing. The
         * ops copy what they need of conf: it may be freed once probing has ended. */
        void (*probe)(void *ctx, SvInstanceId id, pid_t pid, const SvProgramConf *conf);

        /* Log capture (stdout_logfile=, stderr_logfile=): bytes of program's output dropped
         * so far because its file did not keep up, for status. Optional (NULL: none). */
        uint64_t (*output_dropped)(void *ctx, const char *program);

        /* The last process of one generation of a program was reaped: what still holds its
         * listening sockets outside the live workers (a child that called setsid()) gets
         * SIGTERM now and SIGKILL after q->grace_usec. Returns how many got SIGTERM. Called
         * only then, never per request or when idle. Optional (NULL: nothing is looked for). */
        unsigned (*escapees)(void *ctx, const SvEscapeQuery *q);
} SvOps;


int sv_supervisor_new(const SvOps *ops, void *ctx, SvSupervisor **ret);
SvSupervisor *sv_supervisor_free(SvSupervisor *s);

/* Start-up: binds (or adopts) every socket and creates the programs; takes cfg, also on
 * failure, in which case nothing is held. */
int sv_supervisor_load(SvSupervisor *s, SvConfig *cfg, SvDiag *d);
/* Starts the autostart programs, in priority order; READY=1 once they have settled. */
void sv_supervisor_start_all(SvSupervisor *s);

/* Events from the world. */
void sv_supervisor_exited(SvSupervisor *s, SvInstanceId id, int code, int status);
void sv_supervisor_timer(SvSupervisor *s, SvInstanceId id);
/* m->fds are the supervisor's from here on: stored (FDSTORE=1, within fdstore_max) or
 * closed. */
void sv_supervisor_notify(SvSupervisor *s, pid_t pid, const SvNotifyMsg *m);
/* The watch ops->observe started saw what it watches for; how says what ("pid 12 waits in
 * accept() on fd 3"). ACCEPTING is the instance's readiness; IDLE (its processes frozen)
 * gets it killed. Stale reports (the instance moved on) are logged no-ops. */
void sv_supervisor_observed(SvSupervisor *s, SvInstanceId id, SvObserve what, const char *how);
/* One probe ops->probe ran on instance id ended: healthy or not, and why not ("HTTP 503",
 * "no answer within 2s", "exited with status 1: disk full"). healthcheck_failures failed
 * probes in a row make the instance unhealthy: it is replaced the zero-downtime way. */
void sv_supervisor_probed(SvSupervisor *s, SvInstanceId id, bool healthy, const char *why);
/* A stored fd reported POLLHUP or POLLERR: it is dropped (closed). */
void sv_supervisor_fd_hangup(SvSupervisor *s, int fd);

/* A control command. Every command is answered (ops->reply ... OK or ERR) within its
 * documented bound; the answer may come from a later event. */
void sv_supervisor_command(SvSupervisor *s, SvConnId conn, const CtlRequest *req);
/* A job will answer this client (the upgrade's check that nobody is left waiting). */
bool sv_supervisor_conn_waiting(const SvSupervisor *s, SvConnId conn);
/* The client hung up: its job goes on, unanswered. */
void sv_supervisor_conn_closed(SvSupervisor *s, SvConnId conn);

/* fetch (sockvisorctl exec): the fd of the held socket name, if peer may have it (the
 * socket's fetch_users= and fetch_groups=); the caller sends a copy. Every fetch and every
 * refusal is logged. ret gets the socket's fd and address. */
struct SvPeer;
int sv_supervisor_fetch(SvSupervisor *s, const char *name, const struct SvPeer *peer, SvSocketInfo *ret, SvDiag *d);

/* Reload: when a reload may not run now (a job or rollout is under way, shutting down),
 * returns -EBUSY with d saying why. Call before reading the file. */
int sv_supervisor_reload_check(const SvSupervisor *s, SvDiag *d);
/* Applies next (parsed, users checked): binds new sockets first (a failure changes
 * nothing), then adds, removes, rolls or stops programs as the reload plan says. Takes
 * next. conn (or 0) hears progress and, once what the reload started has come up or
 * failed, the verdict: ERR naming every program that did not come up. */
void sv_supervisor_reload(SvSupervisor *s, SvConnId conn, SvConfig *next);

/* Stops every program, highest priority first; then ops->exit(0). */
void sv_supervisor_shutdown(SvSupervisor *s, const char *why);

/* Upgrade in place: the whole state to the next image and back.
 *
 * sv_supervisor_upgrade_check says whether it may happen now (not while shutting down).
 * sv_supervisor_save appends the state to o (the configurations as the text they were
 * parsed from, held sockets, programs, instances with pids, timers as deadlines,
 * rollouts, draining generations, jobs); it changes nothing. sv_supervisor_restore fills
 * a fresh supervisor (from sv_supervisor_new) from in, up to and including the 'end'
 * record, calling only socket_import; on failure d says what was wrong, and s has been
 * emptied without an op call (nothing closed, nothing answered): free it. Once the ops
 * can watch children and timers, sv_supervisor_resume adopts every pid (one that is gone
 * counts as exited), re-arms every timer and goes on. */
int sv_supervisor_upgrade_check(const SvSupervisor *s, SvDiag *d);
int sv_supervisor_save(const SvSupervisor *s, SvStateOut *o, SvDiag *d);
int sv_supervisor_restore(SvSupervisor *s, SvStateIn *in, SvDiag *d);
void sv_supervisor_resume(SvSupervisor *s);
/* Frees s without an op call: what execve does to the previous image (the simulator's
 * upgrade, and a restore that failed). */
SvSupervisor *sv_supervisor_abandon(SvSupervisor *s);

/* A worker of ours (current, candidate or draining): orphan reaping leaves it alone. */
bool sv_supervisor_owns_pid(const SvSupervisor *s, pid_t pid);
/* Every worker with a process now, of every program: written to ret (at most cap), returns
 * how many were written; with ret NULL, returns how many there are. */
size_t sv_supervisor_live_pids(const SvSupervisor *s, pid_t *ret, size_t cap);
/* Recounts what STATUS=, READY=1 and the shutdown order read and compares it with the
 * running totals: false, with why filled, when they differ (a bug). The simulator's check. */
bool sv_supervisor_check_counts(const SvSupervisor *s, char *why, size_t len);
/* ops->escapees answered later (a batched search): n processes that program's stopped
 * generation left were signalled; counted in its escaped_killed. */
void sv_supervisor_escaped(SvSupervisor *s, const char *program, unsigned n);
/* The configuration running now (NULL before load). */
const SvConfig *sv_supervisor_config(const SvSupervisor *s);

/* What a program has done since sockvisord started (carried across upgrades): for metrics. */
#define SV_ROLLOUT_BUCKETS 10 /* restart durations: <= 0.1 0.25 0.5 1 2.5 5 10 30 60 s, and more */
extern const uint64_t sv_rollout_bucket_usec[SV_ROLLOUT_BUCKETS - 1];

typedef struct SvProgramStats {
        uint64_t restarts;      /* instances started again: after an exit, by a rollout, for an unhealthy one */
        uint64_t failed_starts; /* starts that ended before the instance was ready (or soon after) */
        uint64_t rollbacks;     /* restarts and reloads whose new generation failed: the old one kept serving */
        uint64_t unhealthy;     /* instances found unhealthy (watchdog=, healthcheck=) */
        uint64_t rollouts;      /* restarts and reloads rolled out to the end */
        uint64_t rollout_buckets[SV_ROLLOUT_BUCKETS]; /* of those, by duration (not cumulative) */
        uint64_t rollout_usec_sum;
        uint64_t escaped_killed; /* processes that outlived their generation holding its sockets, signalled */
} SvProgramStats;

/* Introspection, for the simulator's invariants, tests and metrics. */
typedef struct SvProgramView {
        const char *name;
        const SvProgramConf *conf; /* current configuration */
        const SvConfig *cfg;       /* the configuration conf belongs to: older than the running
                                    * one after a reload whose rollout of it failed */
        unsigned n;                /* indexes in use */
        bool removed;              /* dropped by a reload, stopping */
        bool rolling;              /* a rollout is under way */
        bool health_rolling;       /* that rollout replaces an unhealthy instance (no job asked) */
        unsigned unhealthy;        /* instances with a process that are unhealthy (serving or draining) */
        unsigned rollout_gen;      /* its generation, when rolling */
        unsigned rollout_target;   /* its numprocs, when rolling */
        bool has_job;
        unsigned processes;        /* instances with a process (pid > 0) */
        unsigned current_running;  /* current instances in RUNNING */
        unsigned candidates, draining;
        size_t n_fdstore;          /* fds in its fd store */
        SmState state[SV_NUMPROCS_MAX]; /* of the current instance per index (STOPPED when none) */
        SvProgramStats stats;
} SvProgramView;

typedef enum SvInstanceRole {
        SV_ROLE_CURRENT,   /* serves its index */
        SV_ROLE_CANDIDATE, /* a rollout's new instance, not ready yet */
        SV_ROLE_DRAINING,  /* replaced or removed, on its way out */
} SvInstanceRole;

typedef struct SvInstanceView {
        const char *program;
        char name[80];          /* "app", "app:1" */
        unsigned index, generation;
        pid_t pid;              /* 0: no process */
        SmState state;
        SvInstanceRole role;
        bool unhealthy;
        uint64_t spawned_usec;  /* CLOCK_MONOTONIC of its last spawn, 0 never */
        uint64_t since_usec;    /* in state since */
        char why[192];          /* what was last said of it: "exited with status 3", "cannot exec ...",
                                 * "unhealthy: ...", or its own STATUS=; "" when nothing */
} SvInstanceView;

/* Program idx's instances (current per index, candidates, draining) into v (at most cap);
 * returns how many there are. */
size_t sv_supervisor_instance_views(const SvSupervisor *s, size_t idx, SvInstanceView *v, size_t cap);

typedef struct SvSocketView {
        const char *name;
        SvSocketInfo info;
        bool configured; /* false: retired, still used by a draining generation */
} SvSocketView;

/* The held sockets into v (at most cap); returns how many there are. */
size_t sv_supervisor_socket_views(const SvSupervisor *s, SvSocketView *v, size_t cap);

size_t sv_supervisor_n_programs(const SvSupervisor *s);
void sv_supervisor_program_view(const SvSupervisor *s, size_t idx, SvProgramView *ret);
/* Held sockets, configured or retired but still used by a draining generation. */
size_t sv_supervisor_n_sockets(const SvSupervisor *s);
/* Jobs not yet answered. */
size_t sv_supervisor_n_jobs(const SvSupervisor *s);
/* Every instance the supervisor tracks, wherever it is. */
size_t sv_supervisor_n_instances(const SvSupervisor *s);
