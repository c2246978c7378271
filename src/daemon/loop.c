/* The event loop: the only file that knows sd-event. It implements the supervisor's SvOps
 * with real syscalls (fork/exec through process.c, kill, sd-event timers and child
 * sources, listener.c sockets, control.c replies) and turns what the kernel tells it
 * (child exits, timers, READY=1 datagrams, control requests, signals) into supervisor
 * entry calls. No decision is taken here. */
#include "daemon-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "sockvisor/cgroup.h"
#include "sockvisor/control.h"
#include "sockvisor/ctlverbs.h"
#include "sockvisor/doctor.h"
#include "sockvisor/listener.h"
#include "sockvisor/log.h"
#include "sockvisor/names.h"
#include "sockvisor/notify.h"
#include "sockvisor/output.h"
#include "sockvisor/process.h"
#include "sockvisor/procfs.h"
#include "sockvisor/servicemgr.h"
#include "sockvisor/supervisor.h"

Watch **sv_watch_find(Watch **list, SvInstanceId id) {
        for (Watch **pp = list; *pp; pp = &(*pp)->next)
                if ((*pp)->id == id)
                        return pp;
        return NULL;
}

static void watch_drop(Watch **pp) {
        Watch *w = *pp;
        *pp = w->next;
        sd_event_source_disable_unref(w->src);
        free(w);
}

static void timer_drop(Watch *t) {
        if (t) {
                sd_event_source_disable_unref(t->src);
                free(t);
        }
}

/* ---- SvOps ---- */

int sv_timer_oneshot(sd_event *event, sd_event_source **src, uint64_t at_usec, sd_event_time_handler_t cb,
                     void *userdata) {
        if (at_usec == 0)
                return *src ? sd_event_source_set_enabled(*src, SD_EVENT_OFF) : 0;
        if (!*src)
                return sd_event_add_time(event, src, CLOCK_MONOTONIC, at_usec, 10 * USEC_PER_MSEC, cb, userdata);
        int r = sd_event_source_set_time(*src, at_usec);
        return r < 0 ? r : sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

uint64_t sv_daemon_now(SvDaemon *d) {
        uint64_t t = 0;
        if (sd_event_now(d->event, CLOCK_MONOTONIC, &t) < 0)
                (void) sd_event_now(d->event, CLOCK_MONOTONIC, &t);
        return t;
}

static uint64_t op_now(void *ctx) {
        return sv_daemon_now(ctx);
}

static uint64_t op_realtime(void *ctx) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void worker_exited(SvDaemon *d, void *userdata, uint64_t id, const siginfo_t *si) {
        int left = sv_cgroup_reaped(d->cgroups, si->si_pid, SV_CGROUP_GRACE_USEC);
        if (left > 0)
                log_info("pid %d exited leaving %d process%s in its cgroup: sent SIGTERM, SIGKILL in %ds", (int) si->si_pid,
                         left, left == 1 ? "" : "es", (int) (SV_CGROUP_GRACE_USEC / USEC_PER_SEC));
        sv_supervisor_exited(d->sup, id, si->si_code, si->si_status);
}

/* A worker that runs as another user may send to the notify socket (an ACL entry); the
 * socket is 0600 otherwise, so that no other local user can flood it. */
static void notify_allow_user(SvDaemon *d, const SvProgramConf *c) {
        SvCreds own = {};
        const SvCreds *creds = NULL;
        SvDiag diag = {};
        if (!c->user || sv_process_creds(d->creds, c->user, c->group, &own, &creds, &diag) < 0 || !creds)
                return; /* our own user, or one the spawn itself will report */
        int r = sv_notify_allow(d->notify_name, creds->uid);
        if (r < 0)
                sv_log_errno(LOG_WARNING, r, "user %s (uid %u) cannot be let in to the notify socket %s; its READY=1 "
                             "will not arrive", c->user, (unsigned) creds->uid, d->notify_name);
        else if (r > 0)
                log_warning("no ACLs on the filesystem of %s: the notify socket is open to every local user (0666) "
                            "so that user %s can send to it", d->notify_name, c->user);
        sv_creds_done(&own);
}

static int op_spawn(void *ctx, const SvSpawnSpec *spec, pid_t *ret_pid, SvDiag *diag) {
        SvDaemon *d = ctx;
        pid_t pid;
        int out = -1, err = -1;
        int r = sv_output_prepare(d->output, spec->conf, &out, &err, diag); /* the log pipes, files opened */
        int cgroup_fd = -1;
        if (r >= 0 && d->cgroups) {
                SvDiag cd = {};
                cgroup_fd = sv_cgroup_prepare(d->cgroups, spec->instance, spec->generation, &cd);
                if (cgroup_fd < 0) /* not worth a failed start: it runs as it would without cgroups */
                        log_warning("%s: %s; it runs in sockvisord's cgroup", spec->instance, cd.msg);
        }
        if (r >= 0)
                notify_allow_user(d, spec->conf);
        if (r >= 0)
                r = sv_process_spawn(spec, d->creds, d->notify_name, d->devnull_fd, out, err, cgroup_fd, &pid, diag);
        sv_cgroup_spawned(d->cgroups, r >= 0 ? pid : 0, cgroup_fd, r >= 0);
        if (r < 0)
                return r;
        /* Right after fork, before the loop runs again: its exit must find its handler. */
        r = sv_reaper_watch(d, pid, worker_exited, NULL, spec->id);
        if (r < 0) {
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return diag_set(diag, 0, "cannot watch the child: %s", strerror(-r)), r;
        }
        *ret_pid = pid;
        return 0;
}

static void op_signal(void *ctx, pid_t pid, int sig, bool group) {
        if (pid <= 0)
                return;
        SvDaemon *d = ctx;
        if (kill(group ? -pid : pid, sig) < 0 && errno != ESRCH) {
                sv_log_errno(LOG_WARNING, errno, "cannot send SIG%s to %s %d", SV_SIGNAME(sig),
                             group ? "process group" : "pid", (int) pid);
        }
        /* and to what left the group (setsid) but not the worker's cgroup */
        if (group)
                (void) sv_cgroup_signal(d->cgroups, pid, sig);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Watch *w = userdata;
        SvDaemon *d = w->d;
        SvInstanceId id = w->id;
        timer_drop(sv_idmap_remove(&d->timers, id)); /* one-shot: a new deadline arms a new one */
        sv_supervisor_timer(d->sup, id);
        return 0;
}

static void op_arm(void *ctx, SvInstanceId id, uint64_t at_usec) {
        SvDaemon *d = ctx;
        Watch *t = sv_idmap_get(&d->timers, id);
        if (at_usec == 0) {
                timer_drop(sv_idmap_remove(&d->timers, id));
                return;
        }
        if (t) {
                (void) sd_event_source_set_time(t->src, at_usec);
                (void) sd_event_source_set_enabled(t->src, SD_EVENT_ONESHOT);
                return;
        }
        Watch *w = calloc(1, sizeof(Watch));
        if (!w || sd_event_add_time(d->event, &w->src, CLOCK_MONOTONIC, at_usec, USEC_PER_MSEC, on_timer, w) < 0 ||
            sv_idmap_put(&d->timers, id, w) < 0) {
                if (w)
                        sd_event_source_disable_unref(w->src);
                free(w);
                log_error("instance %" PRIu64 ": cannot arm a timer; it may wait until the next command", id);
                return;
        }
        w->d = d;
        w->id = id;
}

/* The port doctor's diagnosis of an EADDRINUSE, to the log and into the error. */
static bool is_context_line(const char *line) {
        return strncmp(line, "  test bind of ", 15) == 0 || strncmp(line, "  note: ", 8) == 0;
}

static void explain_addr_in_use(const SvAddr *addr, SvDiag *diag) {
        _cleanup_free_ char *text = NULL;
        if (sv_doctor_explain(addr, &text) < 0 || !text)
                return;
        /* The doctor's findings and fix lines replace the generic hint after the error
         * ("...: Address already in use; another process holds that port: see 'ss -ltnp'
         * ..."), and the report ends with them: its heading, then the test binds and notes,
         * then the findings with their fixes. Nothing after the fix contradicts it. */
        const char *e = strerror(EADDRINUSE);
        char *at = strstr(diag->msg, e);
        if (at)
                at[strlen(e)] = '\0';
        size_t o = strlen(diag->msg), n = 0;
        char *lines[64], *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line && n < ELEMENTSOF(lines); line = strtok_r(NULL, "\n", &save))
                lines[n++] = line;
        for (int pass = 0; pass < 3; pass++)
                for (size_t i = 0; i < n; i++) {
                        bool want = pass == 0 ? i == 0 : pass == 1 ? i > 0 && is_context_line(lines[i])
                                                                   : i > 0 && !is_context_line(lines[i]);
                        if (!want)
                                continue;
                        log_error("%s", lines[i]);
                        if (o + 3 < sizeof(diag->msg))
                                o += (size_t) snprintf(diag->msg + o, sizeof(diag->msg) - o, "; %s", lines[i]);
                }
}

static int op_socket_open(void *ctx, const SvSocketConf *sc, bool startup, SvSocketInfo *ret, SvDiag *diag) {
        SvDaemon *d = ctx;
        SvListener *l = calloc(1, sizeof(SvListener));
        int r;
        if (!l)
                return diag_set(diag, sc->line, "socket '%s': out of memory", sc->name), -ENOMEM;
        int fd = startup ? sv_passed_take(&d->passed, sc->name) : -EBADF;
        if (fd >= 0) {
                r = sv_listener_adopt(sc, fd, l, diag);
                if (r < 0)
                        (void) safe_close(fd);
        } else
                r = sv_listener_open(sc, l, diag);
        if (r == -EADDRINUSE)
                explain_addr_in_use(&sc->addr, diag);
        if (r < 0) {
                free(l);
                return r;
        }
        if (!l->adopted) /* an adopted one is in systemd's hands already */
                sv_servicemgr_fdstore_put(l->fd, l->name);
        *ret = (SvSocketInfo){ .handle = l, .fd = l->fd, .inode = (unsigned long) l->inode, .adopted = l->adopted };
        sv_addr_format(&l->addr, ret->address, sizeof(ret->address));
        return 0;
}

static int op_socket_adjust(void *ctx, const SvSocketInfo *si, const SvSocketConf *sc, SvDiag *diag) {
        return sv_listener_adjust(si->handle, sc, diag);
}

static void op_socket_retire(void *ctx, const SvSocketInfo *si) {
        const SvListener *l = si->handle;
        sv_servicemgr_fdstore_remove(l->name); /* a re-addressed one is stored anew */
}

static void op_socket_close(void *ctx, SvSocketInfo *si) {
        SvListener *l = si->handle;
        if (!l)
                return;
        sv_listener_close(l);
        free(l);
        si->handle = NULL;
}

static void op_reply(void *ctx, SvConnId conn, CtlReplyKind kind, const char *text) {
        SvDaemon *d = ctx;
        SvCtlConn *c = d->control ? sv_control_find(d->control, conn) : NULL;
        if (c)
                sv_ctl_reply(c, kind, text);
}

static void op_usage(void *ctx, const pid_t *pgids, size_t n, SvGroupUsage *ret) {
        SvDaemon *d = ctx;
        sv_procfs_group_usage(&d->proc_sample, sv_clock_usec(), pgids, n, ret);
}

static void op_service_manager(void *ctx, const char *assignments) {
        sv_servicemgr_notify(assignments);
}

static void op_log(void *ctx, int level, const SvLogWho *who, const char *text) {
        if (who && who->program)
                sv_log_instance(level, who->program, who->instance, who->pid, who->generation, "%s", text);
        else
                sv_log(level, "%s", text);
}

static void op_set_log_target(void *ctx, SvLogTo to) {
        sv_log_set_target(to == SV_LOG_TO_JOURNAL  ? SV_LOG_JOURNAL
                          : to == SV_LOG_TO_STDERR ? SV_LOG_STDERR
                                                   : SV_LOG_AUTO);
}

static void op_exit(void *ctx, int status) {
        SvDaemon *d = ctx;
        (void) sd_event_exit(d->event, status);
}

/* The upgrade: a listener's fds go to the next image, which rebuilds it around them. */
static int op_socket_export(void *ctx, const SvSocketInfo *si, char *buf, size_t len) {
        SvDaemon *d = ctx;
        const SvListener *l = si->handle;
        int r = sv_carry_add(&d->carry, l->fd);
        r = r ?: sv_carry_add(&d->carry, l->lock_fd);
        r = r ?: sv_carry_add(&d->carry, l->path_fd);
        return r < 0 ? r : sv_listener_export(l, buf, len);
}

static int op_socket_import(void *ctx, const char *name, const SvSocketInfo *saved, const char *ext,
                            SvSocketInfo *ret, SvDiag *diag) {
        SvDaemon *d = ctx;
        SvListener *l = calloc(1, sizeof(SvListener));
        if (!l)
                return -ENOMEM;
        int r = sv_listener_import(name, saved->fd, saved->inode, saved->adopted, ext, l, diag);
        if (r >= 0) {
                r = sv_carry_add(&d->carry, l->fd);
                r = r ?: sv_carry_add(&d->carry, l->lock_fd);
                r = r ?: sv_carry_add(&d->carry, l->path_fd);
        }
        if (r < 0) {
                free(l->name);
                free(l);
                return r;
        }
        *ret = *saved;
        ret->handle = l;
        return 0;
}

/* A worker the previous image started: still our child (execve kept the pid), maybe a
 * zombie by now, which the reaper's first pass hands to its handler. */
static int op_adopt(void *ctx, SvInstanceId id, pid_t pid) {
        SvDaemon *d = ctx;
        siginfo_t si = {};
        /* WNOWAIT: only asks whether it is our child; the status stays for the reaper */
        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return -errno;
        sv_cgroup_adopt(d->cgroups, pid);
        return sv_reaper_watch(d, pid, worker_exited, NULL, id);
}

/* The fd store: the fds are ours; one that hangs up is dropped by the supervisor. */
static int on_stored_hup(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Watch *w = userdata;
        SvDaemon *d = w->d;
        Watch **pp = sv_watch_find(&d->stored, w->id);
        if (pp)
                watch_drop(pp); /* first: the supervisor closes the fd next */
        sv_supervisor_fd_hangup(d->sup, fd);
        return 0;
}

static void op_fd_close(void *ctx, int fd) {
        SvDaemon *d = ctx;
        Watch **pp = sv_watch_find(&d->stored, (SvInstanceId) fd);
        if (pp)
                watch_drop(pp);
        (void) safe_close(fd);
}

static void op_fd_watch(void *ctx, int fd) {
        SvDaemon *d = ctx;
        Watch *w = calloc(1, sizeof(Watch));
        /* no events asked for: epoll reports EPOLLHUP and EPOLLERR anyway. A regular file or
         * a memfd cannot be watched (EPERM): it stays, unwatched, as systemd keeps it. */
        if (!w || sd_event_add_io(d->event, &w->src, fd, 0, on_stored_hup, w) < 0) {
                free(w);
                return;
        }
        *w = (Watch){ .d = d, .id = (SvInstanceId) fd, .src = w->src, .next = d->stored };
        d->stored = w;
}

static void op_observe(void *ctx, SvInstanceId id, pid_t pid, SvObserve what, const SvSocketInfo *socks, size_t n) {
        sv_observer_set(ctx, id, pid, what, socks, n);
}

static uint64_t op_output_dropped(void *ctx, const char *program) {
        SvDaemon *d = ctx;
        return sv_output_dropped(d->output, program);
}

static size_t escape_live(void *userdata, pid_t *ret, size_t cap) {
        SvDaemon *d = userdata;
        return d->sup ? sv_supervisor_live_pids(d->sup, ret, cap) : 0;
}

static void escape_counted(void *userdata, const char *program, unsigned n) {
        SvDaemon *d = userdata;
        if (d->sup) /* NULL at exit, when the count no longer matters */
                sv_supervisor_escaped(d->sup, program, n);
}

static unsigned op_escapees(void *ctx, const SvEscapeQuery *q) {
        SvDaemon *d = ctx;
        return sv_escape_sweep(d->escape, q);
}

static void op_probe(void *ctx, SvInstanceId id, pid_t pid, const SvProgramConf *conf) {
        sv_health_set(ctx, id, pid, conf);
}

/* health.c's report of every probe: the supervisor counts and decides. */
static void daemon_probed(SvDaemon *d, SvInstanceId id, bool healthy, const char *why) {
        if (d->sup)
                sv_supervisor_probed(d->sup, id, healthy, why);
}

static int op_fd_carry(void *ctx, int fd, bool restoring) {
        SvDaemon *d = ctx;
        if (restoring && fcntl(fd, F_GETFD) < 0)
                return -EBADF;
        return sv_carry_add(&d->carry, fd);
}

const SvOps sv_daemon_ops = {
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
        .output_dropped = op_output_dropped,
        .escapees = op_escapees,
};

/* ---- what the world tells us ---- */

static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SvDaemon *d = userdata;
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
                sv_supervisor_notify(d->sup, pid, &msg);
        }
        return 0;
}

/* reload and SIGHUP: read the file, check it as start-up does, hand it to the supervisor. */
static void daemon_reload(SvDaemon *d, SvConnId conn) {
        SvConfig *cfg = NULL;
        SvDiag diag = {};
        SvCtlConn *c = conn ? sv_control_find(d->control, conn) : NULL;

        if (sv_supervisor_reload_check(d->sup, &diag) < 0) {
                log_warning("reload refused: %s", diag.msg);
                if (c)
                        sv_ctl_reply(c, CTL_REPLY_ERR, diag.msg);
                return;
        }
        log_info("reloading %s", d->config_path);
        char msg[512];
        (void) snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%" PRIu64, d->config_path,
                        op_now(d));
        sv_servicemgr_notify(msg);
        int r = sv_config_parse_file(d->config_path, &cfg, &diag);
        if (r >= 0)
                r = sv_creds_cache_update(&d->creds, cfg, &diag);
        if (r < 0) {
                cfg = sv_config_free(cfg);
                sv_servicemgr_notify("READY=1");
                log_error("reload failed, nothing changed: %s", diag.msg);
                if (c)
                        sv_ctl_finish(c, false, "%s (nothing changed)", diag.msg);
                return;
        }
        sv_supervisor_reload(d->sup, conn, cfg);
        sv_metrics_apply(d); /* follows the configuration the supervisor now runs */
        sv_servicemgr_notify("READY=1");
}

/* fetch NAME...: every socket, or none; the fds go with the OK line. */
static void daemon_fetch(SvDaemon *d, SvCtlConn *c, const CtlRequest *req) {
        SvPeer peer = {};
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        char namebuf[SV_PEER_GROUPS_MAX + 1][256];
        sv_ctl_conn_peer(c, &peer.uid, &gid, &peer.pid, &groups, &n_groups);
        /* names for the policy: NSS, at the time of asking (a group added since counts) */
        struct passwd pw, *pwp = NULL;
        struct group gr, *grp = NULL;
        char nss[16384];
        if (getpwuid_r(peer.uid, &pw, nss, sizeof(nss), &pwp) == 0 && pwp) {
                (void) snprintf(namebuf[0], sizeof(namebuf[0]), "%s", pw.pw_name);
                peer.user = namebuf[0];
        }
        peer.groups[peer.n_groups++] = gid;
        for (size_t k = 0; k < n_groups && peer.n_groups < SV_PEER_GROUPS_MAX; k++)
                if (groups[k] != gid)
                        peer.groups[peer.n_groups++] = groups[k];
        for (size_t k = 0; k < peer.n_groups; k++)
                if (getgrgid_r(peer.groups[k], &gr, nss, sizeof(nss), &grp) == 0 && grp) {
                        (void) snprintf(namebuf[k + 1], sizeof(namebuf[k + 1]), "%s", gr.gr_name);
                        peer.group_names[k] = namebuf[k + 1];
                }

        int fds[SV_FETCH_MAX];
        char text[CTL_LINE_MAX];
        size_t o = (size_t) snprintf(text, sizeof(text), "fetched");
        for (size_t k = 0; k < req->n_args; k++) {
                SvSocketInfo si;
                SvDiag diag = {};
                if (sv_supervisor_fetch(d->sup, req->args[k], &peer, &si, &diag) < 0) {
                        sv_ctl_finish(c, false, "%s", diag.msg);
                        return;
                }
                fds[k] = si.fd;
                if (o < sizeof(text))
                        o += (size_t) snprintf(text + o, sizeof(text) - o, "%s %s (%s, inode %lu)", k ? "," : "",
                                               req->args[k], si.address, si.inode);
        }
        sv_ctl_finish_fds(c, fds, req->n_args, text);
}

/* logfiles [NAME...]: where each program's stdout and stderr go, one line per stream
 * ("app stdout file /var/log/app.out", "app stderr journal", ... inherit, none, stdout,
 * own-stdout, own-stderr): what sockvisorctl tail and logs read. */
static void daemon_logfiles(SvDaemon *d, SvCtlConn *c, const CtlRequest *req) {
        const SvConfig *cfg = sv_supervisor_config(d->sup);
        /* names as every command takes them (names.c): a group is its programs, and an
         * instance ("pool:1") its program, whose instances share the files */
        size_t n = cfg->n_programs, n_members = sv_names_group_members(cfg);
        _cleanup_free_ const char **names = calloc(n ? n : 1, sizeof(char *));
        _cleanup_free_ unsigned *numprocs = calloc(n ? n : 1, sizeof(unsigned));
        _cleanup_free_ SvNameTarget *t = calloc(n ? n : 1, sizeof(SvNameTarget));
        _cleanup_free_ SvNameGroup *groups = calloc(cfg->n_groups ? cfg->n_groups : 1, sizeof(SvNameGroup));
        _cleanup_free_ size_t *members = calloc(n_members ? n_members : 1, sizeof(size_t));
        _cleanup_free_ bool *wanted_prog = calloc(n ? n : 1, sizeof(bool));
        SvDiag diag = {};
        size_t nt = 0;
        if (!names || !numprocs || !t || !groups || !members || !wanted_prog) {
                sv_ctl_finish(c, false, "out of memory");
                return;
        }
        for (size_t q = 0; q < n; q++)
                names[q] = cfg->programs[q].name, numprocs[q] = cfg->programs[q].numprocs;
        sv_names_groups_from_config(cfg, names, NULL, n, groups, members);
        SvNameSet set = { .names = names, .numprocs = numprocs, .n = n, .groups = groups, .n_groups = cfg->n_groups };
        if (sv_names_resolve(&set, req->args, req->n_args, t, &nt, &diag) < 0) {
                sv_ctl_finish(c, false, "%s", diag.msg);
                return;
        }
        for (size_t k = 0; k < nt; k++)
                wanted_prog[t[k].prog] = true;
        for (size_t q = 0; q < cfg->n_programs; q++) {
                const SvProgramConf *pc = &cfg->programs[q];
                bool wanted = wanted_prog[q];
                if (!wanted)
                        continue;
                for (int w = 0; w < _SV_STREAM_MAX; w++) {
                        const SvLogFileConf *l = &pc->logfile[w];
                        const char *kind = pc->output_journal ? "journal" : "inherit";
                        if (w == SV_STREAM_STDERR && pc->redirect_stderr)
                                kind = "stdout";
                        else if (l->path)
                                kind = "file";
                        else if (l->none)
                                kind = "none";
                        else if (l->own_fd)
                                kind = l->own_fd == 1 ? "own-stdout" : "own-stderr";
                        sv_ctl_output(c, "%s %s %s%s%s", pc->name, sv_stream_to_string((SvStream) w), kind,
                                      l->path && strcmp(kind, "file") == 0 ? " " : "",
                                      l->path && strcmp(kind, "file") == 0 ? l->path : "");
                }
        }
        sv_ctl_finish(c, true, "%s", "");
}

void sv_daemon_on_request(void *userdata, SvCtlConn *c, const CtlRequest *req) {
        SvDaemon *d = userdata;
        SvVerb verb;
        const SvVerbInfo *vi = sv_verb_find(req->verb, &verb);

        if (vi && verb == SV_VERB_RELOAD && req->n_args == 0)
                daemon_reload(d, sv_ctl_conn_id(c));
        else if (vi && verb == SV_VERB_UPGRADE) {
                if (req->n_args == 0 || (req->n_args == 2 && strcmp(req->args[0], "--exec") == 0))
                        sv_daemon_upgrade(d, sv_ctl_conn_id(c), req->n_args ? req->args[1] : NULL);
                else
                        sv_ctl_finish(c, false, "usage: upgrade [--exec /path/to/sockvisord]");
        }
        else if (vi && verb == SV_VERB_FETCH && req->n_args >= 1 && req->n_args <= SV_FETCH_MAX)
                daemon_fetch(d, c, req);
        else if (vi && verb == SV_VERB_LOGFILES)
                daemon_logfiles(d, c, req);
        else if (vi && verb == SV_VERB_PID && req->n_args == 0)
                sv_ctl_finish(c, true, "%d", (int) getpid());
        else if (vi && verb == SV_VERB_PID && req->n_args == 1 && strcmp(req->args[0], "--json") == 0) {
                char line[96];
                (void) snprintf(line, sizeof(line), "{\"program\":null,\"instance\":\"sockvisord\",\"pid\":%d}",
                                (int) getpid());
                sv_ctl_reply(c, CTL_REPLY_OUTPUT, line);
                sv_ctl_finish(c, true, "%s", "");
        }
        else
                sv_supervisor_command(d->sup, sv_ctl_conn_id(c), req);
}

void sv_daemon_on_hangup(void *userdata, uint64_t id) {
        SvDaemon *d = userdata;
        if (d->sup)
                sv_supervisor_conn_closed(d->sup, id);
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        SvDaemon *d = userdata;
        sv_supervisor_shutdown(d->sup, si->ssi_signo == SIGINT ? "SIGINT received" : "SIGTERM received");
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGHUP received");
        daemon_reload(userdata, 0);
        return 0;
}

static int on_usr2(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("SIGUSR2 received: upgrading in place");
        sv_daemon_upgrade(userdata, 0, NULL);
        return 0;
}

int sv_daemon_add_sources(SvDaemon *d, SvDiag *diag) {
        int r = sd_event_add_io(d->event, &d->notify_src, d->notify_fd, EPOLLIN, on_notify, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, &d->term_src, SIGTERM, on_term, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, &d->int_src, SIGINT, on_term, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, &d->hup_src, SIGHUP, on_hup, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, &d->usr2_src, SIGUSR2, on_usr2, d);
        if (r < 0)
                return diag_set(diag, 0, "cannot set up the event loop: %s", strerror(-r)), r;
        (void) sd_event_set_watchdog(d->event, true);
        return 0;
}

/* Passed fds no [socket:] claimed: a socket unit with no section, or a duplicate (the same
 * socket from both a socket unit and the fd store). Closed, with a word for the first kind. */
static void passed_close_unused(SvDaemon *d) {
        const SvConfig *cfg = sv_supervisor_config(d->sup);
        for (size_t q = 0; q < d->passed.n; q++) {
                int fd = d->passed.fds[q];
                const char *name = d->passed.names[q];
                if (fd < 0)
                        continue;
                if (cfg && sv_config_find_socket(cfg, name) >= 0)
                        log_debug("fd %d: '%s' passed in twice (socket unit and fd store, or a second socket); using "
                                  "the first",
                                  fd, name);
                else {
                        log_warning("fd %d: passed in as '%s', but no [socket:%s] section names it; closing it (add the "
                                    "section, or drop the socket unit)",
                                    fd, name, name);
                        sv_servicemgr_fdstore_remove(name);
                }
        }
        sv_passed_done(&d->passed);
}

/* What every image sets up first: the loop, /dev/null for workers' stdin, the subreaper
 * bit and the path of its own binary. */
int sv_daemon_alloc(const char *config_path, bool debug, SvDaemon **ret, SvDiag *diag) {
        SvDaemon *d = calloc(1, sizeof(SvDaemon));
        if (!d)
                return diag_set(diag, 0, "out of memory"), -ENOMEM;
        d->notify_fd = d->devnull_fd = -EBADF;
        d->debug = debug;
        d->probed = daemon_probed;
        ssize_t n = readlink("/proc/self/exe", d->self_path, sizeof(d->self_path) - 1);
        d->self_path[n > 0 ? n : 0] = '\0';
        int r = sd_event_default(&d->event);
        if (r < 0) {
                diag_set(diag, 0, "cannot create the event loop: %s", strerror(-r));
                goto fail;
        }
        d->config_path = strdup(config_path);
        d->devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (!d->config_path || d->devnull_fd < 0) {
                r = d->config_path ? -errno : -ENOMEM;
                diag_set(diag, 0, "cannot open /dev/null: %s", strerror(-r));
                goto fail;
        }
        /* Orphaned descendants of workers are reparented to us, and reaped, instead of init. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                sv_log_errno(LOG_WARNING, errno, "cannot become a child subreaper; orphans of workers go to init");
        r = sv_reaper_start(d); /* SIGCHLD: workers, probe commands and orphans */
        if (r < 0) {
                diag_set(diag, 0, "cannot watch for exiting children: %s", strerror(-r));
                goto fail;
        }
        SvDiag cgd = {};
        d->cgroups = sv_cgroups_open(d->event, &cgd);
        if (d->cgroups)
                log_info("each worker runs in its own cgroup under %s: stop and kill reach every process it started",
                         sv_cgroups_path(d->cgroups));
        else
                log_info("no per-worker cgroups (%s): a worker's processes are tracked by process group; run as "
                         "root or under systemd with Delegate=yes for cgroups", cgd.msg);
        d->escape = sv_escape_new(d->event, escape_live, escape_counted, d);
        if (!d->escape) {
                r = -ENOMEM;
                diag_set(diag, 0, "out of memory");
                goto fail;
        }
        r = sv_supervisor_new(&sv_daemon_ops, d, &d->sup);
        if (r < 0) {
                diag_set(diag, 0, "out of memory");
                goto fail;
        }
        r = sv_output_new(d->event, &d->output);
        if (r < 0) {
                diag_set(diag, 0, "cannot set up the log capture: %s", strerror(-r));
                goto fail;
        }
        *ret = d;
        return 0;
fail:
        sv_daemon_free(d);
        return r;
}

int sv_daemon_new(const char *config_path, SvConfig *config, bool debug, SvDaemon **ret, SvDiag *diag) {
        SvDaemon *d = NULL;
        int r = sv_daemon_alloc(config_path, debug, &d, diag);
        if (r < 0) {
                sv_config_free(config);
                return r;
        }
        sv_servicemgr_passed(&d->passed);
        r = sv_creds_cache_update(&d->creds, config, diag);
        if (r < 0) {
                sv_config_free(config);
                goto fail;
        }
        r = sv_supervisor_load(d->sup, config, diag); /* binds (or adopts) every socket; takes config */
        if (r < 0)
                goto fail;
        passed_close_unused(d);

        r = sv_notify_open(&d->notify_fd, d->notify_name, sizeof(d->notify_name));
        if (r < 0) {
                diag_set(diag, 0, "cannot open the notify socket: %s", strerror(-r));
                goto fail;
        }
        d->notify_owned = true; /* made here: a failure below removes it (exit 71 left it behind) */
        r = sv_daemon_add_sources(d, diag);
        if (r < 0)
                goto fail;
        const SvConfig *cfg = sv_supervisor_config(d->sup);
        r = sv_control_new(d->event, cfg->control_path, cfg->control_mode, sv_daemon_on_request, d, &d->control, diag);
        if (r < 0)
                goto fail;
        sv_control_set_hangup(d->control, sv_daemon_on_hangup);
        log_info("control socket: %s", cfg->control_path);
        r = sv_metrics_open(d, diag);
        if (r < 0)
                goto fail;
        *ret = d;
        return 0;
fail:
        sv_daemon_free(d);
        return r;
}

int sv_daemon_run(SvDaemon *d) {
        log_info("sockvisord %s running (pid %d)", SV_VERSION, (int) getpid());
        d->notify_owned = true; /* from now on an exit removes its directory (an upgrade does not) */
        if (!d->restored)
                sv_supervisor_start_all(d->sup); /* READY=1 follows once the programs are ready */
        int r = sd_event_loop(d->event);
        if (r < 0)
                sv_log_errno(LOG_ERR, r, "event loop failed");
        return r < 0 ? 1 : r;
}

SvDaemon *sv_daemon_free(SvDaemon *d) {
        if (!d)
                return NULL;
        d->control = sv_control_free(d->control); /* first: its hang-ups reach the supervisor */
        d->metrics = sv_metrics_free(d->metrics);
        d->sup = sv_supervisor_free(d->sup);
        d->output = sv_output_free(d->output); /* after the workers: what they wrote last is written */
        sv_observer_stop_all(d);
        sv_health_stop_all(d);
        for (size_t k = 0; k < d->timers.cap; k++)
                timer_drop(d->timers.slots[k].value);
        sv_pidmap_done(&d->timers);
        while (d->stored)
                watch_drop(&d->stored);
        sd_event_source_disable_unref(d->notify_src);
        sv_reaper_stop(d);
        sd_event_source_disable_unref(d->term_src);
        sd_event_source_disable_unref(d->int_src);
        sd_event_source_disable_unref(d->hup_src);
        sd_event_source_disable_unref(d->usr2_src);
        sv_carry_done(&d->carry);
        d->escape = sv_escape_free(d->escape); /* after the workers: what they left gets its SIGKILL */
        sv_cgroups_free(d->cgroups);
        d->proc_sample = sv_proc_sample_free(d->proc_sample);
        (void) safe_close(d->notify_fd);
        if (d->notify_owned)
                sv_notify_remove(d->notify_name);
        (void) safe_close(d->devnull_fd);
        sv_passed_done(&d->passed);
        d->creds = sv_creds_cache_free(d->creds);
        free(d->config_path);
        sd_event_unref(d->event);
        free(d);
        return NULL;
}
