/* The supervisor's objects, shared by supervisor.c (events, instances, rollouts, jobs),
 * supervisor_cmd.c (control commands) and supervisor_reload.c (load and reload). Not a
 * public header: everything else goes through sockvisor/supervisor.h. */
#pragma once

#include "sockvisor/events.h"
#include "sockvisor/job.h"
#include "sockvisor/macro.h"
#include "sockvisor/pidmap.h"
#include "sockvisor/rollout.h"
#include "sockvisor/supervisor.h"

typedef struct Program Program;
typedef struct Instance Instance;

typedef struct HeldSocket HeldSocket;

/* A configuration shared by the programs and instances that run with it, and the held
 * sockets its [socket:] sections are: an instance started from it gets exactly those,
 * even once a reload has moved the names elsewhere. Its holders keep those sockets (one
 * reference each); an instance keeps only the configuration and its own sockets. */
typedef struct CfgRef {
        SvSupervisor *s;
        SvConfig *cfg;
        unsigned refs;      /* everything that reads cfg: holders and instances */
        unsigned holders;   /* what may start instances from it: the supervisor, programs, rollouts */
        HeldSocket **socks; /* [k] for cfg->sockets[k], referenced while it has holders */
} CfgRef;

struct HeldSocket {
        SvSocketInfo info;
        char *name;
        unsigned refs;   /* the configuration naming it, and every instance given it */
        bool configured; /* named by the current configuration */
        HeldSocket *next;
};

typedef struct Job {
        SvJob j;
        struct Job *next;
} Job;

/* What one job waits for on one program. */
typedef enum WaitFor {
        WAIT_RUNNING,  /* start: every index RUNNING; fails at the first failed attempt */
        WAIT_STOPPED,  /* stop: nothing of the program alive */
        WAIT_ROLLOUT,  /* restart, reload: the rollout finished and the old ones are gone */
} WaitFor;

typedef struct Waiter {
        Job *job;
        WaitFor what;
        bool after_stop;  /* a start queued behind a stop under way */
        bool after_drain; /* a start queued behind instances still draining (numprocs lowered) */
        int index;        /* -1: the whole program; else the one instance it waits for ("pool:1") */
        uint64_t since_usec;
        struct Waiter *next;
} Waiter;

struct Instance {
        SvInstanceId id;
        Program *prog;
        unsigned index;
        unsigned gen;
        pid_t pid;
        SmInstance sm;
        const SvProgramConf *conf; /* the configuration it runs with */
        CfgRef *cr;
        HeldSocket **socks; /* the sockets it is given, in fd order */
        size_t n_socks;
        uint64_t spawned_usec;
        uint64_t stop_usec;   /* when it was asked to stop */
        bool holds_slot;      /* draining, and counted against the rollout's surge */
        bool start_when_stopped; /* current, stopping: a start waits for it to be gone */
        uint64_t start_wanted_usec; /* when that start was asked for */
        bool expected_exit;   /* its last exit status is in exitcodes= */
        bool kill_sent;       /* SIGKILL went to it: nothing left to observe */
        SvObserve observing;  /* what ops->observe watches it for now */
        bool probing;         /* ops->probe runs its healthcheck= */
        unsigned probe_failures; /* failed probes in a row */
        bool replace_wanted;  /* unhealthy, and its delay is over: replace it once nothing is in the way */
        unsigned health_streak; /* replacements of unhealthy instances in a row behind this one */
        char *health;         /* why it is (or was last) unhealthy, or the last failed probe; NULL: none (sv_text) */
        char exit_text[64];   /* "status 0", "signal KILL" */
        char *error;          /* why the last spawn failed, or NULL: read with sv_text */
        char status[SV_NOTIFY_STATUS_MAX];
        Instance *next; /* in Program.draining or SvSupervisor.graveyard */
};

/* One fd a worker stored (FDSTORE=1): the program's, passed to every later generation. */
typedef struct StoredFd {
        int fd;
        char name[SV_FDNAME_MAX + 1];
        bool poll; /* dropped on POLLHUP/POLLERR (FDPOLL=0 clears it) */
} StoredFd;

/* What one program adds to the supervisor's counts (supervisor_tally.c). */
typedef struct SvTally {
        unsigned total;     /* indexes in use */
        unsigned running;   /* current instances RUNNING */
        unsigned failing;   /* FATAL or BACKOFF */
        unsigned unsettled; /* autostarted, not removed, STARTING or BACKOFF: READY=1 waits */
        unsigned rolling;   /* 1: a rollout under way */
        unsigned stopping;  /* 1: live, and its shutdown level was asked to stop */
} SvTally;

struct Program {
        SvSupervisor *s;
        char *name;
        const SvProgramConf *conf; /* the current configuration */
        CfgRef *cr;
        unsigned last_gen;
        unsigned n;      /* indexes in use: conf->numprocs, or more while a rollout changes it */
        unsigned cap;    /* size of cur and cand */
        Instance **cur;  /* [index]: the instance serving that index, or NULL */
        Instance **cand; /* [index]: the rollout's candidate, or NULL */
        Instance *draining;
        SvRollout ro;
        const SvProgramConf *ro_conf; /* what the rollout rolls out */
        CfgRef *ro_cr;
        bool ro_done; /* the last rollout finished (not aborted, not cancelled) */
        bool ro_health; /* the rollout replaces one unhealthy instance (index ro.next - 1): no job asked */
        uint64_t ro_begin_usec; /* when it began, for its duration */
        SvProgramStats stats;
        char *ro_error; /* why the last rollout failed, or NULL: see sv_program_ro_error */
        Waiter *waiters;
        bool removed;   /* dropped by a reload: freed once stopped */
        bool stop_sent; /* shutdown: this program's level was asked to stop */
        bool dirty;     /* changed since its waiters were last looked at: set with sv_program_dirty */
        bool listed;    /* in SvSupervisor.touched */
        SvTally tally;  /* what it added to SvSupervisor.totals at its last recount */
        StoredFd *fdstore; /* in the order stored */
        size_t n_fdstore;
};

/* A client of `sockvisorctl events`, until it hangs up. An upgrade carries this many. */
#define SV_SUBSCRIBERS_SAVED 256
typedef struct Subscriber {
        SvConnId conn;
        bool json;
        struct Subscriber *next;
} Subscriber;

typedef struct Event {
        SvInstanceId id;
        SmEvent ev;
        char cause[256];
} Event;

struct SvSupervisor {
        const SvOps *ops;
        void *ctx;
        CfgRef *cr; /* the configuration running now */
        HeldSocket *socks;
        Program **progs; /* in priority order */
        size_t n_progs;
        Job *jobs;
        Event *queue; /* a ring */
        size_t q_head, q_len, q_cap;
        Instance *graveyard; /* out of every slot: freed at the end of dispatch */
        Subscriber *subs;    /* sockvisorctl events, in arrival order */
        SvInstanceId last_id;
        /* Every instance allocated, by id and by pid, so an event finds its instance in O(1);
         * a hit still counts only when the instance sits in its program's slots (as the scan
         * had it). index_lost: a put ran out of memory, so lookups scan as before. */
        SvPidMap by_id, by_pid;
        bool index_lost;
        /* Programs touched (fed an event, or dirty) since the last recount, each once; the
         * sum of every program's tally. touched_lost: a put ran out of memory, so every
         * program is looked at as before the list. */
        Program **touched;
        size_t n_touched, cap_touched;
        bool touched_lost, recount_all;
        SvTally totals;
        bool any_removed;      /* some program is removed and not yet freed */
        bool dispatching;
        bool shutting_down, exited;
        bool started;    /* start_all ran: READY=1 may follow */
        bool ready_sent; /* READY=1 told to the service manager */
        char last_status[256];
};

/* supervisor_tally.c */
void sv_program_touch(Program *p);
void sv_program_dirty(Program *p); /* dirty = true, and listed */
void sv_tally_forget(SvSupervisor *s, Program *p); /* p is about to be freed */
void sv_tally_update(SvSupervisor *s);
void sv_touched_sort(SvSupervisor *s);
bool sv_any_dirty(const SvSupervisor *s);

/* supervisor.c */
uint64_t sv_now(const SvSupervisor *s);
void sv_logf(const SvSupervisor *s, int level, const Instance *i, const char *fmt, ...) _printf_(4, 5);
void sv_replyf(const SvSupervisor *s, SvConnId conn, CtlReplyKind kind, const char *fmt, ...) _printf_(4, 5);
const char *sv_instance_name(const Instance *i, char *buf, size_t len);
bool sv_instance_live(const Instance *i);
bool sv_program_live(const Program *p);
bool sv_program_running(const Program *p);
Program *sv_program_new(SvSupervisor *s, const SvProgramConf *conf, CfgRef *cr);
void sv_program_set_conf(Program *p, const SvProgramConf *conf, CfgRef *cr);
int sv_program_resize(Program *p, unsigned n);
void sv_program_set_numprocs(Program *p, unsigned n);
void sv_program_sort(SvSupervisor *s);
int sv_program_order_cmp(const void *a, const void *b); /* Program **: s->progs's order */
void sv_enqueue(SvSupervisor *s, const Instance *i, SmEvent ev, const char *cause);
void sv_dispatch(SvSupervisor *s);
void sv_program_start(Program *p, const char *cause);
void sv_program_stop(Program *p, const char *cause);
void sv_program_begin_rollout(Program *p, const SvProgramConf *conf, CfgRef *cr);
/* The same for the one instance index of p (a command named "pool:1"); the others are left
 * alone. The restart rolls indexes [first, end) out to the program's own configuration. */
void sv_instance_start(Program *p, unsigned index, const char *cause);
void sv_instance_stop(Program *p, unsigned index, const char *cause);
void sv_instance_begin_rollout(Program *p, unsigned first, unsigned end);
/* Whether instance index of p, a candidate of it or an old one draining, is still alive. */
bool sv_index_live(const Program *p, unsigned index);
/* A health replacement under way gives way to what an operator asked (restart, reload, stop):
 * its candidate drains, and the unhealthy instance is replaced by what was asked. */
void sv_program_yield_health(Program *p, const char *why);
void sv_program_cancel(Program *p, const char *why);
Waiter *sv_waiter_add(Program *p, Job *j, WaitFor what);
Job *sv_job_new(SvSupervisor *s, SvJobKind kind, SvConnId conn);
void sv_job_release_share(SvSupervisor *s, Job *j);
void sv_progress(const SvSupervisor *s, const Program *p, const char *fmt, ...) _printf_(3, 4);
CfgRef *sv_cfgref_new(SvSupervisor *s, SvConfig *cfg);
CfgRef *sv_cfgref_ref(CfgRef *r);
CfgRef *sv_cfgref_unref(CfgRef *r);
CfgRef *sv_cfgref_hold(CfgRef *r);
CfgRef *sv_cfgref_release(CfgRef *r);
HeldSocket *sv_held_find(const SvSupervisor *s, const char *name);
void sv_held_unref(SvSupervisor *s, HeldSocket *h);

/* supervisor.c: instances */
bool sv_state_terminal(SmState st);
Instance *sv_instance_new(Program *p, unsigned index, unsigned gen, const SvProgramConf *conf, CfgRef *cr);
Instance *sv_instance_free(SvSupervisor *s, Instance *i);
void sv_instance_take_sockets(SvSupervisor *s, Instance *i);
void sv_bury(SvSupervisor *s, Instance *i);
/* Starts or ends the ops' watch of i to match its state (ready = accepting, drain = idle),
 * and its probing (healthcheck=: RUNNING and not yet unhealthy). */
void sv_instance_observe(SvSupervisor *s, Instance *i);
/* The instance with that id (or, with id 0, that pid) in any slot of any program; NULL. */
Instance *sv_instance_find(const SvSupervisor *s, SvInstanceId id, pid_t pid);
/* A message kept only while there is one (most instances and programs never have one):
 * *slot is NULL for "", else the text formatted into max bytes, as an array of max had it.
 * Out of memory leaves it "". */
void sv_text_set(char **slot, size_t max, const char *fmt, ...) _printf_(3, 4);
void sv_text_clear(char **slot);
const char *sv_text(const char *t);
/* Sets i->pid and keeps the by-pid index in step (pid 0: reaped or gone). */
void sv_instance_set_pid(SvSupervisor *s, Instance *i, pid_t pid);
/* Indexes an instance made outside sv_instance_new (the state file's). */
void sv_instance_index(SvSupervisor *s, Instance *i);

/* supervisor_program.c: what an instance's transition means, and the waiting jobs */
void sv_react(SvSupervisor *s, Instance *i, const SmResult *res);
void sv_settle(Program *p);
void sv_program_free(SvSupervisor *s, Program *p);
/* Why the last rollout failed, "" when it did not. Allocated only then (a 512-byte array in
 * every program was 5 MB with 10,000); out of memory leaves it "". */
#define sv_program_set_ro_error(p, ...) sv_text_set(&(p)->ro_error, 512, __VA_ARGS__)
#define sv_program_clear_ro_error(p) sv_text_clear(&(p)->ro_error)
#define sv_program_ro_error(p) sv_text((p)->ro_error)
void sv_waiter_done(Program *p, Waiter *w, bool ok, const char *text);

/* supervisor_fdstore.c */
void sv_fdstore_message(SvSupervisor *s, Instance *i, const SvNotifyMsg *m);
void sv_fdstore_close_fds(SvSupervisor *s, const int *fds, size_t n);
void sv_fdstore_drop_all(Program *p, const char *why);
/* Down to the configuration's fdstore_max (a reload may have lowered it). */
void sv_fdstore_trim(Program *p);
/* Every index stopped and nothing left running: what empties the store. */
void sv_fdstore_settle(Program *p);

/* supervisor_events.c: sockvisorctl events */
void sv_events_subscribe(SvSupervisor *s, SvConnId conn, bool json);
void sv_events_unsubscribe(SvSupervisor *s, SvConnId conn);
bool sv_events_has(const SvSupervisor *s, SvConnId conn);
/* Each stream ends with OK why (the daemon is done), or, with why NULL, unanswered (the
 * supervisor is freed). */
void sv_events_end_all(SvSupervisor *s, const char *why);
void sv_events_transition(SvSupervisor *s, const Instance *i, SmState from, const char *cause);
void sv_events_milestone(SvSupervisor *s, SvEventType type, const char *program, unsigned generation,
                         const char *fmt, ...) _printf_(5, 6);

/* supervisor_cmd.c */
void sv_command(SvSupervisor *s, SvConnId conn, const CtlRequest *req);

#define SV_INAME(i) sv_instance_name((i), (char[80]){}, 80)
#define SV_DUR(u) sv_duration_format((u), (char[32]){}, 32)
