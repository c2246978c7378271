/* The deterministic simulator of the supervisor: shared types of the driver (sim.c), the
 * fake world behind SvOps (world.c), the configuration generator (gen.c) and the
 * invariants (check.c). Everything is a pure function of one 64-bit seed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sockvisor/ctlverbs.h"
#include "sockvisor/supervisor.h"

#define USEC 1ULL
#define MSEC 1000ULL
#define SEC 1000000ULL
#define SLACK_USEC (1 * SEC) /* added to every documented bound */

/* ---- PRNG: splitmix64 seeds xoshiro256** (never rand()) ---- */

typedef struct Rng {
        uint64_t s[4];
} Rng;

static inline uint64_t splitmix64(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static inline void rng_seed(Rng *r, uint64_t seed) {
        for (int k = 0; k < 4; k++)
                r->s[k] = splitmix64(&seed);
}

static inline uint64_t rng_next(Rng *r) {
        uint64_t *s = r->s;
        uint64_t x = s[1] * 5, res = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = (s[3] << 45) | (s[3] >> 19);
        return res;
}

/* Uniform in [0, n); n > 0. The tiny modulo bias does not matter here. */
static inline uint64_t rng_below(Rng *r, uint64_t n) {
        return rng_next(r) % n;
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(Rng *r, uint64_t lo, uint64_t hi) {
        return lo + rng_below(r, hi - lo + 1);
}

/* True with probability permille/1000. */
static inline bool rng_chance(Rng *r, unsigned permille) {
        return rng_below(r, 1000) < permille;
}

/* ---- configuration model (gen.c) ---- */

#define GEN_NAMES 6        /* program names p0..p5 and socket names s0..s5, reused across reloads */
#define GEN_SOCKETS_MAX 3
#define GEN_PROGRAMS_MAX 4
#define GEN_NUMPROCS_MAX 4

typedef struct GenSocket {
        unsigned name; /* s<name> */
        bool is_unix;
        unsigned addr; /* port, or the number in the unix path: fresh for every new address */
        unsigned backlog;
} GenSocket;

typedef struct GenProgram {
        unsigned name; /* p<name> */
        unsigned version; /* in command=: a change rolls the program */
        unsigned numprocs, surge;
        bool notify;
        bool accepting;  /* ready = accepting (only written when it has sockets) */
        bool drain_idle; /* drain = idle */
        unsigned startsecs_ms, ready_timeout_ms, stopwait_ms;
        SvAutorestart autorestart;
        unsigned startretries;
        bool autostart;
        int priority;
        int stopsignal;
        unsigned sockets; /* bit k: uses sockets[k] of the model (by position) */
        unsigned fdstore_max;
        unsigned watchdog_ms;  /* 0: none */
        unsigned health;       /* 0 none, 1 http (with a tcp socket), 2 exec */
        unsigned health_interval_ms, health_timeout_ms, health_failures;
} GenProgram;

typedef struct GenConf {
        size_t n_sockets, n_programs;
        GenSocket sockets[GEN_SOCKETS_MAX];
        GenProgram programs[GEN_PROGRAMS_MAX];
        unsigned next_addr;
} GenConf;

void gen_conf_random(GenConf *c, Rng *r);
/* One to three random changes: programs and sockets added, removed or changed. */
void gen_conf_mutate(GenConf *c, Rng *r);
/* The ini text for c. Returns the length or a negative errno. */
int gen_conf_ini(const GenConf *c, char *buf, size_t len);
const GenProgram *gen_find_program(const GenConf *c, unsigned name);
/* R and S of the README ("What each command does"), and the bounds built from them. */
uint64_t gen_ready_bound(const GenProgram *p);
uint64_t gen_stop_bound(const GenProgram *p);
uint64_t gen_restart_bound(const GenProgram *p);
/* The listen= text of a socket ("tcp://127.0.0.1:PORT", "unix:/tmp/sv-sim/N.sock"). */
void gen_socket_listen(const GenSocket *s, char *buf, size_t len);

/* ---- the world (world.c) ---- */

typedef struct Profile {
        unsigned spawn_fail_pm;   /* spawn() fails with -ENOENT */
        unsigned hang_pm;         /* never ready (notify) */
        unsigned crash_start_pm;  /* dies before it is ready */
        unsigned crash_run_pm;    /* dies some time after it is ready */
        unsigned exit0_pm;        /* exits 0 on its own after it is ready */
        unsigned ignore_stop_pm;  /* ignores the stopsignal */
        unsigned slow_drain_pm;   /* drains longer than stopwaitsecs */
        uint64_t ready_max_usec;  /* notify: READY=1 comes after up to this */
        unsigned wedge_pm;        /* some time after it is ready: no more WATCHDOG=1, probes fail */
} Profile;

typedef struct Proc {
        pid_t pid;
        SvInstanceId id;
        unsigned prog; /* name index */
        unsigned index; /* instance index: "p2:1" is 1 */
        unsigned generation;
        unsigned numprocs, surge; /* of the configuration it was started with */
        uint64_t stopwait_usec;   /* likewise: what its stop may take */
        uint64_t ready_usec;      /* likewise: R, what its start may take */
        int stopsig;
        uint64_t watchdog_usec;   /* of its configuration: pings every third of it until wedged */
        uint64_t wedge_at;        /* from then on no pings and failed probes; 0 never */
        bool probed;              /* ops->probe runs its healthcheck */
        uint64_t probe_interval_usec, probe_timeout_usec;
        uint32_t probe_token;     /* the current probing; older EV_PROBEs are stale */
        bool notify;
        bool accepting_mode;  /* ready = accepting: ready_at is when it starts to accept */
        bool drain_idle;      /* drain = idle: never sent the stopsignal */
        bool listening;       /* accepting: reached ready_at */
        bool idle_reported;   /* drain = idle: the world said it is idle */
        SvObserve observed;   /* what ops->observe watches it for */
        bool watched;         /* ops->observe has watched it at some point */
        uint64_t idle_since;  /* when the idle watch began (its stop) */
        bool alive;
        bool signalled; /* got any signal: its exit is not a crash of its own */
        bool user_signalled; /* by a 'signal' command: its exit disturbs a restart under way */
        uint64_t spawned_at, ready_at; /* ready_at: when it is (or would be) ready; 0 never */
        uint64_t drain_usec;
        bool ignore_stop, stop_seen;
        uint64_t exit_at; /* pending exit, 0 none */
        uint32_t exit_token;
        int exit_code, exit_status;
        size_t alive_slot;
} Proc;

typedef enum EvKind {
        EV_TIMER,
        EV_READY,
        EV_EXIT,
        EV_OBSERVE, /* token: the SvObserve the world reports */
        EV_PING,    /* WATCHDOG=1 from pid a */
        EV_PROBE,   /* a probe of pid a ends (token: its probe_token) */
} EvKind;

typedef struct Event {
        uint64_t at, seq;
        uint64_t a; /* instance id (timer) or pid */
        uint32_t token;
        EvKind kind;
} Event;

typedef struct WSock {
        int fd;
        bool open, retired;
        unsigned name;
        char listen[SV_ADDR_STRLEN];
} WSock;

/* An fd a worker sent with FDSTORE=1 (the world's stand-in for a memfd or a socket). */
typedef struct WFd {
        int fd;
        bool open, watched;
        unsigned prog;
} WFd;

/* A control client and what the invariants expect of its command. */
typedef struct Conn {
        SvConnId id;
        SvVerb verb;
        char line[256];
        unsigned progs; /* bit per name index the command names */
        bool unknown_name;
        uint64_t sent_at, deadline;
        bool shutting; /* sent while shutting down */
        bool final, ok, hung_up, progress, post_pending;
        char text[256]; /* the final reply's text */
        /* events: what it has been told of each instance ("p2:1#3" -> state), to check each
         * transition starts where the last word on that instance left it (invariant 12) */
        bool json;
        size_t n_seen;
        struct Seen {
                char key[96];
                SmState state;
        } *seen;
} Conn;

/* What invariant 4 watches for a program during a restart. */
typedef struct Watch {
        bool active, disturbed;
        SvConnId conn;
        unsigned numprocs;
} Watch;

#define LOG_RING 200

typedef struct World {
        uint64_t seed;
        unsigned episode;
        bool verbose;
        bool in_signal_command; /* the supervisor runs a 'signal' command now */
        Rng rng;
        uint64_t now, step, step_limit;
        SvSupervisor *sv;

        Event *heap;
        size_t n_heap, cap_heap;
        uint64_t seq;

        /* timers: instance id -> token of its one armed timer (open addressing) */
        uint64_t *tm_keys;
        uint32_t *tm_tokens;
        size_t tm_cap, tm_used;

        Proc *procs;
        size_t n_procs, cap_procs;
        size_t *alive; /* indexes into procs of the live ones */
        size_t n_alive, cap_alive;
        pid_t pid_base;

        WSock *socks;
        size_t n_socks, cap_socks, socks_open;
        unsigned socket_fail_pm; /* socket_open failure rate now */
        bool socket_failed;      /* one failed during the current load or reload */
        bool in_reload;
        const GenConf *reload_old; /* during a reload: the model before it */

        Conn *conns;
        size_t n_conns, cap_conns;

        WFd *sfds; /* every fd workers ever sent, by fd - SFD_BASE */
        size_t n_sfds, cap_sfds, sfds_open;

        Profile prof[GEN_NAMES];
        GenConf conf; /* the model of the configuration the supervisor runs */
        unsigned lim_np[GEN_NAMES], lim_surge[GEN_NAMES]; /* invariant 3 */
        SvConnId last_up[GEN_NAMES]; /* the last start or restart naming it */
        bool stop_hold[GEN_NAMES]; /* stopped by an OK stop: nothing may start it */
        Watch watch[GEN_NAMES];
        uint64_t last_disturb[GEN_NAMES]; /* last crash or signal command: 0 none */
        uint64_t last_spawn[GEN_NAMES][GEN_NUMPROCS_MAX]; /* per index; invariant 11: a wedged worker is replaced */
        size_t first_open; /* conns before it are all done */
        bool loaded;

        uint64_t n_spawns, n_signals;
        uint64_t n_escape_sweeps; /* ops->escapees calls */
        bool sm_ready;
        bool shutting;
        uint64_t shutdown_deadline;
        bool exit_called;
        uint64_t exit_at;

        char logs[LOG_RING][224];
        size_t log_next, n_logs;

        bool failed;
        uint64_t total_violations;
} World;

extern const SvOps world_ops;

void world_init(World *w, uint64_t seed, unsigned episode, bool verbose);
void world_done(World *w);
/* Runs the next queued event (a step); false when the queue is empty. */
bool world_next_at(const World *w, uint64_t *ret_at);
void world_run_event(World *w);
/* The upgrade's execve: every timer armed and every fd watched so far is gone. */
void world_forget_timers(World *w);
/* A stored fd that is watched hangs up (POLLHUP): one at random, if any. */
void world_fd_hangup(World *w);
#define SFD_BASE 20000
void world_logf(World *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
Proc *world_proc(World *w, pid_t pid);
unsigned world_alive_of(const World *w, unsigned prog);
Conn *world_conn(World *w, SvConnId id);
Conn *world_conn_new(World *w);
int gen_name_index(const char *name); /* "p3" -> 3, -1 otherwise */

/* ---- invariants (check.c) ---- */

/* After every step. */
void check_step(World *w);
/* Right after a command returned: quick verbs must be answered already. */
void check_command_returned(World *w, Conn *c);
/* After a quiet period: only current instances, configured sockets, READY=1 sent. */
void check_quiet(World *w);
/* After ops->exit: nothing alive, every command answered. */
void check_after_exit(World *w);
/* After sv_supervisor_free: every world socket closed. */
void check_after_free(World *w);
void violation(World *w, const char *invariant, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Of the programs in mask, those fully RUNNING with nothing under way (before a restart). */
unsigned check_fully_running(World *w, unsigned mask);
/* A restart began for c's programs: invariant 4 watches those that were fully running. */
void check_restart_begins(World *w, Conn *c, unsigned fully);
/* Invariant 11, after every step: a worker that stopped its pings or fails its probes gets a
 * replacement tried within its bound. */
void check_health(World *w);
/* Invariant 12: one line an events follower got (an OUTPUT reply of sockvisorctl events). */
void check_event_line(World *w, Conn *c, const char *line);
/* Something happened to a program that lets its running count drop (crash, signal). */
void check_disturb(World *w, unsigned prog);
