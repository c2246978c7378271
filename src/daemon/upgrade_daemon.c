/* The self-upgrade of sockvisord: 'sockvisorctl upgrade [--exec PATH]' and SIGUSR2.
 *
 * The running image checks the target (an executable sockvisord that reads our state
 * format), writes its whole state to a sealed memfd (the daemon's part here, the
 * supervisor's by sv_supervisor_save), lets the target check that state, and only then
 * clears CLOEXEC on the fds the state names and execs the target: same pid, so every
 * worker stays our child and systemd's MainPID does not change. The next image restores
 * the state without changing anything, and only then (the point of no return) adopts the
 * workers, re-arms the timers and answers the caller. If the restore fails, it re-execs
 * the previous binary (kept open as an fd) on the same state, which takes everything back
 * and answers the caller with the reason.
 *
 * State records of the daemon, before the supervisor's:
 *     sockvisor-state version=1 writer=0.1.0
 *     daemon config=... debug=0 exe_fd=9 self=/usr/sbin/sockvisord t0=... conn=4 ...
 *     control path=... fd=6 ...    conn id=4 fd=11 ...    (control.c)
 *     supervisor
 *     ... the supervisor's records ... end */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sockvisor/cgroup.h"
#include "sockvisor/listener.h"
#include "sockvisor/log.h"
#include "sockvisor/notify.h"
#include "sockvisor/output.h"

/* What the daemon record says. */
typedef struct Header {
        unsigned version;
        char writer[64];   /* the sockvisord version that wrote it */
        char config[4096];
        char self[4096];   /* the previous image's binary, for a fall-back */
        char target[4096];
        bool debug;
        int exe_fd;        /* the previous image's binary, open */
        int notify_fd;
        char notify_name[108];
        uint64_t t0_usec;  /* when the upgrade was asked for */
        SvConnId conn;     /* who asked (0: SIGUSR2) */
} Header;

static void copy(char *dst, size_t len, const char *src) {
        (void) snprintf(dst, len, "%s", src);
}

static int read_header(SvStateIn *in, Header *h) {
        SvStateRec r;
        *h = (Header){ .exe_fd = -EBADF, .notify_fd = -EBADF };
        int e = sv_state_expect(in, &r, "sockvisor-state");
        if (e < 0)
                return e;
        h->version = (unsigned) sv_rec_u64(in, &r, "version");
        copy(h->writer, sizeof(h->writer), sv_rec_str(in, &r, "writer"));
        if (in->err)
                return in->err;
        if (h->version != SV_STATE_VERSION)
                return sv_rec_fail(in, &r, "written by sockvisord %s in format %u; this sockvisord (%s) reads %s",
                                   h->writer, h->version, SV_VERSION, SV_STATE_VERSIONS);
        e = sv_state_expect(in, &r, "daemon");
        if (e < 0)
                return e;
        copy(h->config, sizeof(h->config), sv_rec_str(in, &r, "config"));
        copy(h->self, sizeof(h->self), sv_rec_str(in, &r, "self"));
        copy(h->target, sizeof(h->target), sv_rec_str(in, &r, "target"));
        copy(h->notify_name, sizeof(h->notify_name), sv_rec_str(in, &r, "notify_name"));
        h->debug = sv_rec_bool(in, &r, "debug");
        h->exe_fd = (int) sv_rec_i64(in, &r, "exe_fd");
        h->notify_fd = (int) sv_rec_i64(in, &r, "notify_fd");
        h->t0_usec = sv_rec_u64(in, &r, "t0");
        h->conn = sv_rec_u64(in, &r, "conn");
        return in->err;
}

/* ---- the running image ---- */

static void say(SvDaemon *d, SvConnId conn, CtlReplyKind kind, const char *fmt, ...) _printf_(4, 5);
static void say(SvDaemon *d, SvConnId conn, CtlReplyKind kind, const char *fmt, ...) {
        char text[CTL_LINE_MAX];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        sv_daemon_ops.reply(d, conn, kind, text); /* the supervisor's way to a client */
}

static int write_state(SvDaemon *d, SvConnId conn, const SvUpgradeTarget *t, int exe_fd, uint64_t t0,
                       SvStateOut *o, SvDiag *diag) {
        sv_state_record(o, "sockvisor-state");
        sv_state_u64(o, "version", SV_STATE_VERSION);
        sv_state_str(o, "writer", SV_VERSION);
        sv_state_record(o, "daemon");
        sv_state_str(o, "config", d->config_path);
        sv_state_str(o, "self", d->self_path);
        sv_state_str(o, "target", t->path);
        sv_state_bool(o, "debug", d->debug);
        sv_state_i64(o, "exe_fd", exe_fd);
        sv_state_i64(o, "notify_fd", d->notify_fd);
        sv_state_str(o, "notify_name", d->notify_name);
        sv_state_u64(o, "t0", t0);
        sv_state_u64(o, "conn", conn);
        int r = sv_carry_add(&d->carry, exe_fd);
        r = r ?: sv_carry_add(&d->carry, d->notify_fd);
        if (r < 0)
                return diag_set(diag, 0, "out of memory"), r;
        /* the log pipes, files and what is buffered: the next image goes on reading them */
        r = sv_output_save(d->output, o, &d->carry, diag);
        if (r < 0)
                return r;
        r = sv_control_save(d->control, o, &d->carry);
        if (r < 0)
                return diag_set(diag, 0, "out of memory"), r;
        r = sv_metrics_save(d, o);
        if (r < 0)
                return diag_set(diag, 0, "metrics: cannot carry the endpoint over: %s", strerror(-r)), r;
        sv_state_record(o, "supervisor");
        return sv_supervisor_save(d->sup, o, diag);
}

void sv_daemon_upgrade(SvDaemon *d, SvConnId conn, const char *path) {
        uint64_t t0 = sv_clock_usec();
        SvUpgradeTarget t = { .fd = -EBADF };
        SvStateOut o = {};
        SvDiag diag = {};
        int memfd = -EBADF, exe_fd = -EBADF;
        const char *target = path ? path : d->self_path;
        char num[16];

        sv_carry_done(&d->carry);
        if (sv_supervisor_upgrade_check(d->sup, &diag) < 0 || sv_upgrade_target_open(target, &t, &diag) < 0)
                goto refused;
        say(d, conn, CTL_REPLY_PROGRESS, "checked %s: sockvisord %s, reads this state format (%d)", t.path, t.version,
            SV_STATE_VERSION);
        exe_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC); /* this binary, even if replaced on disk */
        if (exe_fd < 0) {
                diag_set(&diag, 0, "cannot keep this binary open for a fall-back: %s", strerror(errno));
                goto refused;
        }
        say(d, conn, CTL_REPLY_PROGRESS, "re-executing %s in place (pid %d); the new image answers", t.path,
            (int) getpid());
        sv_escape_search_queued(d->escape); /* before the state: what it finds is counted in it */
        if (write_state(d, conn, &t, exe_fd, t0, &o, &diag) < 0)
                goto refused;
        memfd = sv_upgrade_memfd(o.buf, o.len, &diag);
        if (memfd < 0 || sv_upgrade_target_check_state(&t, memfd, &diag) < 0 || sv_carry_add(&d->carry, memfd) < 0)
                goto refused;

        log_info("upgrading: re-executing %s (sockvisord %s -> %s), %zu bytes of state", t.path, SV_VERSION, t.version,
                 o.len);
        char msg[512];
        (void) snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=upgrading to %s\nMONOTONIC_USEC=%" PRIu64, t.path,
                        sv_clock_usec());
        sv_servicemgr_notify(msg);
        (void) snprintf(num, sizeof(num), "%d", memfd);
        char *argv[] = { t.path, "--restore", num, d->debug ? "--debug" : NULL, NULL };
        sv_observer_thaw_all(d); /* nothing stays frozen across execve */
        sv_health_drop_in_flight(d); /* nor runs a probe the next image would not know of */
        sv_escape_kill_pending(d->escape); /* nor waits a SIGKILL the next image would not send */
        int r = sv_carry_cloexec(&d->carry, false);
        if (r >= 0)
                r = sv_upgrade_exec(t.fd, argv);
        /* still here: nothing happened */
        (void) sv_carry_cloexec(&d->carry, true);
        sv_servicemgr_notify("READY=1");
        diag_set(&diag, 0, "cannot execute %s: %s", t.path, strerror(-r));
refused:
        sv_output_resume(d->output); /* the writer writes on */
        log_error("upgrade refused, nothing changed: %s", diag.msg);
        say(d, conn, CTL_REPLY_ERR, "upgrade refused: %s (nothing changed)", diag.msg);
        sv_carry_done(&d->carry);
        sv_state_done(&o);
        (void) safe_close(memfd);
        (void) safe_close(exe_fd);
        sv_upgrade_target_close(&t);
}

/* ---- the next image ---- */

static int open_state(int memfd, char **text, SvStateIn *in, Header *h, SvDiag *diag) {
        size_t len = 0;
        int r = sv_upgrade_memfd_read(memfd, text, &len, diag);
        if (r < 0)
                return r;
        sv_state_in_init(in, *text, len, diag);
        return read_header(in, h);
}

/* What the caller sees: what was carried over. */
static void summary(SvDaemon *d, char *buf, size_t len) {
        size_t n = sv_supervisor_n_programs(d->sup), procs = 0, stored = 0;
        for (size_t k = 0; k < n; k++) {
                SvProgramView v;
                sv_supervisor_program_view(d->sup, k, &v);
                procs += v.processes;
                stored += v.n_fdstore;
        }
        size_t socks = sv_supervisor_n_sockets(d->sup);
        char extra[64] = "";
        if (stored)
                (void) snprintf(extra, sizeof(extra), ", %zu stored fd%s", stored, stored == 1 ? "" : "s");
        (void) snprintf(buf, len, "%zu program%s, %zu instance%s%s and %zu socket%s carried over", n, n == 1 ? "" : "s",
                        procs, procs == 1 ? "" : "s", extra, socks, socks == 1 ? "" : "s");
}

/* Commands under way that nobody will answer any more (none, unless the state lost a
 * job): told so, rather than left waiting. */
static void answer_orphans(SvDaemon *d, SvConnId upgrade_conn) {
        uint64_t ids[64];
        size_t n = sv_control_pending(d->control, ids, ELEMENTSOF(ids));
        for (size_t k = 0; k < n; k++)
                if (ids[k] != upgrade_conn && !sv_supervisor_conn_waiting(d->sup, ids[k]))
                        say(d, ids[k], CTL_REPLY_ERR, "this command's progress was lost in an upgrade (a bug); see "
                                                      "'sockvisorctl status'");
}

int sv_daemon_restore(int memfd, const char *failed, SvDaemon **ret, SvDiag *diag) {
        _cleanup_free_ char *text = NULL;
        SvStateIn in = {};
        SvStateRec next;
        Header h;
        SvDaemon *d = NULL;

        int r = open_state(memfd, &text, &in, &h, diag);
        if (r >= 0 && getenv("SOCKVISOR_TEST_FAIL_RESTORE") && !failed) /* the tests' way to see a fall-back */
                r = diag_set(diag, 0, "SOCKVISOR_TEST_FAIL_RESTORE is set");
        if (r >= 0)
                r = sv_daemon_alloc(h.config, h.debug, &d, diag);
        if (r < 0)
                goto fail;
        d->restored = true;
        d->notify_fd = h.notify_fd;
        copy(d->notify_name, sizeof(d->notify_name), h.notify_name);
        if (fcntl(d->notify_fd, F_GETFD) < 0) {
                r = diag_set(diag, 0, "the notify socket (fd %d) did not come through", d->notify_fd);
                goto fail;
        }
        r = sv_carry_add(&d->carry, d->notify_fd);
        SvStateRec rec;
        /* the log pipes ("output" records, none from a sockvisord without log capture) */
        while (r >= 0 && (r = sv_state_next(&in, &rec)) > 0 && strcmp(rec.kind, "output") == 0)
                r = sv_output_restore(d->output, &in, &rec, &d->carry);
        if (r == 0)
                r = sv_rec_fail(&in, NULL, "ends before the control records");
        else if (r > 0 && strcmp(rec.kind, "control") != 0)
                r = sv_rec_fail(&in, &rec, "'%s' where the control records begin", rec.kind);
        if (r >= 0)
                r = sv_control_restore(d->event, &in, &rec, sv_daemon_on_request, d, &d->control, &d->carry, &next);
        if (r >= 0 && strcmp(next.kind, "metrics") == 0) {
                r = sv_metrics_restore(d, &in, &next, diag);
                if (r >= 0)
                        r = sv_state_next(&in, &next);
                if (r == 0)
                        r = diag_set(diag, 0, "upgrade state: no supervisor records");
        }
        if (r >= 0 && strcmp(next.kind, "supervisor") != 0)
                r = sv_rec_fail(&in, &next, "'%s' where the supervisor's records begin", next.kind);
        if (r >= 0)
                r = sv_supervisor_restore(d->sup, &in, diag);
        if (r >= 0)
                r = sv_daemon_add_sources(d, diag);
        if (r < 0)
                goto fail;
        sv_state_in_done(&in);
        sv_control_set_hangup(d->control, sv_daemon_on_hangup);
        SvDiag cd = {};
        if (sv_creds_cache_update(&d->creds, sv_supervisor_config(d->sup), &cd) < 0)
                log_warning("after the upgrade: %s; programs that run as that user cannot start until it exists "
                            "(then reload)",
                            cd.msg);

        /* the point of no return: the workers are ours from here on */
        sv_supervisor_resume(d->sup);
        size_t n_workers = sv_supervisor_live_pids(d->sup, NULL, 0);
        pid_t *workers = calloc(n_workers ? n_workers : 1, sizeof(pid_t));
        if (workers)
                sv_cgroups_adopt_rest(d->cgroups, SV_CGROUP_GRACE_USEC, workers,
                                      sv_supervisor_live_pids(d->sup, workers, n_workers));
        free(workers);
        (void) sv_metrics_resume(d);
        if (sv_carry_cloexec(&d->carry, true) < 0)
                log_warning("after the upgrade: cannot set close-on-exec on every inherited fd: %s", strerror(errno));
        sv_carry_done(&d->carry);
        sv_output_start(d->output); /* the log pipes are read again, the buffers written */
        (void) safe_close(h.exe_fd);

        char carried[160], line[CTL_LINE_MAX];
        summary(d, carried, sizeof(carried));
        uint64_t took = sv_clock_usec() - h.t0_usec;
        if (failed) {
                (void) snprintf(line, sizeof(line),
                                "upgrade to %s failed: %s; sockvisord %s took everything back (%s, nothing lost)",
                                h.target, failed, SV_VERSION, carried);
                log_error("%s", line);
        } else {
                (void) snprintf(line, sizeof(line), "upgraded sockvisord %s \u2192 %s in %" PRIu64 ".%" PRIu64
                                                      " ms; %s",
                                h.writer, SV_VERSION, took / 1000, took % 1000 / 100, carried);
                log_info("%s", line);
        }
        say(d, h.conn, failed ? CTL_REPLY_ERR : CTL_REPLY_OK, "%s", line);
        answer_orphans(d, h.conn);
        char msg[300];
        (void) snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", failed ? "upgrade failed, previous version running"
                                                                      : "upgraded, running");
        sv_servicemgr_notify(msg);
        *ret = d;
        return 0;
fail:
        /* Nothing of the world was touched: d is left as it is (freeing it would close the
         * fds the fall-back needs) and execve or exit follows. */
        sv_state_in_done(&in);
        diag_prefix(diag, "cannot restore the upgrade state");
        return r < 0 ? r : -EINVAL;
}

void sv_daemon_fall_back(int memfd, const char *why) {
        _cleanup_free_ char *text = NULL;
        SvStateIn in = {};
        SvDiag diag = {};
        Header h;
        char num[16];
        if (open_state(memfd, &text, &in, &h, &diag) < 0 || fcntl(h.exe_fd, F_GETFD) < 0) {
                sv_state_in_done(&in);
                log_error("upgrade failed (%s), and the previous binary cannot be found in the state: %s", why,
                          diag.msg[0] ? diag.msg : "its fd is gone");
                return;
        }
        sv_state_in_done(&in);
        log_error("upgrade failed: %s; re-executing the previous binary (%s)", why, h.self);
        (void) snprintf(num, sizeof(num), "%d", memfd);
        char *argv[] = { h.self, "--restore", num, "--upgrade-failed", (char *) why, h.debug ? "--debug" : NULL, NULL };
        int r = sv_upgrade_exec(h.exe_fd, argv);
        log_error("cannot re-execute the previous binary: %s", strerror(-r));
}

/* ---- --check-state: the restore, with ops that touch nothing ---- */

static uint64_t check_now(void *ctx) {
        return sv_clock_usec();
}
static void check_log(void *ctx, int level, const SvLogWho *who, const char *text) {
}
static void check_set_log_target(void *ctx, SvLogTo to) {
}
static void check_socket_close(void *ctx, SvSocketInfo *si) {
}
static int check_socket_import(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                               SvSocketInfo *ret, SvDiag *d) {
        *ret = *saved; /* the fds are the running image's, not ours: only the text is checked */
        return 0;
}

static int check_fd_carry(void *ctx, int fd, bool restoring) {
        return 0;
}

static const SvOps check_ops = {
        .now = check_now,
        .log = check_log,
        .set_log_target = check_set_log_target,
        .socket_close = check_socket_close,
        .socket_import = check_socket_import,
        .fd_carry = check_fd_carry,
};

int sv_daemon_check_state(int memfd, SvDiag *diag) {
        _cleanup_free_ char *text = NULL;
        SvStateIn in = {};
        SvStateRec r;
        Header h;
        SvSupervisor *s = NULL;
        int e = open_state(memfd, &text, &in, &h, diag);
        while (e >= 0 && (e = sv_state_next(&in, &r)) > 0 && strcmp(r.kind, "supervisor") != 0)
                ; /* the daemon's own records: fds only the running image can check */
        if (e == 0)
                e = diag_set(diag, 0, "upgrade state: no supervisor records");
        if (e >= 0)
                e = sv_supervisor_new(&check_ops, NULL, &s);
        if (e >= 0)
                e = sv_supervisor_restore(s, &in, diag);
        sv_supervisor_abandon(s);
        sv_state_in_done(&in);
        return e < 0 ? e : 0;
}
