/* The manager: programs, their instances and generations, the rolling restart, reload,
 * and the control commands.
 *
 * A program runs numprocs instances, one per index. A restart is rolling: for each index
 * a candidate of the next generation starts on the same sockets; only once it is ready
 * does it replace the current instance of its index, which is then asked to drain. At
 * most restart_surge indexes are in flight (a candidate, or an old instance still
 * draining), so at least numprocs ready instances serve throughout and never more than
 * numprocs + restart_surge run. A candidate that exits or is not ready in time is stopped,
 * the rollout stops there, and the instances still current keep serving.
 *
 * Configurations and held sockets are reference-counted: an instance keeps the config it
 * was started with (its stopsignal, stopwaitsecs) and the sockets it was given, so a
 * reload can change or drop them while old generations drain. A socket is closed only
 * when no configuration names it and no instance that was given it is alive. */
#include "sockvisor/manager.h"

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/control.h"
#include "sockvisor/doctor.h"
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

/* ---- shared, reference-counted pieces ---- */

typedef struct CfgRef {
        SvConfig *cfg;
        unsigned refs;
} CfgRef;

static CfgRef *cfgref_new(SvConfig *cfg) {
        CfgRef *r = calloc(1, sizeof(CfgRef));
        if (!r)
                return NULL;
        r->cfg = cfg;
        r->refs = 1;
        return r;
}

static CfgRef *cfgref_ref(CfgRef *r) {
        r->refs++;
        return r;
}

static CfgRef *cfgref_unref(CfgRef *r) {
        if (r && --r->refs == 0) {
                sv_config_free(r->cfg);
                free(r);
        }
        return NULL;
}

typedef struct HeldSocket {
        SvListener l;
        unsigned refs;   /* the configuration naming it, and every instance given it */
        bool configured; /* named by the current configuration */
        bool retiring;   /* dropped by the reload being applied */
        struct HeldSocket *next;
} HeldSocket;

static HeldSocket *held_ref(HeldSocket *h) {
        h->refs++;
        return h;
}

static void held_unref(SvManager *m, HeldSocket *h);

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
        unsigned index;
        unsigned gen;
        pid_t pid;
        SmInstance sm;
        const SvProgramConf *conf; /* the configuration it runs with */
        CfgRef *cr;
        HeldSocket **socks; /* the sockets it is given, in fd order */
        size_t n_socks;
        sd_event_source *child, *timer;
        uint64_t spawned_usec;
        uint64_t stop_usec;  /* when it was asked to stop */
        bool holds_roll_slot; /* an old instance whose drain still counts against restart_surge */
        bool expected_exit;  /* its last exit status is in exitcodes */
        char exit_text[64];  /* "status 0", "signal KILL" */
        char error[256];     /* why the last spawn failed */
        char status[SV_NOTIFY_STATUS_MAX];
        Instance *next; /* in Program.draining */
};

struct Program {
        SvManager *m;
        char *name;
        const SvProgramConf *conf; /* the current configuration */
        CfgRef *cr;
        unsigned last_gen;
        unsigned n;       /* instances in use: conf->numprocs, or more during a shrinking rollout */
        unsigned cap;     /* size of cur and cand */
        Instance **cur;   /* [index]: the instance serving that index, or NULL */
        Instance **cand;  /* [index]: the next generation's candidate during a rollout */
        Instance *draining;
        /* the rollout under way */
        bool rolling;
        unsigned roll_gen, roll_n, roll_next, roll_active;
        const SvProgramConf *roll_conf;
        CfgRef *roll_cr;
        /* the control command waiting on this program */
        Job *job;
        JobKind job_kind;
        uint64_t job_step_usec;
        bool removed; /* dropped from the config by a reload: freed once stopped */
        bool stop_sent; /* shutdown: this program's level has been asked to stop */
};

struct SvManager {
        sd_event *event;
        char *config_path;
        CfgRef *cr; /* the current configuration */
        HeldSocket *socks;
        Program **progs; /* in priority order */
        size_t n_progs;
        int notify_fd;
        char notify_name[108];
        sd_event_source *notify_src, *sigchld_src, *gc_src;
        SvControl *control;
        int devnull_fd;
        bool shutting_down;
        bool started;    /* autostart done: READY=1 may follow */
        bool ready_sent; /* READY=1 told to the service manager */
        char last_status[256];
        /* fds passed in by the service manager (LISTEN_FDS), until start-up has used them */
        int *passed_fds;
        char **passed_names;
        size_t n_passed;
};

static uint64_t now_usec(SvManager *m) {
        uint64_t t = 0;
        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

#define DUR(u) sv_duration_format((u), (char[32]){}, 32)

static const char *signame(int sig) {
        const char *s = sv_signal_to_string(sig);
        return s ? s : "?";
}

static void manager_check_idle(SvManager *m);
static void program_settle(Program *p);

/* ---- held sockets ---- */

static void held_unref(SvManager *m, HeldSocket *h) {
        if (!h || --h->refs > 0)
                return;
        for (HeldSocket **pp = &m->socks; *pp; pp = &(*pp)->next)
                if (*pp == h) {
                        *pp = h->next;
                        break;
                }
        char a[SV_ADDR_STRLEN];
        log_info("socket '%s': closed %s (no configuration or generation uses it any more)", h->l.name,
                 sv_addr_format(&h->l.addr, a, sizeof(a)));
        sv_listener_close(&h->l);
        free(h);
}

static HeldSocket *held_find(SvManager *m, const char *name) {
        for (HeldSocket *h = m->socks; h; h = h->next)
                if (h->configured && strcmp(h->l.name, name) == 0)
                        return h;
        return NULL;
}

/* ---- the service manager: fd store, readiness, status ---- */

/* Keeps a copy of the socket in systemd's fd store (FileDescriptorStoreMax=), under its
 * section name, so that a restart of sockvisord itself gets it back in LISTEN_FDS. */
static void fdstore_put(HeldSocket *h) {
        char msg[SV_NAME_MAX + 32];
        (void) snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", h->l.name);
        int r = sd_pid_notify_with_fds(0, 0, msg, &h->l.fd, 1);
        if (r > 0)
                log_debug("socket '%s': stored in the service manager's fd store", h->l.name);
        else if (r < 0)
                sv_log_errno(LOG_WARNING, r, "socket '%s': cannot store it in the service manager's fd store", h->l.name);
}

static void fdstore_remove(const char *name) {
        (void) sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}

/* Autostarted programs have settled (ready, or given up): what READY=1 waits for. */
static bool manager_settled(SvManager *m) {
        for (size_t q = 0; q < m->n_progs; q++) {
                Program *p = m->progs[q];
                if (!p->conf->autostart || p->removed)
                        continue;
                for (unsigned k = 0; k < p->n; k++) {
                        SmState st = p->cur[k] ? p->cur[k]->sm.state : SM_STOPPED;
                        if (st == SM_STARTING || st == SM_BACKOFF)
                                return false;
                }
        }
        return true;
}

/* Keeps STATUS= current, and sends READY=1 once start-up has settled. */
static void manager_report(SvManager *m) {
        unsigned running = 0, total = 0, failed = 0, sockets = 0;
        char status[256];

        for (size_t q = 0; q < m->n_progs; q++)
                for (unsigned k = 0; k < m->progs[q]->n; k++) {
                        Instance *i = m->progs[q]->cur[k];
                        total++;
                        running += i && i->sm.state == SM_RUNNING;
                        failed += i && (i->sm.state == SM_FATAL || i->sm.state == SM_BACKOFF);
                }
        for (HeldSocket *h = m->socks; h; h = h->next)
                sockets += h->configured;
        char rolling[96] = "";
        for (size_t q = 0; q < m->n_progs && !rolling[0]; q++)
                if (m->progs[q]->rolling)
                        (void) snprintf(rolling, sizeof(rolling), "restarting %s (generation %u); ", m->progs[q]->name,
                                        m->progs[q]->roll_gen);
        (void) snprintf(status, sizeof(status), "%s%s%u of %u instances running%s%.0u%s, %u sockets held",
                        m->shutting_down ? "stopping: " : "", rolling, running, total, failed ? ", " : "", failed,
                        failed ? " failing" : "", sockets);
        if (m->started && !m->ready_sent && manager_settled(m)) {
                m->ready_sent = true;
                (void) sd_notifyf(0, "READY=1\nSTATUS=%s", status);
                (void) snprintf(m->last_status, sizeof(m->last_status), "%s", status);
                log_info("ready: %s", status);
                return;
        }
        if (strcmp(status, m->last_status) != 0) {
                (void) snprintf(m->last_status, sizeof(m->last_status), "%s", status);
                (void) sd_notifyf(0, "STATUS=%s", status);
        }
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

/* Progress about one instance, named as status names it ("app", or "app:1" with numprocs). */
#define inst_progress(i, fmt, ...)                                                                  \
        do {                                                                                       \
                Program *_p = (i)->prog;                                                           \
                if (_p->job && _p->job->conn)                                                      \
                        sv_ctl_progress(_p->job->conn, "%s: " fmt, INAME(i), ##__VA_ARGS__);       \
        } while (0)

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
        if (!ok) {
                if (!j->failed++)
                        (void) snprintf(j->first_error, sizeof(j->first_error), "%s: %s", p->name, text);
                if (j->conn && j->pending > 1)
                        sv_ctl_progress(j->conn, "%s: failed: %s", p->name, text);
        } else if (j->conn && text[0])
                sv_ctl_progress(j->conn, "%s: %s", p->name, text);
        job_release(j);
}

/* ---- instances ---- */

static const char *instance_name(const Instance *i, char *buf, size_t len) {
        if (i->conf->numprocs > 1 || i->prog->n > 1)
                (void) snprintf(buf, len, "%s:%u", i->prog->name, i->index);
        else
                (void) snprintf(buf, len, "%s", i->prog->name);
        return buf;
}
#define INAME(i) instance_name((i), (char[80]){}, 80)

static const char *instance_label(const Instance *i, char *buf, size_t len) {
        char name[80];
        instance_name(i, name, sizeof(name));
        if (i->pid > 0)
                (void) snprintf(buf, len, "%s[gen %u pid %d]", name, i->gen, (int) i->pid);
        else
                (void) snprintf(buf, len, "%s[gen %u]", name, i->gen);
        return buf;
}
#define LABEL(i) instance_label((i), (char[128]){}, 128)

/* Logs about one instance: "app:1[gen 2 pid 42]: ..." and, in the journal, fields to
 * filter on (SOCKVISOR_PROGRAM=app, SOCKVISOR_INSTANCE=app:1, SOCKVISOR_PID=42, ...). */
#define ilog(level, i, fmt, ...)                                                                        \
        sv_log_instance((level), (i)->prog->name, INAME(i), (i)->pid, (i)->gen, "%s: " fmt, LABEL(i),    \
                        ##__VA_ARGS__)

static Instance *instance_new(Program *p, unsigned index, unsigned gen, const SvProgramConf *conf, CfgRef *cr) {
        SvManager *m = p->m;
        Instance *i = calloc(1, sizeof(Instance));
        if (!i)
                return NULL;
        i->socks = calloc(conf->n_sockets ? conf->n_sockets : 1, sizeof(HeldSocket *));
        if (!i->socks) {
                free(i);
                return NULL;
        }
        for (size_t k = 0; k < conf->n_sockets; k++) {
                HeldSocket *h = held_find(m, cr->cfg->sockets[conf->socket_idx[k]].name);
                if (!h) { /* cannot happen: a config is only applied once its sockets are held */
                        log_error("program '%s': socket '%s' is not held", p->name,
                                  cr->cfg->sockets[conf->socket_idx[k]].name);
                        continue;
                }
                i->socks[i->n_socks++] = held_ref(h);
        }
        i->prog = p;
        i->index = index;
        i->gen = gen;
        i->conf = conf;
        i->cr = cfgref_ref(cr);
        sm_init(&i->sm, now_usec(m));
        return i;
}

static Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        sd_event_source_disable_unref(i->child);
        sd_event_source_disable_unref(i->timer);
        for (size_t k = 0; k < i->n_socks; k++)
                held_unref(i->prog->m, i->socks[k]);
        free(i->socks);
        cfgref_unref(i->cr);
        free(i);
        return NULL;
}

static bool is_terminal(SmState s) {
        return s == SM_STOPPED || s == SM_EXITED || s == SM_FATAL;
}

/* Alive in the sense that matters for stopping: a process, or a timer that will make one. */
static bool instance_live(const Instance *i) {
        return i && !is_terminal(i->sm.state);
}

static bool instance_is_current(const Instance *i) {
        const Program *p = i->prog;
        return i->index < p->cap && p->cur[i->index] == i;
}

static SmPolicy instance_policy(const Instance *i) {
        const SvProgramConf *c = i->conf;
        const Program *p = i->prog;
        bool keep = instance_is_current(i) && !p->m->shutting_down && !p->removed;
        bool restart = c->autorestart == SV_AUTORESTART_TRUE ||
                       (c->autorestart == SV_AUTORESTART_UNEXPECTED && !i->expected_exit);
        return (SmPolicy){
                .ready = c->ready,
                .startsecs_usec = c->startsecs_usec,
                .ready_timeout_usec = c->ready_timeout_usec,
                .stopwait_usec = c->stopwait_usec,
                /* only a current instance restarts on its own: a candidate that dies is a
                 * failed restart, and nothing restarts while we shut down */
                .autorestart = keep && restart,
                .retry_starts = keep,
                .startretries = c->startretries,
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
        const SvProgramConf *c = i->conf;
        int fds[SV_PROGRAM_SOCKETS_MAX];
        char *names[SV_PROGRAM_SOCKETS_MAX];
        char *extra[SV_EXITCODES_MAX + 8];
        char *clear_base[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
        SvWorkerEnv env = {};
        SvCreds creds = {};
        SvDiag d = {};
        pid_t pid;
        int r;

        for (size_t k = 0; k < i->n_socks; k++) {
                fds[k] = i->socks[k]->l.fd;
                names[k] = i->socks[k]->l.name;
        }
        if (c->user || c->group) {
                r = sv_creds_resolve(c->user ? c->user : "0", c->group, &creds, &d);
                if (r < 0) {
                        (void) snprintf(i->error, sizeof(i->error), "%s", d.msg);
                        ilog(LOG_ERR, i, "cannot start: %s", d.msg);
                        return r;
                }
        }
        /* USER, LOGNAME and HOME follow user=, unless environment= says otherwise */
        size_t n_extra = 0;
        char *owned[3] = {};
        if (c->user) {
                (void) !asprintf(&owned[0], "USER=%s", creds.name);
                (void) !asprintf(&owned[1], "LOGNAME=%s", creds.name);
                (void) !asprintf(&owned[2], "HOME=%s", creds.home);
                for (size_t k = 0; k < 3; k++)
                        if (owned[k] && !sv_env_get(c->environment, k == 0 ? "USER" : k == 1 ? "LOGNAME" : "HOME"))
                                extra[n_extra++] = owned[k];
        }
        char **penv = c->environment;
        size_t n_penv = sv_strv_length(penv);
        char **merged = calloc(n_extra + n_penv + 1, sizeof(char *));
        if (merged) {
                memcpy(merged, extra, n_extra * sizeof(char *));
                memcpy(merged + n_extra, penv, n_penv * sizeof(char *));
                r = sv_worker_env_build(c->clearenv ? clear_base : environ, merged, names, i->n_socks, m->notify_name,
                                        p->name, i->gen, &env);
        } else
                r = -ENOMEM;
        free(merged);
        for (size_t k = 0; k < 3; k++)
                free(owned[k]);
        if (r < 0) {
                sv_creds_done(&creds);
                (void) snprintf(i->error, sizeof(i->error), "out of memory building the environment");
                return r;
        }
        /* output = journal: a stream to journald under the program's name, for this worker only */
        int out_fd = -EBADF;
        if (c->output_journal) {
                out_fd = sd_journal_stream_fd(p->name, LOG_INFO, 1);
                if (out_fd < 0)
                        ilog(LOG_WARNING, i, "cannot open a journal stream (%s); its output goes to sockvisord's",
                             strerror(-out_fd));
                else
                        (void) fcntl(out_fd, F_SETFD, FD_CLOEXEC);
        }
        SvSpawnRequest req = {
                .output_fd = out_fd,
                .argv = c->argv,
                .env = &env,
                .fds = fds,
                .n_fds = i->n_socks,
                .directory = c->directory,
                .stdin_fd = m->devnull_fd,
                .creds = c->user || c->group ? &creds : NULL,
                .umask = c->umask,
        };
        r = sv_spawn(&req, &pid, &d);
        (void) safe_close(out_fd);
        sv_worker_env_done(&env);
        sv_creds_done(&creds);
        if (r < 0) {
                (void) snprintf(i->error, sizeof(i->error), "%s", d.msg);
                ilog(LOG_ERR, i, "cannot start: %s", d.msg);
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
        i->error[0] = i->status[0] = i->exit_text[0] = '\0';
        i->spawned_usec = now_usec(m);
        ilog(LOG_INFO, i, "started: %s", c->command);
        return 0;
}

/* Signals the worker, or with asgroup its whole process group (it leads its own). */
static void instance_signal(Instance *i, int sig, bool asgroup) {
        if (i->pid <= 0)
                return;
        if (kill(asgroup ? -i->pid : i->pid, sig) < 0 && errno != ESRCH)
                sv_log_errno(LOG_WARNING, errno, "%s: cannot send SIG%s", LABEL(i), signame(sig));
}

static void instance_arm_timer(Instance *i) {
        SvManager *m = i->prog->m;
        if (i->timer) {
                (void) sd_event_source_set_time(i->timer, i->sm.deadline_usec);
                (void) sd_event_source_set_enabled(i->timer, SD_EVENT_ONESHOT);
        } else if (sd_event_add_time(m->event, &i->timer, CLOCK_MONOTONIC, i->sm.deadline_usec, USEC_PER_MSEC,
                                     on_timer, i) < 0)
                ilog(LOG_ERR, i, "cannot arm a timer; the instance may wait forever");
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
                ilog(LOG_DEBUG, i, "%s ignored in state %s", sm_event_to_string(ev), sm_state_to_string(res.from));
                return;
        }
        if (res.from != res.to)
                ilog(LOG_INFO, i, "%s -> %s (%s)", sm_state_to_string(res.from), sm_state_to_string(res.to),
                         cause);

        if (res.actions & SM_ACT_DISARM_TIMER && i->timer)
                (void) sd_event_source_set_enabled(i->timer, SD_EVENT_OFF);
        if (res.actions & SM_ACT_SIGNAL_STOP) {
                i->stop_usec = now_usec(p->m);
                instance_signal(i, i->conf->stopsignal, i->conf->stopasgroup);
        }
        if (res.actions & SM_ACT_SIGNAL_KILL) {
                ilog(LOG_WARNING, i, "still running %s after SIG%s; sending SIGKILL%s",
                            DUR(i->conf->stopwait_usec), signame(i->conf->stopsignal),
                            i->conf->killasgroup ? " to its process group" : "");
                instance_signal(i, SIGKILL, i->conf->killasgroup);
        }
        if (res.actions & SM_ACT_SPAWN)
                spawn_failed = instance_spawn(i) < 0;
        if (res.actions & SM_ACT_ARM_TIMER)
                instance_arm_timer(i);
        if (res.to == SM_BACKOFF && res.from != SM_BACKOFF && i->sm.deadline_usec > now_usec(p->m))
                ilog(LOG_INFO, i, "retrying in %s (failed starts in a row: %u of %u allowed retries)",
                         DUR(i->sm.deadline_usec - now_usec(p->m)), i->sm.failed_starts, i->conf->startretries);
        if (res.to == SM_FATAL)
                ilog(LOG_ERR, i, "gave up after %u failed starts in a row; 'sockvisorctl start %s' tries again",
                          i->sm.failed_starts, p->name);

        if (!program_on_transition(p, i, &res))
                return; /* i was freed */
        if (spawn_failed)
                instance_feed(i, SM_EV_SPAWN_FAILED, i->error);
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Instance *i = userdata;
        char cause[96];

        i->expected_exit = false;
        if (si->si_code == CLD_EXITED) {
                (void) snprintf(i->exit_text, sizeof(i->exit_text), "status %d", si->si_status);
                for (size_t k = 0; k < i->conf->n_exitcodes; k++)
                        i->expected_exit = i->expected_exit || i->conf->exitcodes[k] == si->si_status;
        } else
                (void) snprintf(i->exit_text, sizeof(i->exit_text), "signal %s%s", signame(si->si_status),
                                si->si_code == CLD_DUMPED ? ", core dumped" : "");
        (void) snprintf(cause, sizeof(cause), "exited with %s", i->exit_text);
        i->child = sd_event_source_disable_unref(i->child);
        ilog(LOG_INFO, i, "%s after %s", cause, DUR(now_usec(i->prog->m) - i->spawned_usec));
        /* With killasgroup, what the worker left behind in its group goes with it when it
         * was being stopped: a stop means the whole service. */
        if (i->sm.state == SM_STOPPING && i->conf->killasgroup)
                (void) kill(-i->pid, SIGKILL);
        i->pid = 0;
        instance_feed(i, SM_EV_EXIT, cause);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Instance *i = userdata;
        const char *cause;
        switch (i->sm.state) {
        case SM_STARTING:
                cause = i->conf->ready == SV_READY_STARTED ? "alive for startsecs" : "ready_timeout passed";
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

/* ---- programs ---- */

static int program_grow(Program *p, unsigned n) {
        if (n <= p->cap)
                return 0;
        Instance **cur = realloc(p->cur, n * sizeof(Instance *));
        if (!cur)
                return -ENOMEM;
        p->cur = cur;
        Instance **cand = realloc(p->cand, n * sizeof(Instance *));
        if (!cand)
                return -ENOMEM;
        p->cand = cand;
        for (unsigned k = p->cap; k < n; k++)
                p->cur[k] = p->cand[k] = NULL;
        p->cap = n;
        return 0;
}

static Program *program_new(SvManager *m, const SvProgramConf *conf, CfgRef *cr) {
        Program *p = calloc(1, sizeof(Program));
        if (!p)
                return NULL;
        p->m = m;
        p->name = strdup(conf->name);
        p->conf = conf;
        p->cr = cfgref_ref(cr);
        p->n = conf->numprocs;
        if (!p->name || program_grow(p, conf->numprocs) < 0) {
                free(p->name);
                cfgref_unref(p->cr);
                free(p);
                return NULL;
        }
        return p;
}

/* Points the program at conf, owned by cr (referenced before the old one is dropped, so
 * the same cr works too). Running instances keep the config they started with. */
static void program_set_conf(Program *p, const SvProgramConf *conf, CfgRef *cr) {
        cfgref_ref(cr);
        cfgref_unref(p->cr);
        p->conf = conf;
        p->cr = cr;
}

static void program_free(Program *p) {
        for (unsigned k = 0; k < p->cap; k++) {
                instance_free(p->cur[k]);
                instance_free(p->cand[k]);
        }
        for (Instance *d = p->draining, *next; d; d = next) {
                next = d->next;
                instance_free(d);
        }
        if (p->job) /* the client hears about it; the job itself may be shared */
                program_job_done(p, false, "sockvisord stopped");
        free(p->cur);
        free(p->cand);
        cfgref_unref(p->cr);
        cfgref_unref(p->roll_cr);
        free(p->name);
        free(p);
}

static bool program_live(const Program *p) {
        if (p->draining)
                return true;
        for (unsigned k = 0; k < p->cap; k++)
                if (instance_live(p->cur[k]) || p->cand[k])
                        return true;
        return false;
}

static Instance *program_ensure(Program *p, unsigned index) {
        if (!p->cur[index])
                p->cur[index] = instance_new(p, index, p->last_gen ? p->last_gen : ++p->last_gen, p->conf, p->cr);
        return p->cur[index];
}

/* Old instance out of service: it drains in the background. */
static void program_drain(Program *p, Instance *old, const char *cause, bool holds_slot) {
        if (old->sm.state == SM_STOPPED) {
                instance_free(old);
                if (holds_slot)
                        p->roll_active--;
                return;
        }
        old->holds_roll_slot = holds_slot;
        old->next = p->draining;
        p->draining = old;
        if (old->pid > 0)
                inst_progress(old, "stopping generation %u (pid %d) with SIG%s, waiting up to %s", old->gen, (int) old->pid,
                              signame(old->conf->stopsignal), DUR(old->conf->stopwait_usec));
        instance_feed(old, SM_EV_STOP, cause); /* may free old at once when it had no process */
}

static void roll_fill(Program *p);

/* Starts the next generation, index by index (see the top of this file). */
static int program_roll_start(Program *p, const SvProgramConf *conf, CfgRef *cr) {
        if (program_grow(p, conf->numprocs > p->n ? conf->numprocs : p->n) < 0)
                return -ENOMEM;
        p->rolling = true;
        p->roll_gen = ++p->last_gen;
        p->roll_conf = conf;
        cfgref_unref(p->roll_cr);
        p->roll_cr = cfgref_ref(cr);
        p->roll_n = conf->numprocs;
        p->roll_next = 0;
        p->roll_active = 0;
        p->job_step_usec = now_usec(p->m);
        roll_fill(p);
        return 0;
}

static void roll_fill(Program *p) {
        while (p->rolling && p->roll_active < p->roll_conf->restart_surge && p->roll_next < p->roll_n) {
                unsigned k = p->roll_next++;
                Instance *c = instance_new(p, k, p->roll_gen, p->roll_conf, p->roll_cr);
                if (!c) {
                        log_error("program '%s': out of memory starting a new instance", p->name);
                        break;
                }
                p->cand[k] = c;
                p->roll_active++;
                char cause[64];
                (void) snprintf(cause, sizeof(cause), "generation %u rolling out", p->roll_gen);
                instance_feed(c, SM_EV_START, cause);
        }
}

/* Every index replaced and drained: the new generation is the program's configuration. */
static void roll_finish(Program *p) {
        p->rolling = false;
        for (unsigned k = p->roll_n; k < p->n; k++) /* numprocs shrank: the surplus drains now */
                if (p->cur[k]) {
                        Instance *old = p->cur[k];
                        p->cur[k] = NULL;
                        program_drain(p, old, "numprocs lowered", false);
                }
        p->n = p->roll_n;
        program_set_conf(p, p->roll_conf, p->roll_cr);
        p->roll_cr = cfgref_unref(p->roll_cr);
}

/* A candidate is ready: it takes its index, and the instance it replaces drains. */
static void roll_promote(Program *p, Instance *c) {
        uint64_t now = now_usec(p->m);
        unsigned k = c->index;
        Instance *old = p->cur[k];

        p->cand[k] = NULL;
        p->cur[k] = c;
        inst_progress(c, "generation %u ready after %s (pid %d)", c->gen, DUR(now - c->sm.started_usec), (int) c->pid);
        if (old) {
                char cause[64];
                (void) snprintf(cause, sizeof(cause), "replaced by generation %u", c->gen);
                program_drain(p, old, cause, true);
        } else
                p->roll_active--;
}

/* A candidate failed: the rollout stops here; what is current keeps serving. */
static void roll_abort(Program *p, Instance *c, const char *why) {
        unsigned gen = c->gen, k = c->index;
        char name[80];
        instance_name(c, name, sizeof(name));
        p->cand[k] = NULL;
        p->roll_active--;
        p->rolling = false;
        p->roll_cr = cfgref_unref(p->roll_cr);
        instance_free(c);
        for (unsigned q = 0; q < p->cap; q++) /* other candidates in flight are stopped too */
                if (p->cand[q])
                        instance_feed(p->cand[q], SM_EV_STOP, "the rollout was abandoned");

        char serving[256] = "";
        size_t o = 0;
        unsigned n_serving = 0;
        for (unsigned q = 0; q < p->n && o < sizeof(serving); q++)
                if (p->cur[q] && p->cur[q]->sm.state == SM_RUNNING) {
                        n_serving++;
                        o += (size_t) snprintf(serving + o, sizeof(serving) - o, "%sgeneration %u (pid %d)",
                                               o ? ", " : "", p->cur[q]->gen, (int) p->cur[q]->pid);
                }
        const char *who = strcmp(name, p->name) == 0 ? "" : name; /* "app:1 " with numprocs */
        if (n_serving)
                program_job_done(p, false, "%s%sgeneration %u %s; rolled back: %s keep%s serving", who, *who ? " " : "",
                                 gen, why, serving, n_serving == 1 ? "s" : "");
        else
                program_job_done(p, false, "%s%sgeneration %u %s; nothing else is running", who, *who ? " " : "", gen,
                                 why);
}

static bool is_candidate(const Program *p, const Instance *i) {
        return i->index < p->cap && p->cand[i->index] == i;
}

static bool is_draining(const Program *p, const Instance *i) {
        for (const Instance *d = p->draining; d; d = d->next)
                if (d == i)
                        return true;
        return false;
}

static void draining_remove(Program *p, Instance *i) {
        for (Instance **pp = &p->draining; *pp; pp = &(*pp)->next)
                if (*pp == i) {
                        *pp = i->next;
                        return;
                }
}

/* Reacts to one instance's transition. Returns false when i was freed. */
static bool program_on_transition(Program *p, Instance *i, const SmResult *res) {
        SvManager *m = p->m;
        uint64_t now = now_usec(m);

        if (is_candidate(p, i)) {
                if (res->to == SM_RUNNING && p->rolling) {
                        roll_promote(p, i);
                        roll_fill(p);
                } else if (res->to == SM_STARTING && res->from != SM_STARTING && i->pid > 0) {
                        inst_progress(i, "started generation %u (pid %d), waiting up to %s for it to be ready", i->gen,
                                      (int) i->pid,
                                      DUR(i->conf->ready == SV_READY_NOTIFY ? i->conf->ready_timeout_usec
                                                                            : i->conf->startsecs_usec));
                } else if (res->to == SM_STOPPING && i->sm.outcome == SM_OUTCOME_READY_TIMEOUT) {
                        inst_progress(i, "generation %u was not ready within %s; stopping it", i->gen,
                                      DUR(i->conf->ready_timeout_usec));
                } else if (is_terminal(res->to)) {
                        char why[384];
                        if (i->sm.outcome == SM_OUTCOME_READY_TIMEOUT)
                                (void) snprintf(why, sizeof(why), "was not ready within %s",
                                                DUR(i->conf->ready_timeout_usec));
                        else if (i->sm.outcome == SM_OUTCOME_SPAWN_FAILED)
                                (void) snprintf(why, sizeof(why), "could not be started: %s", i->error);
                        else if (m->shutting_down)
                                (void) snprintf(why, sizeof(why), "was stopped: sockvisord is shutting down");
                        else
                                (void) snprintf(why, sizeof(why), "exited with %s before it was ready",
                                                i->exit_text[0] ? i->exit_text : "an error");
                        if (p->rolling)
                                roll_abort(p, i, why);
                        else { /* a candidate stopped after its rollout was abandoned */
                                p->cand[i->index] = NULL;
                                instance_free(i);
                        }
                        program_settle(p);
                        return false;
                }
                return true;
        }

        if (is_draining(p, i)) {
                if (is_terminal(res->to)) {
                        if (i->stop_usec && i->exit_text[0])
                                inst_progress(i, "generation %u exited after %s (%s)", i->gen, DUR(now - i->stop_usec),
                                              i->exit_text);
                        draining_remove(p, i);
                        bool slot = i->holds_roll_slot;
                        instance_free(i);
                        if (slot && p->rolling) {
                                p->roll_active--;
                                roll_fill(p);
                        }
                        program_settle(p);
                        return false;
                }
                return true;
        }

        if (instance_is_current(i) && p->job && p->job_kind == JOB_START && res->to == SM_BACKOFF)
                inst_progress(i, "exited (%s), retrying in %s", i->exit_text[0] ? i->exit_text : i->error,
                              DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0));
        program_settle(p);
        return true;
}

/* After any change: finish a rollout, answer a waiting command, free a removed program,
 * move a shutdown along. */
static void program_settle(Program *p) {
        SvManager *m = p->m;

        if (p->rolling && p->roll_next >= p->roll_n && p->roll_active == 0)
                roll_finish(p);

        if (p->job && !p->rolling) {
                bool settled = true, failed = false;
                char why[256] = "";
                if (p->job_kind == JOB_RESTART)
                        settled = !p->draining;
                else
                        for (unsigned k = 0; k < p->n; k++) {
                                Instance *i = p->cur[k];
                                SmState s = i ? i->sm.state : SM_STOPPED;
                                if (p->job_kind == JOB_START) {
                                        if (s == SM_FATAL || s == SM_EXITED) {
                                                failed = true;
                                                const char *who = p->n > 1 ? INAME(i) : "";
                                                (void) snprintf(why, sizeof(why), "%s%scould not be started (%s); state %s",
                                                                who, *who ? " " : "",
                                                                i->exit_text[0] ? i->exit_text : i->error,
                                                                sm_state_to_string(s));
                                        } else if (s != SM_RUNNING)
                                                settled = false;
                                } else if (!is_terminal(s))
                                        settled = false;
                        }
                if (failed)
                        program_job_done(p, false, "%s", why);
                else if (settled)
                        program_job_done(p, true, "%s after %s",
                                         p->job_kind == JOB_RESTART ? "restarted"
                                         : p->job_kind == JOB_START ? "running"
                                                                    : "stopped",
                                         DUR(now_usec(m) - p->job_step_usec));
        }
        if (m->shutting_down || p->removed)
                manager_check_idle(m);
        manager_report(m);
}

/* ---- notify and orphans ---- */

static Instance *find_by_pid(SvManager *m, pid_t pid) {
        for (size_t q = 0; q < m->n_progs; q++) {
                Program *p = m->progs[q];
                for (unsigned k = 0; k < p->cap; k++) {
                        if (p->cur[k] && p->cur[k]->pid == pid)
                                return p->cur[k];
                        if (p->cand[k] && p->cand[k]->pid == pid)
                                return p->cand[k];
                }
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
                        ilog(LOG_DEBUG, i, "STOPPING=1");
                if (msg.ready)
                        instance_feed(i, SM_EV_READY, "READY=1");
        }
        return 0;
}

/* We are a child subreaper: a worker's orphaned descendants become our children. Reap
 * those (never a tracked worker: its child source does that, and needs the status). */
static int on_sigchld(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        SvManager *m = userdata;
        char path[64], buf[4096];

        (void) snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int) getpid());
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
                pid_t pid = (pid_t) strtol(tok, NULL, 10);
                if (pid <= 0 || find_by_pid(m, pid))
                        continue;
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        log_info("reaped pid %d, orphaned by a worker (%s %d)", (int) pid,
                                 WIFEXITED(status) ? "status" : "signal",
                                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        }
        return 0;
}

/* ---- control commands ---- */

static Program *find_program(SvManager *m, const char *name) {
        for (size_t q = 0; q < m->n_progs; q++)
                if (!m->progs[q]->removed && strcmp(m->progs[q]->name, name) == 0)
                        return m->progs[q];
        return NULL;
}

static void known_programs(SvManager *m, char *buf, size_t len) {
        size_t o = 0;
        buf[0] = '\0';
        for (size_t q = 0; q < m->n_progs && o < len; q++)
                if (!m->progs[q]->removed)
                        o += (size_t) snprintf(buf + o, len - o, "%s%s", o ? ", " : "", m->progs[q]->name);
        if (!buf[0])
                (void) snprintf(buf, len, "(none configured)");
}

/* Resolves NAME... or "all" into programs; answers the client and returns -EINVAL on an
 * unknown name, so a typo never half-applies a command. */
static int resolve_names_full(SvManager *m, SvCtlConn *c, char *const *args, size_t n, bool with_removed,
                              Program ***ret, size_t *ret_n) {
        bool all = n == 0 || (n == 1 && strcmp(args[0], "all") == 0);
        size_t cap = all ? m->n_progs : n;
        Program **v = calloc(cap ? cap : 1, sizeof(Program *));
        size_t nv = 0;

        if (!v) {
                sv_ctl_finish(c, false, "out of memory");
                return -ENOMEM;
        }
        if (all) {
                for (size_t q = 0; q < m->n_progs; q++)
                        if (!m->progs[q]->removed || with_removed)
                                v[nv++] = m->progs[q];
        } else
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

static int resolve_names(SvManager *m, SvCtlConn *c, char *const *args, size_t n, Program ***ret, size_t *ret_n) {
        return resolve_names_full(m, c, args, n, false, ret, ret_n);
}

static void format_sockets(const Program *p, char *buf, size_t len) {
        const SvConfig *cfg = p->cr->cfg;
        size_t o = 0;
        buf[0] = '\0';
        for (size_t k = 0; k < p->conf->n_sockets && o < len; k++) {
                const SvSocketConf *sc = &cfg->sockets[p->conf->socket_idx[k]];
                o += (size_t) snprintf(buf + o, len - o, "%s%s=%s", k ? "," : "", sc->name, sc->listen);
        }
        if (!p->conf->n_sockets)
                (void) snprintf(buf, len, "-");
}

/* Process groups of every process, read once per status: a worker leads its own group, so
 * its forked helpers (and daemonized grandchildren) are counted with it. */
typedef struct PgidTable {
        pid_t *pgids;
        size_t n;
} PgidTable;

static int pid_cmp(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

static void pgid_table_load(PgidTable *t) {
        DIR *d = opendir("/proc");
        size_t cap = 0;
        struct dirent *de;

        *t = (PgidTable){};
        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[64], buf[512];
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                (void) snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                (void) close(fd);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                const char *rp = strrchr(buf, ')'); /* the command name may hold spaces and parens */
                int pgrp;
                char state;
                int ppid;
                if (!rp || sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3 || state == 'Z')
                        continue;
                if (t->n == cap) {
                        size_t nc = cap ? cap * 2 : 256;
                        pid_t *np = realloc(t->pgids, nc * sizeof(pid_t));
                        if (!np)
                                break;
                        t->pgids = np;
                        cap = nc;
                }
                t->pgids[t->n++] = (pid_t) pgrp;
        }
        closedir(d);
        qsort(t->pgids, t->n, sizeof(pid_t), pid_cmp);
}

static unsigned pgid_table_count(const PgidTable *t, pid_t pgid) {
        pid_t *hit = t->n ? bsearch(&pgid, t->pgids, t->n, sizeof(pid_t), pid_cmp) : NULL;
        if (!hit)
                return 0;
        pid_t *lo = hit, *hi = hit;
        while (lo > t->pgids && lo[-1] == pgid)
                lo--;
        while (hi + 1 < t->pgids + t->n && hi[1] == pgid)
                hi++;
        return (unsigned) (hi - lo + 1);
}

static void status_row(SvManager *m, SvCtlConn *c, int w, const char *name, const Instance *i, const char *sockets,
                       const PgidTable *groups) {
        char pid[16] = "-", uptime[32] = "-", buf[320] = "", procs[16] = "-";
        uint64_t now = now_usec(m);
        const char *extra = "";

        if (i && i->pid > 0) {
                (void) snprintf(pid, sizeof(pid), "%d", (int) i->pid);
                sv_duration_format(now - i->spawned_usec, uptime, sizeof(uptime));
                (void) snprintf(procs, sizeof(procs), "%u", pgid_table_count(groups, i->pid));
        }
        if (i && i->sm.state == SM_BACKOFF) {
                (void) snprintf(buf, sizeof(buf), "retry in %s after %s",
                                DUR(i->sm.deadline_usec > now ? i->sm.deadline_usec - now : 0),
                                i->exit_text[0] ? i->exit_text : i->error);
                extra = buf;
        } else if (i && (i->sm.state == SM_FATAL || i->sm.state == SM_EXITED)) {
                (void) snprintf(buf, sizeof(buf), "%s%s", i->sm.state == SM_FATAL ? "gave up: " : "",
                                i->exit_text[0] ? i->exit_text : i->error);
                extra = buf;
        } else if (i && i->status[0])
                extra = i->status;
        sv_ctl_output(c, "%-*s %-9s %-8s %-4u %-8s %-5s %-28s %s", w, name,
                      i ? sm_state_to_string(i->sm.state) : "STOPPED", pid, i ? i->gen : 0, uptime, procs, sockets, extra);
}

static void cmd_status(SvManager *m, SvCtlConn *c, const CtlRequest *req) {
        _cleanup_free_ Program **v = NULL;
        size_t n;
        int w = 7;

        /* programs a reload removed stay visible, marked, until they have stopped */
        if (resolve_names_full(m, c, req->args, req->n_args, true, &v, &n) < 0)
                return;
        for (size_t q = 0; q < n; q++) {
                int l = (int) strlen(v[q]->name) + 14;
                w = l > w ? l : w;
        }
        PgidTable groups;
        pgid_table_load(&groups);
        sv_ctl_output(c, "%-*s %-9s %-8s %-4s %-8s %-5s %-28s %s", w, "PROGRAM", "STATE", "PID", "GEN", "UPTIME", "PROCS",
                      "SOCKETS", "STATUS");
        for (size_t q = 0; q < n; q++) {
                Program *p = v[q];
                char sockets[512], name[96];
                format_sockets(p, sockets, sizeof(sockets));
                bool multi = p->n > 1 || p->conf->numprocs > 1;
                for (unsigned k = 0; k < p->n; k++) {
                        if (multi)
                                (void) snprintf(name, sizeof(name), "%s:%u%s", p->name, k, p->removed ? " (removed)" : "");
                        else
                                (void) snprintf(name, sizeof(name), "%s%s", p->name, p->removed ? " (removed)" : "");
                        status_row(m, c, w, name, p->cur[k], sockets, &groups);
                }
                for (unsigned k = 0; k < p->cap; k++)
                        if (p->cand[k]) {
                                (void) snprintf(name, sizeof(name), "%s (new)", INAME(p->cand[k]));
                                status_row(m, c, w, name, p->cand[k], sockets, &groups);
                        }
                for (Instance *d = p->draining; d; d = d->next) {
                        (void) snprintf(name, sizeof(name), "%s (old)", INAME(d));
                        status_row(m, c, w, name, d, sockets, &groups);
                }
        }
        free(groups.pgids);
        sv_ctl_finish(c, true, NULL);
}

/* Every socket held, with what the port doctor and reload tests need: fd, inode, users. */
static void cmd_sockets(SvManager *m, SvCtlConn *c) {
        sv_ctl_output(c, "%-16s %-40s %-5s %-10s %-5s %s", "SOCKET", "ADDRESS", "FD", "INODE", "REFS", "STATE");
        for (HeldSocket *h = m->socks; h; h = h->next) {
                char a[SV_ADDR_STRLEN];
                sv_ctl_output(c, "%-16s %-40s %-5d %-10lu %-5u %s", h->l.name, sv_addr_format(&h->l.addr, a, sizeof(a)),
                              h->l.fd, (unsigned long) h->l.inode, h->refs,
                              h->configured ? "listening" : "retired (a draining generation still uses it)");
        }
        sv_ctl_finish(c, true, NULL);
}

static void program_start_instances(Program *p, const char *cause) {
        for (unsigned k = 0; k < p->n; k++) {
                Instance *i = program_ensure(p, k);
                if (!i)
                        log_error("program '%s': out of memory", p->name);
                else if (i->sm.state != SM_RUNNING && i->sm.state != SM_STARTING && i->sm.state != SM_STOPPING)
                        instance_feed(i, SM_EV_START, cause);
        }
}

static void program_stop_instances(Program *p, const char *cause) {
        for (unsigned k = 0; k < p->cap; k++) {
                if (p->cand[k])
                        instance_feed(p->cand[k], SM_EV_STOP, cause);
                if (p->cur[k] && instance_live(p->cur[k])) {
                        if (p->cur[k]->pid > 0)
                                inst_progress(p->cur[k], "stopping (pid %d) with SIG%s, waiting up to %s",
                                              (int) p->cur[k]->pid, signame(p->cur[k]->conf->stopsignal),
                                              DUR(p->cur[k]->conf->stopwait_usec));
                        instance_feed(p->cur[k], SM_EV_STOP, cause);
                }
        }
        for (Instance *d = p->draining, *next; d; d = next) {
                next = d->next;
                instance_feed(d, SM_EV_STOP, cause);
        }
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
        for (size_t q = 0; q < n; q++)
                if (v[q]->job || v[q]->rolling) {
                        sv_ctl_finish(c, false, "%s: a %s is already under way; wait for it to finish", v[q]->name,
                                      v[q]->job ? job_verbs[v[q]->job_kind] : "rollout");
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
        j->pending = (unsigned) n + 1; /* +1: the handler's share, held while it starts every program */
        for (size_t q = 0; q < n; q++) {
                Program *p = v[q];
                p->job = j;
                p->job_kind = kind;
                p->job_step_usec = now_usec(m);
                if (kind == JOB_RESTART) {
                        if (program_roll_start(p, p->conf, p->cr) < 0)
                                program_job_done(p, false, "out of memory");
                } else if (kind == JOB_START)
                        program_start_instances(p, "start requested");
                else
                        program_stop_instances(p, "stop requested");
                program_settle(p);
        }
        job_release(j); /* the handler's share: answers now if every program already settled */
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
        for (size_t q = 0; q < n; q++)
                for (unsigned k = 0; k < v[q]->n; k++) {
                        Instance *i = v[q]->cur[k];
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
        for (size_t q = 0; q < n; q++)
                for (unsigned k = 0; k < v[q]->n; k++) {
                        Instance *i = v[q]->cur[k];
                        if (i && i->pid > 0 && kill(i->pid, sig) == 0) {
                                sv_ctl_progress(c, "%s: sent SIG%s to pid %d", INAME(i), signame(sig), (int) i->pid);
                                sent++;
                        }
                }
        if (sent)
                sv_ctl_finish(c, true, NULL);
        else
                sv_ctl_finish(c, false, "no running program was signalled");
}

/* ---- configuration: apply at start, diff on reload ---- */

static int resolve_users(const SvConfig *cfg, SvDiag *d) {
        for (size_t k = 0; k < cfg->n_programs; k++) {
                const SvProgramConf *pc = &cfg->programs[k];
                if (!pc->user && !pc->group)
                        continue;
                SvCreds creds;
                SvDiag e = {};
                int r = sv_creds_resolve(pc->user ? pc->user : "0", pc->group, &creds, &e);
                if (r < 0)
                        return diag_set(d, pc->line, "%s:%u: [program:%s] %s", cfg->origin, pc->line, pc->name, e.msg);
                sv_creds_done(&creds);
        }
        return 0;
}

static int priority_cmp(const void *a, const void *b) {
        const Program *pa = *(Program *const *) a, *pb = *(Program *const *) b;
        if (pa->conf->priority != pb->conf->priority)
                return pa->conf->priority < pb->conf->priority ? -1 : 1;
        return pa->conf->line < pb->conf->line ? -1 : pa->conf->line > pb->conf->line;
}

static void sort_programs(SvManager *m) {
        qsort(m->progs, m->n_progs, sizeof(Program *), priority_cmp);
}

/* The port doctor's diagnosis of a bind that failed with EADDRINUSE: who holds the port,
 * why, and the fix, to the log and to the client that asked for the reload. */
static void explain_addr_in_use(const SvAddr *addr, SvCtlConn *c) {
        _cleanup_free_ char *text = NULL;
        if (sv_doctor_explain(addr, &text) < 0 || !text)
                return;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                log_error("%s", line);
                if (c)
                        sv_ctl_progress(c, "%s", line);
        }
}

/* What a reload will do to each socket of the new config. */
typedef enum SockPlan {
        SOCK_KEEP,   /* same listen line: same fd, never re-bound */
        SOCK_ADJUST, /* same address, other backlog/blocking/mode: changed in place */
        SOCK_BIND,   /* new, or a new address */
} SockPlan;

static bool program_uses_changed_socket(const SvConfig *cfg, const SvProgramConf *pc, const SockPlan *plan) {
        for (size_t k = 0; k < pc->n_sockets; k++)
                if (plan[pc->socket_idx[k]] == SOCK_BIND)
                        return true;
        return false;
}

/* Applies cfg (parsed and checked) to the running daemon, reporting to c when not NULL.
 * Returns 0, or an error with nothing changed (d says why). */
static int manager_apply(SvManager *m, SvConfig *cfg, SvCtlConn *c, SvDiag *d) {
        CfgRef *cr = cfgref_new(cfg);
        SockPlan *plan = calloc(cfg->n_sockets ? cfg->n_sockets : 1, sizeof(SockPlan));
        HeldSocket **bound = calloc(cfg->n_sockets ? cfg->n_sockets : 1, sizeof(HeldSocket *));
        int r = 0;

        if (!cr || !plan || !bound) {
                if (!cr)
                        sv_config_free(cfg);
                cfgref_unref(cr);
                free(plan);
                free(bound);
                return -ENOMEM;
        }

        /* 1. Bind what is new first: a failure here leaves everything as it was. */
        for (size_t k = 0; k < cfg->n_sockets; k++) {
                const SvSocketConf *sc = &cfg->sockets[k];
                HeldSocket *h = held_find(m, sc->name);
                const SvSocketConf *old = NULL;
                if (h && m->cr)
                        for (size_t q = 0; q < m->cr->cfg->n_sockets; q++)
                                if (strcmp(m->cr->cfg->sockets[q].name, sc->name) == 0)
                                        old = &m->cr->cfg->sockets[q];
                if (h && old && sv_socket_conf_equal(old, sc))
                        plan[k] = SOCK_KEEP;
                else if (h && old && strcmp(old->listen, sc->listen) == 0)
                        plan[k] = SOCK_ADJUST;
                else {
                        plan[k] = SOCK_BIND;
                        HeldSocket *nh = calloc(1, sizeof(HeldSocket));
                        if (!nh) {
                                r = -ENOMEM;
                                break;
                        }
                        /* at start-up, a socket the service manager passed in under this name is used as it is */
                        int passed = -1;
                        for (size_t q = 0; !m->cr && q < m->n_passed && passed < 0; q++)
                                if (m->passed_fds[q] >= 0 && strcmp(m->passed_names[q], sc->name) == 0)
                                        passed = (int) q;
                        if (passed >= 0) {
                                r = sv_listener_adopt(sc, m->passed_fds[passed], &nh->l, d);
                                if (r == 0)
                                        m->passed_fds[passed] = -EBADF; /* ours now */
                        } else
                                r = sv_listener_open(sc, &nh->l, d);
                        if (r == -EADDRINUSE)
                                explain_addr_in_use(&sc->addr, c);
                        if (r < 0) {
                                free(nh);
                                break;
                        }
                        nh->refs = 1;
                        bound[k] = nh;
                }
        }
        if (r < 0) {
                for (size_t k = 0; k < cfg->n_sockets; k++)
                        if (bound[k]) {
                                sv_listener_close(&bound[k]->l);
                                free(bound[k]);
                        }
                free(plan);
                free(bound);
                cfgref_unref(cr);
                return r;
        }

        /* 2. Sockets held now: keep, adjust in place, or retire (closed once unused). */
        for (HeldSocket *h = m->socks; h; h = h->next) {
                if (!h->configured)
                        continue;
                int idx = sv_config_find_socket(cfg, h->l.name);
                if (idx >= 0 && plan[idx] == SOCK_ADJUST) {
                        const SvSocketConf *sc = &cfg->sockets[idx];
                        SvDiag ad = {};
                        if (sv_listener_adjust(&h->l, sc, &ad) < 0 || ad.msg[0]) {
                                log_warning("%s", ad.msg);
                                if (c)
                                        sv_ctl_progress(c, "warning: %s", ad.msg);
                        }
                        if (c)
                                sv_ctl_progress(c, "socket %s: adjusted in place, same fd (backlog %d, %s, mode %04o)",
                                                sc->name, sc->backlog, sc->blocking ? "blocking" : "non-blocking",
                                                (unsigned) sc->mode);
                } else if (idx < 0 || plan[idx] == SOCK_BIND) {
                        h->configured = false;
                        h->retiring = true;
                        fdstore_remove(h->l.name); /* a re-addressed one is stored anew below */
                        if (c)
                                sv_ctl_progress(c, "socket %s: %s; the old one closes once no generation uses it",
                                                h->l.name, idx >= 0 ? "new address" : "removed");
                }
        }
        for (size_t k = 0; k < cfg->n_sockets; k++)
                if (bound[k]) {
                        char a[SV_ADDR_STRLEN];
                        bound[k]->configured = true;
                        bound[k]->next = m->socks;
                        m->socks = bound[k];
                        if (bound[k]->l.adopted)
                                log_info("socket '%s': adopted fd %d from the service manager (%s, inode %lu): not bound "
                                         "again",
                                         bound[k]->l.name, bound[k]->l.fd, sv_addr_format(&bound[k]->l.addr, a, sizeof(a)),
                                         (unsigned long) bound[k]->l.inode);
                        else
                                log_info("socket '%s': listening on %s (fd %d)", bound[k]->l.name,
                                         sv_addr_format(&bound[k]->l.addr, a, sizeof(a)), bound[k]->l.fd);
                        if (!bound[k]->l.adopted) /* an adopted one is in systemd's hands already */
                                fdstore_put(bound[k]);
                        if (c)
                                sv_ctl_progress(c, "socket %s: bound %s", bound[k]->l.name, cfg->sockets[k].listen);
                }
        /* the configuration's own reference on retired sockets; instances hold theirs */
        for (HeldSocket *h = m->socks, *next; h; h = next) {
                next = h->next;
                if (h->retiring) {
                        h->retiring = false;
                        held_unref(m, h);
                }
        }

        /* 3. Programs. */
        unsigned added = 0, removed = 0, changed = 0, unchanged = 0;
        for (size_t q = 0; q < m->n_progs; q++) {
                Program *p = m->progs[q];
                if (p->removed)
                        continue;
                const SvProgramConf *npc = sv_config_find_program(cfg, p->name);
                if (!npc) {
                        p->removed = true;
                        removed++;
                        if (c)
                                sv_ctl_progress(c, "program %s: removed; stopping it", p->name);
                        program_stop_instances(p, "removed from the configuration");
                        continue;
                }
                bool same = sv_program_conf_equal(m->cr->cfg, p->conf, cfg, npc) &&
                            !program_uses_changed_socket(cfg, npc, plan);
                if (same) {
                        unchanged++;
                        program_set_conf(p, npc, cr); /* equal content */
                        continue;
                }
                changed++;
                bool running = false;
                for (unsigned k = 0; k < p->n; k++)
                        running = running || instance_live(p->cur[k]);
                if (running && npc->autostart) {
                        if (c)
                                sv_ctl_progress(c, "program %s: changed; rolling restart to the new configuration", p->name);
                        if (program_roll_start(p, npc, cr) < 0)
                                log_error("program '%s': out of memory for the restart", p->name);
                } else if (running) {
                        if (c)
                                sv_ctl_progress(c, "program %s: changed, autostart=false; stopping it", p->name);
                        program_stop_instances(p, "configuration changed, autostart=false");
                        program_set_conf(p, npc, cr);
                } else {
                        if (c)
                                sv_ctl_progress(c, "program %s: changed (not running)", p->name);
                        program_set_conf(p, npc, cr);
                        (void) program_grow(p, npc->numprocs);
                        for (unsigned k = npc->numprocs; k < p->n; k++)
                                p->cur[k] = instance_free(p->cur[k]);
                        p->n = npc->numprocs;
                }
        }

        sv_log_set_target(cfg->log_to == SV_LOG_TO_JOURNAL ? SV_LOG_JOURNAL
                          : cfg->log_to == SV_LOG_TO_STDERR ? SV_LOG_STDERR
                                                            : SV_LOG_AUTO);

        /* Swap the configuration before new programs start: they look their sockets up in it. */
        CfgRef *old_cr = m->cr;
        m->cr = cr;

        Program **progs = realloc(m->progs, (m->n_progs + cfg->n_programs) * sizeof(Program *));
        if (progs)
                m->progs = progs;
        for (size_t k = 0; k < cfg->n_programs && progs; k++) {
                const SvProgramConf *npc = &cfg->programs[k];
                if (find_program(m, npc->name))
                        continue;
                Program *p = program_new(m, npc, cr);
                if (!p) {
                        log_error("program '%s': out of memory", npc->name);
                        continue;
                }
                m->progs[m->n_progs++] = p;
                if (old_cr) {
                        added++;
                        if (c)
                                sv_ctl_progress(c, "program %s: added%s", p->name, npc->autostart ? "; starting it" : "");
                }
        }
        sort_programs(m);
        if (old_cr)
                for (size_t q = 0; q < m->n_progs; q++) {
                        Program *p = m->progs[q];
                        if (!p->removed && p->last_gen == 0 && p->conf->autostart)
                                program_start_instances(p, "added by reload");
                }

        cfgref_unref(old_cr);
        free(plan);
        free(bound);
        if (c && old_cr) {
                sv_ctl_progress(c, "%u added, %u removed, %u changed, %u unchanged", added, removed, changed, unchanged);
        }
        manager_check_idle(m);
        return 0;
}

/* ---- removal, shutdown ---- */

/* Frees programs a reload removed once they are stopped. Runs as a deferred event, never
 * under a caller that may still hold the program. */
static int on_gc(sd_event_source *s, void *userdata) {
        SvManager *m = userdata;
        m->gc_src = sd_event_source_disable_unref(m->gc_src);
        for (size_t q = 0; q < m->n_progs;) {
                Program *p = m->progs[q];
                if (p->removed && !program_live(p)) {
                        log_info("program '%s': stopped and removed", p->name);
                        program_free(p);
                        memmove(m->progs + q, m->progs + q + 1, (m->n_progs - q - 1) * sizeof(Program *));
                        m->n_progs--;
                } else
                        q++;
        }
        return 0;
}

/* Called after changes: schedules the removal of stopped programs, and moves a shutdown
 * along, stopping programs in reverse priority order, one priority level at a time. */
static void manager_check_idle(SvManager *m) {
        bool removable = false;
        for (size_t q = 0; q < m->n_progs; q++)
                removable = removable || (m->progs[q]->removed && !program_live(m->progs[q]));
        if (removable && !m->gc_src)
                (void) sd_event_add_defer(m->event, &m->gc_src, on_gc, m);

        if (!m->shutting_down)
                return;
        for (;;) {
                bool any = false, waiting = false;
                int level = 0;
                for (size_t q = 0; q < m->n_progs; q++) {
                        Program *p = m->progs[q];
                        if (!program_live(p))
                                continue;
                        if (p->stop_sent)
                                waiting = true;
                        else if (!any || p->conf->priority > level) {
                                level = p->conf->priority;
                                any = true;
                        }
                }
                if (waiting)
                        return; /* the level being stopped is not down yet */
                if (!any) {
                        (void) sd_event_exit(m->event, 0);
                        return;
                }
                for (size_t q = 0; q < m->n_progs; q++) {
                        Program *p = m->progs[q];
                        if (program_live(p) && !p->stop_sent && p->conf->priority == level) {
                                p->stop_sent = true;
                                program_stop_instances(p, "sockvisord is shutting down");
                        }
                }
        }
}

/* ---- reload ---- */

static void manager_reload(SvManager *m, SvCtlConn *c) {
        SvConfig *cfg = NULL;
        SvDiag d = {};
        int r;

        if (m->shutting_down) {
                if (c)
                        sv_ctl_finish(c, false, "sockvisord is shutting down");
                return;
        }
        for (size_t q = 0; q < m->n_progs; q++)
                if (m->progs[q]->job || m->progs[q]->rolling) {
                        log_warning("reload refused: program '%s' has a restart under way; nothing changed",
                                    m->progs[q]->name);
                        if (c)
                                sv_ctl_finish(c, false,
                                              "program '%s' has a restart under way; reload again when it finishes "
                                              "(nothing changed)",
                                              m->progs[q]->name);
                        return;
                }
        log_info("reloading %s", m->config_path);
        (void) sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%" PRIu64, m->config_path,
                          now_usec(m));
        r = sv_config_parse_file(m->config_path, &cfg, &d);
        if (r >= 0)
                r = resolve_users(cfg, &d);
        if (r < 0) {
                cfg = sv_config_free(cfg);
                (void) sd_notify(0, "READY=1");
                m->last_status[0] = '\0'; /* STATUS= below says how things are */
                manager_report(m);
                log_error("reload failed, nothing changed: %s", d.msg);
                if (c)
                        sv_ctl_finish(c, false, "%s (nothing changed)", d.msg);
                return;
        }
        if (strcmp(cfg->control_path, m->cr->cfg->control_path) != 0 || cfg->control_mode != m->cr->cfg->control_mode) {
                log_warning("reload: the control socket (%s) changes only when sockvisord restarts", m->cr->cfg->control_path);
                if (c)
                        sv_ctl_progress(c, "note: control= and control_mode= take effect when sockvisord restarts");
        }
        r = manager_apply(m, cfg, c, &d);
        (void) sd_notify(0, "READY=1");
        m->last_status[0] = '\0';
        manager_report(m);
        if (r < 0) {
                log_error("reload failed, nothing changed: %s", d.msg);
                if (c)
                        sv_ctl_finish(c, false, "%s (nothing changed)", d.msg);
                return;
        }
        log_info("reloaded %s", m->config_path);
        if (c)
                sv_ctl_finish(c, true, "reloaded %s", m->config_path);
}

void sv_manager_reload(SvManager *m) {
        manager_reload(m, NULL);
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
        else if (strcmp(v, "reload") == 0)
                manager_reload(m, c);
        else if (strcmp(v, "sockets") == 0)
                cmd_sockets(m, c);
        else if (strcmp(v, "version") == 0)
                sv_ctl_finish(c, true, "sockvisord %s (protocol %d)", SV_VERSION, CTL_PROTO_VERSION);
        else if (strcmp(v, "shutdown") == 0) {
                sv_ctl_finish(c, true, "shutting down: stopping every program");
                sv_manager_shutdown(m, "shutdown requested");
        } else
                sv_ctl_finish(c, false,
                              "unknown command '%s'; this sockvisord knows: status, start, stop, restart, pid, signal, "
                              "sockets, reload, version, shutdown",
                              v);
}

/* ---- set-up and tear-down ---- */

/* Passed fds no [socket:] claimed: a socket unit with no section, or a duplicate (the same
 * socket from both a socket unit and the fd store). Closed, with a word for the first kind. */
static void passed_close_unused(SvManager *m) {
        for (size_t q = 0; q < m->n_passed; q++) {
                if (m->passed_fds[q] < 0)
                        continue;
                struct stat st;
                HeldSocket *h = held_find(m, m->passed_names[q]);
                if (h && fstat(m->passed_fds[q], &st) == 0 && st.st_ino == h->l.inode)
                        log_debug("fd %d: '%s' passed in twice (socket unit and fd store); one is enough",
                                  m->passed_fds[q], m->passed_names[q]);
                else if (h)
                        log_warning("fd %d: a second, different socket was passed in as '%s'; using the first, closing "
                                    "this one",
                                    m->passed_fds[q], m->passed_names[q]);
                else {
                        log_warning("fd %d: passed in as '%s', but no [socket:%s] section names it; closing it (add the "
                                    "section, or drop the socket unit)",
                                    m->passed_fds[q], m->passed_names[q], m->passed_names[q]);
                        fdstore_remove(m->passed_names[q]);
                }
                m->passed_fds[q] = safe_close(m->passed_fds[q]);
        }
        free(m->passed_fds);
        free(m->passed_names);
        m->passed_fds = NULL;
        m->passed_names = NULL;
        m->n_passed = 0;
}

int sv_manager_new(sd_event *e, const char *config_path, SvConfig *config, int n_passed, char **passed_names,
                   SvManager **ret, SvDiag *d) {
        SvManager *m = calloc(1, sizeof(SvManager));
        int r;

        if (!m) {
                sv_config_free(config);
                return -ENOMEM;
        }
        if (n_passed > 0) {
                m->passed_fds = calloc((size_t) n_passed, sizeof(int));
                m->passed_names = calloc((size_t) n_passed, sizeof(char *));
                if (!m->passed_fds || !m->passed_names) {
                        free(m->passed_fds);
                        free(m->passed_names);
                        free(m);
                        sv_config_free(config);
                        return -ENOMEM;
                }
                for (int k = 0; k < n_passed; k++) {
                        m->passed_fds[k] = SD_LISTEN_FDS_START + k;
                        m->passed_names[k] = passed_names && passed_names[k] ? passed_names[k] : "unknown";
                }
                m->n_passed = (size_t) n_passed;
        }
        m->event = sd_event_ref(e);
        m->notify_fd = m->devnull_fd = -EBADF;
        m->config_path = strdup(config_path);
        if (!m->config_path) {
                sv_config_free(config);
                r = -ENOMEM;
                goto fail;
        }
        r = resolve_users(config, d);
        if (r < 0) {
                sv_config_free(config);
                goto fail;
        }
        /* Orphaned descendants of workers are reparented to us, and reaped, instead of init. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                sv_log_errno(LOG_WARNING, errno, "cannot become a child subreaper; orphans of workers go to init");

        m->devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (m->devnull_fd < 0) {
                r = -errno;
                sv_config_free(config);
                diag_set(d, 0, "cannot open /dev/null: %s", strerror(-r));
                goto fail;
        }
        r = manager_apply(m, config, NULL, d); /* binds (or adopts) every socket; takes config */
        if (r < 0)
                goto fail;
        passed_close_unused(m);

        r = sv_notify_open(&m->notify_fd, m->notify_name, sizeof(m->notify_name));
        if (r < 0) {
                diag_set(d, 0, "cannot open the notify socket: %s", strerror(-r));
                goto fail;
        }
        r = sd_event_add_io(e, &m->notify_src, m->notify_fd, EPOLLIN, on_notify, m);
        if (r >= 0)
                r = sd_event_add_signal(e, &m->sigchld_src, SIGCHLD, on_sigchld, m);
        if (r < 0) {
                diag_set(d, 0, "cannot set up the event loop: %s", strerror(-r));
                goto fail;
        }
        r = sv_control_new(e, m->cr->cfg->control_path, m->cr->cfg->control_mode, on_request, m, &m->control, d);
        if (r < 0)
                goto fail;
        log_info("control socket: %s", m->cr->cfg->control_path);
        *ret = m;
        return 0;
fail:
        sv_manager_free(m);
        return r;
}

void sv_manager_start_all(SvManager *m) {
        for (size_t q = 0; q < m->n_progs; q++) /* priority order */
                if (m->progs[q]->conf->autostart)
                        program_start_instances(m->progs[q], "sockvisord started");
        m->started = true;
        manager_report(m); /* READY=1 at once when nothing needs to become ready */
}

void sv_manager_shutdown(SvManager *m, const char *why) {
        if (m->shutting_down) {
                log_info("already shutting down");
                return;
        }
        log_info("%s: stopping every program, highest priority first", why);
        m->shutting_down = true;
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping every program");
        for (size_t q = 0; q < m->n_progs; q++) {
                Program *p = m->progs[q];
                program_job_done(p, false, "sockvisord is shutting down");
                if (p->rolling) { /* the candidates go, the current instances stay until their turn */
                        p->rolling = false;
                        p->roll_cr = cfgref_unref(p->roll_cr);
                        for (unsigned k = 0; k < p->cap; k++)
                                if (p->cand[k])
                                        instance_feed(p->cand[k], SM_EV_STOP, "sockvisord is shutting down");
                }
        }
        manager_check_idle(m);
}

SvManager *sv_manager_free(SvManager *m) {
        if (!m)
                return NULL;
        for (size_t q = 0; q < m->n_progs; q++)
                program_free(m->progs[q]);
        free(m->progs);
        for (HeldSocket *h = m->socks, *next; h; h = next) {
                next = h->next;
                sv_listener_close(&h->l);
                free(h);
        }
        sv_control_free(m->control);
        sd_event_source_disable_unref(m->notify_src);
        sd_event_source_disable_unref(m->sigchld_src);
        sd_event_source_disable_unref(m->gc_src);
        (void) safe_close(m->notify_fd);
        (void) safe_close(m->devnull_fd);
        for (size_t q = 0; q < m->n_passed; q++)
                (void) safe_close(m->passed_fds[q]);
        free(m->passed_fds);
        free(m->passed_names);
        cfgref_unref(m->cr);
        free(m->config_path);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}
