/* ops->probe: the daemon's health probes of running instances (healthcheck=). An HTTP probe
 * is a non-blocking connect, one GET and the status line of the answer; an exec probe is a
 * command run as the program's user, in its own process group. Each step is an sd-event
 * source and every probe is bounded by one timer, so nothing here blocks the loop. What the
 * status line and the exit mean is healthcheck.c's; counting failures and deciding is the
 * supervisor's: every probe is reported, through d->probed. */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockvisor/cmdline.h"
#include "sockvisor/env.h"
#include "sockvisor/healthcheck.h"
#include "sockvisor/log.h"
#include "sockvisor/macro.h"
#include "sockvisor/process.h"
#include "sockvisor/spawn.h"

extern char **environ;

#define DRAIN_READS 16 /* reads of an exec probe's output per event: other sources get their turn */

typedef enum Phase {
        PHASE_IDLE,       /* between two probes: the timer is the next one's start */
        PHASE_CONNECTING, /* HTTP, from here on the timer is the probe's deadline */
        PHASE_SENDING,
        PHASE_READING,
        PHASE_RUNNING, /* EXEC: the command runs */
} Phase;

typedef struct Prober {
        SvDaemon *d;
        SvInstanceId id; /* 0: probing ended, but its last command is not reaped yet */
        pid_t pid;       /* the worker: SOCKVISOR_PID of exec probes */
        SvHealthKind kind;
        char *program;
        uint64_t interval, timeout;
        /* HTTP */
        SvAddr addr;
        char *request;
        size_t request_len;
        /* EXEC */
        char **argv;
        char *directory, *user, *group;
        int umask;

        Phase phase;
        uint64_t started;
        sd_event_source *timer; /* idle: when the next probe starts; in flight: its deadline */
        int fd;                 /* HTTP: the connection; EXEC: the read end of its output */
        sd_event_source *io;
        size_t sent, got;
        char buf[SV_HEALTH_STATUS_MAX]; /* HTTP: the answer's start; EXEC: the output's */
        pid_t child;                    /* EXEC: until reaped, which may be after its probe ended */
        struct Prober *next;
} Prober;

static Prober **find(SvDaemon *d, SvInstanceId id) {
        for (Prober **pp = &d->probers; *pp; pp = &(*pp)->next)
                if ((*pp)->id == id && id != 0)
                        return pp;
        return NULL;
}

static Prober **find_ptr(SvDaemon *d, const Prober *p) {
        for (Prober **pp = &d->probers; *pp; pp = &(*pp)->next)
                if (*pp == p)
                        return pp;
        return NULL;
}

/* Closes what the probe in flight holds, except its command (reaped by its child source). */
static void close_probe(Prober *p) {
        p->io = sd_event_source_disable_unref(p->io);
        p->fd = safe_close(p->fd);
        p->phase = PHASE_IDLE;
}

/* The command of the probe in flight, and whatever it started in its process group. */
static void kill_child(Prober *p) {
        if (p->child > 0)
                (void) kill(-p->child, SIGKILL);
}

static void prober_free(Prober *p) {
        close_probe(p);
        sd_event_source_disable_unref(p->timer);
        if (p->child > 0)
                sv_reaper_unwatch(p->d, p->child); /* an orphan now: reaped as one */
        free(p->program);
        free(p->request);
        sv_strv_free(p->argv);
        free(p->directory);
        free(p->user);
        free(p->group);
        free(p);
}

/* Ends probing: the probe in flight is dropped unreported (its command killed). A command not
 * reaped yet keeps the prober, unnamed (id 0), until its child source has reaped it. */
static void prober_end(Prober **pp) {
        Prober *p = *pp;
        close_probe(p);
        kill_child(p);
        if (p->child > 0) {
                p->id = 0;
                p->timer = sd_event_source_disable_unref(p->timer);
                return;
        }
        *pp = p->next;
        prober_free(p);
}

static void arm(Prober *p, uint64_t at) {
        (void) sd_event_source_set_time(p->timer, at);
        (void) sd_event_source_set_enabled(p->timer, SD_EVENT_ONESHOT);
}

/* The probe in flight is over: the next starts interval after this one started (at once if
 * that has passed), then the supervisor hears. Callers return at once: the report may end
 * probing (p freed) or start it anew. */
static void finish(Prober *p, bool healthy, const char *why) {
        SvDaemon *d = p->d;
        SvInstanceId id = p->id;
        char text[SV_HEALTH_WHY_MAX];
        (void) snprintf(text, sizeof(text), "%s", why);
        close_probe(p);
        uint64_t now = sv_daemon_now(d), next = p->started + p->interval;
        arm(p, next > now ? next : now);
        log_debug("%s: health probe of pid %d: %s, %s", p->program, (int) p->pid, healthy ? "healthy" : "unhealthy", text);
        if (d->probed)
                d->probed(d, id, healthy, text);
}

/* ---- HTTP ---- */

static bool http_step(Prober *p, char *why, size_t len, bool *healthy);

static int on_http_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Prober *p = userdata;
        char why[SV_HEALTH_WHY_MAX];
        bool healthy = false;
        if (http_step(p, why, sizeof(why), &healthy))
                finish(p, healthy, why);
        return 0;
}

/* One step on what the socket says. Returns true when the probe is over (why and *healthy
 * set), false to wait for the next event. */
static bool http_step(Prober *p, char *why, size_t len, bool *healthy) {
        if (p->phase == PHASE_CONNECTING) {
                int err = 0;
                socklen_t sl = sizeof(err);
                if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
                        err = errno;
                if (err == EINPROGRESS || err == EALREADY)
                        return false;
                if (err != 0)
                        return sv_health_errno_why(err, why, len), true;
                p->phase = PHASE_SENDING;
        }
        if (p->phase == PHASE_SENDING) {
                while (p->sent < p->request_len) {
                        ssize_t n = send(p->fd, p->request + p->sent, p->request_len - p->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == EAGAIN)
                                return false;
                        if (n < 0) {
                                int err = errno;
                                char e[128];
                                (void) snprintf(why, len, "cannot send the request: %s",
                                                sv_health_errno_why(err, e, sizeof(e)));
                                return true;
                        }
                        p->sent += (size_t) n;
                }
                p->phase = PHASE_READING;
                if (sd_event_source_set_io_events(p->io, EPOLLIN) < 0)
                        return snprintf(why, len, "cannot wait for the answer"), true;
                /* the answer may be there already: read on, a recv() that would block says so */
        }
        for (int k = 0; k < 4; k++) { /* PHASE_READING; bounded: a trickling server gets other turns */
                size_t room = sizeof(p->buf) - p->got;
                ssize_t n = room ? recv(p->fd, p->buf + p->got, room, MSG_DONTWAIT) : 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return false;
                if (n < 0) {
                        sv_health_errno_why(errno, why, len);
                        return true;
                }
                p->got += (size_t) n;
                int r = sv_health_status_parse(p->buf, p->got, n == 0 && room > 0, healthy, why, len);
                if (r != 0) {
                        if (r < 0)
                                *healthy = false;
                        return true;
                }
        }
        return false;
}

static bool http_start(Prober *p, char *why, size_t len, bool *healthy) {
        p->sent = p->got = 0;
        p->fd = socket(p->addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (p->fd < 0) {
                (void) snprintf(why, len, "cannot create a socket: %s", strerror(errno));
                return true;
        }
        p->phase = PHASE_CONNECTING;
        if (connect(p->fd, (const struct sockaddr *) &p->addr.sa, p->addr.salen) < 0 && errno != EINPROGRESS) {
                sv_health_errno_why(errno, why, len);
                return true;
        }
        int r = sd_event_add_io(p->d->event, &p->io, p->fd, EPOLLOUT, on_http_io, p);
        if (r < 0) {
                (void) snprintf(why, len, "cannot watch the connection: %s", strerror(-r));
                return true;
        }
        return false;
}

/* ---- EXEC ---- */

/* Reads what the command wrote: the first bytes kept, the rest read and dropped so the
 * command never blocks on a full pipe. Returns false at EOF (or an error). */
static bool exec_drain(Prober *p) {
        for (int k = 0; k < DRAIN_READS; k++) {
                char scratch[4096];
                size_t room = sizeof(p->buf) - p->got;
                bool keep = room > 0 && p->got < SV_HEALTH_OUTPUT_KEEP;
                ssize_t n = keep ? read(p->fd, p->buf + p->got, SV_HEALTH_OUTPUT_KEEP - p->got)
                                 : read(p->fd, scratch, sizeof(scratch));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return true;
                if (n <= 0)
                        return false;
                if (keep)
                        p->got += (size_t) n;
        }
        return true;
}

static int on_exec_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Prober *p = userdata;
        if (!exec_drain(p)) { /* EOF: the exit (its child source) ends the probe */
                p->io = sd_event_source_disable_unref(p->io);
                p->fd = safe_close(p->fd);
        }
        return 0;
}

static void on_exec_exit(SvDaemon *d, void *userdata, uint64_t id, const siginfo_t *si) {
        Prober *p = userdata;
        /* still a zombie here (the reaper reaps after this callback), so its process group
         * cannot have been reused: what the command left running in it goes too */
        kill_child(p);
        p->child = 0;
        if (p->id == 0) { /* probing ended while it ran */
                Prober **pp = find_ptr(p->d, p);
                if (pp)
                        *pp = p->next;
                prober_free(p);
                return;
        }
        if (p->phase != PHASE_RUNNING)
                return; /* killed at its timeout, and reported then */
        if (p->fd >= 0)
                (void) exec_drain(p); /* it has exited: what it wrote is in the pipe already */
        char why[SV_HEALTH_WHY_MAX];
        bool healthy = sv_health_exit_why(si->si_code, si->si_status, p->buf, p->got, why, sizeof(why));
        finish(p, healthy, why);
}

/* The environment of an exec probe: the daemon's (without what only sockvisord sets, as a
 * worker's), USER, LOGNAME and HOME of user=, SOCKVISOR_PROGRAM and SOCKVISOR_PID. */
static int exec_env(const Prober *p, const SvCreds *creds, SvWorkerEnv *ret) {
        static const char *const keys[] = { "USER", "LOGNAME", "HOME" };
        char *extra[4] = {}, pidvar[32];
        int r = -ENOMEM;
        for (size_t k = 0; p->user && creds && k < ELEMENTSOF(keys); k++) {
                const char *v = k < 2 ? creds->name : creds->home;
                if (asprintf(&extra[k], "%s=%s", keys[k], v ? v : "") < 0) {
                        extra[k] = NULL;
                        goto done;
                }
        }
        r = sv_worker_env_build(environ, extra, NULL, NULL, p->program, 0, ret);
        if (r < 0)
                goto done;
        /* a probe belongs to no generation: SOCKVISOR_PID, the worker's, takes the place of the
         * builder's SOCKVISOR_GENERATION (0) */
        (void) snprintf(pidvar, sizeof(pidvar), "SOCKVISOR_PID=%d", (int) p->pid);
        size_t n = sv_strv_length(ret->envp), k = 0;
        while (k < n && strncmp(ret->envp[k], "SOCKVISOR_GENERATION=", 21) != 0)
                k++;
        char *v = strdup(pidvar);
        char **grown = k == n ? realloc(ret->envp, (n + 2) * sizeof(char *)) : ret->envp;
        if (!v || !grown) {
                free(v);
                sv_worker_env_done(ret);
                r = -ENOMEM;
                goto done;
        }
        ret->envp = grown;
        if (k < n)
                free(ret->envp[k]);
        else
                ret->envp[n + 1] = NULL;
        ret->envp[k] = v;
        r = 0;
done:
        for (size_t i = 0; i < ELEMENTSOF(extra); i++)
                free(extra[i]);
        return r;
}

static bool exec_start(Prober *p, char *why, size_t len) {
        SvDaemon *d = p->d;
        SvCreds own = {};
        const SvCreds *creds = NULL;
        SvWorkerEnv env = {};
        SvDiag diag = {};
        int out[2] = { -EBADF, -EBADF };
        bool over = true;

        p->got = 0;
        if (p->child > 0) { /* bounded: one command per instance, even when one will not die */
                (void) snprintf(why, len, "the previous probe (pid %d) has not exited since it was killed",
                                (int) p->child);
                return true;
        }
        if (sv_process_creds(d->creds, p->user, p->group, &own, &creds, &diag) < 0) {
                (void) snprintf(why, len, "%s", diag.msg);
                return true;
        }
        if (exec_env(p, creds, &env) < 0) {
                (void) snprintf(why, len, "out of memory");
                goto done;
        }
        /* only the read end is non-blocking: the write end is the command's stdout and stderr */
        if (pipe2(out, O_CLOEXEC) < 0 || fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
                (void) snprintf(why, len, "cannot create a pipe: %s", strerror(errno));
                goto done;
        }
        SvSpawnRequest req = {
                .argv = p->argv,
                .env = &env,
                .directory = p->directory,
                .stdin_fd = d->devnull_fd,
                .output_fd = out[1],
                .creds = creds,
                .umask = p->umask,
        };
        pid_t pid;
        if (sv_spawn(&req, &pid, &diag) < 0) {
                (void) snprintf(why, len, "%s", diag.msg);
                goto done;
        }
        /* Right after fork: a child without a source is never reaped. */
        int r = sv_reaper_watch(d, pid, on_exec_exit, p, p->id);
        if (r < 0) {
                (void) kill(-pid, SIGKILL);
                (void) kill(pid, SIGKILL); /* the reaper reaps it as an orphan */
                (void) snprintf(why, len, "cannot watch the probe's process: %s", strerror(-r));
                goto done;
        }
        p->child = pid;
        p->phase = PHASE_RUNNING;
        p->fd = TAKE_FD(out[0]);
        r = sd_event_add_io(d->event, &p->io, p->fd, EPOLLIN, on_exec_output, p);
        if (r < 0) /* its output is lost for the why; the exit still ends the probe */
                p->fd = safe_close(p->fd);
        over = false;
done:
        (void) safe_close(out[0]);
        (void) safe_close(out[1]);
        sv_worker_env_done(&env);
        sv_creds_done(&own);
        return over;
}

/* ---- the timer: the next probe, or the deadline of the one in flight ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Prober *p = userdata;
        char why[SV_HEALTH_WHY_MAX], dur[32];
        bool healthy = false;

        if (p->phase == PHASE_IDLE) {
                p->started = sv_daemon_now(p->d);
                arm(p, p->started + p->timeout);
                bool over = p->kind == SV_HEALTH_HTTP ? http_start(p, why, sizeof(why), &healthy)
                                                      : exec_start(p, why, sizeof(why));
                if (over)
                        finish(p, healthy, why);
                return 0;
        }
        (void) sv_health_duration(p->timeout, dur, sizeof(dur));
        if (p->phase == PHASE_RUNNING) {
                kill_child(p); /* reaped by its child source, whenever the kernel is done with it */
                (void) snprintf(why, sizeof(why), "killed after %s (no exit)", dur);
        } else if (p->phase == PHASE_CONNECTING)
                (void) snprintf(why, sizeof(why), "no connection within %s", dur);
        else
                (void) snprintf(why, sizeof(why), "no answer within %s", dur);
        finish(p, false, why);
        return 0;
}

/* ---- the daemon's side ---- */

static int prober_new(SvDaemon *d, SvInstanceId id, pid_t pid, const SvProgramConf *conf, Prober **ret) {
        const SvHealthCheck *h = &conf->health;
        Prober *p = calloc(1, sizeof(Prober));
        if (!p)
                return -ENOMEM;
        *p = (Prober){ .d = d, .id = id, .pid = pid, .kind = h->kind, .interval = h->interval_usec,
                       .timeout = h->timeout_usec, .fd = -EBADF, .umask = conf->umask, .addr = h->addr };
        int r = -ENOMEM;
        p->program = strdup(conf->name);
        if (!p->program)
                goto fail;
        if (h->kind == SV_HEALTH_HTTP) {
                char req[2048];
                int n = sv_health_request(h->host, h->path, req, sizeof(req));
                if (n < 0) {
                        r = n;
                        goto fail;
                }
                p->request = strdup(req);
                p->request_len = (size_t) n;
                if (!p->request)
                        goto fail;
        } else {
                size_t n = sv_strv_length(h->argv);
                if (n == 0) {
                        r = -EINVAL;
                        goto fail;
                }
                p->argv = calloc(n + 1, sizeof(char *));
                for (size_t k = 0; p->argv && k < n; k++)
                        if (!(p->argv[k] = strdup(h->argv[k])))
                                goto fail;
                if (!p->argv || (conf->directory && !(p->directory = strdup(conf->directory))) ||
                    (conf->user && !(p->user = strdup(conf->user))) || (conf->group && !(p->group = strdup(conf->group))))
                        goto fail;
        }
        /* the first probe at once, but from the loop: never inside the op that asked for it */
        r = sd_event_add_time(d->event, &p->timer, CLOCK_MONOTONIC, sv_daemon_now(d), USEC_PER_MSEC, on_timer, p);
        if (r < 0)
                goto fail;
        *ret = p;
        return 0;
fail:
        prober_free(p);
        return r;
}

void sv_health_set(SvDaemon *d, SvInstanceId id, pid_t pid, const SvProgramConf *conf) {
        Prober **pp = find(d, id);
        if (pp)
                prober_end(pp);
        if (!conf || conf->health.kind == SV_HEALTH_NONE || pid <= 0 || id == 0)
                return;
        Prober *p = NULL;
        int r = prober_new(d, id, pid, conf, &p);
        if (r < 0) {
                sv_log_errno(LOG_ERR, -r, "%s: pid %d: cannot start its health probes (%s)", conf->name, (int) pid,
                             conf->health.text ? conf->health.text : "healthcheck");
                return;
        }
        p->next = d->probers;
        d->probers = p;
}

void sv_health_stop_all(SvDaemon *d) {
        while (d->probers) {
                Prober *p = d->probers;
                kill_child(p);
                d->probers = p->next;
                prober_free(p); /* a command not reaped yet goes to init with our exit */
        }
}

void sv_health_drop_in_flight(SvDaemon *d) {
        for (Prober *p = d->probers; p; p = p->next) {
                kill_child(p); /* still watched by its child source, should the execve fail */
                if (p->phase == PHASE_IDLE || p->id == 0)
                        continue;
                close_probe(p);
                uint64_t now = sv_daemon_now(d), next = p->started + p->interval;
                arm(p, next > now ? next : now);
        }
}

bool sv_health_owns_pid(const SvDaemon *d, pid_t pid) {
        for (const Prober *p = d->probers; p; p = p->next)
                if (pid > 0 && p->child == pid)
                        return true;
        return false;
}
