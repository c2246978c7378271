/* The manager: programs, their instances and generations, the overlapping restart, and
 * the control commands.
 *
 * A program has one current instance (serving, or trying to), during a restart one
 * candidate (the next generation, on the same sockets), and a list of old instances being
 * drained. A restart promotes the candidate only once it is ready, and only then asks the
 * old generation to stop; a candidate that exits or is not ready in time is stopped and
 * the current one never notices. The held sockets are never closed in between, so the
 * accept queue, and every client in it, survives. */
#include "sockvisor/manager.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/control.h"
#include "sockvisor/duration.h"
#include "sockvisor/env.h"
#include "sockvisor/listener.h"
#include "sockvisor/log.h"
#include "sockvisor/notify.h"
#include "sockvisor/sm.h"
#include "sockvisor/spawn.h"

extern char **environ;

typedef struct Program Program;
typedef struct Instance Instance;

typedef enum JobKind {
        JOB_RESTART,
        JOB_START,
        JOB_STOP,
} JobKind;

static const char *const job_verbs[] = {
        [JOB_RESTART] = "restart",
        [JOB_START] = "start",
        [JOB_STOP] = "stop",
};

/* One control command that waits for one or more programs. */
typedef struct Job {
        SvManager *m;
        JobKind kind;
        SvCtlConn *conn; /* NULL once the client hung up; the job still runs to its end */
        unsigned pending;
        unsigned failed;
        uint64_t t0;
        char first_error[512];
} Job;

struct Instance {
        Program *prog;
        unsigned gen;
        pid_t pid;
        SmInstance sm;
        sd_event_source *child, *timer;
        uint64_t spawned_usec;
        uint64_t stop_usec; /* when it was asked to stop, for the drain time */
        char exit_text[64]; /* "status 0", "signal KILL" */
        char error[256];    /* why the last spawn failed */
        char status[SV_NOTIFY_STATUS_MAX];
        Instance *next; /* in Program.draining */
};

struct Program {
        SvManager *m;
        const SvProgramConf *conf;
        unsigned last_gen;
        Instance *current;
        Instance *candidate;
        Instance *draining;
        Job *job;
        JobKind job_kind;
        uint64_t job_step_usec;
        Instance *job_wait; /* restart: the old generation we wait for */
};

struct SvManager {
        sd_event *event;
        SvConfig *config;
        SvListener *listeners;
        size_t n_listeners;
        Program *programs;
        size_t n_programs;
        int notify_fd;
        char notify_name[108];
        sd_event_source *notify_src;
        SvControl *control;
        int devnull_fd;
        bool shutting_down;
};

static uint64_t now_usec(SvManager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static const char *dur(uint64_t usec, char *buf, size_t len) {
        return sv_duration_format(usec, buf, len);
}
#define DUR(u) dur((u), (char[32]){}, 32)

static const char *signame(int sig) {
        const char *s = sv_signal_to_string(sig);
        return s ? s : "?";
}

/* ---- jobs: a waiting control command ---- */

static void job_detach(SvCtlConn *c, void *userdata) {
        Job *j = userdata;
        j->conn = NULL;
}

static Job *job_new(SvManager *m, JobKind kind, SvCtlConn *c) {
        Job *j = calloc(1, sizeof(Job));
        if (!j)
                return NULL;
        j->m = m;
        j->kind = kind;
        j->conn = c;
        j->t0 = now_usec(m);
        sv_ctl_set_detach(c, job_detach, j);
        return j;
}

_printf_(2, 3) static void job_progress(Program *p, const char *fmt, ...) {
        char text[1024];
        va_list ap;
        va_start(ap, fmt);
        (void) vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
        if (p->job && p->job->conn)
                sv_ctl_progress(p->job->conn, "%s: %s", p->conf->name, text);
}

/* Drops one share of a job; the last share answers the client. Every program taking part
 * holds one share, and the command handler holds one while it is still starting them. */
static void job_release(Job *j) {
        if (--j->pending > 0)
                return;
        if (j->conn) {
                sv_ctl_set_detach(j->conn, NULL, NULL);
                if (j->failed == 0)
                        sv_ctl_finish(j->conn, true, "%s done in %s", job_verbs[j->kind], DUR(now_usec(j->m) - j->t0));
                else if (j->failed == 1)
                        sv_ctl_finish(j->conn, false, "%s", j->first_error);
                else
                        sv_ctl_finish(j->conn, false, "%u programs failed; first: %s", j->failed, j->first_error);
        }
        free(j);
}

/* Ends the program's part in its job, with a verdict. */
_printf_(3, 4) static void program_job_done(Program *p, bool ok, const char *fmt, ...) {
        Job *j = p->job;
        char text[512] = "";

        if (!j)
                return;
        if (fmt) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(text, sizeof(text), fmt, ap);
                va_end(ap);
        }
        p->job = NULL;
        p->job_wait = NULL;
        if (!ok) {
                if (!j->failed++)
                        (void) snprintf(j->first_error, sizeof(j->first_error), "%s: %s", p->conf->name, text);
                if (j->conn && j->pending > 1)
                        sv_ctl_progress(j->conn, "%s: failed: %s", p->conf->name, text);
        } else if (j->conn && text[0])
                sv_ctl_progress(j->conn, "%s: %s", p->conf->name, text);
        job_release(j);
}

/* ---- instances ---- */

static const char *instance_label(const Instance *i, char *buf, size_t len) {
        if (i->pid > 0)
                (void) snprintf(buf, len, "%s[gen %u pid %d]", i->prog->conf->name, i->gen, (int) i->pid);
        else
                (void) snprintf(buf, len, "%s[gen %u]", i->prog->conf->name, i->gen);
        return buf;
}
#define LABEL(i) instance_label((i), (char[96]){}, 96)

static Instance *instance_new(Program *p) {
        Instance *i = calloc(1, sizeof(Instance));
        if (!i)
                return NULL;
        i->prog = p;
        i->gen = ++p->last_gen;
        sm_init(&i->sm, now_usec(p->m));
        return i;
}

static Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        sd_event_source_disable_unref(i->child);
        sd_event_source_disable_unref(i->timer);
        free(i);
        return NULL;
}

static SmPolicy instance_policy(const Instance *i) {
        const SvProgramConf *c = i->prog->conf;
        return (SmPolicy){
                .ready = c->ready,
                .startsecs_usec = c->startsecs_usec,
                .ready_timeout_usec = c->ready_timeout_usec,
                .stopwait_usec = c->stopwait_usec,
                /* only the serving generation is restarted on its own; a candidate that dies
                 * is a failed restart, and nothing restarts while we shut down */
                .autorestart = i == i->prog->current && !i->prog->m->shutting_down,
                .startretries = 3,
                .backoff_usec = USEC_PER_SEC,
                .backoff_max_usec = 60 * USEC_PER_SEC,
        };
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata);
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);
static void instance_feed(Instance *i, SmEvent ev, const char *cause);

static int instance_spawn(Instance *i) {
        Program *p = i->prog;
        SvManager *m = p->m;
        const SvProgramConf *c = p->conf;
        int fds[SV_PROGRAM_SOCKETS_MAX];
        char *names[SV_PROGRAM_SOCKETS_MAX];
        SvWorkerEnv env = {};
        SvDiag d = {};
        pid_t pid;
        int r;

        for (size_t k = 0; k < c->n_sockets; k++) {
                fds[k] = m->listeners[c->socket_idx[k]].fd;
                names[k] = m->listeners[c->socket_idx[k]].name;
        }
        r = sv_worker_env_build(environ, c->environment, names, c->n_sockets, m->notify_name, c->name, i->gen, &env);
        if (r < 0) {
                (void) snprintf(i->error, sizeof(i->error), "out of memory building the environment");
                return r;
        }
        SvSpawnRequest req = {
                .argv = c->argv,
                .env = &env,
                .fds = fds,
                .n_fds = c->n_sockets,
                .directory = c->directory,
                .stdin_fd = m->devnull_fd,
        };
        r = sv_spawn(&req, &pid, &d);
        sv_worker_env_done(&env);
        if (r < 0) {
                (void) snprintf(i->error, sizeof(i->error), "%s", d.msg);
                log_error("%s: cannot start: %s", LABEL(i), d.msg);
                return r;
        }
        /* Right after fork, before the loop runs again: a child without a source is never reaped. */
        r = sd_event_add_child(m->event, &i->child, pid, WEXITED, on_child, i);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                (void) snprintf(i->error, sizeof(i->error), "cannot watch the child: %s", strerror(-r));
                return r;
        }
        i->pid = pid;
        i->error[0] = '\0';
        i->status[0] = '\0';
        i->exit_text[0] = '\0';
        i->spawned_usec = now_usec(m);
        log_info("%s: started: %s", LABEL(i), c->command);
        return 0;
}

static void instance_signal(Instance *i, int sig) {
        if (i->pid <= 0)
                return;
        if (kill(i->pid, sig) < 0 && errno != ESRCH)
                sv_log_errno(LOG_WARNING, errno, "%s: cannot send SIG%s", LABEL(i), signame(sig));
}

static void instance_arm_timer(Instance *i) {
        SvManager *m = i->prog->m;
        if (i->timer) {
                (void) sd_event_source_set_time(i->timer, i->sm.deadline_usec);
                (void) sd_event_source_set_enabled(i->timer, SD_EVENT_ONESHOT);
        } else if (sd_event_add_time(m->event, &i->timer, CLOCK_MONOTONIC, i->sm.deadline_usec, USEC_PER_MSEC,
                                     on_timer, i) < 0)
                log_error("%s: cannot arm a timer; the instance may wait forever", LABEL(i));
}

static bool program_on_transition(Program *p, Instance *i, const SmResult *res);

/* Feeds one event to the state machine and carries out what it returns. */
static void instance_feed(Instance *i, SmEvent ev, const char *cause) {
        Program *p = i->prog;
        SmPolicy pol = instance_policy(i);
        SmResult res;
        bool spawn_failed = false;

        sm_step(&i->sm, ev, now_usec(p->m), &pol, &res);
        if (!res.handled) {
                log_debug("%s: %s ignored in state %s", LABEL(i), sm_event_to_string(ev), sm_state_to_string(res.from));
                return;
        }
        if (res.from != res.to)
                log_info("%s: %s -> %s (%s)", LABEL(i), sm_state_to_string(res.from), sm_state_to_string(res.to),
                         cause);

        if (res.actions & SM_ACT_DISARM_TIMER && i->timer)
                (void) sd_event_source_set_enabled(i->timer, SD_EVENT_OFF);
        if (res.actions & SM_ACT_SIGNAL_STOP) {
                i->stop_usec = now_usec(p->m);
                instance_signal(i, p->conf->stopsignal);
        }
        if (res.actions & SM_ACT_SIGNAL_KILL) {
                log_warning("%s: still running %s after SIG%s; sending SIGKILL", LABEL(i),
                            DUR(p->conf->stopwait_usec), signame(p->conf->stopsignal));
                instance_signal(i, SIGKILL);
        }
        if (res.actions & SM_ACT_SPAWN)
                spawn_failed = instance_spawn(i) < 0;
        if (res.actions & SM_ACT_ARM_TIMER)
                instance_arm_timer(i);

        if (!program_on_transition(p, i, &res))
                return; /* i was freed */
        if (spawn_failed)
                instance_feed(i, SM_EV_SPAWN_FAILED, i->error);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Instance *i = userdata;
        char cause[96];

        if (si->si_code == CLD_EXITED)
                (void) snprintf(i->exit_text, sizeof(i->exit_text), "status %d", si->si_status);
        else
                (void) snprintf(i->exit_text, sizeof(i->exit_text), "signal %s%s", signame(si->si_status),
                                si->si_code == CLD_DUMPED ? ", core dumped" : "");
        (void) snprintf(cause, sizeof(cause), "exited with %s", i->exit_text);
        i->child = sd_event_source_disable_unref(i->child);
        log_info("%s: %s after %s", LABEL(i), cause, DUR(now_usec(i->prog->m) - i->spawned_usec));
        i->pid = 0;
        instance_feed(i, SM_EV_EXIT, cause);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;
        const char *cause;
        switch (i->sm.state) {
        case SM_STARTING:
                cause = i->prog->conf->ready == SV_READY_STARTED ? "alive for startsecs" : "ready_timeout passed";
                break;
        case SM_STOPPING:
                cause = "stopwaitsecs passed";
                break;
        default:
                cause = "backoff over";
                break;
        }
        instance_feed(i, SM_EV_TIMEOUT, cause);
        return 0;
}

/* ---- programs: generations and the restart ---- */

static bool manager_idle(SvManager *m) {
        for (size_t k = 0; k < m->n_programs; k++) {
                Program *p = &m->programs[k];
                if (p->candidate || p->draining)
                        return false;
                if (p->current && sm_state_has_process(p->current->sm.state))
                        return false;
        }
        return true;
}

static void draining_remove(Program *p, Instance *i) {
        for (Instance **pp = &p->draining; *pp; pp = &(*pp)->next)
                if (*pp == i) {
                        *pp = i->next;
                        return;
                }
}

static bool is_draining(Program *p, Instance *i) {
        for (Instance *d = p->draining; d; d = d->next)
                if (d == i)
                        return true;
        return false;
}

static bool is_terminal(SmState s) {
        return s == SM_STOPPED || s == SM_EXITED || s == SM_FATAL;
}

/* The candidate is ready: it becomes current, and the old generation is asked to drain. */
static void program_promote(Program *p) {
        Instance *cand = p->candidate, *old = p->current;
        uint64_t now = now_usec(p->m);

        p->current = cand;
        p->candidate = NULL;
        job_progress(p, "generation %u ready after %s (pid %d)", cand->gen, DUR(now - p->job_step_usec),
                     (int) cand->pid);
        p->job_step_usec = now;

        if (!old) {
                program_job_done(p, true, NULL);
                return;
        }
        if (old->sm.state == SM_STOPPED) {
                instance_free(old);
                program_job_done(p, true, NULL);
                return;
        }
        old->next = p->draining;
        p->draining = old;
        if (p->job)
                p->job_wait = old;
        if (old->pid > 0)
                job_progress(p, "stopping generation %u (pid %d) with SIG%s, waiting up to %s", old->gen,
                             (int) old->pid, signame(p->conf->stopsignal), DUR(p->conf->stopwait_usec));
        char cause[64];
        (void) snprintf(cause, sizeof(cause), "replaced by generation %u", cand->gen);
        instance_feed(old, SM_EV_STOP, cause); /* may free old at once when it had no process */
}

/* Reacts to one instance's transition. Returns false when i was freed. */
static bool program_on_transition(Program *p, Instance *i, const SmResult *res) {
        SvManager *m = p->m;
        uint64_t now = now_usec(m);

        if (i == p->candidate) {
                if (res->to == SM_RUNNING) {
                        program_promote(p);
                } else if (res->to == SM_STARTING && res->from != SM_STARTING && i->pid > 0) {
                        job_progress(p, "started generation %u (pid %d), waiting up to %s for it to be ready", i->gen,
                                     (int) i->pid,
                                     DUR(p->conf->ready == SV_READY_NOTIFY ? p->conf->ready_timeout_usec
                                                                           : p->conf->startsecs_usec));
                } else if (res->to == SM_STOPPING && i->sm.outcome == SM_OUTCOME_READY_TIMEOUT) {
                        job_progress(p, "generation %u was not ready within %s; stopping it", i->gen,
                                     DUR(p->conf->ready_timeout_usec));
                } else if (is_terminal(res->to)) {
                        char why[384];
                        if (i->sm.outcome == SM_OUTCOME_READY_TIMEOUT)
                                (void) snprintf(why, sizeof(why), "was not ready within %s",
                                                DUR(p->conf->ready_timeout_usec));
                        else if (i->sm.outcome == SM_OUTCOME_SPAWN_FAILED)
                                (void) snprintf(why, sizeof(why), "could not be started: %s", i->error);
                        else if (m->shutting_down)
                                (void) snprintf(why, sizeof(why), "was stopped: sockvisord is shutting down");
                        else
                                (void) snprintf(why, sizeof(why), "exited with %s before it was ready",
                                                i->exit_text[0] ? i->exit_text : "an error");
                        p->candidate = NULL;
                        unsigned gen = i->gen;
                        instance_free(i);
                        Instance *cur = p->current;
                        if (cur && cur->pid > 0)
                                program_job_done(p, false, "generation %u %s; rolled back: generation %u (pid %d) keeps serving",
                                                 gen, why, cur->gen, (int) cur->pid);
                        else
                                program_job_done(p, false, "generation %u %s; nothing else is running", gen, why);
                        return false;
                }
                return true;
        }

        if (is_draining(p, i)) {
                if (is_terminal(res->to)) {
                        if (i->exit_text[0])
                                job_progress(p, "generation %u exited after %s (%s)", i->gen,
                                             DUR(now - (i->stop_usec ? i->stop_usec : now)), i->exit_text);
                        draining_remove(p, i);
                        bool waited = p->job_wait == i;
                        instance_free(i);
                        if (waited)
                                program_job_done(p, true, NULL);
                        if (m->shutting_down && manager_idle(m))
                                (void) sd_event_exit(m->event, 0);
                        return false;
                }
                return true;
        }

        if (i == p->current && p->job) {
                if (p->job_kind == JOB_START) {
                        if (res->to == SM_RUNNING)
                                program_job_done(p, true, "running (pid %d) after %s", (int) i->pid,
                                                 DUR(now - p->job_step_usec));
                        else if (res->to == SM_BACKOFF)
                                job_progress(p, "exited (%s), retrying in %s", i->exit_text[0] ? i->exit_text : i->error,
                                             DUR(i->sm.deadline_usec - now));
                        else if (res->to == SM_FATAL || res->to == SM_EXITED)
                                program_job_done(p, false, "could not be started (%s); state %s",
                                                 i->exit_text[0] ? i->exit_text : i->error, sm_state_to_string(res->to));
                } else if (p->job_kind == JOB_STOP && is_terminal(res->to))
                        program_job_done(p, true, "stopped after %s%s%s", DUR(now - p->job_step_usec),
                                         i->exit_text[0] ? ", " : "", i->exit_text);
        }
        if (m->shutting_down && manager_idle(m))
                (void) sd_event_exit(m->event, 0);
        return true;
}

/* Starts a new generation next to the current one. */
static int program_restart(Program *p, Job *j) {
        Instance *cand = instance_new(p);
        if (!cand)
                return -ENOMEM;
        p->candidate = cand;
        p->job = j;
        p->job_kind = JOB_RESTART;
        p->job_step_usec = now_usec(p->m);
        instance_feed(cand, SM_EV_START, "restart requested");
        return 0;
}

static Instance *program_ensure_current(Program *p) {
        if (!p->current)
                p->current = instance_new(p);
        return p->current;
}

/* ---- notify ---- */

static Instance *find_by_pid(SvManager *m, pid_t pid) {
        for (size_t k = 0; k < m->n_programs; k++) {
                Program *p = &m->programs[k];
                if (p->current && p->current->pid == pid)
                        return p->current;
                if (p->candidate && p->candidate->pid == pid)
                        return p->candidate;
                for (Instance *d = p->draining; d; d = d->next)
                        if (d->pid == pid)
                                return d;
        }
        return NULL;
}

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SvManager *m = userdata;

        for (int budget = 64; budget > 0; budget--) { /* bounded: other sources get their turn */
                SvNotifyMsg msg;
                pid_t pid;
                int r = sv_notify_recv(fd, &pid, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        log_debug("notify: dropped a message: %s", strerror(-r));
                        continue;
                }
                Instance *i = find_by_pid(m, pid);
                if (!i) {
                        log_debug("notify: message from pid %d, which is no worker of ours; ignored", (int) pid);
                        continue;
                }
                if (msg.has_status)
                        (void) snprintf(i->status, sizeof(i->status), "%s", msg.status);
                if (msg.stopping)
                        log_debug("%s: STOPPING=1", LABEL(i));
                if (msg.ready)
                        instance_feed(i, SM_EV_READY, "READY=1");
        }
        return 0;
}

/* ---- control commands ---- */

static Program *find_program(SvManager *m, const char *name) {
        for (size_t k = 0; k < m->n_programs; k++)
                if (strcmp(m->programs[k].conf->name, name) == 0)
                        return &m->programs[k];
        return NULL;
}

static void known_programs(SvManager *m, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < m->n_programs && o < len; k++)
                o += (size_t) snprintf(buf + o, len - o, "%s%s", k ? ", " : "", m->programs[k].conf->name);
        if (m->n_programs == 0)
                (void) snprintf(buf, len, "(none configured)");
}

/* Resolves NAME... or "all" into programs; answers the client and returns -EINVAL on an
 * unknown name, so a typo never half-applies a command. */
static int resolve_names(SvManager *m, SvCtlConn *c, char *const *args, size_t n, Program ***ret, size_t *ret_n) {
        bool all = n == 1 && strcmp(args[0], "all") == 0;
        size_t cap = all ? m->n_programs : n;
        Program **v = calloc(cap ? cap : 1, sizeof(Program *));
        size_t nv = 0;

        if (!v) {
                sv_ctl_finish(c, false, "out of memory");
                return -ENOMEM;
        }
        if (all)
                for (size_t k = 0; k < m->n_programs; k++)
                        v[nv++] = &m->programs[k];
        else
                for (size_t k = 0; k < n; k++) {
                        Program *p = find_program(m, args[k]);
                        if (!p) {
                                char known[1024];
                                known_programs(m, known, sizeof(known));
                                sv_ctl_finish(c, false, "no program named '%s'; known programs: %s", args[k], known);
                                free(v);
                                return -EINVAL;
                        }
                        bool dup = false;
                        for (size_t q = 0; q < nv; q++)
                                dup = dup || v[q] == p;
                        if (!dup)
                                v[nv++] = p;
                }
        *ret = v;
        *ret_n = nv;
        return 0;
}

static void format_sockets(SvManager *m, const SvProgramConf *c, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < c->n_sockets && o < len; k++) {
                char a[SV_ADDR_STRLEN];
                const SvListener *l = &m->listeners[c->socket_idx[k]];
                o += (size_t) snprintf(buf + o, len - o, "%s%s=%s", k ? "," : "", l->name,
                                       sv_addr_format(&l->addr, a, sizeof(a)));
        }
        if (!c->n_sockets)
                (void) snprintf(buf, len, "-");
}

static void status_row(SvManager *m, SvCtlConn *c, int w, const char *name, const Instance *i, const char *sockets) {
        char pid[16] = "-", uptime[32] = "-";
        uint64_t now = now_usec(m);
        if (i && i->pid > 0) {
                (void) snprintf(pid, sizeof(pid), "%d", (int) i->pid);
                sv_duration_format(now - i->spawned_usec, uptime, sizeof(uptime));
        }
        const char *extra = "";
        char buf[320] = "";
        if (i && i->status[0])
                extra = i->status;
        else if (i && i->sm.state == SM_BACKOFF) {
                (void) snprintf(buf, sizeof(buf), "retry in %s", DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
                extra = buf;
        } else if (i && (i->sm.state == SM_FATAL || i->sm.state == SM_EXITED))
                extra = i->error[0] ? i->error : i->exit_text;
        sv_ctl_output(c, "%-*s %-9s %-8s %-4u %-8s %-28s %s", w, name, i ? sm_state_to_string(i->sm.state) : "STOPPED",
                      pid, i ? i->gen : 0, uptime, sockets, extra);
}

static void cmd_status(SvManager *m, SvCtlConn *c, const CtlRequest *req) {
        _cleanup_free_ Program **v = NULL;
        size_t n;
        int w = 7;

        if (req->n_args == 0) {
                char *all[] = { "all", NULL };
                if (resolve_names(m, c, all, 1, &v, &n) < 0)
                        return;
        } else if (resolve_names(m, c, req->args, req->n_args, &v, &n) < 0)
                return;

        for (size_t k = 0; k < n; k++) {
                int l = (int) strlen(v[k]->conf->name) + 6;
                w = l > w ? l : w;
        }
        sv_ctl_output(c, "%-*s %-9s %-8s %-4s %-8s %-28s %s", w, "PROGRAM", "STATE", "PID", "GEN", "UPTIME", "SOCKETS",
                      "STATUS");
        for (size_t k = 0; k < n; k++) {
                Program *p = v[k];
                char sockets[512], name[80];
                format_sockets(m, p->conf, sockets, sizeof(sockets));
                status_row(m, c, w, p->conf->name, p->current, sockets);
                if (p->candidate) {
                        (void) snprintf(name, sizeof(name), "%s (new)", p->conf->name);
                        status_row(m, c, w, name, p->candidate, sockets);
                }
                for (Instance *d = p->draining; d; d = d->next) {
                        (void) snprintf(name, sizeof(name), "%s (old)", p->conf->name);
                        status_row(m, c, w, name, d, sockets);
                }
        }
        sv_ctl_finish(c, true, NULL);
}

static void cmd_job(SvManager *m, SvCtlConn *c, const CtlRequest *req, JobKind kind) {
        _cleanup_free_ Program **v = NULL;
        size_t n;

        if (req->n_args == 0) {
                sv_ctl_finish(c, false, "%s needs a program name or 'all'", job_verbs[kind]);
                return;
        }
        if (m->shutting_down) {
                sv_ctl_finish(c, false, "sockvisord is shutting down");
                return;
        }
        if (resolve_names(m, c, req->args, req->n_args, &v, &n) < 0)
                return;
        for (size_t k = 0; k < n; k++)
                if (v[k]->job) {
                        sv_ctl_finish(c, false, "%s: a %s is already under way (%s ago); wait for it to finish",
                                      v[k]->conf->name, job_verbs[v[k]->job_kind],
                                      DUR(now_usec(m) - v[k]->job->t0));
                        return;
                }
        if (n == 0) {
                sv_ctl_finish(c, true, "no programs");
                return;
        }

        Job *j = job_new(m, kind, c);
        if (!j) {
                sv_ctl_finish(c, false, "out of memory");
                return;
        }
        j->pending = (unsigned) n + 1; /* +1 holds the job open while we start every program */
        for (size_t k = 0; k < n; k++) {
                Program *p = v[k];
                Instance *cur = p->current;
                p->job = j;
                p->job_kind = kind;
                p->job_step_usec = now_usec(m);
                if (kind == JOB_RESTART) {
                        if (program_restart(p, j) < 0)
                                program_job_done(p, false, "out of memory");
                } else if (kind == JOB_START) {
                        cur = program_ensure_current(p);
                        if (!cur)
                                program_job_done(p, false, "out of memory");
                        else if (cur->sm.state == SM_RUNNING)
                                program_job_done(p, true, "already running (pid %d)", (int) cur->pid);
                        else if (cur->sm.state == SM_STARTING || cur->sm.state == SM_STOPPING)
                                program_job_done(p, false, "is %s; try again when it settles",
                                                 sm_state_to_string(cur->sm.state));
                        else
                                instance_feed(cur, SM_EV_START, "start requested");
                } else {
                        if (!cur || is_terminal(cur->sm.state))
                                program_job_done(p, true, "not running");
                        else {
                                if (cur->pid > 0)
                                        job_progress(p, "stopping (pid %d) with SIG%s, waiting up to %s", (int) cur->pid,
                                                     signame(p->conf->stopsignal), DUR(p->conf->stopwait_usec));
                                instance_feed(cur, SM_EV_STOP, "stop requested");
                        }
                }
        }
        job_release(j); /* the handler's share: answers now if every program already finished */
}

static void cmd_pid(SvManager *m, SvCtlConn *c, const CtlRequest *req) {
        if (req->n_args == 0) {
                sv_ctl_output(c, "%d", (int) getpid());
                sv_ctl_finish(c, true, NULL);
                return;
        }
        _cleanup_free_ Program **v = NULL;
        size_t n;
        if (resolve_names(m, c, req->args, req->n_args, &v, &n) < 0)
                return;
        for (size_t k = 0; k < n; k++) {
                Instance *i = v[k]->current;
                sv_ctl_output(c, "%d", i && i->pid > 0 ? (int) i->pid : 0);
        }
        sv_ctl_finish(c, true, NULL);
}

static void cmd_signal(SvManager *m, SvCtlConn *c, const CtlRequest *req) {
        if (req->n_args < 2) {
                sv_ctl_finish(c, false, "signal needs a signal and a program name, e.g. signal HUP app");
                return;
        }
        int sig = sv_signal_from_string(req->args[0]);
        if (sig < 0) {
                sv_ctl_finish(c, false, "unknown signal '%s'; use a name such as HUP, USR1, TERM or a number", req->args[0]);
                return;
        }
        _cleanup_free_ Program **v = NULL;
        size_t n;
        if (resolve_names(m, c, req->args + 1, req->n_args - 1, &v, &n) < 0)
                return;
        unsigned sent = 0;
        for (size_t k = 0; k < n; k++) {
                Instance *i = v[k]->current;
                if (i && i->pid > 0 && kill(i->pid, sig) == 0) {
                        sv_ctl_progress(c, "%s: sent SIG%s to pid %d", v[k]->conf->name, signame(sig), (int) i->pid);
                        sent++;
                } else
                        sv_ctl_progress(c, "%s: not running, nothing signalled", v[k]->conf->name);
        }
        if (sent)
                sv_ctl_finish(c, true, NULL);
        else
                sv_ctl_finish(c, false, "no running program was signalled");
}

static void on_request(void *userdata, SvCtlConn *c, const CtlRequest *req) {
        SvManager *m = userdata;
        const char *v = req->verb;

        if (strcmp(v, "status") == 0)
                cmd_status(m, c, req);
        else if (strcmp(v, "restart") == 0)
                cmd_job(m, c, req, JOB_RESTART);
        else if (strcmp(v, "start") == 0)
                cmd_job(m, c, req, JOB_START);
        else if (strcmp(v, "stop") == 0)
                cmd_job(m, c, req, JOB_STOP);
        else if (strcmp(v, "pid") == 0)
                cmd_pid(m, c, req);
        else if (strcmp(v, "signal") == 0)
                cmd_signal(m, c, req);
        else if (strcmp(v, "version") == 0)
                sv_ctl_finish(c, true, "sockvisord %s (protocol %d)", SV_VERSION, CTL_PROTO_VERSION);
        else if (strcmp(v, "shutdown") == 0) {
                sv_ctl_finish(c, true, "shutting down: stopping every program");
                sv_manager_shutdown(m, "shutdown requested");
        } else
                sv_ctl_finish(c, false,
                              "unknown command '%s'; this sockvisord knows: status, start, stop, restart, pid, signal, "
                              "version, shutdown",
                              v);
}

/* ---- set-up and tear-down ---- */

int sv_manager_new(sd_event *e, SvConfig *config, SvManager **ret, SvDiag *d) {
        SvManager *m = calloc(1, sizeof(SvManager));
        int r;

        if (!m) {
                sv_config_free(config);
                return -ENOMEM;
        }
        m->event = sd_event_ref(e);
        m->config = config;
        m->notify_fd = m->devnull_fd = -EBADF;

        m->devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (m->devnull_fd < 0) {
                r = -errno;
                diag_set(d, 0, "cannot open /dev/null: %s", strerror(-r));
                goto fail;
        }

        m->listeners = calloc(config->n_sockets ? config->n_sockets : 1, sizeof(SvListener));
        m->programs = calloc(config->n_programs ? config->n_programs : 1, sizeof(Program));
        if (!m->listeners || !m->programs) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t k = 0; k < config->n_sockets; k++) {
                r = sv_listener_open(&config->sockets[k], &m->listeners[k], d);
                if (r < 0)
                        goto fail;
                m->n_listeners++;
                char a[SV_ADDR_STRLEN];
                log_info("socket '%s': listening on %s (fd %d%s)", m->listeners[k].name,
                         sv_addr_format(&m->listeners[k].addr, a, sizeof(a)), m->listeners[k].fd,
                         config->sockets[k].blocking ? ", blocking" : "");
        }
        for (size_t k = 0; k < config->n_programs; k++)
                m->programs[k] = (Program){ .m = m, .conf = &config->programs[k] };
        m->n_programs = config->n_programs;

        r = sv_notify_open(&m->notify_fd, m->notify_name, sizeof(m->notify_name));
        if (r < 0) {
                diag_set(d, 0, "cannot open the notify socket: %s", strerror(-r));
                goto fail;
        }
        r = sd_event_add_io(e, &m->notify_src, m->notify_fd, EPOLLIN, on_notify, m);
        if (r < 0) {
                diag_set(d, 0, "cannot watch the notify socket: %s", strerror(-r));
                goto fail;
        }
        r = sv_control_new(e, config->control_path, config->control_mode, on_request, m, &m->control, d);
        if (r < 0)
                goto fail;
        log_info("control socket: %s", config->control_path);
        *ret = m;
        return 0;
fail:
        sv_manager_free(m);
        return r;
}

void sv_manager_start_all(SvManager *m) {
        for (size_t k = 0; k < m->n_programs; k++) {
                Instance *i = program_ensure_current(&m->programs[k]);
                if (i)
                        instance_feed(i, SM_EV_START, "sockvisord started");
        }
}

void sv_manager_shutdown(SvManager *m, const char *why) {
        if (m->shutting_down) {
                log_info("already shutting down");
                return;
        }
        log_info("%s: stopping every program", why);
        m->shutting_down = true;
        for (size_t k = 0; k < m->n_programs; k++)
                program_job_done(&m->programs[k], false, "sockvisord is shutting down");
        for (size_t k = 0; k < m->n_programs; k++) {
                Program *p = &m->programs[k];
                if (p->candidate)
                        instance_feed(p->candidate, SM_EV_STOP, "sockvisord is shutting down");
                if (p->current)
                        instance_feed(p->current, SM_EV_STOP, "sockvisord is shutting down");
                for (Instance *d = p->draining, *next; d; d = next) {
                        next = d->next;
                        instance_feed(d, SM_EV_STOP, "sockvisord is shutting down");
                }
        }
        if (manager_idle(m))
                (void) sd_event_exit(m->event, 0);
}

SvManager *sv_manager_free(SvManager *m) {
        if (!m)
                return NULL;
        for (size_t k = 0; k < m->n_programs; k++) {
                Program *p = &m->programs[k];
                instance_free(p->current);
                instance_free(p->candidate);
                for (Instance *d = p->draining, *next; d; d = next) {
                        next = d->next;
                        instance_free(d);
                }
                free(p->job);
        }
        free(m->programs);
        for (size_t k = 0; k < m->n_listeners; k++)
                sv_listener_close(&m->listeners[k]);
        free(m->listeners);
        sv_control_free(m->control);
        sd_event_source_disable_unref(m->notify_src);
        (void) safe_close(m->notify_fd);
        (void) safe_close(m->devnull_fd);
        sv_config_free(m->config);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
