/* Unit tests for the supervisor through its SvOps seam: a fake that records every call as one
 * line of a trace, a virtual clock, no fork and no sockets. Each scenario compares the exact
 * trace of what the supervisor did (spawns, signals, timers, replies, the service manager)
 * with the contract of README.md ("What each command does in each state"). Log lines are not
 * part of the trace; they are printed when a scenario fails. tests/sim drives the same seam at
 * random for millions of steps; this file keeps to a few scenarios, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sockvisor/duration.h"
#include "sockvisor/supervisor.h"

#define SEC USEC_PER_SEC
#define MSEC USEC_PER_MSEC
#define T0 (1000 * SEC)
#define IDS_MAX 64

/* ---- the fake world ---- */

typedef struct Fake {
        uint64_t now;
        pid_t next_pid;
        pid_t pid_of[IDS_MAX];      /* by instance id: its last pid */
        uint64_t armed[IDS_MAX];    /* by instance id: 0 = none */
        const char *fail_spawn;     /* a program name whose spawns fail */
        const char *fail_socket;    /* a socket name whose bind fails */
        unsigned n_sockets;
        int exited;                 /* -1: not yet */
        unsigned escape_calls;      /* ops->escapees: calls, and what the last one asked */
        unsigned escape_gen, escape_returns;
        size_t escape_socks, escape_live;
        pid_t escape_live_pids[8];
        char trace[32768];
        size_t n_trace;
        char logs[65536];
        size_t n_logs;
} Fake;

static Fake F;
static SvSupervisor *S;

static void tracef(const char *fmt, ...) _printf_(1, 2);
static void tracef(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (F.n_trace < sizeof(F.trace))
                F.n_trace += (size_t) vsnprintf(F.trace + F.n_trace, sizeof(F.trace) - F.n_trace, fmt, ap);
        va_end(ap);
        if (F.n_trace < sizeof(F.trace))
                F.n_trace += (size_t) snprintf(F.trace + F.n_trace, sizeof(F.trace) - F.n_trace, "\n");
}

static const char *rel(uint64_t at, char *buf, size_t len) {
        if (at >= F.now)
                (void) snprintf(buf, len, "+");
        else
                (void) snprintf(buf, len, "-");
        sv_duration_format(at >= F.now ? at - F.now : F.now - at, buf + 1, len - 1);
        return buf;
}

static uint64_t op_now(void *ctx) {
        (void) ctx;
        return F.now;
}

static uint64_t op_realtime(void *ctx) { /* 2026-12-02T00:00:00Z at T0 */
        (void) ctx;
        return 1796169600ULL * SEC + (F.now - T0);
}

static int op_spawn(void *ctx, const SvSpawnSpec *spec, pid_t *ret_pid, SvDiag *d) {
        (void) ctx;
        assert_true(spec->id < IDS_MAX);
        if (F.fail_spawn && strcmp(spec->program, F.fail_spawn) == 0) {
                tracef("spawn %s gen %u: cannot exec", spec->instance, spec->generation);
                diag_set(d, 0, "cannot exec %s: No such file or directory", spec->conf->argv[0]);
                return -ENOENT;
        }
        pid_t pid = F.next_pid++;
        F.pid_of[spec->id] = pid;
        tracef("spawn %s gen %u id %llu fds %zu -> pid %d", spec->instance, spec->generation,
               (unsigned long long) spec->id, spec->n_fds, (int) pid);
        *ret_pid = pid;
        return 0;
}

static void op_signal(void *ctx, pid_t pid, int sig, bool group) {
        (void) ctx;
        const char *name = sv_signal_to_string(sig);
        tracef("signal %d SIG%s%s", (int) pid, name ? name : "?", group ? " (group)" : "");
}

static void op_arm(void *ctx, SvInstanceId id, uint64_t at) {
        (void) ctx;
        char r[40];
        assert_true(id < IDS_MAX);
        F.armed[id] = at;
        if (at)
                tracef("arm %llu at %s", (unsigned long long) id, rel(at, r, sizeof(r)));
        else
                tracef("disarm %llu", (unsigned long long) id);
}

static int op_socket_open(void *ctx, const SvSocketConf *sc, bool startup, SvSocketInfo *ret, SvDiag *d) {
        (void) ctx;
        if (F.fail_socket && strcmp(sc->name, F.fail_socket) == 0) {
                tracef("open %s: in use", sc->name);
                return diag_set(d, sc->listen_line, "socket '%s': cannot bind %s: Address already in use", sc->name,
                                sc->listen),
                       -EADDRINUSE;
        }
        *ret = (SvSocketInfo){ .fd = 50 + (int) F.n_sockets, .inode = 7000 + F.n_sockets };
        (void) snprintf(ret->address, sizeof(ret->address), "%s", sc->listen);
        F.n_sockets++;
        tracef("open %s %s%s -> fd %d", sc->name, sc->listen, startup ? " (startup)" : "", ret->fd);
        return 0;
}

static int op_socket_adjust(void *ctx, const SvSocketInfo *si, const SvSocketConf *sc, SvDiag *d) {
        (void) ctx;
        (void) d;
        tracef("adjust fd %d backlog %d", si->fd, sc->backlog);
        return 0;
}

static void op_socket_retire(void *ctx, const SvSocketInfo *si) {
        (void) ctx;
        tracef("retire fd %d", si->fd);
}

static void op_socket_close(void *ctx, SvSocketInfo *si) {
        (void) ctx;
        tracef("close fd %d", si->fd);
}

static void op_reply(void *ctx, SvConnId conn, CtlReplyKind kind, const char *text) {
        (void) ctx;
        static const char *const prefix[] = { [CTL_REPLY_PROGRESS] = ".", [CTL_REPLY_OUTPUT] = "|",
                                              [CTL_REPLY_OK] = "OK", [CTL_REPLY_ERR] = "ERR" };
        tracef("c%llu %s%s%s", (unsigned long long) conn, prefix[kind], text && text[0] ? " " : "", text ? text : "");
}

static void op_usage(void *ctx, const pid_t *pgids, size_t n, SvGroupUsage *ret) {
        (void) ctx;
        for (size_t k = 0; k < n; k++) /* one process, 1.5 s of CPU, 12 MiB */
                ret[k] = pgids[k] > 0 ? (SvGroupUsage){ 1, 1500 * MSEC, 12 << 20 } : (SvGroupUsage){};
}

static void op_service_manager(void *ctx, const char *a) {
        (void) ctx;
        char buf[512];
        (void) snprintf(buf, sizeof(buf), "%s", a);
        for (char *p = buf; *p; p++)
                if (*p == '\n')
                        *p = '|';
        tracef("sd %s", buf);
}

static void op_log(void *ctx, int level, const SvLogWho *who, const char *text) {
        (void) ctx;
        (void) who;
        if (F.n_logs < sizeof(F.logs))
                F.n_logs += (size_t) snprintf(F.logs + F.n_logs, sizeof(F.logs) - F.n_logs, "  log<%d> %s\n", level,
                                              text);
}

static void op_set_log_target(void *ctx, SvLogTo t) {
        (void) ctx;
        (void) t;
}

static void op_exit(void *ctx, int status) {
        (void) ctx;
        F.exited = status;
        tracef("exit %d", status);
}

static int op_socket_export(void *ctx, const SvSocketInfo *si, char *buf, size_t len) {
        (void) ctx;
        tracef("export fd %d", si->fd);
        return snprintf(buf, len, "fake %d", si->fd);
}

static int op_socket_import(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                            SvSocketInfo *ret, SvDiag *d) {
        (void) ctx;
        (void) d;
        tracef("import %s fd %d inode %lu '%s'", name, saved->fd, saved->inode, ext);
        *ret = *saved;
        return 0;
}

static int op_adopt(void *ctx, SvInstanceId id, pid_t pid) {
        (void) ctx;
        tracef("adopt %llu pid %d", (unsigned long long) id, (int) pid);
        return 0;
}

static void op_fd_close(void *ctx, int fd) {
        (void) ctx;
        tracef("close stored fd %d", fd);
}

static void op_fd_watch(void *ctx, int fd) {
        (void) ctx;
        tracef("watch stored fd %d", fd);
}

static int op_fd_carry(void *ctx, int fd, bool restoring) {
        (void) ctx;
        tracef("carry stored fd %d%s", fd, restoring ? " (restoring)" : "");
        return 0;
}

static void op_observe(void *ctx, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n) {
        (void) ctx;
        static const char *const names[] = { "none", "accepting", "idle" };
        tracef("observe %d %s (%zu sockets)", (int) pid, names[what], n);
}

static void op_probe(void *ctx, SvInstanceId id, pid_t pid, const SvProgramConf *conf) {
        (void) ctx;
        tracef("probe %llu pid %d %s", (unsigned long long) id, (int) pid, conf ? conf->health.target : "end");
}

/* Not traced (every scenario would have to say it): counted, and checked where it matters. */
static unsigned op_escapees(void *ctx, const SvEscapeQuery *q) {
        (void) ctx;
        F.escape_calls++;
        F.escape_gen = q->generation;
        F.escape_socks = q->n_socks;
        /* the daemon's search asks for the live workers as it runs */
        F.escape_live = sv_supervisor_live_pids(S, F.escape_live_pids, 8);
        return F.escape_returns;
}

static const SvOps ops = {
        .now = op_now,
        .realtime = op_realtime,
        .spawn = op_spawn,
        .signal = op_signal,
        .arm = op_arm,
        .socket_open = op_socket_open,
        .socket_adjust = op_socket_adjust,
        .socket_retire = op_socket_retire,
        .socket_close = op_socket_close,
        .reply = op_reply,
        .usage = op_usage,
        .service_manager = op_service_manager,
        .log = op_log,
        .set_log_target = op_set_log_target,
        .exit = op_exit,
        .socket_export = op_socket_export,
        .socket_import = op_socket_import,
        .adopt = op_adopt,
        .fd_close = op_fd_close,
        .fd_watch = op_fd_watch,
        .fd_carry = op_fd_carry,
        .observe = op_observe,
        .probe = op_probe,
        .escapees = op_escapees,
};

/* ---- helpers ---- */

/* Compares the trace since the last call with want, then starts a new one. */
static void expect_trace(const char *want) {
        if (strcmp(F.trace, want) != 0) {
                print_error("trace differs\n--- got:\n%s--- want:\n%s--- log:\n%s", F.trace, want, F.logs);
                fail();
        }
        F.trace[0] = '\0';
        F.n_trace = 0;
        F.logs[0] = '\0';
        F.n_logs = 0;
}

static SvConfig *parse(const char *text) {
        SvConfig *c = NULL;
        SvDiag d = {};
        if (sv_config_parse_string(text, "t.ini", &c, &d) < 0)
                print_error("%s\n", d.msg);
        assert_non_null(c);
        return c;
}

static void setup(const char *ini) {
        F = (Fake){ .now = T0, .next_pid = 101, .exited = -1 };
        assert_int_equal(sv_supervisor_new(&ops, NULL, &S), 0);
        SvDiag d = {};
        int r = sv_supervisor_load(S, parse(ini), &d);
        if (r < 0)
                print_error("load: %s\n", d.msg);
        assert_int_equal(r, 0);
}

static int teardown(void **state) {
        (void) state;
        S = sv_supervisor_free(S);
        return 0;
}

static void command(SvConnId conn, const char *line) {
        CtlRequest req;
        SvDiag d = {};
        char buf[256];
        (void) snprintf(buf, sizeof(buf), "SOCKVISOR/1 %s", line);
        assert_int_equal(ctl_request_parse(buf, strlen(buf), &req, &d), 0);
        sv_supervisor_command(S, conn, &req);
}

static void ready(SvInstanceId id) {
        SvNotifyMsg m = { .ready = true };
        sv_supervisor_notify(S, F.pid_of[id], &m);
}

static void exited(SvInstanceId id, int code, int status) {
        sv_supervisor_exited(S, id, code, status);
}

/* Moves the clock to id's timer and fires it. */
static void fire(SvInstanceId id) {
        assert_true(F.armed[id] != 0);
        if (F.armed[id] > F.now)
                F.now = F.armed[id];
        sv_supervisor_timer(S, id);
}

static void program_state(const char *name, unsigned k, SmState want) {
        for (size_t q = 0; q < sv_supervisor_n_programs(S); q++) {
                SvProgramView v;
                sv_supervisor_program_view(S, q, &v);
                if (strcmp(v.name, name) == 0) {
                        if (v.state[k] != want)
                                print_error("%s:%u is %s, want %s\n", name, k, sm_state_to_string(v.state[k]),
                                            sm_state_to_string(want));
                        assert_int_equal(v.state[k], want);
                        return;
                }
        }
        fail_msg("no program %s", name);
}

/* ---- scenarios ---- */

#define APP2                                                                                                           \
        "[socket:web]\nlisten = tcp://127.0.0.1:8080\n"                                                                \
        "[program:app]\ncommand = /bin/app\nsockets = web\nnumprocs = 2\nready = notify\nready_timeout = 5s\n"         \
        "priority = 10\n"                                                                                              \
        "[program:job]\ncommand = /bin/job\nready = notify\nready_timeout = 5s\npriority = 20\n"

/* load + start_all: the socket first, then every instance spawned with its timer; READY=1 to
 * the service manager only once all are ready. */
static void test_start_all_then_ready(void **state) {
        (void) state;
        setup(APP2);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n");
        sv_supervisor_start_all(S);
        expect_trace("spawn app:0 gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "spawn app:1 gen 1 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "spawn job gen 1 id 3 fds 0 -> pid 103\n"
                     "arm 3 at +5.00s\n"
                     "sd STATUS=0 of 3 instances running, 1 socket held\n");
        program_state("app", 0, SM_STARTING);
        F.now += 200 * MSEC;
        ready(1);
        expect_trace("disarm 1\n"
                     "sd STATUS=1 of 3 instances running, 1 socket held\n");
        ready(3);
        expect_trace("disarm 3\n"
                     "sd STATUS=2 of 3 instances running, 1 socket held\n");
        ready(2);
        expect_trace("disarm 2\n"
                     "sd READY=1|STATUS=3 of 3 instances running, 1 socket held\n");
        program_state("app", 1, SM_RUNNING);
        /* a second READY=1 changes nothing */
        ready(2);
        expect_trace("");
        /* a message from a pid that is not ours is ignored */
        SvNotifyMsg m = { .ready = true };
        sv_supervisor_notify(S, 999, &m);
        expect_trace("");
}

#define ONE                                                                                                            \
        "[socket:web]\nlisten = tcp://127.0.0.1:8080\n"                                                                \
        "[program:app]\ncommand = /bin/app\nsockets = web\nready = notify\nready_timeout = 5s\nstopwaitsecs = 4s\n"    \
        "startretries = 2\n"

static void start_one(void) {
        setup(ONE);
        sv_supervisor_start_all(S);
        F.now += 100 * MSEC;
        ready(1);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n"
                     "disarm 1\n"
                     "sd READY=1|STATUS=1 of 1 instances running, 1 socket held\n");
}

/* A RUNNING worker that exits after a healthy run restarts at once (a timer at +0). */
static void test_exit_of_running_restarts(void **state) {
        (void) state;
        start_one();
        F.now += 30 * SEC;
        exited(1, CLD_EXITED, 3);
        expect_trace("arm 1 at +0ms\n"
                     "sd STATUS=0 of 1 instances running, 1 failing, 1 socket held\n");
        program_state("app", 0, SM_BACKOFF);
        fire(1);
        expect_trace("spawn app gen 1 id 1 fds 1 -> pid 102\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        ready(1);
        expect_trace("disarm 1\n"
                     "sd STATUS=1 of 1 instances running, 1 socket held\n");
}

/* An exit before ready is a failed start: backoff 1 s, then 2 s, then FATAL after startretries. */
static void test_early_exit_backoff_then_fatal(void **state) {
        (void) state;
        setup(ONE);
        sv_supervisor_start_all(S);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        F.now += 300 * MSEC;
        exited(1, CLD_EXITED, 1);
        expect_trace("arm 1 at +1.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 failing, 1 socket held\n");
        fire(1);
        expect_trace("spawn app gen 1 id 1 fds 1 -> pid 102\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        exited(1, CLD_KILLED, SIGKILL);
        expect_trace("arm 1 at +2.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 failing, 1 socket held\n");
        fire(1);
        expect_trace("spawn app gen 1 id 1 fds 1 -> pid 103\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        exited(1, CLD_EXITED, 1);
        /* start-up has settled (given up): READY=1 now */
        expect_trace("disarm 1\n"
                     "sd READY=1|STATUS=0 of 1 instances running, 1 failing, 1 socket held\n");
        program_state("app", 0, SM_FATAL);

        /* start of a FATAL program: the same instance (FATAL -> STARTING) with fresh retries,
         * and the reply at the first failed attempt, saying how it failed and what comes next */
        F.now += 10 * SEC;
        command(7, "start app");
        expect_trace("c7 . app: starting, waiting up to 5.00s for it to be ready\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 104\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        F.now += 500 * MSEC;
        exited(1, CLD_EXITED, 2);
        expect_trace("arm 1 at +1.00s\n"
                     "c7 . app: exited (status 2), retrying in 1.00s\n"
                     "c7 ERR app: exited with status 2 before it was ready; state BACKOFF, retrying in 1.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 failing, 1 socket held\n");
}

/* restart: the candidate starts on the same socket, replaces the old one once ready; the old
 * one gets its stopsignal; OK once it is gone. Then the freed instance's stale events. */
static void test_restart_then_stale_events(void **state) {
        (void) state;
        start_one();
        F.now += 10 * SEC;
        command(7, "restart app");
        expect_trace("c7 . app: rolling out a new generation, 1 at a time\n"
                     "spawn app gen 2 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "c7 . app: started generation 2 (pid 102), waiting up to 5.00s for it to be ready\n"
                     "sd STATUS=restarting app (generation 2); 1 of 1 instances running, 1 socket held\n");
        F.now += 1 * SEC;
        ready(2);
        expect_trace("disarm 2\n"
                     "c7 . app: generation 2 ready after 1.00s (pid 102)\n"
                     "c7 . app: stopping generation 1 (pid 101) with SIGTERM, waiting up to 4.00s\n"
                     "signal 101 SIGTERM\n"
                     "arm 1 at +4.00s\n");
        F.now += 500 * MSEC;
        exited(1, CLD_EXITED, 0);
        expect_trace("disarm 1\n"
                     "c7 . app: generation 1 exited after 500ms (status 0)\n"
                     "c7 OK restart done in 1.50s\n"
                     "sd STATUS=1 of 1 instances running, 1 socket held\n");
        program_state("app", 0, SM_RUNNING);
        assert_int_equal(sv_supervisor_n_jobs(S), 0);
        assert_int_equal(sv_supervisor_n_instances(S), 1);

        /* instance 1 is gone: its timer and exit are no-ops */
        F.armed[1] = F.now;
        sv_supervisor_timer(S, 1);
        exited(1, CLD_KILLED, SIGKILL);
        sv_supervisor_timer(S, 42);
        expect_trace("");
        program_state("app", 0, SM_RUNNING);
        assert_true(sv_supervisor_owns_pid(S, 102));
        assert_false(sv_supervisor_owns_pid(S, 101));
}

static void upgrade(char **ret_text);

/* APP2 started and every instance ready: app:0 (id 1, pid 101), app:1 (2, 102), job (3, 103). */
static void start_app2(void) {
        setup(APP2);
        sv_supervisor_start_all(S);
        ready(1);
        ready(2);
        ready(3);
}

/* Escapees are looked for once a generation's last process is reaped, with the sockets it
 * had and every live worker; what the ops found is counted in the program's stats. */
static void test_escapees_after_generation(void **state) {
        (void) state;
        start_app2();
        F.escape_returns = 1;
        exited(3, CLD_EXITED, 0); /* job: no sockets, nothing to look for */
        assert_int_equal(F.escape_calls, 0);
        command(7, "restart app");
        ready(4); /* app:0 gen 2, then gen 1's app:0 is asked to stop */
        exited(1, CLD_EXITED, 0);
        assert_int_equal(F.escape_calls, 0); /* gen 1's app:1 (pid 102) still runs */
        ready(5);
        exited(2, CLD_EXITED, 0);
        assert_int_equal(F.escape_calls, 1);
        assert_int_equal(F.escape_gen, 1);
        assert_int_equal(F.escape_socks, 1);
        assert_int_equal(F.escape_live, 2); /* gen 2's two (job has exited) */
        assert_true(F.escape_live_pids[0] >= 104 && F.escape_live_pids[1] >= 104);
        SvProgramView v;
        sv_supervisor_program_view(S, 0, &v);
        assert_string_equal(v.name, "app");
        assert_int_equal(v.stats.escaped_killed, 1);
        /* a crash of one of gen 2's: its generation still has a process */
        exited(4, CLD_KILLED, SIGKILL);
        assert_int_equal(F.escape_calls, 1);
        /* the count crosses an upgrade */
        char *text = NULL;
        upgrade(&text);
        assert_non_null(strstr(text, "n_escaped_killed"));
        free(text);
        sv_supervisor_program_view(S, 0, &v);
        assert_string_equal(v.name, "app");
        assert_int_equal(v.stats.escaped_killed, 1);
}

/* stop wins: the restart under way is answered ERR naming the stop, the stop OK once all is gone. */
static void test_stop_during_restart(void **state) {
        (void) state;
        start_one();
        command(7, "restart app");
        expect_trace("c7 . app: rolling out a new generation, 1 at a time\n"
                     "spawn app gen 2 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "c7 . app: started generation 2 (pid 102), waiting up to 5.00s for it to be ready\n"
                     "sd STATUS=restarting app (generation 2); 1 of 1 instances running, 1 socket held\n");
        /* a second restart or a start is refused while it runs */
        command(9, "restart app");
        expect_trace("c9 ERR app: a restart is under way (generation 2, 0 of 1 ready); wait for it, or stop it\n");
        /* and so is a reload, which changes nothing */
        sv_supervisor_reload(S, 9, parse(ONE "[program:other]\ncommand = /bin/other\n"));
        expect_trace("c9 ERR program 'app' has a restart under way; reload again when it finishes (nothing changed)\n");
        assert_int_equal(sv_supervisor_n_programs(S), 1);
        F.now += 1 * SEC;
        command(8, "stop app");
        expect_trace("c7 ERR app: cancelled: stop requested\n"
                     "c8 . app: stopping generation 2 (pid 102) with SIGTERM, waiting up to 4.00s\n"
                     "c8 . app: stopping generation 1 (pid 101) with SIGTERM, waiting up to 4.00s\n"
                     /* the candidate's ready timer is replaced by its stop timer */
                     "signal 102 SIGTERM\n"
                     "arm 2 at +4.00s\n"
                     "signal 101 SIGTERM\n"
                     "arm 1 at +4.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        F.now += 100 * MSEC;
        exited(2, CLD_EXITED, 0);
        expect_trace("disarm 2\n"
                     "c8 . app: generation 2 exited after 100ms (status 0)\n");
        F.now += 100 * MSEC;
        exited(1, CLD_EXITED, 0);
        expect_trace("disarm 1\n"
                     "c8 OK stop done in 200ms\n");
        program_state("app", 0, SM_STOPPED);
        assert_int_equal(sv_supervisor_n_jobs(S), 0);
}

/* A reload whose new socket cannot be bound changes nothing, and says so. */
static void test_reload_bind_fails(void **state) {
        (void) state;
        start_one();
        F.fail_socket = "api";
        sv_supervisor_reload(S, 7,
                             parse(ONE "[socket:api]\nlisten = tcp://127.0.0.1:9090\n"
                                       "[program:api]\ncommand = /bin/api\nsockets = api\nready = notify\n"));
        expect_trace("open api: in use\n"
                     "c7 ERR socket 'api': cannot bind tcp://127.0.0.1:9090: Address already in use (nothing "
                     "changed)\n");
        assert_int_equal(sv_supervisor_n_programs(S), 1);
        assert_int_equal(sv_supervisor_n_sockets(S), 1);
        assert_int_equal(sv_supervisor_n_jobs(S), 0);
        const SvConfig *cfg = sv_supervisor_config(S);
        assert_int_equal(cfg->n_programs, 1);

        /* the same reload once the port is free: bound, added, started, answered once ready */
        F.fail_socket = NULL;
        sv_supervisor_reload(S, 8,
                             parse(ONE "[socket:api]\nlisten = tcp://127.0.0.1:9090\n"
                                       "[program:api]\ncommand = /bin/api\nsockets = api\nready = notify\n"));
        expect_trace("open api tcp://127.0.0.1:9090 -> fd 51\n"
                     "c8 . socket api: bound tcp://127.0.0.1:9090\n"
                     "c8 . program api: added; starting it\n"
                     "c8 . 1 added, 0 removed, 0 changed, 1 unchanged\n"
                     "spawn api gen 1 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +30.00s\n"
                     "sd STATUS=1 of 2 instances running, 2 sockets held\n");
        F.now += 2 * SEC;
        ready(2);
        expect_trace("disarm 2\n"
                     "c8 OK reloaded t.ini in 2.00s\n"
                     "sd STATUS=2 of 2 instances running, 2 sockets held\n");
}

/* restart of a program that is not running starts it. */
static void test_restart_of_stopped_starts(void **state) {
        (void) state;
        setup("[program:idle]\ncommand = /bin/idle\nautostart = false\nready = notify\nready_timeout = 3s\n");
        sv_supervisor_start_all(S);
        expect_trace("sd READY=1|STATUS=0 of 1 instances running, 0 sockets held\n");
        command(7, "restart idle");
        expect_trace("c7 . idle: rolling out a new generation, 1 at a time\n"
                     "spawn idle gen 1 id 1 fds 0 -> pid 101\n"
                     "arm 1 at +3.00s\n"
                     "c7 . idle: started generation 1 (pid 101), waiting up to 3.00s for it to be ready\n"
                     "sd STATUS=restarting idle (generation 1); 0 of 1 instances running, 0 sockets held\n");
        F.now += 250 * MSEC;
        ready(1);
        expect_trace("disarm 1\n"
                     "c7 . idle: generation 1 ready after 250ms (pid 101)\n"
                     "c7 OK restart done in 250ms\n"
                     "sd STATUS=1 of 1 instances running, 0 sockets held\n");
        program_state("idle", 0, SM_RUNNING);
}

/* A spawn that fails is a failed start too, and the start's answer says why. */
static void test_start_spawn_fails(void **state) {
        (void) state;
        setup("[program:idle]\ncommand = /bin/idle\nautostart = false\n");
        sv_supervisor_start_all(S);
        expect_trace("sd READY=1|STATUS=0 of 1 instances running, 0 sockets held\n");
        F.fail_spawn = "idle";
        command(7, "start idle");
        expect_trace("c7 . idle: starting, waiting up to 1.00s for it to be ready\n"
                     "spawn idle gen 1: cannot exec\n"
                     "arm 1 at +1.00s\n" /* BACKOFF's: STARTING's is not armed for a spawn that failed */
                     "c7 . idle: could not be started (cannot exec /bin/idle: No such file or directory), retrying in "
                     "1.00s\n"
                     "c7 ERR idle: could not be started: cannot exec /bin/idle: No such file or directory; state "
                     "BACKOFF, retrying in 1.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 failing, 0 sockets held\n");
}

/* Shutdown stops the highest priority first and waits for it before the next level. */
static void test_shutdown_order(void **state) {
        (void) state;
        start_app2();
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app:0 gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "spawn app:1 gen 1 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "spawn job gen 1 id 3 fds 0 -> pid 103\n"
                     "arm 3 at +5.00s\n"
                     "sd STATUS=0 of 3 instances running, 1 socket held\n"
                     "disarm 1\n"
                     "sd STATUS=1 of 3 instances running, 1 socket held\n"
                     "disarm 2\n"
                     "sd STATUS=2 of 3 instances running, 1 socket held\n"
                     "disarm 3\n"
                     "sd READY=1|STATUS=3 of 3 instances running, 1 socket held\n");
        sv_supervisor_shutdown(S, "SIGTERM");
        expect_trace("sd STOPPING=1|STATUS=stopping every program\n"
                     "signal 103 SIGTERM\n"
                     "arm 3 at +10.00s\n"
                     "sd STATUS=stopping: 2 of 3 instances running, 1 socket held\n"); /* STOPPING is not running */
        F.now += 1 * SEC;
        exited(3, CLD_EXITED, 0);
        expect_trace("disarm 3\n"
                     "signal 101 SIGTERM\n"
                     "arm 1 at +10.00s\n"
                     "signal 102 SIGTERM\n"
                     "arm 2 at +10.00s\n"
                     "sd STATUS=stopping: 0 of 3 instances running, 1 socket held\n");
        exited(1, CLD_EXITED, 0);
        expect_trace("disarm 1\n");
        /* one that ignores its stopsignal gets SIGKILL after stopwaitsecs */
        fire(2);
        expect_trace("signal 102 SIGKILL\n"); /* nothing left to arm: its reaping ends it */
        exited(2, CLD_KILLED, SIGKILL);
        expect_trace("disarm 2\n"
                     "exit 0\n");
        assert_int_equal(F.exited, 0);
        command(7, "start app");
        expect_trace("c7 ERR sockvisord is shutting down\n");
}

/* Saves S, frees it the way execve does (no op at all), and restores a new one from the text:
 * the trace shows exactly what each step did to the world. */
static void upgrade(char **ret_text) {
        SvStateOut o = {};
        SvDiag d = {};
        assert_int_equal(sv_supervisor_upgrade_check(S, &d), 0);
        assert_int_equal(sv_supervisor_save(S, &o, &d), 0);
        S = sv_supervisor_abandon(S);
        assert_int_equal(sv_supervisor_new(&ops, NULL, &S), 0);
        SvStateIn in;
        sv_state_in_init(&in, o.buf, o.len, NULL);
        int r = sv_supervisor_restore(S, &in, &d);
        if (r < 0)
                print_error("restore: %s\n", d.msg);
        assert_int_equal(r, 0);
        sv_state_in_done(&in);
        *ret_text = o.buf;
}

/* An upgrade in the middle of a restart: the old image does nothing at all on its way out,
 * the new one imports the socket, adopts both pids, re-arms the candidate's ready timer, and
 * the restart goes on to answer its client. */
static void test_upgrade_mid_restart(void **state) {
        (void) state;
        char *text = NULL;
        start_one();
        F.now += 10 * SEC;
        command(7, "restart app");
        F.now += 1 * SEC;
        expect_trace("c7 . app: rolling out a new generation, 1 at a time\n"
                     "spawn app gen 2 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "c7 . app: started generation 2 (pid 102), waiting up to 5.00s for it to be ready\n"
                     "sd STATUS=restarting app (generation 2); 1 of 1 instances running, 1 socket held\n");
        upgrade(&text);
        expect_trace("export fd 50\n"
                     "import web fd 50 inode 7000 'fake 50'\n");
        sv_supervisor_resume(S);
        expect_trace("adopt 1 pid 101\n"
                     "adopt 2 pid 102\n"
                     "arm 2 at +4.00s\n"); /* the same deadline: 5 s after the spawn */
        assert_int_equal(sv_supervisor_n_jobs(S), 1);
        ready(2);
        expect_trace("disarm 2\n"
                     "c7 . app: generation 2 ready after 1.00s (pid 102)\n"
                     "c7 . app: stopping generation 1 (pid 101) with SIGTERM, waiting up to 4.00s\n"
                     "signal 101 SIGTERM\n"
                     "arm 1 at +4.00s\n");
        exited(1, CLD_EXITED, 0);
        expect_trace("disarm 1\n"
                     "c7 . app: generation 1 exited after 0ms (status 0)\n"
                     "c7 OK restart done in 1.00s\n"
                     "sd STATUS=1 of 1 instances running, 1 socket held\n");
        free(text);
}

/* A state that does not add up is refused, and the half-built supervisor is undone without
 * a word to the world: the fds stay for the previous binary. */
static void test_restore_refuses_bad_state(void **state) {
        (void) state;
        char *text = NULL;
        start_one();
        upgrade(&text);
        sv_supervisor_resume(S);
        expect_trace("export fd 50\n"
                     "import web fd 50 inode 7000 'fake 50'\n"
                     "adopt 1 pid 101\n");
        static const struct {
                const char *from, *to, *why;
        } cases[] = {
                { " refs=2 ", " refs=3 ", "socket 'web': 2 references, the previous image counted 3" },
                { "state=RUNNING", "state=DANCING", "state 'DANCING' is unknown" },
                { "\nend\n", "\n", "ends without an 'end' record" },
                { "\ncore ", "\nmystery ", "'mystery' record unknown or out of place" },
                { " pid=101 ", " pid=-4 ", "id or pid out of range" },
                { "[program:app]", "[program:app", "does not parse in this build" },
        };
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                char bad[16384], *at = strstr(text, cases[k].from);
                assert_non_null(at);
                (void) snprintf(bad, sizeof(bad), "%.*s%s%s", (int) (at - text), text, cases[k].to,
                                at + strlen(cases[k].from));
                SvSupervisor *s2 = NULL;
                SvDiag d = {};
                SvStateIn in;
                assert_int_equal(sv_supervisor_new(&ops, NULL, &s2), 0);
                sv_state_in_init(&in, bad, strlen(bad), NULL);
                assert_true(sv_supervisor_restore(s2, &in, &d) < 0);
                sv_state_in_done(&in);
                if (!strstr(d.msg, cases[k].why))
                        print_error("case %zu: '%s' does not say '%s'\n", k, d.msg, cases[k].why);
                assert_non_null(strstr(d.msg, cases[k].why));
                s2 = sv_supervisor_free(s2);
                /* the import may come first; no close, no reply, nothing else */
                for (char *line = F.trace; *line; line = strchr(line, '\n') + 1)
                        if (strncmp(line, "import ", 7) != 0) {
                                print_error("case %zu: a failed restore did '%s'", k, line);
                                fail();
                        }
                F.trace[0] = '\0';
                F.n_trace = 0;
        }
        free(text);
}

/* An unmodified server: ready once it accepts (seen, not announced), and drained by
 * observation: never sent its stopsignal, killed once it is idle, after its successor is up. */
static void test_observed_restart(void **state) {
        (void) state;
        setup("[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
              "[program:app]\ncommand = /bin/app\nsockets = web\nintercept_bind = yes\ndrain = idle\n"
              "ready_timeout = 5s\nstopwaitsecs = 4s\n");
        sv_supervisor_start_all(S);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "observe 101 accepting (1 sockets)\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        F.now += 300 * MSEC;
        sv_supervisor_observed(S, 1, SV_OBSERVE_IDLE, "wrong kind"); /* stale: it is watched for accepting */
        ready(1); /* a READY=1 before it accepts (gunicorn's master) is not what it waits for */
        expect_trace("");
        program_state("app", 0, SM_STARTING);
        command(9, "status app");
        assert_non_null(strstr(F.trace, "waiting for it to accept (at most 4.70s more)"));
        expect_trace(F.trace); /* the rest of the row is test_status's */
        sv_supervisor_observed(S, 1, SV_OBSERVE_ACCEPTING, "pid 101 waits in accept on fd 3");
        expect_trace("disarm 1\n"
                     "observe 101 none (0 sockets)\n"
                     "sd READY=1|STATUS=1 of 1 instances running, 1 socket held\n");
        program_state("app", 0, SM_RUNNING);

        command(7, "restart app");
        expect_trace("c7 . app: rolling out a new generation, 1 at a time\n"
                     "spawn app gen 2 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "observe 102 accepting (1 sockets)\n"
                     "c7 . app: started generation 2 (pid 102), waiting up to 5.00s for it to be ready\n"
                     "sd STATUS=restarting app (generation 2); 1 of 1 instances running, 1 socket held\n");
        F.now += 1 * SEC;
        sv_supervisor_observed(S, 2, SV_OBSERVE_ACCEPTING, "pid 102 waits in epoll on fd 3");
        expect_trace("disarm 2\n"
                     "observe 102 none (0 sockets)\n"
                     "c7 . app: generation 2 ready after 1.00s (pid 102)\n"
                     "c7 . app: stopping generation 1 (pid 101) once it holds no accepted connection, waiting up to 4.00s\n"
                     "arm 1 at +4.00s\n"
                     "observe 101 idle (1 sockets)\n");
        F.now += 40 * MSEC;
        sv_supervisor_observed(S, 1, SV_OBSERVE_IDLE, "1 process frozen");
        expect_trace("signal 101 SIGKILL (group)\n"
                     "observe 101 none (0 sockets)\n");
        F.now += 2 * MSEC;
        exited(1, CLD_KILLED, SIGKILL);
        expect_trace("signal 101 SIGKILL (group)\n" /* killasgroup: what it left in its group */
                     "disarm 1\n"
                     "c7 . app: generation 1 exited after 42ms (signal KILL)\n"
                     "c7 OK restart done in 1.04s\n"
                     "sd STATUS=1 of 1 instances running, 1 socket held\n");
}

/* A server that is never idle meets stopwaitsecs: SIGKILL then, and its watch ends. */
static void test_idle_drain_times_out(void **state) {
        (void) state;
        setup("[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
              "[program:app]\ncommand = /bin/app\nsockets = web\ndrain = idle\nready = notify\n"
              "ready_timeout = 5s\nstopwaitsecs = 4s\n");
        sv_supervisor_start_all(S);
        ready(1);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n"
                     "disarm 1\n"
                     "sd READY=1|STATUS=1 of 1 instances running, 1 socket held\n");
        command(8, "stop app");
        expect_trace("c8 . app: stopping generation 1 (pid 101) once it holds no accepted connection, waiting up to 4.00s\n"
                     "arm 1 at +4.00s\n"
                     "observe 101 idle (1 sockets)\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n");
        F.now += 1 * SEC;
        command(9, "status app");
        assert_non_null(strstr(F.trace, "draining: killed once it holds no connection (at most 3.00s more)"));
        expect_trace(F.trace);
        fire(1);
        expect_trace("signal 101 SIGKILL (group)\n"
                     "observe 101 none (0 sockets)\n");
}

static void ping(SvInstanceId id) {
        SvNotifyMsg m = { .watchdog = true };
        sv_supervisor_notify(S, F.pid_of[id], &m);
}

/* The trace since the last check has needle; then a new one starts. */
static void trace_has(const char *needle) {
        if (!strstr(F.trace, needle))
                print_error("trace has no '%s':\n%s--- log:\n%s", needle, F.trace, F.logs);
        assert_non_null(strstr(F.trace, needle));
        expect_trace(F.trace);
}

/* The status line of app, from a status command. */
static void expect_status(const char *needle) {
        command(9, "status app");
        if (!strstr(F.trace, needle))
                print_error("status has no '%s':\n%s", needle, F.trace);
        assert_non_null(strstr(F.trace, needle));
        expect_trace(F.trace);
}

/* watchdog=: pings keep it RUNNING; a missed one replaces it the zero-downtime way (the new
 * one ready first); the replacement that goes unhealthy soon after waits a backoff. */
static void test_watchdog_replaces(void **state) {
        (void) state;
        setup("[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
              "[program:app]\ncommand = /bin/app\nsockets = web\nready = notify\nready_timeout = 5s\n"
              "watchdog = 2s\nstopwaitsecs = 3s\n");
        sv_supervisor_start_all(S);
        ready(1);
        expect_trace("open web tcp://127.0.0.1:8080 (startup) -> fd 50\n"
                     "spawn app gen 1 id 1 fds 1 -> pid 101\n"
                     "arm 1 at +5.00s\n"
                     "sd STATUS=0 of 1 instances running, 1 socket held\n"
                     "arm 1 at +2.00s\n" /* ready: the watchdog counts from here */
                     "sd READY=1|STATUS=1 of 1 instances running, 1 socket held\n");
        F.now += 1500 * MSEC;
        ping(1);
        expect_trace("arm 1 at +2.00s\n");
        fire(1); /* 2 s with no ping */
        assert_non_null(strstr(F.logs, "unhealthy (no WATCHDOG=1 within 2.00s): replacing it with generation 2"));
        expect_trace("disarm 1\n"
                     "spawn app gen 2 id 2 fds 1 -> pid 102\n"
                     "arm 2 at +5.00s\n"
                     "sd STATUS=replacing unhealthy app (generation 2); 1 of 1 instances running, 1 socket held\n");
        program_state("app", 0, SM_RUNNING); /* the old one serves meanwhile */
        expect_status("unhealthy: no WATCHDOG=1 within 2.00s; generation 2 replacing it");
        ping(1); /* too late: ignored */
        sv_supervisor_notify(S, F.pid_of[1], &(SvNotifyMsg){ .watchdog_trigger = true }); /* so is this */
        expect_trace("");
        F.now += 300 * MSEC;
        ready(2);
        trace_has("arm 2 at +2.00s\nsignal 101 SIGTERM\narm 1 at +3.00s\n");
        exited(1, CLD_EXITED, 0);
        trace_has("disarm 1\n");

        /* the replacement wedges at once: backoff before the next (1 s, then 2 s ...) */
        fire(2);
        assert_non_null(strstr(F.logs, "replacing it in 1.00s (unhealthy replacements in a row: 1)"));
        trace_has("arm 2 at +1.00s\n");
        expect_status("unhealthy: no WATCHDOG=1 within 2.00s; replacing it in 1.00s");
        fire(2);
        trace_has("spawn app gen 3 id 3 fds 1 -> pid 103\narm 3 at +5.00s\n");
}

/* WATCHDOG=trigger, with or without watchdog=: unhealthy at once. */
static void test_watchdog_trigger(void **state) {
        (void) state;
        setup("[program:app]\ncommand = /bin/app\nready = notify\nready_timeout = 5s\n");
        sv_supervisor_start_all(S);
        ready(1);
        expect_trace(F.trace);
        sv_supervisor_notify(S, F.pid_of[1], &(SvNotifyMsg){ .watchdog_trigger = true });
        assert_non_null(strstr(F.logs, "unhealthy (it sent WATCHDOG=trigger): replacing it with generation 2"));
        trace_has("spawn app gen 2 id 2 fds 0 -> pid 102\n");
}

/* healthcheck=: probing while RUNNING and healthy; failures in a row make it unhealthy; a
 * replacement that fails leaves the old one serving and tries again later; a restart takes
 * over from a replacement under way. */
static void test_probe_failures(void **state) {
        (void) state;
        setup("[socket:web]\nlisten = tcp://127.0.0.1:8080\n"
              "[program:app]\ncommand = /bin/app\nsockets = web\nready = notify\nready_timeout = 5s\n"
              "healthcheck = http://127.0.0.1:%(port)s/healthz\nhealthcheck_failures = 2\n");
        sv_supervisor_start_all(S);
        ready(1);
        trace_has("disarm 1\nprobe 1 pid 101 http://127.0.0.1:8080/healthz\n");
        sv_supervisor_probed(S, 1, false, "HTTP 503 Service Unavailable");
        expect_trace("");
        expect_status("health check failing (1 of 2): HTTP 503 Service Unavailable");
        sv_supervisor_probed(S, 1, true, "");
        sv_supervisor_probed(S, 1, false, "connection refused"); /* the count starts again */
        expect_trace("");
        sv_supervisor_probed(S, 1, false, "no answer within 2.00s");
        trace_has("disarm 1\nprobe 1 pid 101 end\nspawn app gen 2 id 2 fds 1 -> pid 102\narm 2 at +5.00s\n");
        sv_supervisor_probed(S, 1, false, "late"); /* probing ended: stale */
        expect_trace("");

        exited(2, CLD_EXITED, 1); /* the replacement fails: the old one serves, tried again in 1 s */
        assert_non_null(strstr(F.logs, "its replacement failed: generation 2 exited with status 1 before it was ready"));
        trace_has("arm 1 at +1.00s\n");
        program_state("app", 0, SM_RUNNING);
        fire(1);
        trace_has("spawn app gen 3 id 3 fds 1 -> pid 103\narm 3 at +5.00s\n");

        command(7, "restart app"); /* an operator's restart takes over */
        trace_has("signal 103 SIGTERM"); /* the replacement drains, holding the surge slot */
        exited(3, CLD_EXITED, 0);
        trace_has("spawn app gen 4 id 4");
        ready(4);
        assert_non_null(strstr(F.trace, "probe 4 pid 104 http://127.0.0.1:8080/healthz"));
        trace_has("signal 101 SIGTERM");
        exited(1, CLD_EXITED, 0);
        trace_has("c7 OK restart done");
}

/* events: the state first, then each transition and milestone as it happens, to each
 * follower, text or JSON; across an upgrade; until it hangs up. */
static void test_events(void **state) {
        (void) state;
        char *text = NULL;
        setup("[program:app]\ncommand = /bin/app\nready = notify\nready_timeout = 5s\nstopwaitsecs = 3s\n"
              "[program:off]\ncommand = /bin/off\nautostart = false\n");
        sv_supervisor_start_all(S);
        ready(1);
        expect_trace(F.trace);
        command(5, "events");
        command(6, "events --json");
        trace_has("c5 . the state now, then every event as it happens, until you hang up (Ctrl-C)\n"
                  "c5 | 2026-12-02T00:00:00.000Z state app gen 1 pid 101 RUNNING (current)\n"
                  "c5 | 2026-12-02T00:00:00.000Z state off gen 0 STOPPED (current)\n"
                  "c6 . the state now");
        assert_true(sv_supervisor_conn_waiting(S, 5)); /* an upgrade must not answer it as lost */
        command(7, "restart app");
        assert_non_null(strstr(F.trace, "c5 | 2026-12-02T00:00:00.000Z rollout-begin app gen 2: rolling out generation 2"));
        assert_non_null(strstr(F.trace, "c6 | {\"time\":\"2026-12-02T00:00:00.000Z\",\"type\":\"transition\","
                                        "\"program\":\"app\",\"instance\":\"app\",\"index\":0,\"generation\":2,"
                                        "\"pid\":102,\"from\":\"STOPPED\",\"to\":\"STARTING\","
                                        "\"cause\":\"generation 2 rolling out\"}"));
        expect_trace(F.trace);
        upgrade(&text); /* the followers come along */
        free(text);
        sv_supervisor_resume(S);
        trace_has("c5 | 2026-12-02T00:00:00.000Z upgrade: a new sockvisord image took over");
        F.now += 1 * SEC;
        ready(2);
        trace_has("c5 | 2026-12-02T00:00:01.000Z transition app gen 2 pid 102 STARTING -> RUNNING (READY=1)");
        sv_supervisor_conn_closed(S, 5);
        assert_false(sv_supervisor_conn_waiting(S, 5));
        exited(1, CLD_EXITED, 0);
        assert_null(strstr(F.trace, "c5 "));
        assert_non_null(strstr(F.trace, "c6 | {"));
        expect_trace(F.trace);
        command(8, "events --yaml");
        trace_has("c8 ERR events: unknown option '--yaml'; expected [--json]\n");
        sv_supervisor_shutdown(S, "test");
        exited(2, CLD_EXITED, 0);
        assert_non_null(strstr(F.trace, "c6 OK sockvisord stopped"));
        expect_trace(F.trace);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_start_all_then_ready, teardown),
                cmocka_unit_test_teardown(test_watchdog_replaces, teardown),
                cmocka_unit_test_teardown(test_probe_failures, teardown),
                cmocka_unit_test_teardown(test_watchdog_trigger, teardown),
                cmocka_unit_test_teardown(test_events, teardown),
                cmocka_unit_test_teardown(test_exit_of_running_restarts, teardown),
                cmocka_unit_test_teardown(test_early_exit_backoff_then_fatal, teardown),
                cmocka_unit_test_teardown(test_restart_then_stale_events, teardown),
                cmocka_unit_test_teardown(test_stop_during_restart, teardown),
                cmocka_unit_test_teardown(test_reload_bind_fails, teardown),
                cmocka_unit_test_teardown(test_restart_of_stopped_starts, teardown),
                cmocka_unit_test_teardown(test_start_spawn_fails, teardown),
                cmocka_unit_test_teardown(test_shutdown_order, teardown),
                cmocka_unit_test_teardown(test_upgrade_mid_restart, teardown),
                cmocka_unit_test_teardown(test_restore_refuses_bad_state, teardown),
                cmocka_unit_test_teardown(test_observed_restart, teardown),
                cmocka_unit_test_teardown(test_escapees_after_generation, teardown),
                cmocka_unit_test_teardown(test_idle_drain_times_out, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
